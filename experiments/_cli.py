"""The experiments' command line, on tyro (https://brentyi.github.io/tyro/).

Every ``python -m experiments.<name>`` takes ``--help``, ``--quick``, ``--seed``, ``--out DIR``
and ``--force`` (:class:`Common`), ``--config NAME`` for its named configurations, its own run
settings, and one flag per field of its ``Config`` dataclass (nested configs' fields included,
named by their own field name: ``--learning-rate``), with help from the ``Attributes:`` sections
of the docstrings. tyro builds the parser and converts the values; what is ours is:

* the named configurations: ``--quick`` (the same as ``--config quick``) or ``--config NAME``
  picks the configuration whose values the flags then change, and that ``--help`` shows;
* the checks: ``Config.validate()`` runs after parsing (also when ``run`` is called from
  Python), and a ``ValueError`` becomes a command-line error that names the flag of the field
  the message starts with, and its value (``--chains 1: chains must be >= 2, got 1``);
* ``--seed`` in ``[0, 2**32 - 1]`` and ``--out`` writable with room for the results, checked
  before any work;
* :func:`execute`: one run at a time per experiment and ``--out`` (a lock; a second run stops
  at once), a result of another seed never replaced without ``--force``; then run, plot,
  summarise and write (:mod:`experiments._output`);
* one run across processes (``jax.distributed``): ``--coordinator HOST:PORT --num-processes N
  --process-id I``, the same command on every process but for ``--process-id``, for the
  experiments whose module says ``MULTIPROCESS = True`` (the others refuse these flags, naming
  them). The processes join the cluster (:func:`join`) before any JAX computation; process 0
  alone checks ``--out``, takes its lock, reads and writes the part cache and writes the
  results, and tells the others what it found (:func:`experiments._output.on_writer`), so all
  of them take the same branches and meet in the same collectives. The experiment's ``run``
  spreads its chains over every device of every process and gathers them
  (``experiments.table1``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
import sys
import time
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping, Optional, Sequence

import docstring_parser
import tyro

from experiments import _output
from langevin_jax import _checks, _io

# jax.random.key keeps only the low 32 bits of a seed (without x64): 2**32 and -1 would
# silently alias the seeds 0 and 2**32 - 1, and 2**64 overflows; so seeds are [0, 2**32 - 1]
MAX_SEED = 2**32 - 1
# what an experiment writes besides its checkpoints (JSON, summary, figures), checked free at the start
RESULT_BYTES = 16 << 20


# the flags of a run across processes, all three or none
CLUSTER_FLAGS = ("--coordinator", "--num-processes", "--process-id")


@dataclasses.dataclass(frozen=True)
class Common:
    """The flags every experiment takes.

    Attributes:
      quick: the small configuration (CPU, minutes); the same as --config quick.
      seed: PRNG seed, an integer in [0, 2**32 - 1].
      out: output folder; checked writable at the start.
      force: recompute what an earlier (interrupted) run of the same configuration and seed left
        in --out (cached parts, checkpoints) instead of re-using it; and replace a result of
        another seed there.
      coordinator: HOST:PORT of process 0 (a free port there), to run across several processes
        (jax.distributed; the same command on each, but for --process-id), with --num-processes
        and --process-id. Only experiments that support it (table1); the others refuse it.
      num_processes: how many processes run the experiment together (with --coordinator).
      process_id: this process's number in [0, --num-processes); process 0 writes the results,
        the others only compute (with --coordinator).
    """

    quick: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    seed: int = 0
    out: Path = Path("results")
    force: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    coordinator: Annotated[Optional[str], tyro.conf.arg(metavar="HOST:PORT")] = None
    num_processes: Annotated[Optional[int], tyro.conf.arg(metavar="N")] = None
    process_id: Annotated[Optional[int], tyro.conf.arg(metavar="I")] = None


def check_counts(config: Any, **minimum: int) -> None:
    """Check integer fields against their least values (``chains=2``): a ``ValueError`` that
    starts with the field's name. A sequence field is checked entry by entry."""
    for name, least in minimum.items():
        value = getattr(config, name)
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(f"{name} must be {'an integer' if not isinstance(value, (tuple, list)) else 'integers'}"
                                 f" >= {least}, got {_output.format_value(value)}")


