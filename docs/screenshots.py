"""Screenshot the built docs in headless Chromium, for a person to look at (not run by CI).

    python docs/screenshots.py                       # build into a temp folder, shots in docs_shots/
    python docs/screenshots.py --site site --out /tmp/shots --width 1300 --height 5000

Builds the site with ``mkdocs build --strict`` (unless ``--site`` names a built one), then opens
each page from disk (``file://``, so no server and no network: what an offline reader sees) and
writes ``<out>/<page>.png``, the first ``--height`` pixels at ``--width``. Also a search shot
(``<out>/search.png``: the index page with the query ``?q=sinkhorn``), which shows that search
works from ``file://``. Needs Chromium (``apt-get install chromium``); the formulas are typeset by
JavaScript, so each shot waits ``--wait-ms`` of virtual time for KaTeX.

Look at every shot at the size it is written: formulas typeset (no ``$`` or ``\\(``), figures
readable at the column's width, code highlighted, tables not overflowing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("index", "own_score", "paper1_robustness", "paper1_learned_scores", "paper1_digits",
         "paper2_gaussian_dsm", "paper3_annealed_langevin", "sweeps", "guarantees", "api", "benchmarks")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium found: apt-get install chromium (or put chromium on PATH)")


def build(site: Path) -> None:
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
    subprocess.run([mkdocs, "build", "--strict", "-d", str(site)], cwd=ROOT, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def shoot(browser: str, url: str, png: Path, width: int, height: int, wait_ms: int) -> None:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--virtual-time-budget={wait_ms}", f"--window-size={width},{height}",
                    f"--screenshot={png}", url],
                   check=True, capture_output=True, timeout=120)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--out", type=Path, default=Path("docs_shots"), help="where the PNGs go")
    parser.add_argument("--width", type=int, default=1300, help="window width in pixels")
    parser.add_argument("--height", type=int, default=5000, help="window height in pixels")
    parser.add_argument("--wait-ms", type=int, default=6000, help="virtual time for the scripts")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), help="page names (no .html)")
    args = parser.parse_args(argv)
    if args.width < 320 or args.height < 200:
        parser.error(f"--width/--height must be at least 320/200 pixels, got {args.width}/{args.height}")
    browser = chromium()
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site or Path(tmp) / "site"
        if args.site is None:
            build(site)
        elif not (site / "index.html").is_file():
            parser.error(f"--site {site} has no index.html: build it with mkdocs build -d {site}")
        args.out.mkdir(parents=True, exist_ok=True)
        for page in args.pages:
            html = site / f"{page}.html"
            if not html.is_file():
                parser.error(f"no page {page}.html in {site}")
            shoot(browser, html.resolve().as_uri(), args.out / f"{page}.png", args.width, args.height,
                  args.wait_ms)
            print(args.out / f"{page}.png")
        shoot(browser, (site / "index.html").resolve().as_uri() + "?q=sinkhorn", args.out / "search.png",
              args.width, 900, args.wait_ms)
        print(args.out / "search.png")


if __name__ == "__main__":
    main()
