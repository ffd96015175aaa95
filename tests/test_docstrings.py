"""The docstrings as the API reference shows them (docs/api.md, mkdocstrings with Google style).

* An example renders as code only in a Google ``Examples:`` section of ``>>>`` lines: griffe
  reads a singular ``Example:`` as an admonition title, and its doctest lines then run together
  into one paragraph.
* Maintainers' notes (file layout, history, implementation choices) live in ``#`` comments, not
  in the docstrings the reference renders.
* Formulas are LaTeX (``$...$``, typeset by KaTeX), not ASCII in code spans.

Nothing is built here: the docs build itself is checked by tests/test_docs.py.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "langevin_jax"

# the modules docs/api.md renders, each ``::: module`` line
API_MODULES = re.findall(r"^::: (\S+)", (ROOT / "docs" / "api.md").read_text(), re.M)

# maintainers' notes moved out of the docstrings into comments: none may come back
MAINTAINER_PHRASES = (
    "on purpose",
    "over 500 lines",
    "split up, that path",
    "sit below",
    "the one implementation",
    "(before:",
)

# ASCII formulas in code spans (the math is LaTeX now); names of code objects stay in backticks
CODE_SPAN = re.compile(r"``(.+?)``", re.S)
ASCII_FORMULA = re.compile(
    r"grad log|KL\(|~ N\(|\bN\(0|alphabar|Sigma_hat|s_hat|\bsqrt\((?!finfo)|\bexp\(|int_0|sum_[{ij]|\|\|"
)
# the private helpers docs/api.md does not render (their messages name arguments, not math)
PRIVATE_HELPERS = ("_checks.py", "_io.py", "_progress.py", "_deprecation.py")


def _example_problems(doc: str) -> list[str]:
    """What keeps a docstring's example from rendering as code (empty when nothing does)."""
    lines = [line.strip() for line in doc.splitlines()]
    problems = []
    if "Example:" in lines:
        problems.append("has an 'Example:' line (griffe reads it as an admonition): use 'Examples:'")
    doctest = [i for i, line in enumerate(lines) if line.startswith(">>>")]
    if doctest:
        sections = [i for i, line in enumerate(lines) if line == "Examples:"]
        if not sections:
            problems.append("has '>>>' lines but no 'Examples:' section")
        elif doctest[0] < sections[0]:
            problems.append("has '>>>' lines before its 'Examples:' section")
    return problems


def _public_objects(module):
    """The module and what docs/api.md renders of it: the names of ``__all__`` defined in
    langevin_jax, and the public methods and properties of its classes."""
    yield module.__name__, module
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue  # constants and type aliases: their runtime __doc__ is their type's
        if not getattr(obj, "__module__", "").startswith("langevin_jax"):
            continue
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr not in ("__init__", "__post_init__", "__call__"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                if inspect.isroutine(member):
                    yield f"{module.__name__}.{name}.{attr}", member


def _import(name):
    if name == "langevin_jax.nn" or name.startswith("langevin_jax.nn."):
        pytest.importorskip("flax", reason="langevin_jax.nn needs the nn extra")
        pytest.importorskip("optax", reason="langevin_jax.nn needs the nn extra")
    return importlib.import_module(name)


def test_api_page_lists_modules():
    assert "langevin_jax.runner" in API_MODULES and "langevin_jax.nn" in API_MODULES


@pytest.mark.parametrize("module_name", API_MODULES)
def test_public_examples_render_as_code(module_name):
    module = _import(module_name)
    problems = []
    for path, obj in _public_objects(module):
        doc = inspect.getdoc(obj) if not inspect.ismodule(obj) else obj.__doc__
        for problem in _example_problems(doc or ""):
            problems.append(f"{path}: {problem}")
    assert not problems, "\n".join(problems)


def _docstring_literals():
    """Every docstring in the package's source (module, class, function and attribute
    docstrings: a string literal standing alone as a statement), as ``(file, line, text)``."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if not isinstance(body, list):
                continue
            for statement in body:
                if (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                        and isinstance(statement.value.value, str)):
                    yield path.relative_to(ROOT), statement.lineno, statement.value.value


def test_every_docstring_example_renders_as_code():
    """The same rule over the source, private helpers and attribute docstrings included."""
    problems = [f"{path}:{line}: {problem}" for path, line, text in _docstring_literals()
                for problem in _example_problems(inspect.cleandoc(text))]
    assert not problems, "\n".join(problems)


def test_module_docstrings_hold_no_maintainer_notes():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
        text = " ".join(doc.split())  # phrases may wrap across lines
        found += [f"{path.relative_to(ROOT)}: {phrase!r}" for phrase in MAINTAINER_PHRASES if phrase in text]
    assert not found, "maintainers' notes belong in # comments:\n" + "\n".join(found)


def test_public_docstrings_hold_no_maintainer_notes():
    found = []
    for path, line, text in _docstring_literals():
        flat = " ".join(text.split())
        found += [f"{path}:{line}: {phrase!r}" for phrase in MAINTAINER_PHRASES if phrase in flat]
    assert not found, "maintainers' notes belong in # comments:\n" + "\n".join(found)


def test_formulas_are_latex_not_ascii_code():
    found = [f"{path}:{line}: ``{span}``" for path, line, text in _docstring_literals()
             if path.name not in PRIVATE_HELPERS
             for span in CODE_SPAN.findall(text) if ASCII_FORMULA.search(span)]
    assert not found, "write formulas as $...$ LaTeX, not in ``code``:\n" + "\n".join(found)


def test_docstrings_with_latex_are_raw_strings():
    """A backslash in a docstring (LaTeX) needs a raw string, else ``\\f``, ``\\b``, ``\\v``...
    silently become control characters."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                segment = ast.get_source_segment(source, node.value) or ""
                if "\\" in segment and segment[:1] not in ("r", "R"):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "docstrings with backslashes must be r-strings:\n" + "\n".join(bad)


@pytest.mark.parametrize("doc, expected", [
    ("Summary.\n\nExample:\n  >>> 1 + 1\n  2\n", 2),
    ("Summary.\n\n>>> 1 + 1\n2\n", 1),
    ("Summary.\n\nExamples:\n  >>> 1 + 1\n  2\n", 0),
    ("Summary without an example.", 0),
])
def test_the_example_rule_can_fail(doc, expected):
    assert len(_example_problems(doc)) == expected
