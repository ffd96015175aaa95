import json
import math

from experiments import _cli


def test_part_cache_round_trips_infinities_and_reuses(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": float("-inf"), "b": [1.0, float("inf")], "c": None, "d": "text"}

    cache = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    first = cache.get_or_compute("part", compute)
    again = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", compute)
    assert len(calls) == 1  # the second call re-used the stored part
    for r in (first, again):
        assert r["a"] == -math.inf and r["b"][1] == math.inf and r["c"] is None and r["d"] == "text"
    # another config or seed starts afresh; fresh=True recomputes
    _cli.PartCache(tmp_path, "x", {"p": 2}, seed=0).get_or_compute("part", compute)
    _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True).get_or_compute("part", compute)
    assert len(calls) == 3


def test_write_json_is_strict_json(tmp_path):
    path = tmp_path / "o.json"
    _cli.write_json(path, {"x": float("nan"), "y": float("inf")})
    assert json.loads(path.read_text()) == {"x": None, "y": "inf"}
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


# --- issue 13: corrupt parts, bad --seed / counts, unwritable --out -------------------------

import pytest  # noqa: E402

from experiments import cone_escape, ula_bias  # noqa: E402


def test_corrupt_part_names_the_file_and_what_to_do(tmp_path):
    cache = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    cache.get_or_compute("part", lambda: {"a": 1.0})
    path = cache.dir / "part.json"
    path.write_text('{"a": 1.')  # truncated
    with pytest.raises(ValueError) as exc:
        _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", lambda: {"a": 2.0})
    msg = str(exc.value)
    assert str(path) in msg and "--force" in msg and "delete" in msg
    # --force ignores (and rewrites) the corrupt part
    fresh = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True)
    assert fresh.get_or_compute("part", lambda: {"a": 2.0}) == {"a": 2.0}


@pytest.mark.parametrize("seed", [str(2**70), "-1", str(2**32)])
def test_seed_out_of_range_is_a_parser_error_naming_the_flag(seed, tmp_path, capsys):
    parser = _cli.base_parser("x", "test")
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--seed", seed, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and str(2**32 - 1) in err and seed in err


def test_seed_range_ends_are_accepted_and_documented(tmp_path, capsys):
    parser = _cli.base_parser("x", "test")
    for seed in (0, 2**32 - 1):
        assert parser.parse_args(["--seed", str(seed), "--out", str(tmp_path)]).seed == seed
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    assert "4294967295" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("value", ["0", "-3"])
def test_count_flags_name_the_flag(value, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cone_escape, "run", lambda *a, **k: calls.append(a))
    with pytest.raises(SystemExit) as exc:
        cone_escape.main(["--quick", "--chains", value, "--out", str(tmp_path)])
    assert exc.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert "--chains" in err and ">= 1" in err and "num " not in err


@pytest.mark.parametrize("make_out", [
    lambda tmp: tmp / "file",          # --out is a regular file
    lambda tmp: tmp / "file" / "sub",  # its parent is a regular file (fails for root too)
])
def test_unwritable_out_fails_before_the_run(make_out, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    calls = []
    monkeypatch.setattr(ula_bias, "run", lambda *a, **k: calls.append(a))
    out = make_out(tmp_path)
    with pytest.raises(SystemExit) as exc:
        ula_bias.main(["--quick", "--out", str(out)])
    assert exc.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert "--out" in err and str(out) in err
