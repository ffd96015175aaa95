"""The docs build (API reference generated from the docstrings) and the README quickstart."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("mkdocs") is None and not Path(sys.executable).with_name(
    "mkdocs").exists(), reason="mkdocs not installed (pip install -e '.[test]')")
def test_docs_build_strict(tmp_path):
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
    proc = subprocess.run([mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    api = (tmp_path / "site" / "api.html").read_text()
    assert "ula" in api and "sinkhorn_divergence" in api
    # docstrings cross-reference in the toolchain's syntax: no reST role reaches a page
    for page in (tmp_path / "site").rglob("*.html"):
        # a role's backticks become <code> in the HTML: match both forms
        raw = re.findall(r":(?:func|class|meth|mod|attr|data|obj|exc):(?:`|<code>)",
                         page.read_text())
        assert not raw, f"{page}: {len(raw)} raw reST roles"
    assert api.count("autorefs-internal") > 100  # the references are links


def test_readme_quickstart_runs():
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Quickstart\s+```python\n(.*?)```", text, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(10, 10000, 2) 0" in proc.stdout


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = "\n".join(lines[:6])
    assert 'pip install -e ".[experiments]" && python -m experiments' in block
    assert 'pip install -e ".[test]" && python -m pytest -q' in block


def test_getting_started_code_runs():
    """The getting-started page's code blocks, run in order as one script."""
    text = (ROOT / "docs" / "index.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    proc = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


def test_own_score_page_code_runs():
    """The "sample with your own score" page's code blocks, run in order as one script: every
    score-based sampler with a shipped network and with a network of the reader's own, the
    levels check, a continued run equal to one run, the memorisation report."""
    text = (ROOT / "docs" / "own_score.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", "\n".join(blocks)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "refused: eps_fn was trained on levels 1..100 only" in out
    assert "\nTrue\n" in out  # the continued DDPM run equals the whole run
    for name in ("ddpm", "ddim", "ncsn", "pc", "ula"):
        assert f"{name}: per-coordinate variance" in out


def test_every_experiment_figure_is_in_the_docs():
    """Each experiment the main job runs has its main figure, from a real run, kept in
    docs/figures/ (with its provenance row) and embedded in a docs page."""
    from experiments.__main__ import EXPERIMENTS

    pages = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    provenance = (ROOT / "docs" / "figures" / "README.md").read_text()
    for name, *_ in EXPERIMENTS:
        figure = f"figures/cpu_{name}.png"
        assert (ROOT / "docs" / figure).is_file(), figure
        assert f"]({figure})" in pages, f"{figure} is not embedded in any docs page"
        assert f"| cpu_{name}.png |" in provenance, f"{figure} has no provenance row"
