"""Deprecated aliases (private): old names that still resolve, with a ``DeprecationWarning``.

A module keeps one name per thing; an earlier name of the same object is served by the module's
``__getattr__`` (PEP 562), so it is not in ``__all__`` and ``from module import *`` never warns.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping, Tuple


def alias_getattr(module: str, aliases: Mapping[str, Tuple[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``aliases`` (``old name -> (new name, object)``).

    Args:
      module: the module's ``__name__`` (for the messages).
      aliases: each deprecated name, the full name to use instead and the object both name.
    """

    def __getattr__(name: str) -> Any:
        if name in aliases:
            new, obj = aliases[name]
            warnings.warn(f"{module}.{name} is deprecated; use {new} (the same object)",
                          DeprecationWarning, stacklevel=2)
            return obj
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
