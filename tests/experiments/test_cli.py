import json
import math

from experiments import _cli


def test_part_cache_round_trips_infinities_and_reuses(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": float("-inf"), "b": [1.0, float("inf")], "c": None, "d": "text"}

    cache = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    first = cache.get_or_compute("part", compute)
    again = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", compute)
    assert len(calls) == 1  # the second call re-used the stored part
    for r in (first, again):
        assert r["a"] == -math.inf and r["b"][1] == math.inf and r["c"] is None and r["d"] == "text"
    # another config or seed starts afresh; fresh=True recomputes
    _cli.PartCache(tmp_path, "x", {"p": 2}, seed=0).get_or_compute("part", compute)
    _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True).get_or_compute("part", compute)
    assert len(calls) == 3


def test_write_json_is_strict_json(tmp_path):
    path = tmp_path / "o.json"
    _cli.write_json(path, {"x": float("nan"), "y": float("inf")})
    assert json.loads(path.read_text()) == {"x": None, "y": "inf"}
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


# --- issue 13: corrupt parts, bad --seed / counts, unwritable --out -------------------------

import pytest  # noqa: E402

from experiments import cone_escape, ula_bias  # noqa: E402


def test_corrupt_part_names_the_file_and_what_to_do(tmp_path):
    cache = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    cache.get_or_compute("part", lambda: {"a": 1.0})
    path = cache.dir / "part.json"
    path.write_text('{"a": 1.')  # truncated
    with pytest.raises(ValueError) as exc:
        _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", lambda: {"a": 2.0})
    msg = str(exc.value)
    assert str(path) in msg and "--force" in msg and "delete" in msg
    # --force ignores (and rewrites) the corrupt part
    fresh = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True)
    assert fresh.get_or_compute("part", lambda: {"a": 2.0}) == {"a": 2.0}


@pytest.mark.parametrize("seed", [str(2**70), "-1", str(2**32)])
def test_seed_out_of_range_is_a_parser_error_naming_the_flag(seed, tmp_path, capsys):
    parser = _cli.base_parser("x", "test")
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--seed", seed, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and str(2**32 - 1) in err and seed in err


def test_seed_range_ends_are_accepted_and_documented(tmp_path, capsys):
    parser = _cli.base_parser("x", "test")
    for seed in (0, 2**32 - 1):
        assert parser.parse_args(["--seed", str(seed), "--out", str(tmp_path)]).seed == seed
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    assert "4294967295" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("value", ["0", "-3"])
def test_count_flags_name_the_flag(value, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cone_escape, "run", lambda *a, **k: calls.append(a))
    with pytest.raises(SystemExit) as exc:
        cone_escape.main(["--quick", "--chains", value, "--out", str(tmp_path)])
    assert exc.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert "--chains" in err and ">= 1" in err and "num " not in err


