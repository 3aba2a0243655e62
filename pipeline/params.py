"""Load and validate ``params.yaml`` once, before any stage does work.

Every rule lives here so that each stage refuses a bad file the same way: with the key path
(``approaches.bilstm3.hidden[1]``), the value found and the rule it breaks.
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError

DEFAULT_PARAMS = Path("params.yaml")
# A params file is a few KB; these bound what a mistaken or hostile one can cost before it is refused.
MAX_FILE_BYTES = 1 << 20
MAX_NODES = 100_000  # YAML nodes after expanding aliases (a 3 KB "billion laughs" expands to billions)
SEED_LIMIT = 2**32  # NumPy's RandomState takes seeds in [0, 2**32)
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
POOLINGS = ("last", "mean", "max", "meanmax")
SCHEDULES = ("constant", "cosine")
BASELINE_MODELS = ("logistic_regression", "linear_svm")
MAX_NGRAM = 3
TEST_SIZE = 7600  # canonical AG News test split: LIME document indices must fall inside it


class ParamsError(PipelineError, ValueError):
    """params.yaml breaks a rule; the message names the key path, the value and the rule."""


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    expected: str
    required: bool = True


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 3, 8, 6, 60, 60


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters; never builds the whole repr of a huge
    or deeply nested value."""
    text = repr(value[: limit + 1]) if isinstance(value, str) else _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite number: YAML's .nan and .inf are refused, booleans are not numbers."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int_at_least(lo: int, required: bool = True) -> Rule:
    return Rule(lambda v: _is_int(v) and v >= lo, f"an integer >= {lo}", required)


def _num(pred: Callable[[float], bool], text: str, required: bool = True) -> Rule:
    return Rule(lambda v: is_number(v) and pred(v), text, required)


def _optional(rule: Rule) -> Rule:
    return Rule(lambda v: v is None or rule.check(v), f"null or {rule.expected}", required=False)


def _choice(options: tuple[str, ...], required: bool = True) -> Rule:
    return Rule(lambda v: v in options, "one of " + ", ".join(options), required)


