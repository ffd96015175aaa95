"""The installed distribution: only ``langevin_jax`` is claimed, one version, typed."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import langevin_jax


def test_install_claims_only_langevin_jax(tmp_path):
    """Outside the checkout, ``experiments`` and ``benchmarks`` are not importable: installing
    the library does not take those global names (they run from the checkout)."""
    code = ("import importlib.util as u, langevin_jax; "
            "print(u.find_spec('experiments'), u.find_spec('benchmarks'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "None"], out.stdout
    top = importlib.metadata.distribution("langevin_jax").read_text("top_level.txt")
    assert top is None or top.split() == ["langevin_jax"], top


def test_one_version_and_typed_marker():
    assert importlib.metadata.version("langevin_jax") == langevin_jax.__version__
    assert (Path(langevin_jax.__file__).parent / "py.typed").is_file()
    meta = importlib.metadata.metadata("langevin_jax")
    assert "Typing :: Typed" in meta.get_all("Classifier")
