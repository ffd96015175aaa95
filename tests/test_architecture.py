"""The shape of the package, read from its source: no import circles, imports only downwards
through the layers below, no private name used from another module, one style of package face,
and a core that imports without the extras.

The layers, lowest first (a unit is a top-level module or subpackage of ``langevin_jax``; a unit
may import units of lower layers only, never one of its own layer or above; modules inside one
subpackage may import each other, without circles):

0. ``types``: annotations only;
1. ``_checks``, ``_deprecation``, ``_io``, ``_progress``, ``_static``: private infrastructure;
2. ``theory``: closed forms;
3. ``targets``, ``samplers``, ``metrics``: distributions, the samplers (``base``, ``ula``,
   ``mala``, ``annealed``, ``dalmc``) and estimators, independent of each other;
4. ``runner``, ``scores``, ``diffusion``, ``gaussian_dsm``: ``run`` drives samplers; the score
   constructions of paper 1 use targets and metrics; the DDPM samplers build on the samplers;
   paper 2's closed forms use theory and metrics;
5. ``sweeps``, ``annealing``, ``nn``, ``diagnostics``, ``adaptation``: sweeps over dimension
   call ``run``; paper 3's paths use ``diffusion``'s denoisers; the networks use ``diffusion``'s
   levels; the convergence diagnostics read ``run``'s results; the MALA warm-up drives MALA's
   kernel with ``run``'s per-chain keys;
6. the face ``langevin_jax/__init__.py``.

Imports under ``if TYPE_CHECKING:`` are annotations, not imports, and are not counted; imports
inside functions are (a deferred import that dodges a circle is still a circle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "langevin_jax"

LAYERS = [
    {"types"},
    {"_checks", "_deprecation", "_io", "_progress", "_static"},
    {"theory"},
    {"targets", "samplers", "metrics"},
    {"runner", "scores", "diffusion", "gaussian_dsm"},
    {"sweeps", "annealing", "nn", "diagnostics", "adaptation"},
    {""},  # langevin_jax/__init__.py
]

# faces that re-export every public name of the listed modules (each module's ``__all__``)
FULL_FACES = {
    "langevin_jax.annealing": ["schedules", "paths", "action_bound", "gaussian_laws", "time_grids"],
    "langevin_jax.gaussian_dsm": ["data", "exact", "spectral", "finite_samples", "noise_tradeoff",
                                  "decomposition"],
    "langevin_jax.diffusion": ["schedules", "denoisers", "gaussian_laws"],
    "langevin_jax.nn": ["denoiser", "train", "pretrained"],
}

# what only an extra provides: never imported by ``import langevin_jax`` or a core subpackage
EXTRAS = ("flax", "optax", "matplotlib", "chex", "tyro", "sklearn", "orbax")
CORE_SUBPACKAGES = ("annealing", "diffusion", "gaussian_dsm", "metrics", "scores", "sweeps")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def _resolve(dotted: str) -> str:
    while dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted


def _imports(name: str) -> list[tuple[str, int]]:
    """The langevin_jax modules ``name`` imports at run time, with the line of each import."""
    tree = ast.parse(MODULES[name].read_text())
    skip = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "langevin_jax" or node.module.startswith("langevin_jax.")):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((full if full in MODULES else _resolve(node.module), node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "langevin_jax" or alias.name.startswith("langevin_jax."):
                    found.append((_resolve(alias.name), node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{name}:{node.lineno}: a relative import (the package uses absolute ones)")
    return sorted({(target, line) for target, line in found if target != name})


GRAPH = {name: _imports(name) for name in MODULES}


def _unit(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"langevin_jax.{unit} is in no layer: add it to LAYERS (and the docstring)")


def test_every_module_has_a_layer():
    for name in MODULES:
        _layer(_unit(name))


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph: each must be one module."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in MODULES:
        if name not in index:
            visit(name)
    assert not cycles, f"import cycles: {cycles}"


def test_imports_go_down_the_layers():
    wrong = []
    for name, targets in GRAPH.items():
        unit = _unit(name)
        for target, line in targets:
            other = _unit(target)
            if other != unit and _layer(other) >= _layer(unit):
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line} imports {target} "
                             f"(layer {_layer(other)} from layer {_layer(unit)})")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_used_across_modules():
    """A name another module uses is public, or lives in a private module (``_checks``,
    ``gaussian_dsm._validation``, ...) that exists to share it."""
    wrong = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        aliases = {}  # local name -> the langevin_jax module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("langevin_jax"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in MODULES:
                        aliases[alias.asname or alias.name] = full
                    elif (alias.name.startswith("_") and not alias.name.startswith("__")
                          and node.module != name and not _is_private(node.module)):
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} "
                                     f"import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("langevin_jax") and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)):
                module = aliases.get(node.value.id)
                if (module and module != name and not _is_private(module)
                        and f"{module}.{node.attr}" not in MODULES):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not wrong, "\n".join(wrong)


def _faces():
    return [name for name, path in MODULES.items() if path.name == "__init__.py"]


@pytest.mark.parametrize("face", _faces())
def test_package_face_lists_its_names(face):
    """Every package face: explicit imports (no ``import *``) and a literal ``__all__`` of names
    bound in the face, each once."""
    tree = ast.parse(MODULES[face].read_text())
    stars = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
             and any(a.name == "*" for a in n.names)]
    assert not stars, f"{face}: import * at lines {stars}"
    literal = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets):
            assert isinstance(node.value, ast.List) and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts), (
                f"{face}: __all__ must be a literal list of strings")
            literal = [e.value for e in node.value.elts]
    assert literal is not None, f"{face} has no __all__"
    assert len(set(literal)) == len(literal), f"{face}: a name listed twice in __all__"
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
    assert not set(literal) - bound, f"{face}: __all__ names not bound in the face: {set(literal) - bound}"


@pytest.mark.parametrize("face", sorted(FULL_FACES))
def test_full_faces_reexport_their_modules(face):
    import importlib

    package = importlib.import_module(face)
    want = {n for module in FULL_FACES[face]
            for n in importlib.import_module(f"{face}.{module}").__all__}
    assert want <= set(package.__all__), f"{face} does not re-export {want - set(package.__all__)}"
    for n in package.__all__:
        assert getattr(package, n) is not None


def test_deprecated_aliases_warn_and_stay_out_of_all():
    """One name per thing: an earlier second name still resolves, with a DeprecationWarning."""
    import langevin_jax.types
    from langevin_jax import annealing, diffusion
    from langevin_jax.samplers import base

    for module, old, new in [(annealing, "make_schedule", annealing.get_schedule),
                             (diffusion, "DDPMState", diffusion.DiffusionState),
                             (base, "StepSize", langevin_jax.types.ScalarOrSchedule)]:
        assert old not in module.__all__
        with pytest.warns(DeprecationWarning, match=old):
            assert getattr(module, old) is new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            annealing.no_such_name  # noqa: B018


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_core_imports_without_the_extras():
    """``import langevin_jax`` and its core subpackages import only JAX, NumPy (and SciPy, OTT-JAX
    on first use): with the extras made unimportable they still load and sample; ``lj.nn`` loads
    Flax on first use."""
    out = _run(f"""
        import sys
        import importlib.abc

        class NoExtras(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {EXTRAS!r}:
                    raise ModuleNotFoundError("extra not installed: " + name, name=name)

        sys.meta_path.insert(0, NoExtras())
        import jax, jax.numpy as jnp
        import langevin_jax as lj
        for sub in {CORE_SUBPACKAGES!r}:
            getattr(lj, sub)
        out = lj.run(jax.random.key(0), lj.ula(lambda x: -x, 0.1), jnp.zeros((4, 2)), 10)
        assert out.positions.shape == (4, 2)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {EXTRAS!r})
        assert not loaded, loaded
        try:
            lj.nn
        except ModuleNotFoundError as err:
            assert "pip install 'langevin_jax[nn]'" in str(err), err
        else:
            raise AssertionError("lj.nn imported without Flax")
        print("core ok")
        """)
    assert out.returncode == 0 and "core ok" in out.stdout, out.stderr


def test_plain_import_loads_no_extra_and_nn_is_lazy():
    out = _run(f"""
        import sys
        import langevin_jax as lj
        assert not [m for m in sys.modules if m.split(".")[0] in {EXTRAS!r}]
        assert "langevin_jax.nn" not in sys.modules and "nn" in dir(lj)
        assert lj.nn.TrainConfig is sys.modules["langevin_jax.nn.train"].TrainConfig
        assert "flax" in sys.modules
        print("lazy ok")
        """)
    assert out.returncode == 0 and "lazy ok" in out.stdout, out.stderr


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_dependencies_where_they_are_used():
    """The core needs JAX, NumPy, SciPy and OTT-JAX (bounded above: a private OTT name is used);
    Flax and Optax are the ``nn`` extra, the experiments' libraries theirs, chex the tests'."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in reqs}

    core = project["dependencies"]
    extras = project["optional-dependencies"]
    assert names(core) == {"jax", "jaxlib", "numpy", "scipy", "ott-jax"}
    assert any(r.startswith("ott-jax") and "<" in r for r in core), core
    assert names(extras["nn"]) == {"flax", "optax"}
    assert {"langevin_jax", "matplotlib", "tyro"} <= names(extras["experiments"])
    assert {"langevin_jax", "chex", "pytest", "ruff", "mypy"} <= names(extras["test"])
    assert "langevin_jax[nn]" in extras["experiments"] and "langevin_jax[experiments]" in extras["test"]
