import os

import pytest

from langevin_jax import _io


def test_check_writable_dir_creates_a_missing_folder_and_leaves_nothing(tmp_path):
    folder = tmp_path / "a" / "b"
    assert _io.check_writable_dir(folder, "out") == folder
    assert folder.is_dir() and list(folder.iterdir()) == []  # the probe file is gone


@pytest.mark.parametrize("make", [
    lambda tmp: tmp / "file",            # the folder is a regular file
    lambda tmp: tmp / "file" / "sub",    # its parent is a regular file (fails for root too)
])
def test_check_writable_dir_names_the_argument_and_path(tmp_path, make):
    (tmp_path / "file").write_text("x")
    folder = make(tmp_path)
    with pytest.raises(ValueError) as exc:
        _io.check_writable_dir(folder, "--out")
    msg = str(exc.value)
    assert msg.startswith("--out") and str(folder) in msg and "writable folder" in msg


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_check_writable_dir_read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="writable"):
            _io.check_writable_dir(folder, "out")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("text", ['{"a": 1', "", "\x00\x01", "not json"])
def test_read_json_names_the_file_and_the_remedy(tmp_path, text):
    path = tmp_path / "part.json"
    path.write_text(text)
    with pytest.raises(ValueError) as exc:
        _io.read_json(path, remedy="rerun with --force")
    msg = str(exc.value)
    assert str(path) in msg and "rerun with --force" in msg and "JSON" in msg


def test_read_json_round_trip(tmp_path):
    path = tmp_path / "ok.json"
    _io.write_atomic(path, '{"a": [1, 2]}')
    assert _io.read_json(path) == {"a": [1, 2]}
