"""A pytree split into its traced leaves and a hashable static part (private).

``run`` and ``adaptation.mala_warmup`` pass an algorithm (or a target's functions) to ``jax.jit``
as two inputs: the leaves that become traced arguments (arrays, numbers: a new value re-uses the
compiled program) and the rest (functions, their structure, integers where the caller says so),
which keys compilation. Each caller says which leaves are traced (``is_dynamic``).
"""

from __future__ import annotations

from typing import Any, Callable

import jax

__all__ = ["Static", "partition"]


def _leaf_hash(x: Any) -> int:
    try:
        return hash(x)
    except TypeError:
        return id(x)


def _leaf_eq(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        hash(a), hash(b)
        return bool(a == b)
    except Exception:  # noqa: BLE001 - unhashable or array-valued __eq__: identity only
        return False


_DYNAMIC = object()  # marks, in the static part, where a traced leaf goes back


class Static:
    """The static part of a pytree: its structure and non-traced leaves, hashable. Holds the
    leaves, so a cached function outlives its jit-cache entry."""

    __slots__ = ("treedef", "leaves", "_hash")

    def __init__(self, treedef, leaves):
        self.treedef, self.leaves = treedef, leaves
        self._hash = hash((treedef, tuple(_leaf_hash(x) for x in leaves)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return (isinstance(other, Static) and self._hash == other._hash
                and self.treedef == other.treedef
                and all(_leaf_eq(a, b) for a, b in zip(self.leaves, other.leaves)))

    def merge(self, dynamic):
        """The pytree again, with ``dynamic``'s leaves where the traced ones were."""
        leaves = [d if s is _DYNAMIC else s for s, d in zip(self.leaves, dynamic)]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def partition(tree: Any, is_dynamic: Callable[[Any], bool]) -> tuple[list, Static]:
    """``(dynamic, static)``: the traced leaves (``None`` elsewhere) and the static part."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    dynamic = [x if is_dynamic(x) else None for x in leaves]
    static = Static(treedef, tuple(_DYNAMIC if is_dynamic(x) else x for x in leaves))
    return dynamic, static