def check_positive(config: Any, *names: str) -> None:
    """Check that float fields (or every entry of sequence fields) are finite and ``> 0``, in
    float32, where the experiments compute: ``1e-50`` (0 there) and ``1e39`` (inf) are refused."""
    import math

    for name in names:
        value = getattr(config, name)
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {_output.format_value(value)}")
        _checks.check_representable(name, value, "float32")


def check_nonempty(config: Any, *names: str) -> None:
    """Check that sequence fields hold at least one value (``--dims`` with no value)."""
    for name in names:
        if len(getattr(config, name)) == 0:
            raise ValueError(f"{name} must have at least one value, got none")


def check_finite(config: Any, *names: str) -> None:
    """Check that float fields (or every entry of sequence fields) are finite in float32, where
    the experiments compute (any sign)."""
    import math

    for name in names:
        value = getattr(config, name)
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"{name} must be finite, got {_output.format_value(value)}")
        _checks.check_representable(name, value, "float32", underflow=False)


def check_memory(config: Any, names: Sequence[str], num_bytes: int, what: str) -> None:
    """Refuse, before any work, sizes whose arrays (``what``, about ``num_bytes``) cannot fit in
    the free memory. The message starts with the largest of the fields ``names`` that set the
    size (the one to make smaller)."""
    available = _checks.available_memory_bytes()
    if available is None or num_bytes <= available:
        return
    values = {n: getattr(config, n) for n in names}
    size = {n: max(v) if isinstance(v, (tuple, list)) else v for n, v in values.items()}
    lead = max(names, key=lambda n: size[n])
    shown = ", ".join(f"{n}={_output.format_value(v)}" for n, v in values.items())
    raise ValueError(f"{lead} is too large: {what} ({shown}) needs about {num_bytes:,} bytes of memory, "
                     f"more than the {available:,} available")


def flag_of(field: str, aliases: Mapping[str, str] = {}) -> str:
    """The flag of a (possibly nested, dotted) field: ``--`` and its own name with dashes, or its
    public name in ``aliases`` (``{flag: field}``)."""
    leaf = field.rsplit(".", 1)[-1]
    for flag, target in aliases.items():
        if target == "--" + leaf.replace("_", "-"):
            return flag
    return "--" + leaf.replace("_", "-")


def _fields(config: Any, prefix: str = "") -> dict:
    """``{leaf name: value}`` of a config and its nested configs (the first of a name wins)."""
    out: dict = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out.setdefault(f.name, value)
        if dataclasses.is_dataclass(value):
            for k, v in _fields(value).items():
                out.setdefault(k, v)
    return out


def explain(err: ValueError, config: Any, aliases: Mapping[str, str] = {}, settings: Mapping[str, Any] = {}) -> str:
    """``err``'s message, prefixed with the flag and value of the field it starts with (the
    rule every check follows: the message names its field first); the experiment's own
    ``settings`` (``{name: value}``) come before the config's fields."""
    message = str(err)
    match = re.match(r"(?:config\.)?(?:model\.)?([a-z_][a-z0-9_]*)", message)
    values = dict(settings, **{k: v for k, v in (_fields(config) if dataclasses.is_dataclass(config) else
                                                 dict(config or {})).items() if k not in settings})
    if match is None or match.group(1) not in values:
        return message
    field, value = match.group(1), values[match.group(1)]
    shown = flag_of(field, aliases) if not isinstance(value, bool) else (
        flag_of(field, aliases) if value else "--no-" + flag_of(field, aliases)[2:])
    return (f"{shown}: " if isinstance(value, bool) else f"{shown} {_output.format_value(value)}: ") + message


