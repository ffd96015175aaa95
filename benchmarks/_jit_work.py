"""What JAX reports spending on tracing, lowering and compiling (public ``jax.monitoring``
events), shared by the benchmarks that print a compile column."""

from __future__ import annotations

import contextlib

import jax

JIT_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")


@contextlib.contextmanager
def jit_work():
    """``[seconds, programs]``: JAX's own report (public ``jax.monitoring`` events) of the time
    spent tracing, lowering and compiling inside the block, and the XLA programs compiled."""
    work = [0.0, 0]

    def listener(event, duration, **kwargs):
        if event in JIT_EVENTS:
            work[0] += duration
            work[1] += event == JIT_EVENTS[2]

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield work
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
