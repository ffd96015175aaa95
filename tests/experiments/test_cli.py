"""The experiments' command line (tyro, experiments/_cli.py) and outputs (experiments/_output.py):
what is ours (named configurations, checks naming the flag and value, --seed and --out checked
first, old flag names kept, the part cache, strict JSON), not what tyro does for us."""

import dataclasses
import importlib
import json
import math
import re
from pathlib import Path

import pytest

from experiments import _cli, _output, cone_escape, ula_bias

EXPERIMENTS = ("annealed_langevin", "cone_escape", "diffusion_vs_langevin", "dimension_sweep",
               "gaussian_dsm", "memorization", "memorization_analytic", "table1", "ula_bias")
LEARNED = ("memorization", "diffusion_vs_langevin")  # named configs: --config paper|paper-cpu|quick
# every flag each experiment accepted before the move to tyro (recorded from the argparse parsers)
OLD_FLAGS = json.loads((Path(__file__).parent / "flag_names.json").read_text())


def test_part_cache_round_trips_infinities_and_reuses(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": float("-inf"), "b": [1.0, float("inf")], "c": None, "d": "text"}

    cache = _output.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    first = cache.get_or_compute("part", compute)
    again = _output.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", compute)
    assert len(calls) == 1  # the second call re-used the stored part
    for r in (first, again):
        assert r["a"] == -math.inf and r["b"][1] == math.inf and r["c"] is None and r["d"] == "text"
    # another config or seed starts afresh; fresh=True recomputes
    _output.PartCache(tmp_path, "x", {"p": 2}, seed=0).get_or_compute("part", compute)
    _output.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True).get_or_compute("part", compute)
    assert len(calls) == 3


def test_write_json_is_strict_json(tmp_path):
    path = tmp_path / "o.json"
    _output.write_json(path, {"x": float("nan"), "y": float("inf")})
    assert json.loads(path.read_text()) == {"x": None, "y": "inf"}
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_corrupt_part_names_the_file_and_what_to_do(tmp_path):
    cache = _output.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    cache.get_or_compute("part", lambda: {"a": 1.0})
    path = cache.dir / "part.json"
    path.write_text('{"a": 1.')  # truncated
    with pytest.raises(ValueError) as exc:
        _output.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", lambda: {"a": 2.0})
    msg = str(exc.value)
    assert str(path) in msg and "--force" in msg and "delete" in msg
    # --force ignores (and rewrites) the corrupt part
    fresh = _output.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True)
    assert fresh.get_or_compute("part", lambda: {"a": 2.0}) == {"a": 2.0}


def test_finish_records_the_environment(tmp_path):
    """Every result says where it was computed (backend, device, versions): the docs' figure
    provenance and the benchmark records read it."""
    import jax

    _output.finish(tmp_path, "demo", dict(value=1.0), "# demo\n")
    env = json.loads((tmp_path / "demo.json").read_text())["environment"]
    assert env["backend"] == jax.default_backend() and env["jax"] == jax.__version__
    assert env["num_devices"] == len(jax.devices()) and env["device_kind"]


class _Stop(Exception):
    pass


def _capture_run(module, monkeypatch) -> dict:
    seen = {}

    def fake_run(config, key, *args, **kwargs):
        seen.update(config=config, key=key, kwargs=kwargs)
        raise _Stop

    monkeypatch.setattr(module, "run", fake_run)
    return seen


def _parse(module, argv, tmp_path, monkeypatch) -> dict:
    seen = _capture_run(module, monkeypatch)
    with pytest.raises(_Stop):
        module.main(list(argv) + ["--out", str(tmp_path)])
    return seen


def _help(module, capsys, argv=("--help",)) -> str:
    with pytest.raises(SystemExit) as exc:
        module.main(list(argv))
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("seed", [str(2**70), "-1", str(2**32)])
def test_seed_out_of_range_is_an_error_naming_the_flag(seed, tmp_path, capsys, monkeypatch):
    seen = _capture_run(ula_bias, monkeypatch)
    with pytest.raises(SystemExit) as exc:
        ula_bias.main(["--quick", "--seed", seed, "--out", str(tmp_path)])
    assert exc.value.code == 2 and not seen
    err = capsys.readouterr().err
    assert "--seed" in err and str(2**32 - 1) in err and seed in err


