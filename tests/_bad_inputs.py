"""The check behind every table of bad-input probes (``tests/test_bad_inputs*.py``)."""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import pytest

# a raw JAX / NumPy / Flax error is not an answer: ours name the argument and what was expected
RAW_ERRORS = ("dot_general requires", "Incompatible shapes", "TracerBoolConversionError",
              "ConcretizationTypeError", "unhashable type", "object of type", "got incompatible shapes",
              "Indexer must have", "ScopeParamShapeError", "invalid PRNG key", "scan body function",
              "not enough values to unpack", "Incompatible types for broadcasting")


def assert_named(thunk: Callable, argument: str, reasons: Sequence[str] = ()) -> str:
    """``thunk()`` raises a ``ValueError``/``TypeError`` whose message names ``argument`` (and,
    when given, one of ``reasons``) and is none of the raw library errors. Returns the message."""
    with pytest.raises((ValueError, TypeError)) as err:
        out = thunk()
        # a lazily failing constructor must fail at its first use at the latest
        jax.block_until_ready(jax.tree_util.tree_leaves(out))
    message = str(err.value)
    assert argument.lower() in message.lower(), message
    if reasons:  # the reason, not only the symptom
        assert any(r in message for r in reasons), message
    assert not any(r in message for r in RAW_ERRORS), message
    return message
