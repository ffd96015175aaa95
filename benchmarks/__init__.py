"""Benchmarks for langevin_jax (run as modules, e.g. ``python -m benchmarks.ula``)."""
