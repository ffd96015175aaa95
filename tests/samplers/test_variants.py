"""Every sampler, eager and traced, with chex's variants: the same numbers whether the step,
a whole :func:`langevin_jax.run` or a batch of runs is called as is or under ``jax.jit``.

``chex.variants(with_jit=True, without_jit=True)`` calls each test twice: ``self.variant(f)``
is ``f`` itself in one and ``jax.jit(f)`` in the other; both are compared with one eager
reference (``chex.assert_trees_all_close``), so a sampler that only works eagerly (a Python
``int(...)`` on a traced value) or only traced fails here. (``with_pmap`` needs several
devices; the sharded path is tested in ``tests/test_runner.py`` with forced CPU devices.)
"""

import chex
import pytest
import jax
import jax.numpy as jnp

import langevin_jax as lj
from langevin_jax import diffusion
from langevin_jax.samplers.base import CHAIN_AXIS

N, D, STEPS = 64, 3, 25
TARGET = lj.Gaussian.from_spectrum(jnp.zeros(D), jnp.array([0.5, 1.0, 2.0]))


def _algorithms():
    times = jnp.linspace(0.1, 1.0, STEPS)
    sched = diffusion.linear_schedule(STEPS)
    return {
        "ula": lj.ula(TARGET.score, 0.05),
        "ula_schedule": lj.ula(TARGET.score, lambda k: 0.05 / (1.0 + 0.01 * k)),
        "mala": lj.mala(TARGET.log_prob, 0.3),
        "annealed": lj.annealed_langevin(lambda x, t: t * TARGET.score(x),
                                         lj.array_schedule(times, 0.05)),
        "ddpm": diffusion.ddpm_sampler(_eps(sched), sched),
        "ddim": diffusion.ddim_sampler(_eps(sched), sched, STEPS, eta=0.5),
        "pc": diffusion.pc_sampler(_eps(sched), sched),
        "ncsn": diffusion.ncsn_sampler(_eps(sched), sched, levels=[STEPS, 10, 1], steps_per_level=STEPS // 3 + 1,
                                       epsilon=1e-3),
    }


def _eps(sched, mean=TARGET.mean):
    return diffusion.gaussian_eps_fn(sched, mean, TARGET.covariance)


class SamplersEagerAndTraced(chex.TestCase):
    def setUp(self):
        super().setUp()
        self.x0 = jax.random.normal(jax.random.key(1), (N, D))

    @chex.variants(with_jit=True, without_jit=True)
    def test_one_step(self):
        for name, (init, step) in _algorithms().items():
            with self.subTest(name):
                state = jax.vmap(init)(self.x0)
                keys = jax.random.split(jax.random.key(2), N)
                # the chain axis named as run names it (PC's batch-averaged norms reduce over it)
                vstep = jax.vmap(step, axis_name=CHAIN_AXIS)
                ref_state, _ = vstep(keys, state)
                new_state, info = self.variant(vstep)(keys, state)
                chex.assert_shape(new_state.position, (N, D))
                chex.assert_trees_all_close(new_state, ref_state, rtol=1e-6, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_run(self):
        for name, algorithm in _algorithms().items():
            with self.subTest(name):
                ref = lj.run(jax.random.key(3), algorithm, self.x0, STEPS, save_every=5)
                out = self.variant(
                    lambda key, x0, a=algorithm: lj.run(key, a, x0, STEPS, save_every=5))(
                    jax.random.key(3), self.x0)
                chex.assert_shape(out.trajectory, (STEPS // 5, N, D))
                chex.assert_trees_all_close(out.positions, ref.positions, rtol=1e-5, atol=1e-5)
                chex.assert_trees_all_equal(out.info.num_nonfinite, ref.info.num_nonfinite)

    @chex.variants(with_jit=True, without_jit=True)
    def test_vmap_over_keys_and_step_sizes(self):
        keys = jax.random.split(jax.random.key(4), 3)
        hs = jnp.array([0.02, 0.05, 0.1])

        def final(key, h):
            return lj.run(key, lj.ula(TARGET.score, h), self.x0, STEPS).positions

        ref = jnp.stack([final(k, h) for k, h in zip(keys, hs)])
        out = self.variant(jax.vmap(final))(keys, hs)
        chex.assert_shape(out, (3, N, D))
        chex.assert_trees_all_close(out, ref, rtol=1e-5, atol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_grad_through_run(self):
        def mean_sq(h):
            return jnp.mean(lj.run(jax.random.key(5), lj.ula(TARGET.score, h), self.x0,
                                   STEPS).positions ** 2)

        g = self.variant(jax.grad(mean_sq))(0.05)
        eps = 1e-3
        fd = (mean_sq(0.05 + eps) - mean_sq(0.05 - eps)) / (2 * eps)
        chex.assert_tree_all_finite(g)
        chex.assert_trees_all_close(g, fd, rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "pc", "ncsn"])
def test_grad_through_score_based_samplers(name):
    """d mean(output) / d (data mean) through every score-based sampler driven by the exact
    denoiser (its arrays are traced leaves), eager and under jit, against central differences."""
    sched = diffusion.linear_schedule(STEPS, beta_max=0.5)
    x0 = jax.random.normal(jax.random.key(1), (N, D))

    def make(eps):
        return {"ddpm": lambda: diffusion.ddpm_sampler(eps, sched),
                "ddim": lambda: diffusion.ddim_sampler(eps, sched, 10, eta=0.5),
                "pc": lambda: diffusion.pc_sampler(eps, sched, snr=0.05),
                "ncsn": lambda: diffusion.ncsn_sampler(eps, sched, levels=[5, 2, 1], steps_per_level=20,
                                                       epsilon=1e-4)}[name]()

    steps = {"ddim": 10, "ncsn": 60}.get(name, STEPS)

    def loss(shift):
        alg = make(_eps(sched, TARGET.mean + shift))
        return jnp.mean(lj.run(jax.random.key(5), alg, x0, steps).positions)

    g = jax.grad(loss)(0.0)
    g_jit = jax.jit(jax.grad(loss))(0.0)
    h = 1e-2
    fd = (loss(h) - loss(-h)) / (2 * h)
    chex.assert_tree_all_finite(g)
    chex.assert_trees_all_close(g_jit, g, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(g, fd, rtol=2e-2, atol=2e-3)
    assert float(g) > 0.1  # shifting the data moves the samples


@pytest.mark.parametrize("name", ["ddpm", "ddim", "pc", "ncsn"])
def test_vmap_over_keys_of_score_based_samplers(name):
    """A user's vmap (and jit of it) over keys gives each key's eager run."""
    alg = _algorithms()[name]
    x0 = jax.random.normal(jax.random.key(1), (N, D))
    keys = jax.random.split(jax.random.key(4), 3)

    def final(key):
        return lj.run(key, alg, x0, STEPS).positions

    ref = jnp.stack([final(k) for k in keys])
    chex.assert_trees_all_close(jax.vmap(final)(keys), ref, rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(jax.jit(jax.vmap(final))(keys), ref, rtol=1e-5, atol=1e-5)
