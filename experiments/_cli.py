"""Shared command-line and output plumbing for experiments (no algorithms here).

Every experiment takes ``--help``, ``--quick``, ``--seed`` and ``--out DIR`` (:func:`base_parser`),
plus one flag per field of its ``Config`` (:class:`ConfigFlags`), and writes
``DIR/<name>.json`` (config + results, written atomically), PNG figures and ``DIR/<name>.md``.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import inspect
import json
import math
import os
import re
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from langevin_jax import _io


# jax.random.key keeps only the low 32 bits of a seed (without x64): 2**32 and -1 would
# silently alias the seeds 0 and 2**32 - 1, and 2**64 overflows; so seeds are [0, 2**32 - 1]
MAX_SEED = 2**32 - 1


def _integer(text: str) -> int:
    """``int(text)``, or the argparse error that names the flag."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def seed(text: str) -> int:
    """argparse type of ``--seed``: an integer in ``[0, MAX_SEED]`` (argparse names the flag)."""
    value = _integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, {MAX_SEED}] (jax.random.key keeps 32 bits), got {value}; "
            "pick a seed in that range")
    return value


class ExperimentParser(argparse.ArgumentParser):
    """The experiments' parser. Every ``type=int`` flag of an experiment is a count (chains,
    steps, trials, dimensions, levels), so a value below 1 is a parser error naming the flag
    (``--chains must be >= 1, got 0``) rather than an error from deep inside naming an
    internal argument; and ``--out`` is checked writable once parsed, before any work."""

    def parse_known_args(self, args=None, namespace=None):
        parsed, extras = super().parse_known_args(args, namespace)
        # every type=int flag, argument groups' included (they add actions without add_argument)
        for action in (a for a in self._actions if a.type is int):
            value = getattr(parsed, action.dest, None)
            for v in value if isinstance(value, list) else [value]:
                if v is not None and v < 1:
                    self.error(f"{action.option_strings[0]} must be >= 1, got {v}")
        if getattr(parsed, "out", None) is not None:
            try:
                _io.check_writable_dir(parsed.out, "--out")
            except ValueError as err:
                self.error(str(err))
        return parsed, extras