def fail(prog: str, message: str) -> typing.NoReturn:
    """Print a command-line error (argparse's form) and exit with status 2."""
    print(f"usage: {prog} [-h] [OPTIONS]\n{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _docs(cls: type) -> dict:
    """``{field: help}`` from a dataclass's ``Attributes:`` (``a, b: text`` documents both)."""
    out: dict = {}
    for klass in reversed(cls.__mro__):
        doc = klass.__dict__.get("__doc__")
        if isinstance(doc, str):
            for p in docstring_parser.parse(doc).params:
                for name in p.arg_name.split(","):
                    out[name.strip()] = " ".join((p.description or "").split())
    return out


def struct_rule(cls: type, suppress: Sequence[str] = (), aliases: Mapping[str, str] = {}) -> Callable:
    """A tyro struct rule for a library config dataclass that cannot carry tyro markers itself
    (``nn.TrainConfig``, ``nn.DenoiserConfig``): its fields with help from its docstring, the
    values of its ``CHOICES`` as choices, and the fields in ``suppress`` without a flag (they
    keep their value: set by another flag, e.g. the model's ``dim`` by ``--d``). The class's
    own checks (a ``ValueError`` while it is built) name the flag first (``aliases`` as in
    :func:`parse`)."""

    def rule(info):
        if info.type is not cls:
            return None
        hints, docs, choices = typing.get_type_hints(cls), _docs(cls), getattr(cls, "CHOICES", {})
        specs = []
        for f in dataclasses.fields(cls):
            if hasattr(info.default, f.name):
                default = getattr(info.default, f.name)
            elif f.default is not dataclasses.MISSING:
                default = f.default
            else:
                default = tyro.constructors.MISSING
            hint = Literal[tuple(choices[f.name])] if f.name in choices else hints[f.name]
            if f.name in suppress:
                hint = Annotated[hint, tyro.conf.Suppress]
            specs.append(tyro.constructors.StructFieldSpec(name=f.name, type=hint, default=default,
                                                           helptext=docs.get(f.name)))
        def instantiate(**values):
            try:
                return cls(**values)
            except ValueError as err:  # the class's own check: tyro shows it, with the flag first
                raise ValueError(explain(err, values, aliases)) from None

        return tyro.constructors.StructConstructorSpec(instantiate=instantiate, fields=tuple(specs))

    return rule


def _tuples(obj: Any) -> Any:
    """``obj`` with the lists tyro makes for sequence fields as tuples (nested configs too), so a
    config from flags equals (and hashes like) the one written in Python."""
    if isinstance(obj, list):
        return tuple(_tuples(v) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _tuples(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes) if changes else obj
    return obj


def plain(text: str) -> str:
    """``text`` without reStructuredText / Markdown markup, for ``--help``."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)


@dataclasses.dataclass(frozen=True)
class Parsed:
    """What :func:`parse` returns: the common flags, the name and value of the chosen
    configuration (checked), and the experiment's own settings (``{name: value}``)."""

    common: Common
    config_name: str
    config: Any
    settings: dict


def join(common: Common, prog: str, name: str, supported: bool) -> bool:
    """Join the processes of a run across processes when ``common`` has its flags
    (:data:`CLUSTER_FLAGS`): ``jax.distributed.initialize`` (Gloo collectives between CPU
    processes), before any JAX computation. Returns whether the flags were given. A
    command-line error (:func:`fail`) names the flag: an experiment that does not support it
    (``supported``), flags missing or out of range, a cluster that cannot be joined."""
    given = [f for f, v in zip(CLUSTER_FLAGS, (common.coordinator, common.num_processes, common.process_id))
             if v is not None]
    if not given:
        return False
    flags = ", ".join(CLUSTER_FLAGS)
    if not supported:
        fail(prog, f"{given[0]}: {name} does not run across processes (only experiments with "
                   f"MULTIPROCESS = True do, e.g. table1); run it as one process, without {flags}")
    missing = [f for f in CLUSTER_FLAGS if f not in given]
    if missing:
        fail(prog, f"{given[0]}: a run across processes needs {flags} together; missing {', '.join(missing)}")
    coordinator, n, pid = common.coordinator, typing.cast(int, common.num_processes), common.process_id
    if n < 1:
        fail(prog, f"--num-processes {n}: must be >= 1")
    if not isinstance(pid, int) or not 0 <= pid < n:
        fail(prog, f"--process-id {pid}: must be in [0, {n - 1}] (--num-processes {n})")
    host, _, port = typing.cast(str, coordinator).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(prog, f"--coordinator {coordinator}: must be HOST:PORT, process 0's host and a free port there "
                   "(e.g. localhost:12355)")
    import jax

    try:
        if not jax.config.jax_cpu_collectives_implementation:  # collectives between CPU processes
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=n, process_id=pid)
    except (RuntimeError, ValueError) as err:  # JAX already computing, coordinator unreachable, ...
        fail(prog, f"--coordinator {coordinator}: could not join the {n} processes as process {pid} "
                   f"({type(err).__name__}: {err})")
    return True


def parse(argv: Optional[Sequence[str]], name: str, description: str, config_cls: type, *,
          configs: Optional[Mapping[str, Callable[..., Any]]] = None, chosen_by: Sequence[str] = (),
          settings: Optional[type] = None, aliases: Mapping[str, str] = {},
          registry: Optional[tyro.constructors.ConstructorRegistry] = None,
          adjust: Optional[Callable[[Any, dict], Any]] = None, multiprocess: bool = False) -> Parsed:
    """Parse an experiment's command line (see the module docstring).

    Args:
      argv: the arguments (``None``: ``sys.argv[1:]``).
      name, description: the experiment's module name and one-line description.
      config_cls: its frozen ``Config`` dataclass (with ``validate()``).
      configs: the named configurations, ``{name: factory}``; the first is the default.
        Default ``{"default": config_cls, "quick": config_cls.quick}``.
      chosen_by: config fields passed to the factories (``("target",)``: ``--target mixture``
        picks the mixture's named configuration, whose other values differ).
      settings: a frozen dataclass of the experiment's own flags that are not config fields
        (``--retrain``); its values are returned in ``settings``.
      aliases: ``{flag: canonical flag}`` for names kept from earlier versions (``--train-steps``
        for ``--num-steps``), replaced before parsing and listed in the help.
      registry: tyro constructor rules (:func:`struct_rule`) for nested library configs.
      adjust: ``adjust(config, settings) -> config`` applies settings to the config before
        it is checked.
      multiprocess: whether the experiment runs across processes (its ``MULTIPROCESS``): the
        flags :data:`CLUSTER_FLAGS` join them (:func:`join`); without it they are refused.
    """
    prog = f"python -m experiments.{name}"
    argv = list(sys.argv[1:] if argv is None else argv)
    configs = dict(configs or {"default": config_cls, "quick": config_cls.quick})
    names = tuple(configs)
    # the named configuration first: it sets the defaults the flags change (and --help shows)
    pre = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
    pre.add_argument("--quick", action="store_true")
    pre.add_argument("--config", choices=names, default=None)
    for field in chosen_by:
        pre.add_argument(flag_of(field), dest=field, default=None)
    known, _ = pre.parse_known_args([a for a in argv if a not in ("-h", "--help")])
    if known.quick and known.config not in (None, "quick"):
        fail(prog, f"--quick contradicts --config {known.config}")
    config_name = "quick" if known.quick else (known.config or names[0])
    chosen = {f: getattr(known, f) for f in chosen_by if getattr(known, f) is not None}
    try:
        base = configs[config_name](**chosen)
    except ValueError as err:
        fail(prog, explain(err, None, aliases))

    hints = {} if settings is None else typing.get_type_hints(settings, include_extras=True)
    settings_fields = [] if settings is None else [
        (f.name, Annotated[hints[f.name], tyro.conf.arg(help=_docs(settings).get(f.name))],
         dataclasses.field(default=f.default)) for f in dataclasses.fields(settings)]
    def first_sentence(factory) -> str:
        doc = " ".join((getattr(factory, "__doc__", None) or "").split()) if factory is not config_cls else ""
        return f" ({plain(doc.split('. ')[0].rstrip('.'))})" if doc else ""

    config_help = "named configuration: " + "; ".join(n + first_sentence(f) for n, f in configs.items())
    args_cls = dataclasses.make_dataclass("Args", [
        ("common", Annotated[Common, tyro.conf.OmitArgPrefixes],
         dataclasses.field(default=Common(out=Path("results") / name))),
        ("config", Annotated[Literal[names], tyro.conf.arg(help=config_help)],  # type: ignore[valid-type]
         dataclasses.field(default=config_name)),
        *settings_fields,
        ("protocol", Annotated[config_cls, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="protocol")],
         dataclasses.field(default=base)),
    ], frozen=True)
    text = plain(description)
    text += (f"\n\nThe flags change the values of the chosen named configuration ({config_name} now; "
             "--quick --help or --config NAME --help shows another's).")
    if aliases:
        text += " Also accepted: " + ", ".join(f"{a} for {c}" for a, c in aliases.items()) + "."
    argv = [aliases.get(a, a) for a in argv]
    try:
        if registry is not None:
            with registry:
                args = tyro.cli(args_cls, args=argv, prog=prog, description=text,
                                config=(tyro.conf.AvoidSubcommands,))
        else:
            args = tyro.cli(args_cls, args=argv, prog=prog, description=text, config=(tyro.conf.AvoidSubcommands,))
    except ValueError as err:  # a nested library config's own check, raised while it was built
        fail(prog, explain(err, base, aliases))
    common = args.common
    if not 0 <= common.seed <= MAX_SEED:
        fail(prog, f"--seed {common.seed}: must be an integer in [0, {MAX_SEED}] (jax.random.key keeps 32 bits)")
    join(common, prog, name, multiprocess)

    def check_out() -> None:  # process 0 alone writes there (the others may not even see it)
        _io.check_writable_dir(common.out, "--out", need_bytes=RESULT_BYTES)

    try:
        _output.on_writer(check_out)
    except ValueError as err:
        fail(prog, str(err))
    values = {f: getattr(args, f) for f, _, _ in settings_fields}
    config = _tuples(args.protocol)
    try:
        if adjust is not None:
            config = adjust(config, values)
        # the checks may differ between hosts (free memory): a failure on one stops them all
        config = _output.on_every_process(config.validate)
    except ValueError as err:
        fail(prog, explain(err, config, aliases, values))
    return Parsed(common=common, config_name=config_name, config=config, settings=values)


def execute(parsed: Parsed, name: str, run: Callable, plot: Callable, summary: Callable, *,
            parts: bool = True, run_options: Optional[Mapping[str, Any]] = None) -> dict:
    """The common end of an experiment's ``main``: run, plot, summarise, write.

    ``run(config, key, cache, **run_options)`` (``run(config, key, **run_options)`` with
    ``parts=False``) returns the result dict (keys starting with ``_`` go to ``plot`` only, not
    to the JSON); ``cache`` is the experiment's :class:`experiments._output.PartCache` in
    ``--out`` (finished parts, and the folder for its checkpoints; ``cache.fresh`` is
    ``--force``). ``plot(result, out)`` writes the figures; ``summary(config, result)`` returns
    the Markdown (``result`` with the payload's ``elapsed_seconds`` and ``reused_parts``). The
    JSON holds the config, its name, the seed, the wall time, the parts re-used from an earlier
    run, the environment and the result.

    Across processes, process 0 alone takes the lock, reads and writes the part cache, plots and
    writes (its refusals stop every process); every process runs ``run`` and returns the same
    payload.
    """
    prog = f"python -m experiments.{name}"
    common = parsed.common
    with contextlib.ExitStack() as stack:
        def claim() -> None:  # one run at a time writes this experiment's results in --out
            stack.enter_context(_io.exclusive(Path(common.out) / f".{name}.lock", f"--out {common.out} ({name})"))
            check_replacing(parsed, name)

        try:
            _output.on_writer(claim)
        except ValueError as err:
            fail(prog, str(err))
        return _execute(parsed, name, run, plot, summary, parts=parts, run_options=run_options)