def _c_grid(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(is_number(c) and c > 0 for c in v)


BOOL = Rule(lambda v: isinstance(v, bool), "true or false")
OPT_BOOL = Rule(lambda v: isinstance(v, bool), "true or false", required=False)
STRING = Rule(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")
MD5 = Rule(lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) is not None,
           "32 lower-case hex digits (an MD5)")
FRACTION = _num(lambda v: 0 < v < 1, "a number in the open interval (0, 1)")
RATE = _num(lambda v: v >= 0 and v < 1, "a number in [0, 1)", required=False)
ACCURACY = _num(lambda v: 0 <= v <= 1, "an accuracy in [0, 1]")

TRAIN_SCHEMA: dict[str, Rule] = {
    "epochs": _int_at_least(1),
    "batch_size": _int_at_least(1),
    "learning_rate": _num(lambda v: 0 < v <= 10, "a number in (0, 10]"),
    "lr_schedule": _choice(SCHEDULES),
    "warmup_epochs": Rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "weight_decay": _num(lambda v: 0 <= v <= 10, "a number in [0, 10]"),
    "clip_gradient": _optional(_num(lambda v: 0 < v <= 1e6, "a number in (0, 1e6]")),
    "patience": _optional(_int_at_least(1)),
    "bucket_width": _int_at_least(1),
    "word_dropout": _num(lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "sparse_embedding": BOOL,
    "ema_decay": _optional(_num(lambda v: 0 < v < 1, "a number in (0, 1)")),
    "seeds": _int_at_least(1),
}

APPROACH_SCHEMA: dict[str, Rule] = {
    "max_tokens": _int_at_least(1),
    "embed_len": _int_at_least(1),
    "hidden": Rule(lambda v: isinstance(v, list) and len(v) > 0, "a non-empty list of integers >= 1"),
    "bidirectional": BOOL,
    "fused": OPT_BOOL,
    "dense": Rule(lambda v: isinstance(v, list), "a list of integers >= 1 (may be empty)"),
    "pooling": _choice(POOLINGS, required=False),
    "dropout": RATE,
    "embed_dropout": RATE,
}

SCHEMA: dict[str, Any] = {
    "seed": Rule(lambda v: _is_int(v) and 0 <= v < SEED_LIMIT, f"an integer in [0, {SEED_LIMIT - 1}]"),
    "data": {
        "url": STRING,
        "source": _optional(STRING),
        "md5": {"train": MD5, "test": MD5},
        "val_fraction": FRACTION,
    },
    "vocab": {
        "lowercase": BOOL,
        "min_freq": _int_at_least(1),
        "max_size": _optional(_int_at_least(1)),
    },
    "train": TRAIN_SCHEMA,
    "approaches": "approaches",
    "reference": "reference",
    "baselines": "baselines",
    "explain": {
        "doc_indices": Rule(lambda v: isinstance(v, list) and len(v) > 0,
                            "a non-empty list of test-row indices"),
        "num_features": _int_at_least(1),
        "num_samples": _int_at_least(1),
        "batch_size": _int_at_least(1),
    },
}

BASELINE_SCHEMA: dict[str, Rule] = {
    "ngram_max": Rule(lambda v: _is_int(v) and 1 <= v <= MAX_NGRAM, f"an integer in [1, {MAX_NGRAM}]"),
    "model": _choice(BASELINE_MODELS),
    "C": Rule(_c_grid, "a non-empty list of numbers > 0 (the grid searched on the validation split)"),
    "sublinear_tf": BOOL,
    "max_iter": _int_at_least(1),
}

APPROACH_DEFAULTS = {"fused": False, "pooling": "last", "dropout": 0.0, "embed_dropout": 0.0}


def _did_you_mean(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fail(path: str, value: Any, expected: str) -> None:
    raise ParamsError(f"params.yaml: {path} = {short_repr(value)}: expected {expected}")


def _describe(rule: Any) -> str:
    """What a missing key should hold, for the error message."""
    if isinstance(rule, Rule):
        return rule.expected
    if isinstance(rule, dict):
        return "a section with the keys " + ", ".join(rule)
    if rule == "approaches":
        return "a section mapping approach names to max_tokens, embed_len, hidden, bidirectional, dense"
    if rule == "baselines":
        return "a section mapping baseline names to " + ", ".join(BASELINE_SCHEMA)
    return "a section mapping approach names to reported test accuracies"


def _check_mapping(data: Any, schema: dict[str, Any], path: str) -> None:
    if not isinstance(data, dict):
        if not path:
            what = "the file is empty" if data is None else f"the top level is {type(data).__name__} {short_repr(data)}"
            raise ParamsError(f"params.yaml: {what}; expected a mapping with the sections "
                              f"{', '.join(schema)}")
        _fail(path, data, "a mapping of keys to values")
    for key in data:
        if key not in schema:
            shown = str(key) if len(str(key)) <= 60 else str(key)[:57] + "..."
            where = f"{path}.{shown}" if path else shown
            raise ParamsError(f"params.yaml: unknown key '{where}'"
                              f"{_did_you_mean(str(key)[:100], list(schema))}; "
                              f"allowed here: {', '.join(schema)}")
    for key, rule in schema.items():
        where = f"{path}.{key}" if path else key
        if key not in data:
            if isinstance(rule, Rule) and not rule.required:
                continue
            raise ParamsError(f"params.yaml: missing key '{where}': expected {_describe(rule)}")
        value = data[key]
        if isinstance(rule, dict):
            _check_mapping(value, rule, where)
        elif isinstance(rule, Rule):
            if not rule.check(value):
                _fail(where, value, rule.expected)
        elif rule == "approaches":
            _check_approaches(value, where, data.get("train", {}))
        elif rule == "reference":
            _check_reference(value, where)
        elif rule == "baselines":
            _check_baselines(value, where, data.get("approaches"))


def _check_int_list(values: list, path: str, lo: int) -> None:
    for i, v in enumerate(values):
        if not (_is_int(v) and v >= lo):
            _fail(f"{path}[{i}]", v, f"an integer >= {lo}")


def _check_name(name: Any, path: str, kind: str, seen: dict[str, str]) -> None:
    """A name becomes a stage name and file names: safe characters, unique regardless of case."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise ParamsError(f"params.yaml: {kind} name {short_repr(name, 100)} at {path} is not safe as a file "
                          "and stage name: use 1-64 letters, digits, '_' or '-', starting with "
                          "a letter or digit")
    if name.lower() in seen:
        raise ParamsError(f"params.yaml: names '{seen[name.lower()]}' and '{name}' differ only in case "
                          f"or are used twice (at {path}); their files would collide, rename one")
    seen[name.lower()] = name


def _check_baselines(baselines: Any, path: str, approaches: Any) -> None:
    if not isinstance(baselines, dict) or not baselines:
        _fail(path, baselines, "a non-empty mapping of baseline names to settings")
    # Baselines write beside the approaches (plots/predictions/<name>.csv): names must not meet.
    seen = {str(n).lower(): f"approaches.{n}" for n in approaches} if isinstance(approaches, dict) else {}
    for name, settings in baselines.items():
        _check_name(name, path, "baseline", seen)
        _check_mapping(settings, BASELINE_SCHEMA, f"{path}.{name}")


def _check_approaches(approaches: Any, path: str, train_defaults: dict) -> None:
    if not isinstance(approaches, dict) or not approaches:
        _fail(path, approaches, "a non-empty mapping of approach names to settings")
    seen: dict[str, str] = {}
    for name, spec in approaches.items():
        where = f"{path}.{name}"
        _check_name(name, path, "approach", seen)
        if not isinstance(spec, dict):
            _fail(where, spec, "a mapping with max_tokens, embed_len, hidden, bidirectional, dense")
        plain = {k: v for k, v in spec.items() if k != "train"}
        _check_mapping(plain, APPROACH_SCHEMA, where)  # "train" overrides are checked below
        _check_int_list(spec["hidden"], f"{where}.hidden", 1)
        _check_int_list(spec["dense"], f"{where}.dense", 1)
        if spec.get("fused") and spec["bidirectional"]:
            _fail(f"{where}.fused", spec["fused"],
                  "false when bidirectional: true (the fused LSTM block runs forward only)")
        if spec.get("fused") and len(set(spec["hidden"])) > 1:
            _fail(f"{where}.hidden", spec["hidden"],
                  "equal sizes when fused: true (one fused LSTM has one hidden size)")
        if "train" in spec:
            overrides = spec["train"]
            if not isinstance(overrides, dict):
                _fail(f"{where}.train", overrides, "a mapping of training keys to override")
            optional = {k: Rule(r.check, r.expected, required=False) for k, r in TRAIN_SCHEMA.items()}
            _check_mapping(overrides, optional, f"{where}.train")


def _check_reference(reference: Any, path: str) -> None:
    if not isinstance(reference, dict):
        _fail(path, reference, "a mapping of approach names to reported test accuracies")
    for name, acc in reference.items():
        if not ACCURACY.check(acc):
            _fail(f"{path}.{name}", acc, ACCURACY.expected)


def validate(params: Any) -> dict:
    """Check the whole params mapping; return it with approach defaults filled in."""
    _check_mapping(params, SCHEMA, "")
    for i, idx in enumerate(params["explain"]["doc_indices"]):
        if not (_is_int(idx) and 0 <= idx < TEST_SIZE):
            _fail(f"explain.doc_indices[{i}]", idx, f"an integer test-row index in [0, {TEST_SIZE})")
    for name, spec in params["approaches"].items():
        params["approaches"][name] = {**APPROACH_DEFAULTS, **spec}
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise ParamsError(f"params.yaml: line {line}: key {short_repr(key)} is given twice (first "
                                          f"on line {seen[key]}); YAML would silently keep the last, keep one")
                    seen[key] = line
                except TypeError:  # an unhashable key; the base class reports it
                    continue
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path = DEFAULT_PARAMS) -> dict:
    """Read and validate params.yaml; every problem surfaces as a :class:`ParamsError`."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found; run the stage from the project root")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ParamsError(f"{path}: {size:,} bytes; a params file is a few KB and at most {MAX_FILE_BYTES:,} "
                          "bytes are read (is a long list pasted in by mistake?)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        loader = _UniqueKeyLoader(text)  # a SafeLoader: builds no Python objects beyond plain data
        try:
            node = loader.get_single_node()
            _check_expanded_size(node, path)
            params = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    return validate(params)


def _named(params: dict, section: str, name: str, kind: str) -> dict:
    entries = params[section]
    if name not in entries:
        raise ParamsError(f"params.yaml: no {kind} named '{name}'{_did_you_mean(name, list(entries))}; "
                          f"known {section}: {', '.join(entries)}")
    return entries[name]


def _check_expanded_size(root: yaml.Node | None, path: Path) -> None:
    """Refuse a document whose aliases expand to more than MAX_NODES nodes, counting each node once per use
    (memoised, so a "billion laughs" is measured in microseconds instead of being built)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a recursive alias counts once
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else []
        total = 1 + sum(size(child) for child in children)
        sizes[id(node)] = total
        return total

    if root is not None and (total := size(root)) > MAX_NODES:
        raise ParamsError(f"{path}: its anchors and aliases (&name, *name) expand to {total:,} values; at most "
                          f"{MAX_NODES:,} are accepted (an alias repeated inside aliases grows exponentially)")


def approach(params: dict, name: str) -> dict:
    """The settings of one approach; a clear error lists the known names."""
    return _named(params, "approaches", name, "approach")


def baseline(params: dict, name: str) -> dict:
    """The settings of one baseline; a clear error lists the known names."""
    return _named(params, "baselines", name, "baseline")


def train_settings(params: dict, name: str) -> dict:
    """Global ``train`` settings with the approach's own ``train`` overrides applied."""
    return {**params["train"], **approach(params, name).get("train", {})}