def plain(text: str) -> str:
    """``text`` without reStructuredText / Markdown markup, for ``--help``: double backticks,
    roles (``:func:`x``` -> ``x``), ``**bold**`` and mkdocs links ``[text][ref]`` -> ``text``."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)


def base_parser(name: str, description: str, *, resumable: bool = True) -> argparse.ArgumentParser:
    """The flags every experiment takes, on an :class:`ExperimentParser`.

    ``--force`` has one meaning everywhere: recompute instead of re-using what an earlier run
    of the same configuration and seed left in ``--out`` (cached parts, the experiment's own
    checkpoints). ``resumable=False`` says in its help that the experiment keeps no parts."""
    parser = ExperimentParser(prog=f"python -m experiments.{name}", description=plain(description))
    parser.add_argument("--quick", action="store_true", help="small configuration (CPU, minutes)")
    parser.add_argument("--seed", type=seed, default=0,
                        help=f"PRNG seed, an integer in [0, {MAX_SEED}] (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results") / name,
                        help=f"output folder (default results/{name}); checked writable at the start")
    parser.add_argument("--force", action="store_true",
                        help="recompute what an earlier (interrupted) run of the same configuration "
                             "and seed left in --out instead of re-using it" if resumable else
                             "accepted for uniformity: this experiment keeps no parts and always "
                             "recomputes everything")
    return parser


def execute(args: argparse.Namespace, name: str, config: Any, run: Callable, plot: Callable,
            summary: Callable, *, parts: bool = True, config_name: Optional[str] = None,
            options: Optional[Mapping[str, Any]] = None, **extra: Any) -> dict:
    """The common end of an experiment's ``main``: run, plot, summarise, write.

    ``run(config, key, cache, **options)`` (``run(config, key, **options)`` with
    ``parts=False``) returns the result dict (keys starting with ``_`` go to ``plot`` only, not
    to the JSON); ``cache`` is the experiment's :class:`PartCache` in ``--out`` (finished parts,
    and the folder for its checkpoints; ``cache.fresh`` is ``--force``). ``plot(result, out)``
    writes the figures; ``summary(config, result)`` returns the Markdown (``result`` with the
    payload's ``elapsed_seconds`` and ``reused_parts``). The JSON holds the config, its name
    (``config_name``; default ``quick`` or ``default``), the seed, the wall time, the parts
    re-used from an earlier run, the environment and the result.
    """
    import time

    import jax

    start = time.perf_counter()
    key = jax.random.key(args.seed)
    options = dict(options or {})
    if parts:
        cache = PartCache(args.out, name, config, args.seed, fresh=args.force)
        result = run(config, key, cache, **options)
        if cache.reused:
            print(f"re-used finished parts: {', '.join(cache.reused)}")
        extra = dict(reused_parts=cache.reused, **extra)
    else:
        result = run(config, key, **options)
    quick = bool(getattr(args, "quick", False))
    payload = dict(config=config, config_name=config_name or ("quick" if quick else "default"),
                   seed=args.seed, quick=quick, elapsed_seconds=time.perf_counter() - start, **extra,
                   **{k: v for k, v in result.items() if not k.startswith("_")})  # "_x": plot-only
    plot(result, args.out)
    shown = dict(result, **{k: v for k, v in payload.items() if k not in result})
    return finish(args.out, name, payload, summary(config, shown))


def main(argv: Optional[Sequence[str]], name: str, description: str, config_cls: type, run: Callable,
         plot: Callable, summary: Callable, *, parts: bool = True,
         add_flags: Optional[Callable[[argparse.ArgumentParser], None]] = None,
         adjust: Optional[Callable[[argparse.Namespace, Any], Any]] = None, **flag_options: Any) -> dict:
    """An experiment's whole ``main``: the common flags (:func:`base_parser`), one flag per
    field of ``config_cls`` (:class:`ConfigFlags` with ``flag_options``), the chosen
    configuration (``config_cls.quick()`` with ``--quick``, else ``config_cls()``) with the
    flags given, checked by ``config_cls.validate`` (a ``ValueError`` is a parser error naming
    the flags and values), then :func:`execute`.

    Each experiment module declares its ``NAME``, a frozen ``Config`` (``quick()``,
    ``validate()``), ``run``, ``_plot`` and ``_markdown``, and its ``main`` is this one call.
    ``add_flags(parser)`` adds flags of the experiment's own (not fields of the config) and
    ``adjust(args, config)`` applies them to the config before it is checked.
    """
    parser = base_parser(name, description, resumable=parts)
    flags = ConfigFlags(parser, config_cls, variants={"--quick": config_cls.quick()}, **flag_options)
    if add_flags is not None:
        add_flags(parser)
    args = parser.parse_args(argv)

    def validate(config):
        return (config if adjust is None else adjust(args, config)).validate()

    config = flags.apply(args, config_cls.quick() if args.quick else config_cls(), validate)
    return execute(args, name, config, run, plot, summary, parts=parts)


# --- flags generated from an experiment's Config ------------------------------------------


def finite_number(text: str) -> float:
    """argparse type: a finite float (``nan`` and ``inf`` are parser errors naming the flag)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """argparse type: a finite float ``> 0`` (step sizes, blurs, scales)."""
    value = finite_number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer ``>= minimum``. Not ``int`` itself, so
    :class:`ExperimentParser`'s ``>= 1`` check of counts leaves it alone (use it for a count
    that may be 0)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


def _int_or_number(text: str):
    """argparse type of an untyped tuple's entries: an ``int`` when written as one, else a float."""
    try:
        return int(text)
    except ValueError:
        return finite_number(text)


def format_value(value: Any) -> str:
    """A config value as it is shown in ``--help`` and typed on the command line."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return " ".join(format_value(v) for v in value) if value else "(empty)"
    return str(value)


def field_docs(config_cls: type) -> dict:
    """``{field: one-line help}`` from the ``Attributes:`` sections of the docstrings of
    ``config_cls`` and its bases (a subclass's entry wins). An entry is ``name: text`` (or
    ``a, b: text`` for several fields) with indented continuation lines."""
    docs: dict = {}
    for klass in reversed(config_cls.__mro__):
        doc = klass.__dict__.get("__doc__")
        if not isinstance(doc, str):
            continue
        lines = inspect.cleandoc(doc).splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip() == "Attributes:"), None)
        if start is None:
            continue
        base = len(lines[start]) - len(lines[start].lstrip())
        entry_indent, current = None, []
        for line in lines[start + 1:]:
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            if indent <= base:
                break
            match = re.match(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*):(?:\s+|$)(.*)", line.strip())
            if entry_indent is None:
                entry_indent = indent
            if indent == entry_indent and match:
                current = [n.strip() for n in match.group(1).split(",")]
                for name in current:
                    docs[name] = match.group(2).strip()
            else:
                for name in current:
                    docs[name] = f"{docs[name]} {line.strip()}".strip()
    return {k: plain(" ".join(v.split())) for k, v in docs.items()}


_ELEMENT_TYPES = (int, float, str)
_METAVARS = {int: "N", float: "X", str: "NAME", _int_or_number: "X"}


def _describe(hint: Any, default: Any):
    """``(kind, element type)`` of a field: kind is ``"scalar"``, ``"bool"`` or ``"sequence"``
    (``Optional[X]`` is ``X``); ``None`` when the field cannot be a flag."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return _describe(rest[0], None) if len(rest) == 1 else None
    if hint is bool:
        return "bool", bool
    if hint in _ELEMENT_TYPES:
        return "scalar", hint
    if hint in (tuple, list) or origin in (tuple, list, collections.abc.Sequence):
        elems = [a for a in args if a is not Ellipsis]
        if len(set(elems)) == 1 and elems[0] in _ELEMENT_TYPES:
            return "sequence", elems[0]
        if not args and isinstance(default, (tuple, list)) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in default):
            return "sequence", _int_or_number
    return None