def check_replacing(parsed: Parsed, name: str) -> None:
    """Refuse (``ValueError``) to replace ``--out``'s result of another seed unless ``--force``:
    two seeds are two replicates, and one must not silently overwrite the other. A result of
    the same seed with other settings is replaced with a note on stderr saying what differs."""
    common = parsed.common
    path = Path(common.out) / f"{name}.json"
    if not path.exists():
        return
    try:
        old = _io.read_json(path)
    except (OSError, ValueError):
        return  # a corrupt result: nothing to keep
    if not isinstance(old, dict):
        return
    if old.get("seed") != common.seed and not common.force:
        raise ValueError(f"--seed {common.seed}: --out {common.out} holds {path.name} of seed {old.get('seed')}, "
                         "which this run would replace; pass --force to replace it, or another --out")
    new_config, old_config = _output.jsonable(parsed.config), old.get("config")
    if isinstance(old_config, dict) and old_config != new_config:
        changed = sorted(k for k in set(old_config) | set(new_config) if old_config.get(k) != new_config.get(k))
        print(f"{name}: replacing {path} (made with other values of: {', '.join(changed)})", file=sys.stderr)


def _execute(parsed: Parsed, name: str, run: Callable, plot: Callable, summary: Callable, *,
             parts: bool, run_options: Optional[Mapping[str, Any]]) -> dict:
    import jax

    common, config = parsed.common, parsed.config
    start = time.perf_counter()
    key = jax.random.key(common.seed)
    options = dict(run_options or {})
    extra: dict = {}
    if parts:
        cache = _output.PartCache(common.out, name, config, common.seed, fresh=common.force)
        result = run(config, key, cache, **options)
        if cache.reused:
            print(f"re-used finished parts: {', '.join(cache.reused)}")
        extra = dict(reused_parts=cache.reused)
    else:
        result = run(config, key, **options)
    payload = dict(config=config, config_name=parsed.config_name, seed=common.seed,
                   quick=parsed.config_name == "quick", elapsed_seconds=time.perf_counter() - start, **extra,
                   **{k: v for k, v in result.items() if not k.startswith("_")})  # "_x": plot-only
    shown = dict(result, **{k: v for k, v in payload.items() if k not in result})
    payload["environment"] = _output.environment()

    def write() -> None:  # process 0's (or the only process's)
        plot(result, common.out)
        _output.finish(common.out, name, payload, summary(config, shown))

    _output.on_writer(write)
    return payload


def main(argv: Optional[Sequence[str]], name: str, description: str, config_cls: type, run: Callable,
         plot: Callable, summary: Callable, *, parts: bool = True, multiprocess: bool = False,
         **parse_options: Any) -> dict:
    """An experiment's whole ``main``: :func:`parse` (``parse_options`` are its keyword
    arguments), then :func:`execute` with the experiment's settings as ``run``'s options
    (none when an ``adjust`` applied them to the config).

    Each experiment module declares its ``NAME``, a frozen ``Config`` (``quick()``,
    ``validate()``), ``run``, ``_plot`` and ``_markdown``, and its ``main`` is this one call;
    one that runs across processes says ``MULTIPROCESS = True`` and passes it as
    ``multiprocess``.
    """
    parsed = parse(argv, name, description, config_cls, multiprocess=multiprocess, **parse_options)
    options = {} if parse_options.get("adjust") else parsed.settings
    return execute(parsed, name, run, plot, summary, parts=parts, run_options=options)