def test_seed_range_ends_are_accepted_and_reach_run(tmp_path, monkeypatch):
    import jax

    for seed in (0, 2**32 - 1):
        seen = _parse(ula_bias, ["--quick", "--seed", str(seed)], tmp_path, monkeypatch)
        assert jax.random.key_data(seen["key"]).tolist() == jax.random.key_data(jax.random.key(seed)).tolist()


@pytest.mark.parametrize("make_out", [
    lambda tmp: tmp / "file",          # --out is a regular file
    lambda tmp: tmp / "file" / "sub",  # its parent is a regular file (fails for root too)
])
def test_unwritable_out_fails_before_the_run(make_out, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    seen = _capture_run(ula_bias, monkeypatch)
    out = make_out(tmp_path)
    with pytest.raises(SystemExit) as exc:
        ula_bias.main(["--quick", "--out", str(out)])
    assert exc.value.code == 2 and not seen
    err = capsys.readouterr().err
    assert "--out" in err and str(out) in err


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_old_flag_name_is_still_accepted_and_documented(name, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    module = importlib.import_module(f"experiments.{name}")
    text = _help(module, capsys)
    shown = set(re.findall(r"--[a-z0-9-]+", text))
    assert not [f for f in OLD_FLAGS[name] if f not in shown]
    assert "``" not in text.split("protocol options")[0]  # no reST markup in the description


def _quick(name: str, module):
    return module.Config.quick().resolved() if name in LEARNED else module.Config.quick()


@pytest.mark.parametrize("name, flags, expected", [
    *[(name, [], {}) for name in EXPERIMENTS],  # no flag: exactly the named config
    ("table1", ["--steps", "7", "--step-size", "0.01", "--r-in-fraction", "0.5", "--c", "1", "3"],
     dict(steps=7, step_size=0.01, r_in_fraction=0.5, c=(1.0, 3.0))),
    ("ula_bias", ["--lambda-min", "0.5", "--chains", "300", "--num-steps", "9"],
     dict(lambda_min=0.5, num_chains=300, num_steps=9)),
    ("cone_escape", ["--half-angles-2d", "0.2", "0.4", "--drift", "2"], dict(half_angles_2d=(0.2, 0.4), drift=2.0)),
    ("memorization_analytic", ["--blur", "0.02", "--dims", "3", "4"], dict(blur=0.02, dims=(3, 4))),
    ("dimension_sweep", ["--gd-lr", "0.1", "--opt-dims", "2", "3"], dict(gd_lr=0.1, opt_dims=(2, 3))),
    ("annealed_langevin", ["--mixture-weights", "0.3", "0.7", "--mixture-schedule", "ou", "--simulate-kappas"],
     dict(mixture_weights=(0.3, 0.7), mixture_schedule="ou", simulate_kappas=())),
    ("gaussian_dsm", ["--sigma-grid", "0.01", "1", "30", "--replicates", "4", "--datasets", "3"],
     dict(sigma_grid=(0.01, 1.0, 30), num_replicates=4, num_datasets=3)),
    ("memorization", ["--width", "64", "--lr-schedule", "constant", "--train-steps", "9", "--grad-clip", "2",
                      "--activation", "relu", "--level-sampling", "per_batch"],
     dict(training=("model.width", 64), _lr=("lr_schedule", "constant"), _n=("num_steps", 9),
          _c=("grad_clip", 2.0), _a=("model.activation", "relu"), _l=("level_sampling", "per_batch"))),
    ("diffusion_vs_langevin", ["--reverse", "ddim", "--ddim-steps", "10", "--level-probe", "--pc-corrector-steps", "0"],
     dict(reverse="ddim", ddim_steps=10, level_probe=True, pc_corrector_steps=0)),
])
def test_flags_change_only_their_fields_of_the_config_run_receives(name, flags, expected, tmp_path, monkeypatch):
    module = importlib.import_module(f"experiments.{name}")
    config = _parse(module, ["--quick"] + flags, tmp_path, monkeypatch)["config"]
    base = _quick(name, module)
    top, training = {}, {}
    for field, value in expected.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and field != "c":
            training[value[0]] = value[1]
        else:
            top[field] = value
    for field, value in top.items():
        assert getattr(config, field) == value and type(getattr(config, field)) is type(value), field
    for path, value in training.items():
        obj = config.training
        for part in path.split("."):
            obj = getattr(obj, part)
        assert obj == value, path
    rebuilt = dataclasses.replace(config, **{f: getattr(base, f) for f in top})
    if training:
        rebuilt = dataclasses.replace(rebuilt, training=base.training)
    assert rebuilt == base


def test_named_configurations_and_target_choose_the_base(tmp_path, monkeypatch):
    from experiments import diffusion_vs_langevin as dvl
    from experiments import memorization as mem

    seen = _parse(mem, ["--config", "paper-cpu", "--target", "mixture", "--chains", "600"], tmp_path, monkeypatch)
    assert seen["config"] == dataclasses.replace(mem.Config.paper_cpu("mixture"), chains=600).resolved()
    assert seen["kwargs"] == dict(seed=0, retrain=False, progress_bar=True, checkpoint_every=5000, chunk_size=500)
    assert _parse(mem, [], tmp_path, monkeypatch)["config"] == mem.Config.paper()
    assert _parse(dvl, ["--quick", "--target", "mixture"], tmp_path, monkeypatch)["config"] == dvl.Config.quick("mixture")
    seen = _parse(dvl, ["--config", "quick", "--no-progress", "--retrain", "--seed", "3", "--checkpoint-every", "7"],
                  tmp_path, monkeypatch)
    assert seen["config"] == dvl.Config.quick()
    assert seen["kwargs"] == dict(seed=3, retrain=True, progress_bar=False, checkpoint_every=7, chunk_size=500)
    assert _parse(cone_escape, ["--config", "quick"], tmp_path, monkeypatch)["config"] == cone_escape.Config.quick()


def test_help_shows_the_chosen_configuration_values(capsys, monkeypatch):
    from experiments import table1

    monkeypatch.setenv("COLUMNS", "200")
    assert "(default: 10)" in _help(table1, capsys).split("--trials")[1].splitlines()[0]
    assert "(default: 3)" in _help(table1, capsys, ("--quick", "--help")).split("--trials")[1].splitlines()[0]


@pytest.mark.parametrize("name, flags, expected", [
    ("table1", ["--chains", "0"], ["--chains 0:", ">= 2", "got 0"]),
    ("table1", ["--step-size", "-0.1"], ["--step-size -0.1:", "> 0"]),
    ("table1", ["--d", "1"], ["--d 1:", ">= 2"]),
    ("table1", ["--steps", "x"], ["--steps", "x"]),
    ("ula_bias", ["--chains", "0"], ["--num-chains 0:", ">= 1"]),
    ("ula_bias", ["--step-sizes", "0.1", "0.9"], ["--step-sizes 0.1 0.9:", "< 2 lambda_min"]),
    ("cone_escape", ["--chains", "-3"], ["--chains -3:", ">= 1"]),
    ("cone_escape", ["--steps", "100"], ["--steps 100:", "save_every=250"]),
    ("memorization_analytic", ["--r-in-factor", "0.2"], ["--r-in-factor 0.2:", "r_out_factor=0.16"]),
    ("dimension_sweep", ["--gd-lr", "nan"], ["--gd-lr nan:", "> 0"]),
    ("dimension_sweep", ["--opt-chains", "1"], ["--opt-chains 1:", ">= 2"]),
    ("gaussian_dsm", ["--chains", "10"], ["--num-chains 10:", "must be > d_sim + 1 = 41"]),
    ("gaussian_dsm", ["--datasets", "1"], ["--num-datasets 1:", ">= 2"]),
    ("gaussian_dsm", ["--settings", "0"], ["--settings 0:", ">= 1"]),
    ("annealed_langevin", ["--schedules", "exp"], ["--schedules", "exp"]),
    ("annealed_langevin", ["--kappas", "0"], ["--kappas 0:", "> 0"]),
    ("memorization", ["--chains", "90"], ["--sinkhorn-points 500:", "sinkhorn_points=500 must be <= chains=90"]),
    ("memorization", ["--learning-rate", "-1"], ["--learning-rate -1: learning_rate must be > 0"]),
    ("memorization", ["--train-steps", "0"], ["--train-steps 0: num_steps must be"]),
    ("memorization", ["--checkpoint-every", "0"], ["--checkpoint-every 0:"]),
    ("memorization", ["--config", "paper"], ["--quick contradicts --config paper"]),
    # issue 22: found deep inside the run, or a traceback, before
    ("memorization_analytic", ["--sinkhorn-points", "1"], ["--sinkhorn-points 1:", ">= 2"]),
    ("memorization", ["--max-level", "2000"], ["--max-level 2000:", "max_level must be <= num_levels = 1000"]),
    ("memorization", ["--min-level", "200"], ["--min-level 200:", "min_level must be <= max_level = 100"]),
    ("memorization", ["--max-level", "5"], ["--score-level 10:", "min_level=1 to max_level=5"]),
    ("memorization", ["--min-level", "20"], ["--score-level 10:", "min_level=20"]),
    ("memorization", ["--batch-size", "100000"], ["--batch-size 100000:", "must be <= the 1000 training rows"]),
    ("memorization", ["--beta-min", "0.1", "--beta-max", "0.01"], ["--beta-min 0.1:", "beta_min"]),
    ("diffusion_vs_langevin", ["--reverse", "ddx"], ["--reverse", "ddx"]),
    ("diffusion_vs_langevin", ["--ddim-steps", "0"], ["--ddim-steps 0:", ">= 1"]),
    ("diffusion_vs_langevin", ["--pc-corrector-steps", "-1"], ["--pc-corrector-steps -1:", ">= 0"]),
    # issue 22, part 6: found by trying every field's boundary values against each run
    ("ula_bias", ["--step-sizes"], ["--step-sizes (empty):", "at least one value"]),
    ("ula_bias", ["--d", "10", "--chains", "11"], ["--num-chains 11:", "> d + 1 = 11"]),
    ("ula_bias", ["--chains", "1000000000"], ["--num-chains 1000000000:", "too large", "bytes of memory"]),
    ("table1", ["--chains", "10"], ["--chains 10:", "> d + 1 = 51"]),
    ("table1", ["--score-error-samples", "1"], ["--score-error-samples 1:", ">= 2"]),
    ("table1", ["--c", "1e30"], ["--c 1e+30:", "float32"]),
    ("table1", ["--trials", "1000000000"], ["--trials 1000000000:", "too large"]),
    ("memorization_analytic", ["--dims"], ["--dims (empty):", "at least one value"]),
    ("memorization_analytic", ["--chains", "40"], ["--chains 40:", "> max(dims) + 1 = 51"]),
    ("memorization_analytic", ["--num-train", "1000000000"], ["--num-train 1000000000:", "too large"]),
    ("cone_escape", ["--starts-1d", "--half-angles-2d"], ["--starts-1d (empty):", "both empty"]),
    ("cone_escape", ["--drift", "nan"], ["--drift nan:", "finite"]),
    ("cone_escape", ["--steps", "1000000000"], ["--steps 1000000000:", "too large"]),
    ("gaussian_dsm", ["--sweep-a", "0.7"], ["--sweep-a 0.7:", "one of exponents"]),
    ("gaussian_dsm", ["--sweep-sigmas"], ["--sweep-sigmas (empty):", "at least one value"]),
    ("gaussian_dsm", ["--exponents", "-1", "1"], ["--exponents -1 1:", ">= 0"]),
    ("gaussian_dsm", ["--sigma-grid", "1e-3", "inf", "60"], ["--sigma-grid", "max finite"]),
    ("gaussian_dsm", ["--d-sim", "40", "--chains", "41"], ["--num-chains 41:", "> d_sim + 1 = 41"]),
    ("gaussian_dsm", ["--datasets", "1000000000"], ["--num-datasets 1000000000:", "too large"]),
    ("annealed_langevin", ["--budgets"], ["--budgets (empty):", "at least one value"]),
    ("annealed_langevin", ["--action-nodes", "1"], ["--action-nodes 1:", ">= 2"]),
    ("annealed_langevin", ["--mixture-offset", "nan"], ["--mixture-offset nan:", "finite"]),
    ("annealed_langevin", ["--mixture-chains", "1000000000"], ["--mixture-chains 1000000000:", "too large"]),
    ("dimension_sweep", ["--opt-dims"], ["--opt-dims (empty):", "at least one value"]),
    ("dimension_sweep", ["--spectrum-exponent", "nan"], ["--spectrum-exponent nan:", "finite"]),
    ("dimension_sweep", ["--opt-chains", "1000000000"], ["--opt-chains 1000000000:", "too large"]),
    ("memorization", ["--depth", "1000000000"], ["--depth 1000000000:", "<= 100"]),
    ("memorization", ["--width", "1000000000", "--retrain"], ["--width 1000000000:", "too large"]),
    ("memorization", ["--variance", "nan"], ["--variance nan:", "> 0"]),
    ("diffusion_vs_langevin", ["--chains", "1000000000", "--sinkhorn-points", "1"], ["--chains 1000000000:", "too large"]),
])
def test_bad_values_are_errors_naming_the_flag_and_value(name, flags, expected, tmp_path, capsys, monkeypatch):
    module = importlib.import_module(f"experiments.{name}")
    seen = _capture_run(module, monkeypatch)
    with pytest.raises(SystemExit) as exc:
        module.main(["--quick", "--out", str(tmp_path)] + flags)
    assert exc.value.code == 2 and not seen
    err = " ".join(capsys.readouterr().err.split())
    for text in expected:
        assert text in err, (text, err)


def test_explain_names_the_field_a_message_starts_with():
    @dataclasses.dataclass(frozen=True)
    class Inner:
        learning_rate: float = 0.1

    @dataclasses.dataclass(frozen=True)
    class Outer:
        num_chains: int = 3
        switch: bool = False
        inner: Inner = Inner()

    config = Outer()
    assert _cli.explain(ValueError("num_chains must be >= 5"), config) == "--num-chains 3: num_chains must be >= 5"
    assert _cli.explain(ValueError("learning_rate must be > 0"), config).startswith("--learning-rate 0.1: ")
    assert _cli.explain(ValueError("switch is off"), config) == "--no-switch: switch is off"
    assert _cli.explain(ValueError("need a < b"), config) == "need a < b"  # no field first: as it is
    assert _cli.flag_of("inner.num_steps", {"--train-steps": "--num-steps"}) == "--train-steps"


def test_main_job_help_has_no_markup_or_issue_numbers(capsys):
    from benchmarks import training

    from experiments import __main__ as main_job

    for module in (main_job, training):
        text = _help(module, capsys)
        assert "``" not in text and ":func:" not in text
        assert not re.search(r"issue \d", text)


# --- every Config checks itself, also when run is called from Python -----------------------

BAD_CONFIGS = {
    "table1": (dict(c=(0.0,)), "c must be non-zero"),
    "ula_bias": (dict(step_sizes=(5.0,)), "step_sizes must all be < 2 lambda_min"),
    "cone_escape": (dict(steps=10, save_every=50), "steps=10 must be >= save_every=50"),
    "memorization_analytic": (dict(num_seeds=5000), "num_seeds=5000 must be <= num_train"),
    "dimension_sweep": (dict(num_seeds=500), "num_seeds=500 must be <= num_train"),
    "gaussian_dsm": (dict(num_chains=10), "num_chains=10 must be > d_sim"),
    "annealed_langevin": (dict(eig_min=5.0), "eig_min=5.0 must be <= eig_max"),
    "memorization": (dict(num_seeds=5000), "num_seeds=5000 must be <= num_train"),
    "diffusion_vs_langevin": (dict(reverse="ddx"), "reverse must be 'ddpm' or 'ddim'"),
}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_run_checks_its_config_before_any_work(name, monkeypatch):
    import jax

    module = importlib.import_module(f"experiments.{name}")
    assert set(BAD_CONFIGS) == set(EXPERIMENTS)
    assert module.Config.quick().validate() == _quick(name, module)  # a valid config passes unchanged
    fields, message = BAD_CONFIGS[name]
    bad = dataclasses.replace(module.Config.quick(), **fields)
    # nothing may be computed first: every JAX computation of the run would go through these
    monkeypatch.setattr(jax.random, "split", lambda *a, **k: pytest.fail("computed before the check"))
    with pytest.raises(ValueError, match=re.escape(message)):
        module.run(bad, jax.random.key(0))
