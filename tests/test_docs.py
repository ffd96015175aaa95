"""The docs build (API reference generated from the docstrings) and the README quickstart."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


MKDOCS = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
PAPER_PAGES = ("paper1_robustness", "paper1_learned_scores", "paper1_digits", "paper2_gaussian_dsm",
               "paper3_annealed_langevin")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as ``mkdocs build --strict`` writes it (every warning an error: an unresolved API
    link, a missing page or image)."""
    if not Path(MKDOCS).exists():
        pytest.skip("mkdocs not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("docs") / "site"
    proc = subprocess.run([MKDOCS, "build", "--strict", "-d", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _pages(site):
    return {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")}


def test_docs_build_strict(site):
    api = (site / "api.html").read_text()
    assert "ula" in api and "sinkhorn_divergence" in api
    # docstrings cross-reference in the toolchain's syntax: no reST role reaches a page
    for name, html in _pages(site).items():
        # a role's backticks become <code> in the HTML: match both forms
        raw = re.findall(r":(?:func|class|meth|mod|attr|data|obj|exc):(?:`|<code>)", html)
        assert not raw, f"{name}: {len(raw)} raw reST roles"
    assert api.count("autorefs-internal") > 100  # the references are links


def test_site_needs_no_network(site):
    """Every script, stylesheet, image and font the pages load is a file of the built site (no CDN,
    no web font), so the site works offline and from file://."""
    loads = re.compile(r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"([^\"]+)\"|<link\b[^>]*\bhref=\"([^\"]+)\"")
    for name, html in _pages(site).items():
        for src, href in loads.findall(html):
            url = (src or href).split("#")[0].split("?")[0]
            assert not re.match(r"(https?:)?//", url), f"{name} loads {url} from the network"
            if url:  # relative to the page, or (404.html) to the site's root
                where = site / url.lstrip("/") if url.startswith("/") else (site / name).parent / url
                assert where.resolve().is_file(), f"{name}: {url} missing"
    for css in site.rglob("*.css"):
        for url in re.findall(r"url\(([^)]+)\)", css.read_text()):
            url = url.strip("'\"")
            if url.startswith(("data:", "#")):
                continue
            assert not re.match(r"(https?:)?//", url), f"{css.name} loads {url} from the network"
            assert css.parent.joinpath(url.split("?")[0].split("#")[0]).is_file(), f"{css.name}: {url} missing"
    # search without a server: the offline plugin's inlined index and the vendored shim
    assert (site / "search" / "search_index.js").is_file()
    assert (site / "assets" / "iframe-worker" / "shim.js").is_file()
    # no copy of the repository's scripts in the site
    assert not list(site.rglob("*.py"))


def test_mathematics_is_typeset(site):
    """The formulas reach the pages as arithmatex spans typeset by the vendored KaTeX, on every
    paper page; no formula is left as raw TeX delimiters outside them."""
    for asset in ("katex/katex.min.js", "katex/katex.min.css", "math.js"):
        assert (site / "assets" / asset).is_file(), asset
    for page in (*PAPER_PAGES, "api"):
        html = (site / f"{page}.html").read_text()
        assert 'src="assets/katex/katex.min.js"' in html and 'src="assets/math.js"' in html
        assert html.count('class="arithmatex"') >= 3, f"{page}: no typeset formulas"
        text = re.sub(r'<(span|div) class="arithmatex">.*?</\1>|<pre.*?</pre>|<code.*?</code>', "", html,
                      flags=re.S)
        assert "$$" not in text, f"{page}: a display formula was not converted"
        assert not re.search(r"\\(?:frac|sqrt|mathbb|int|sum)\b", text), f"{page}: raw TeX outside math"


def test_no_heading_carries_math():
    """The table of contents and the search show headings as plain text, where a formula would
    appear as raw TeX: headings say it in words."""
    for page in (ROOT / "docs").glob("*.md"):
        prose = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)  # not code comments
        for line in prose.splitlines():
            assert not (line.startswith("#") and "$" in line), f"{page.name}: {line}"


def test_narrative_pages_link_the_api_and_embed_their_figures(site):
    for page in PAPER_PAGES + ("own_score", "sweeps"):
        html = (site / f"{page}.html").read_text()
        links = set(re.findall(r'href="api\.html#(langevin_jax[\w.]*)"', html))
        assert len(links) >= 3, f"{page}: {len(links)} links to the API reference"
        assert "SPEC.md" not in html, f"{page} cites a file outside the repository"
        if page.startswith("paper"):
            figures = re.findall(r'<img[^>]*src="(figures/[^"]+\.png)"', html)
            assert figures, f"{page} embeds no figure"
            for figure in figures:
                assert (site / figure).is_file(), f"{page}: {figure} missing"


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
