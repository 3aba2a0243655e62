"""Load and validate ``params.yaml`` once, into frozen typed objects, before any stage does work.

Every key is declared once, as a field of a dataclass below with the rule its value must follow; the
rules give each refusal the key path (``approaches.bilstm3.hidden[1]``), the value found and what was
expected. Stages and pipeline functions receive the objects (``params.train.batch_size``), not dicts.
Architecture keys have no defaults in the code: an approach takes what it leaves out from
``approach_defaults`` in params.yaml, so the file shows every value a run uses.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
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
STOP_WORD_LISTS = ("english",)  # pipeline/tokenize.py
WORD_VECTORS = "ppmi_svd"  # start from the `embeddings` stage's vectors (pipeline/embeddings.py)
EMBEDDING_INITS = ("xavier", WORD_VECTORS)
MAX_NGRAM = 3
TEST_SIZE = 7600  # canonical AG News test split: LIME document indices must fall inside it


class ParamsError(PipelineError, ValueError):
    """params.yaml breaks a rule; the message names the key path, the value and the rule."""


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    expected: str
    required: bool = True
    items: Rule | None = None  # for a list: the rule of each item, refused at its position (``hidden[1]``)


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


def _int_list(expected: str, non_empty: bool) -> Rule:
    return Rule(lambda v: isinstance(v, list) and (len(v) > 0 or not non_empty), expected,
                items=_int_at_least(1))


def _c_grid(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(is_number(c) and c > 0 for c in v)


BOOL = Rule(lambda v: isinstance(v, bool), "true or false")
STRING = Rule(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")
MD5 = Rule(lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) is not None,
           "32 lower-case hex digits (an MD5)")
RATE = _num(lambda v: 0 <= v < 1, "a number in [0, 1)")
ACCURACY = _num(lambda v: 0 <= v <= 1, "an accuracy in [0, 1]")


def setting(rule: Rule | dict[str, Rule], default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field holding a params.yaml key and the rule of its value (a nested section: a mapping of
    keys to rules, kept as a dict)."""
    return field(default=default, metadata={"rule": rule})


def schema(cls: type) -> dict[str, Any]:
    """The keys of a section and their rules, read off its dataclass fields."""
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls) if "rule" in f.metadata}


def _construct(cls: type, data: dict) -> Any:
    """``cls`` from a validated mapping (keys it lacks keep their null default), lists frozen into tuples."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class DataSettings:
    url: str = setting(STRING)
    md5: dict[str, str] = setting({"train": MD5, "test": MD5})  # per split file
    val_fraction: float = setting(_num(lambda v: 0 < v < 1, "a number in the open interval (0, 1)"))
    source: str | None = setting(_optional(STRING), None)


@dataclass(frozen=True)
class VocabSettings:
    lowercase: bool = setting(BOOL)
    min_freq: int = setting(_int_at_least(1))
    max_size: int | None = setting(_optional(_int_at_least(1)), None)
    # left out: null, every word is kept
    stop_words: str | None = setting(_optional(_choice(STOP_WORD_LISTS)), None)


@dataclass(frozen=True)
class EmbeddingSettings:
    """The word vectors of the training part that embeddings can start from (pipeline/embeddings.py)."""

    window: int = setting(_int_at_least(1))
    context_smoothing: float = setting(_num(lambda v: 0 < v <= 1, "a number in (0, 1]"))
    dim: int = setting(Rule(lambda v: _is_int(v) and 1 <= v <= 1000, "an integer in [1, 1000]"))


@dataclass(frozen=True)
class TrainSettings:
    """How one approach is trained: ``train`` with the approach's own ``train`` overrides applied."""

    epochs: int = setting(_int_at_least(1))
    batch_size: int = setting(_int_at_least(1))
    learning_rate: float = setting(_num(lambda v: 0 < v <= 10, "a number in (0, 10]"))
    lr_schedule: str = setting(_choice(SCHEDULES))
    warmup_epochs: int = setting(Rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0"))
    weight_decay: float = setting(_num(lambda v: 0 <= v <= 10, "a number in [0, 10]"))
    bucket_width: int = setting(_int_at_least(1))
    word_dropout: float = setting(_num(lambda v: 0 <= v < 1, "a number in [0, 1)"))
    sparse_embedding: bool = setting(BOOL)
    seeds: int = setting(_int_at_least(1))
    embedding_init: str = setting(_choice(EMBEDDING_INITS))
    embedding_std: float = setting(_num(lambda v: 0 < v <= 10, "a number in (0, 10]"))
    # null (or left out) turns these off
    clip_gradient: float | None = setting(_optional(_num(lambda v: 0 < v <= 1e6, "a number in (0, 1e6]")), None)
    patience: int | None = setting(_optional(_int_at_least(1)), None)
    ema_decay: float | None = setting(_optional(_num(lambda v: 0 < v < 1, "a number in (0, 1)")), None)
    # left out: 0, every lower validation loss counts as progress for early stopping
    min_delta: float = setting(_num(lambda v: 0 <= v < 1, "a number in [0, 1)", required=False), 0.0)


@dataclass(frozen=True)
class Architecture:
    """The model of an approach: what the model builder reads and the checkpoint records (its
    ``model`` entry, with the vocabulary size and number of classes), compared by equality."""

    embed_len: int = setting(_int_at_least(1))
    hidden: tuple[int, ...] = setting(_int_list("a non-empty list of integers >= 1", non_empty=True))
    bidirectional: bool = setting(BOOL)
    fused: bool = setting(BOOL)
    dense: tuple[int, ...] = setting(_int_list("a list of integers >= 1 (may be empty)", non_empty=False))
    pooling: str = setting(_choice(POOLINGS))
    dropout: float = setting(RATE)
    embed_dropout: float = setting(RATE)

    @classmethod
    def from_mapping(cls, data: dict) -> Architecture:
        """From a checkpoint's ``model`` entry (which also holds vocab_size and num_classes); a missing key
        is a ``KeyError``."""
        return _construct(cls, {f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Approach:
    """One LSTM approach: its preprocessing, its architecture and how it is trained."""

    name: str
    max_tokens: int
    architecture: Architecture
    train: TrainSettings


MAX_TOKENS = _int_at_least(1)
APPROACH_KEYS = {"max_tokens": MAX_TOKENS, **schema(Architecture)}


@dataclass(frozen=True)
class Baseline:
    ngram_max: int = setting(Rule(lambda v: _is_int(v) and 1 <= v <= MAX_NGRAM, f"an integer in [1, {MAX_NGRAM}]"))
    model: str = setting(_choice(BASELINE_MODELS))
    C: tuple[float, ...] = setting(Rule(_c_grid, "a non-empty list of numbers > 0 (the grid searched on the "
                                                 "validation split)"))
    sublinear_tf: bool = setting(BOOL)
    max_iter: int = setting(_int_at_least(1))


@dataclass(frozen=True)
class ExplainSettings:
    doc_indices: tuple[int, ...] = setting(Rule(
        lambda v: isinstance(v, list) and len(v) > 0, "a non-empty list of test-row indices",
        items=Rule(lambda v: _is_int(v) and 0 <= v < TEST_SIZE,
                   f"an integer test-row index in [0, {TEST_SIZE})")))
    num_features: int = setting(_int_at_least(1))
    num_samples: int = setting(_int_at_least(1))
    batch_size: int = setting(_int_at_least(1))


@dataclass(frozen=True)
class Params:
    """params.yaml, validated."""

    seed: int
    data: DataSettings
    vocab: VocabSettings
    embeddings: EmbeddingSettings
    train: TrainSettings
    approaches: dict[str, Approach]
    reference: dict[str, float]
    baselines: dict[str, Baseline]
    explain: ExplainSettings

    def approach(self, name: str) -> Approach:
        """The settings of one approach; a clear error lists the known names."""
        return _named(self.approaches, "approaches", name, "approach")

    def baseline(self, name: str) -> Baseline:
        """The settings of one baseline; a clear error lists the known names."""
        return _named(self.baselines, "baselines", name, "baseline")


SCHEMA: dict[str, Any] = {
    "seed": Rule(lambda v: _is_int(v) and 0 <= v < SEED_LIMIT, f"an integer in [0, {SEED_LIMIT - 1}]"),
    "data": schema(DataSettings),
    "vocab": schema(VocabSettings),
    "embeddings": schema(EmbeddingSettings),
    "train": schema(TrainSettings),
    "approach_defaults": "approach_defaults",
    "approaches": "approaches",
    "reference": "reference",
    "baselines": "baselines",
    "explain": schema(ExplainSettings),
}


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
    if rule == "approach_defaults":
        return "a section with the approach keys every approach takes unless it gives its own: " + \
            ", ".join(APPROACH_KEYS)
    if rule == "baselines":
        return "a section mapping baseline names to " + ", ".join(schema(Baseline))
    return "a section mapping approach names to reported test accuracies"


def _optional_keys(rules: dict[str, Rule]) -> dict[str, Rule]:
    return {k: dataclasses.replace(r, required=False) for k, r in rules.items()}


def _check_value(value: Any, rule: Rule, path: str) -> None:
    if not rule.check(value):
        _fail(path, value, rule.expected)
    for i, item in enumerate(value if rule.items else ()):
        if not rule.items.check(item):
            _fail(f"{path}[{i}]", item, rule.items.expected)


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
            _check_value(value, rule, where)


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


def _baselines(baselines: Any, path: str, approaches: dict) -> dict[str, Baseline]:
    if not isinstance(baselines, dict) or not baselines:
        _fail(path, baselines, "a non-empty mapping of baseline names to settings")
    # Baselines write beside the approaches (plots/predictions/<name>.csv): names must not meet.
    seen = {str(n).lower(): f"approaches.{n}" for n in approaches}
    for name, settings in baselines.items():
        _check_name(name, path, "baseline", seen)
        _check_mapping(settings, schema(Baseline), f"{path}.{name}")
    return {name: _construct(Baseline, settings) for name, settings in baselines.items()}


def _approaches(approaches: Any, path: str, defaults: dict, train: dict) -> dict[str, Approach]:
    if not isinstance(approaches, dict) or not approaches:
        _fail(path, approaches, "a non-empty mapping of approach names to settings")
    seen: dict[str, str] = {}
    result = {}
    optional = _optional_keys(APPROACH_KEYS)
    for name, given in approaches.items():
        where = f"{path}.{name}"
        _check_name(name, path, "approach", seen)
        if not isinstance(given, dict):
            _fail(where, given, "a mapping with max_tokens, embed_len, hidden, bidirectional, dense")
        overrides = given.get("train", {})
        _check_mapping(given, {**optional, "train": Rule(lambda v: isinstance(v, dict),
                                                         "a mapping of training keys to override", False)}, where)
        _check_mapping(overrides, _optional_keys(schema(TrainSettings)), f"{where}.train")
        merged = {**defaults, **{k: v for k, v in given.items() if k != "train"}}
        for key in APPROACH_KEYS:
            if key not in merged:
                raise ParamsError(f"params.yaml: missing key '{where}.{key}' (and approach_defaults.{key}): "
                                  f"expected {APPROACH_KEYS[key].expected}")
        if merged["fused"] and merged["bidirectional"]:
            _fail(f"{where}.fused", merged["fused"],
                  "false when bidirectional: true (the fused LSTM block runs forward only)")
        if merged["fused"] and len(set(merged["hidden"])) > 1:
            _fail(f"{where}.hidden", merged["hidden"],
                  "equal sizes when fused: true (one fused LSTM has one hidden size)")
        result[name] = Approach(name=name, max_tokens=merged["max_tokens"],
                                architecture=_construct(Architecture, merged),
                                train=_construct(TrainSettings, {**train, **overrides}))
    return result


def _check_embedding_dims(approaches: dict[str, Approach], dim: int) -> None:
    """An approach that starts from the word vectors takes their first embed_len components."""
    for name, approach in approaches.items():
        if approach.train.embedding_init == WORD_VECTORS and approach.architecture.embed_len > dim:
            _fail(f"approaches.{name}.embed_len", approach.architecture.embed_len,
                  f"at most embeddings.dim = {dim} when train.embedding_init is {WORD_VECTORS} "
                  "(or raise embeddings.dim)")


def _check_reference(reference: Any, path: str) -> dict[str, float]:
    if not isinstance(reference, dict):
        _fail(path, reference, "a mapping of approach names to reported test accuracies")
    for name, acc in reference.items():
        if not ACCURACY.check(acc):
            _fail(f"{path}.{name}", acc, ACCURACY.expected)
    return dict(reference)


def validate(data: Any) -> Params:
    """Check the whole params mapping, one section at a time in file order; return it as :class:`Params`."""
    _check_mapping(data, SCHEMA, "")
    defaults = data["approach_defaults"]
    _check_mapping(defaults, _optional_keys(APPROACH_KEYS), "approach_defaults")
    approaches = _approaches(data["approaches"], "approaches", defaults, data["train"])
    _check_embedding_dims(approaches, data["embeddings"]["dim"])
    reference = _check_reference(data["reference"], "reference")
    baselines = _baselines(data["baselines"], "baselines", approaches)
    return Params(seed=data["seed"], data=_construct(DataSettings, data["data"]),
                  vocab=_construct(VocabSettings, data["vocab"]),
                  embeddings=_construct(EmbeddingSettings, data["embeddings"]),
                  train=_construct(TrainSettings, data["train"]),
                  approaches=approaches, reference=reference, baselines=baselines,
                  explain=_construct(ExplainSettings, data["explain"]))


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


def load(path: str | Path = DEFAULT_PARAMS) -> Params:
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


def _named(entries: dict, section: str, name: str, kind: str) -> Any:
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