@pytest.mark.parametrize("make_out", [
    lambda tmp: tmp / "file",          # --out is a regular file
    lambda tmp: tmp / "file" / "sub",  # its parent is a regular file (fails for root too)
])
def test_unwritable_out_fails_before_the_run(make_out, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    calls = []
    monkeypatch.setattr(ula_bias, "run", lambda *a, **k: calls.append(a))
    out = make_out(tmp_path)
    with pytest.raises(SystemExit) as exc:
        ula_bias.main(["--quick", "--out", str(out)])
    assert exc.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert "--out" in err and str(out) in err


# --- issue 14: flags generated from each experiment's Config -----------------------------

import dataclasses  # noqa: E402
import importlib  # noqa: E402
import re  # noqa: E402
from typing import Optional  # noqa: E402

EXPERIMENTS = ("annealed_langevin", "cone_escape", "diffusion_vs_langevin", "dimension_sweep",
               "gaussian_dsm", "memorization", "memorization_analytic", "table1", "ula_bias")
LEARNED = ("memorization", "diffusion_vs_langevin")  # named configs: --config quick|paper|paper-cpu
SKIPPED = {"gaussian_dsm": {"settings"}}  # covered by --settings N


def _help_text(module, capsys, monkeypatch, argv=("--help",)) -> str:
    monkeypatch.setenv("COLUMNS", "3000")  # one line per entry: no wrapping inside values
    with pytest.raises(SystemExit) as exc:
        module.main(list(argv))
    assert exc.value.code == 0
    return capsys.readouterr().out


def _entries(text: str) -> list:
    """The help's option entries (flags and help text), one string each."""
    entries = []
    for line in text.splitlines():
        if re.match(r"  -", line):
            entries.append(line.strip())
        elif entries and line.startswith("   ") and line.strip():
            entries[-1] += "  " + line.strip()  # two spaces: split("  ")[0] is the flags
    return entries


def _entry(entries: list, flag: str) -> str:
    found = [e for e in entries if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", e.split("  ")[0])]
    assert len(found) == 1, (flag, found)
    return found[0]


def _field_paths(config_cls, prefix=""):
    """``(path, class, field name)`` of every field, through the nested config dataclasses."""
    import typing

    hints = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        yield prefix + field.name, config_cls, field.name
        nested = _cli._dataclass_of(hints[field.name])
        if nested is not None:
            yield from _field_paths(nested, prefix + field.name + ".")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_help_has_a_flag_with_its_defaults_for_every_config_field(name, capsys, monkeypatch):
    from experiments import _learned

    module = importlib.import_module(f"experiments.{name}")
    text = _help_text(module, capsys, monkeypatch)
    entries = _entries(text)
    default = module.Config.paper() if name in LEARNED else module.Config()
    quick = module.Config.quick()
    skipped = SKIPPED.get(name, set()) | (set(_learned.TRAINING_SKIP) if name in LEARNED else set())
    nested = {"training", "training.model"} if name in LEARNED else set()  # flags for their fields
    for path, klass, field in _field_paths(module.Config):
        docs = _cli.field_docs(klass)
        assert docs.get(field), f"{name}: {klass.__name__}.{field} has no Attributes: line"
        if path in skipped:
            assert path in " ".join(text.split())  # listed, with its reason, under "Not flags"
            continue
        if path in nested:
            continue
        entry = _entry(entries, "--" + field.replace("_", "-"))
        value = _cli._get(default, path)
        assert f"(default {_cli.format_value(value)}" in entry, entry
        if _cli._get(quick, path) != value:
            assert f"--quick: {_cli.format_value(_cli._get(quick, path))}" in entry, entry
        assert docs[field].rstrip(".") in entry
    for flag in ("--quick", "--seed", "--out", "--force"):
        _entry(entries, flag)


def test_help_shows_named_config_values_and_keeps_old_flag_names(capsys, monkeypatch):
    from experiments import gaussian_dsm, memorization, table1

    entries = _entries(_help_text(memorization, capsys, monkeypatch))
    assert "(default 5000; --config paper-cpu: 1500; --quick: 510)" in _entry(entries, "--chains")
    for flag in ("--config", "--retrain", "--target", "--train-steps", "--no-progress", "--level-sampling"):
        _entry(entries, flag)
    entries = _entries(_help_text(table1, capsys, monkeypatch))
    assert "(default 1000)" in _entry(entries, "--steps")
    for flag in ("--step-size", "--chains", "--score-error-samples", "--alpha", "--c"):
        _entry(entries, flag)
    text = _help_text(gaussian_dsm, capsys, monkeypatch)
    entries = _entries(text)
    for old, field in (("--chains", "--num-chains"), ("--replicates", "--num-replicates"),
                       ("--datasets", "--num-datasets")):
        assert _entry(entries, old) == _entry(entries, field)  # the field name is an alias
    assert "--settings N" in text and "Not flags: settings" in text


class _Stop(Exception):
    pass


def _capture_run(module, monkeypatch) -> dict:
    seen = {}

    def fake_run(config, *args, **kwargs):
        seen["config"] = config
        raise _Stop

    monkeypatch.setattr(module, "run", fake_run)
    return seen


def _quick(name: str, module):
    return module.Config.quick().resolved() if name in LEARNED else module.Config.quick()


@pytest.mark.parametrize("name, flags, expected", [
    *[(name, [], {}) for name in EXPERIMENTS],  # no flag: exactly the named config
    ("table1", ["--steps", "7", "--step-size", "0.01", "--r-in-fraction", "0.5", "--c", "1", "3"],
     dict(steps=7, step_size=0.01, r_in_fraction=0.5, c=(1.0, 3.0))),
    ("ula_bias", ["--lambda-min", "0.5", "--chains", "300", "--num-steps", "9"],
     dict(lambda_min=0.5, num_chains=300, num_steps=9)),
    ("cone_escape", ["--half-angles-2d", "0.2", "0.4", "--drift", "2"],
     dict(half_angles_2d=(0.2, 0.4), drift=2.0)),
    ("memorization_analytic", ["--blur", "0.02", "--dims", "3", "4"], dict(blur=0.02, dims=(3, 4))),
    ("dimension_sweep", ["--gd-lr", "0.1", "--opt-dims", "2", "3"], dict(gd_lr=0.1, opt_dims=(2, 3))),
    ("annealed_langevin", ["--mixture-weights", "0.3", "0.7", "--mixture-schedule", "ou", "--simulate-kappas"],
     dict(mixture_weights=(0.3, 0.7), mixture_schedule="ou", simulate_kappas=())),
    ("gaussian_dsm", ["--sigma-grid", "0.01", "1", "30", "--replicates", "4", "--settings", "2"],
     dict(sigma_grid=(0.01, 1, 30), num_replicates=4)),
    ("memorization", ["--width", "64", "--no-progress", "--lr-schedule", "constant", "--train-steps", "9",
                      "--grad-clip", "2", "--activation", "relu"],
     {"training.model.width": 64, "progress_bar": False, "training.lr_schedule": "constant",
      "training.num_steps": 9, "training.grad_clip": 2.0, "training.model.activation": "relu"}),
    ("diffusion_vs_langevin", ["--reverse", "ddim", "--ddim-steps", "10", "--level-probe"],
     dict(reverse="ddim", ddim_steps=10, level_probe=True)),
])
def test_flags_change_the_config_that_run_receives(name, flags, expected, tmp_path, monkeypatch):
    module = importlib.import_module(f"experiments.{name}")
    seen = _capture_run(module, monkeypatch)
    with pytest.raises(_Stop):
        module.main(["--quick", "--out", str(tmp_path)] + flags)
    config, base = seen["config"], _quick(name, module)
    if name == "gaussian_dsm" and "--settings" in flags:
        assert config.settings == base.settings[:2]
        base = dataclasses.replace(base, settings=base.settings[:2])
    for field, value in expected.items():
        assert _cli._get(config, field) == value, field
        assert type(_cli._get(config, field)) is type(value), field  # tuples, not lists
    assert _cli._replace(config, {f: _cli._get(base, f) for f in expected}) == base


def test_learned_score_flags_apply_to_the_chosen_config_and_target(tmp_path, monkeypatch):
    from experiments import memorization as mem

    seen = _capture_run(mem, monkeypatch)
    with pytest.raises(_Stop):
        mem.main(["--config", "paper-cpu", "--target", "mixture", "--chains", "600", "--out", str(tmp_path)])
    assert seen["config"] == dataclasses.replace(mem.Config.paper_cpu("mixture"), chains=600).resolved()


@pytest.mark.parametrize("name, flags, expected", [
    ("table1", ["--chains", "0"], ["argument --chains", ">= 2", "got 0"]),
    ("table1", ["--step-size", "-0.1"], ["argument --step-size", "> 0", "-0.1"]),
    ("table1", ["--d", "1"], ["argument --d", ">= 2", "got 1"]),
    ("ula_bias", ["--num-chains", "0"], ["--chains must be >= 1, got 0"]),
    ("ula_bias", ["--step-sizes", "0.1", "0.9"], ["--step-sizes 0.1 0.9", "< 2 lambda_min"]),
    ("cone_escape", ["--step-size", "-1"], ["argument --step-size", "> 0"]),
    ("cone_escape", ["--steps", "100"], ["--steps 100, --save-every 250"]),
    ("memorization_analytic", ["--r-in-factor", "0.2"], ["--r-in-factor 0.2, --r-out-factor 0.16"]),
    ("dimension_sweep", ["--gd-lr", "nan"], ["argument --gd-lr", "nan"]),
    ("dimension_sweep", ["--opt-chains", "1"], ["argument --opt-chains", ">= 2", "got 1"]),
    ("gaussian_dsm", ["--chains", "10"], ["--d-sim 40, --chains 10", "must be > d_sim=40"]),
    ("gaussian_dsm", ["--datasets", "0"], ["--datasets must be >= 1, got 0"]),
    ("annealed_langevin", ["--schedules", "exp"], ["argument --schedules", "invalid choice"]),
    ("annealed_langevin", ["--kappas", "0"], ["argument --kappas", "> 0"]),
    ("memorization", ["--chains", "90"],
     ["--chains 90", "--sinkhorn-points 500", "sinkhorn_points=500 must be <= chains=90"]),
    ("memorization", ["--max-level", "2000"], ["--max-level 2000", "max_level=2000"]),
    ("diffusion_vs_langevin", ["--reverse", "ddx"], ["argument --reverse", "invalid choice"]),
    ("diffusion_vs_langevin", ["--ddim-steps", "0"], ["--ddim-steps must be >= 1, got 0"]),
])
def test_bad_values_are_parser_errors_naming_the_flag(name, flags, expected, tmp_path, capsys, monkeypatch):
    module = importlib.import_module(f"experiments.{name}")
    seen = _capture_run(module, monkeypatch)
    with pytest.raises(SystemExit) as exc:
        module.main(["--quick", "--out", str(tmp_path)] + flags)
    assert exc.value.code == 2 and not seen
    err = " ".join(capsys.readouterr().err.split())
    for text in expected:
        assert text in err, (text, err)


@dataclasses.dataclass(frozen=True)
class _Toy:
    """A toy protocol.

    Attributes:
      burn_in: steps dropped first (may be 0).
      rate, scale: two positive numbers,
        described on two lines.
      names: some names.
      switch: a switch.
      size: an optional size; unset: automatic.
    """

    burn_in: int = 10
    rate: float = 1.0
    scale: float = 2.0
    names: tuple[str, ...] = ("a",)
    switch: bool = False
    size: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class _Nested:
    inner: _Toy = _Toy()
    steps: int = 3


def test_config_flags_types_minimum_and_docs(tmp_path, capsys, monkeypatch):
    assert _cli.field_docs(_Toy)["scale"] == "two positive numbers, described on two lines."
    parser = _cli.base_parser("toy", "toy")
    flags = _cli.ConfigFlags(parser, _Toy, variants={"--quick": _Toy(burn_in=1)},
                             minimum={"burn_in": 0}, positive=("rate",), choices={"names": ("a", "b")})
    args = parser.parse_args(["--burn-in", "0", "--switch", "--names", "b", "a", "--size", "4",
                              "--out", str(tmp_path)])
    assert flags.apply(args, _Toy()) == _Toy(burn_in=0, switch=True, names=("b", "a"), size=4)
    assert flags.apply(parser.parse_args(["--out", str(tmp_path)]), _Toy(rate=3.0)) == _Toy(rate=3.0)
    for bad, text in ((["--burn-in", "-1"], "--burn-in: must be an integer >= 0"),
                      (["--size", "0"], "--size must be >= 1, got 0"),
                      (["--rate", "0"], "--rate: must be a finite number > 0"),
                      (["--scale", "inf"], "--scale: must be a finite number"),
                      (["--names", "c"], "--names: invalid choice")):
        with pytest.raises(SystemExit):
            parser.parse_args(bad + ["--out", str(tmp_path)])
        assert text in capsys.readouterr().err
    monkeypatch.setenv("COLUMNS", "3000")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    entries = _entries(capsys.readouterr().out)
    assert "steps dropped first (may be 0) (default 10; --quick: 1)" in _entry(entries, "--burn-in")
    assert "(default off)" in _entry(entries, "--no-switch")
    assert "(default unset)" in _entry(entries, "--size")

    def validate(config):
        if config.scale < config.rate:
            raise ValueError(f"scale={config.scale} must be >= rate={config.rate}")

    with pytest.raises(SystemExit):
        flags.apply(parser.parse_args(["--rate", "5", "--out", str(tmp_path)]), _Toy(), validate)
    assert "--rate 5, --scale 2: scale=2.0 must be >= rate=5.0" in capsys.readouterr().err


def test_config_flags_nested_dataclass_needs_skip():
    with pytest.raises(TypeError, match="inner"):
        _cli.ConfigFlags(_cli.base_parser("toy", "toy"), _Nested)
    parser = _cli.base_parser("toy", "toy")
    flags = _cli.ConfigFlags(parser, _Nested, skip={"inner": "fixed"})
    assert list(flags.actions) == ["steps"]


@dataclasses.dataclass(frozen=True)
class _Checked:
    """A nested config that checks itself.

    Attributes:
      lo, hi: a range, lo <= hi.
      inner: a toy.
    """

    lo: int = 1
    hi: int = 5
    inner: _Toy = _Toy()

    def __post_init__(self):
        if self.lo > self.hi:
            raise ValueError(f"need lo <= hi, got lo={self.lo}, hi={self.hi}")


@dataclasses.dataclass(frozen=True)
class _Outer:
    """Outer.

    Attributes:
      checked: the nested one.
      steps: steps.
    """

    checked: Optional[_Checked] = None
    steps: int = 3


def test_config_flags_expand_nested_configs(tmp_path, capsys, monkeypatch):
    parser = _cli.base_parser("toy", "toy")
    default = _Outer(checked=_Checked())
    flags = _cli.ConfigFlags(parser, _Outer, default=default, expand=("checked", "checked.inner"),
                             names={"checked.inner.rate": "--inner-rate"}, skip={"checked.inner.names": "fixed"},
                             variants={"--quick": _Outer(checked=_Checked(hi=9))})
    assert set(flags.actions) == {"checked.lo", "checked.hi", "checked.inner.burn_in", "checked.inner.rate",
                                  "checked.inner.scale", "checked.inner.switch", "checked.inner.size", "steps"}
    args = parser.parse_args(["--hi", "7", "--inner-rate", "3", "--no-switch", "--steps", "4",
                              "--out", str(tmp_path)])
    assert flags.apply(args, default) == _Outer(checked=_Checked(hi=7, inner=_Toy(rate=3.0, switch=False)), steps=4)
    # both changes reach the nested config's own check together (not one at a time)
    args = parser.parse_args(["--lo", "8", "--hi", "9", "--out", str(tmp_path)])
    assert flags.apply(args, default).checked == _Checked(lo=8, hi=9)
    with pytest.raises(SystemExit):  # its check's error names the flags and values
        flags.apply(parser.parse_args(["--lo", "6", "--out", str(tmp_path)]), default)
    assert "--lo 6, --hi 5: need lo <= hi" in capsys.readouterr().err
    monkeypatch.setenv("COLUMNS", "3000")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    entries = _entries(text)
    assert "a range, lo <= hi (default 5; --quick: 9)" in _entry(entries, "--hi")
    assert "(default 1)" in _entry(entries, "--inner-rate") and "--rate" in _entry(entries, "--inner-rate")
    assert "Not flags: checked.inner.names (fixed)" in " ".join(text.split())
    with pytest.raises(TypeError, match="steps"):
        _cli.ConfigFlags(_cli.base_parser("toy", "toy"), _Outer, default=default, expand=("steps",))


def test_main_job_and_benchmark_help_have_no_markup_or_issue_numbers(capsys, monkeypatch):
    from benchmarks import training

    from experiments import __main__ as main_job

    for module in (main_job, training):
        text = _help_text(module, capsys, monkeypatch)
        assert "``" not in text and ":func:" not in text
        assert not re.search(r"issue \d", text)
    text = _help_text(main_job, capsys, monkeypatch)
    for flag in ("--out", "--only", "--force", "--config", "--seed"):
        assert "default" in _entry(_entries(text), flag)


def test_finish_records_the_environment(tmp_path):
    """Every result says where it was computed (backend, device, versions): the docs' figure
    provenance and the benchmark records read it."""
    import jax

    from experiments import _cli

    _cli.finish(tmp_path, "demo", dict(value=1.0), "# demo\n")
    env = json.loads((tmp_path / "demo.json").read_text())["environment"]
    assert env["backend"] == jax.default_backend() and env["jax"] == jax.__version__
    assert env["num_devices"] == len(jax.devices()) and env["device_kind"]


# --- one harness: every Config checks itself, also when run is called from Python ----------

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