def _get(obj: Any, path: str) -> Any:
    """``obj.a.b`` for ``path`` ``"a.b"`` (``None`` past an unset nested config)."""
    for part in path.split("."):
        obj = None if obj is None else getattr(obj, part)
    return obj


def _replace(obj: Any, changes: Mapping[str, Any]) -> Any:
    """:func:`dataclasses.replace` with dotted paths (``{"training.model.width": 64}``): each
    nested dataclass is rebuilt once, innermost first, so its own checks see every change."""
    here, nested = {}, {}
    for path, value in changes.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            here[path] = value
    for head, sub in nested.items():
        here[head] = _replace(getattr(obj, head), sub)
    return dataclasses.replace(obj, **here) if here else obj


def _dataclass_of(hint: Any) -> Optional[type]:
    """The dataclass of a field annotated ``X`` or ``Optional[X]`` with ``X`` a dataclass."""
    if typing.get_origin(hint) is typing.Union:
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else None
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


class ConfigFlags:
    """One command-line flag per field of a frozen ``Config`` dataclass.

    ``--field-name`` (dashes for underscores) with its type from the field's annotation:
    ``int``, ``float`` (finite), ``str``, ``bool`` (``--flag/--no-flag``), sequences
    (``nargs="+"``, one value per entry), ``Optional[X]`` as ``X``. Help comes from the Config's
    docstring (``Attributes:``, :func:`field_docs`) and ends with the default and the value
    under each named configuration where it differs, e.g. ``(default 5000; --quick: 500)``.
    Every flag defaults to ``None`` (unset), so :meth:`apply` replaces only the fields given.

    A field holding a nested config dataclass (e.g. an embedded ``nn.TrainConfig``) is named
    in ``expand``: its own fields then get flags too, named by their own field name
    (``--learning-rate``), addressed here by their dotted path (``"training.learning_rate"``)
    in every argument below, with help from the nested class's docstring.

    ``int`` fields are counts, checked ``>= 1`` by :class:`ExperimentParser` (name a field in
    ``minimum`` to allow smaller values, e.g. ``minimum={"burn_in": 0}``).

    Args:
      parser: the experiment's parser (:func:`base_parser`).
      config_cls: the frozen ``Config`` dataclass.
      default: the configuration used when no named one is chosen (default ``config_cls()``).
      variants: ``{label: config}``, the named configurations shown in the help
        (e.g. ``{"--quick": Config.quick()}``).
      names: ``{field: flag or (flag, alias, ...)}`` for public flag names that differ from
        ``--field-name``; ``--field-name`` is then added as an alias.
      skip: ``{field: why}``: fields without a flag, listed with the reason in the group's
        description.
      expand: nested dataclass fields whose fields get flags (dotted paths for deeper ones,
        e.g. ``("training", "training.model")``).
      choices: ``{field: allowed values}`` for fields validated against a fixed set (a
        config class's own ``CHOICES`` class attribute, ``{field: values}``, is used too).
      positive: fields (float, or sequences of floats) that must be finite and ``> 0``.
      minimum: ``{field: least value}`` for integer fields whose least value is not 1.
      extra: ``{field: add_argument keyword arguments}`` overriding the inferred ones
        (``nargs``, ``metavar``, ``type``).
      title: the title of the argument group.
    """

    def __init__(self, parser: argparse.ArgumentParser, config_cls: type, *,
                 default: Any = None, variants: Optional[Mapping[str, Any]] = None,
                 names: Optional[Mapping[str, Any]] = None, skip: Optional[Mapping[str, str]] = None,
                 expand: Sequence[str] = (),
                 choices: Optional[Mapping[str, Sequence]] = None, positive: Sequence[str] = (),
                 minimum: Optional[Mapping[str, int]] = None,
                 extra: Optional[Mapping[str, Mapping[str, Any]]] = None,
                 title: str = "protocol"):
        self.parser = parser
        self.config_cls = config_cls
        self.default = config_cls() if default is None else default
        self.variants = dict(variants or {})
        names, skip, choices = dict(names or {}), dict(skip or {}), dict(choices or {})
        minimum, extra, positive, expand = dict(minimum or {}), dict(extra or {}), set(positive), set(expand)
        fields = self._fields(config_cls, expand)  # path -> (annotation, docs)
        unknown = (set(names) | set(skip) | set(choices) | positive | set(minimum) | set(extra)
                   | expand) - set(fields)
        if unknown:
            raise ValueError(f"not fields of {config_cls.__name__}: {sorted(unknown)}")
        taken = {a.dest for a in parser._actions}
        description = "Flags for the fields of the configuration; an unset flag keeps the chosen " \
                      "configuration's value."
        if skip:
            description += " Not flags: " + "; ".join(f"{k} ({v})" for k, v in skip.items()) + "."
        group = parser.add_argument_group(title, description)
        self.actions: dict = {}  # field path -> argparse.Action
        self.kinds: dict = {}
        for path, (hint, doc, allowed) in fields.items():
            if path in skip or path in expand:
                continue
            leaf = path.rsplit(".", 1)[-1]
            if path in taken:
                raise ValueError(f"field {path!r} clashes with an existing flag's destination")
            described = _describe(hint, _get(self.default, path))
            if described is None:
                raise TypeError(f"{config_cls.__name__}.{path} ({hint}) cannot be a flag: pass it in "
                                "skip with the flags that cover it, in expand (a nested config), or in extra")
            kind, elem = described
            flag = "--" + leaf.replace("_", "-")
            given = names.get(path, flag)
            option_strings = [given] if isinstance(given, str) else list(given)
            if flag not in option_strings:
                option_strings.append(flag)
            kwargs: dict = dict(dest=path, default=None, help=self._help(path, doc))
            if kind == "bool":
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                if path in minimum:
                    typ = int_at_least(minimum[path])
                elif path in positive:
                    typ = positive_number
                elif elem is float:
                    typ = finite_number
                else:
                    typ = elem
                kwargs.update(type=typ, metavar=_METAVARS.get(elem, "X"))
                allowed = choices.get(path, allowed)
                if allowed is not None:
                    kwargs.update(choices=tuple(allowed), metavar=None)
                if kind == "sequence":
                    kwargs["nargs"] = "+"
            kwargs.update(extra.get(path, {}))
            self.actions[path] = group.add_argument(*option_strings, **kwargs)
            self.kinds[path] = kind

    @staticmethod
    def _fields(config_cls: type, expand: set, prefix: str = "") -> dict:
        """``{path: (annotation, help text, allowed values or None)}`` of the fields of
        ``config_cls``, the fields of the nested configs named in ``expand`` included (after
        their own entry). A config class lists the allowed values of its fields checked
        against a set in a ``CHOICES`` class attribute (``{field: values}``)."""
        hints, docs = typing.get_type_hints(config_cls), field_docs(config_cls)
        allowed = getattr(config_cls, "CHOICES", {})
        out = {}
        for f in dataclasses.fields(config_cls):
            path = prefix + f.name
            out[path] = (hints[f.name], docs.get(f.name), allowed.get(f.name))
            if path in expand:
                nested = _dataclass_of(hints[f.name])
                if nested is None:
                    raise TypeError(f"{config_cls.__name__}.{f.name} is not a nested config dataclass")
                out.update(ConfigFlags._fields(nested, expand, path + "."))
        return out

    def _help(self, path: str, doc: Optional[str]) -> str:
        value = _get(self.default, path)
        shown = [f"default {format_value(value)}"]
        for label, config in self.variants.items():
            other = _get(config, path)
            if other != value:
                shown.append(f"{label}: {format_value(other)}")
        text = (doc or path.rsplit(".", 1)[-1].replace("_", " ")).rstrip(".")
        return f"{text} ({'; '.join(shown)})".replace("%", "%%")

    def flag(self, name: str) -> str:
        """The public flag of field ``name`` (a dotted path for a nested field)."""
        return self.actions[name].option_strings[0]

    def overrides(self, args: argparse.Namespace) -> dict:
        """``{field path: value}`` of the flags given on the command line (lists as tuples)."""
        out = {}
        for name in self.actions:
            value = getattr(args, name, None)
            if value is not None:
                out[name] = tuple(value) if isinstance(value, list) else value
        return out

    def explain(self, message: str, values: Mapping[str, Any]) -> str:
        """``message`` prefixed with the flags (and values) of the fields it names (a nested
        field by its own name)."""
        # a field is named as in "chains=90", "chains must ...", "a <= b", "a / 2", "a, b"
        named = [n for n in self.actions
                 if re.search(rf"(?<![\w.-]){re.escape(n.rsplit('.', 1)[-1])}(?=\s*(?:=|must\b|<|>|/|,))",
                              message)]
        if not named:
            return message

        def shown(n):
            value = values.get(n)
            if self.kinds[n] == "bool":
                return self.flag(n) if value else "--no-" + self.flag(n)[2:]
            return f"{self.flag(n)} {format_value(value)}"

        return ", ".join(shown(n) for n in named) + ": " + message

    def apply(self, args: argparse.Namespace, base: Any,
              validate: Optional[Callable[[Any], Any]] = None) -> Any:
        """``base`` (the chosen named configuration) with the fields given on the command line
        replaced (:func:`dataclasses.replace`, nested configs rebuilt with their changes), then
        ``validate(config)`` (a ``resolved`` or ``validate`` method, say; its result replaces
        the config unless ``None``). A ``ValueError`` from either is a parser error naming the
        flags and values involved."""
        overrides = self.overrides(args)
        values = {n: _get(base, n) for n in self.actions} | overrides
        try:
            config = _replace(base, overrides)
            if validate is not None:
                checked = validate(config)
                config = config if checked is None else checked
        except ValueError as err:
            self.parser.error(self.explain(str(err), values))
        return config


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then rename)."""
    _io.write_atomic(path, text)


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(_jsonable(obj), indent=2) + "\n")


def environment() -> dict:
    """Where a result was computed: JAX backend and device, versions, OS (recorded in every
    experiment's JSON as ``environment``, and in the docs' figure provenance)."""
    import platform

    import jax
    import jaxlib

    devices = jax.devices()
    return dict(backend=jax.default_backend(), device_kind=devices[0].device_kind,
                num_devices=len(devices), jax=jax.__version__, jaxlib=jaxlib.__version__,
                python=platform.python_version(), platform=platform.platform(terse=True),
                cpu_count=os.cpu_count())


def finish(out: Path, name: str, payload: dict, markdown: str) -> dict:
    """End an experiment: write ``<out>/<name>.md`` and print it, then ``<out>/<name>.json``.

    The JSON is written last, atomically: its presence marks the experiment finished (the
    main job then skips it), so a crash while plotting or summarising never leaves a
    finished-looking experiment without its figures or summary. The JSON gains an
    ``environment`` record (:func:`environment`). Returns ``payload``.
    """
    payload = {**payload, "environment": payload.get("environment") or environment()}
    write_atomic(Path(out) / f"{name}.md", markdown)
    print(markdown)
    write_json(Path(out) / f"{name}.json", payload)
    return payload


def save_figure(fig, path: Path, *, tight: bool = True) -> None:
    """Lay out (``tight``), save atomically as PNG, and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class PartCache:
    """Finished parts of an experiment, kept on disk so an interrupted run resumes.

    Each part (a row of a table, one dimension of a sweep) is stored atomically as
    ``<out>/.parts/<name>-<hash>/<part>.json`` where the hash covers the experiment's
    config and seed: a rerun with the same settings re-uses finished parts, a run with
    other settings starts afresh. ``fresh=True`` (``--force``) ignores stored parts.
    ``out`` is the output folder (where an experiment keeps its own checkpoints, which
    record what they belong to themselves); ``reused`` lists what was re-used.
    """

    def __init__(self, out: Path, name: str, config: Any, seed: int, fresh: bool = False):
        import hashlib

        blob = json.dumps(_jsonable(dict(config=config, seed=seed)), sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        self.out = Path(out)
        self.dir = self.out / ".parts" / f"{name}-{digest}"
        self.fresh = fresh
        self.reused: list[str] = []

    def get_or_compute(self, part: str, compute) -> Any:
        path = self.dir / f"{part}.json"
        if path.exists() and not self.fresh:
            value = _io.read_json(path, remedy="rerun with --force to recompute it, or delete the file")
            self.reused.append(part)
            return _from_json(value)
        value = _jsonable(compute())
        write_json(path, value)
        return _from_json(value)


def _from_json(obj: Any) -> Any:
    """Undo :func:`_jsonable`'s encoding of infinities (``"inf"``/``"-inf"`` back to floats),
    so a re-used part equals a freshly computed one."""
    if isinstance(obj, dict):
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj
