"""Checkpoints: Gluon ``.params`` weights plus a JSON spec of the architecture and preprocessing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mxnet as mx

from pipeline import paths
from pipeline.cli import one_line
from pipeline.fileio import atomic_path, read_json, write_json
from pipeline.model import LSTMClassifier, ModelSpec, build_model
from pipeline.params import train_settings

PARAMS_FILE, SPEC_FILE = "model.params", "spec.json"
# Keys of an approach in params.yaml and where the checkpoint's spec.json records them.
MODEL_KEYS = ("embed_len", "hidden", "bidirectional", "fused", "dense", "pooling", "dropout", "embed_dropout")


class CheckpointError(ValueError):
    """A checkpoint is missing or does not fit the vocabulary or the params it is used with."""


def seed_params_file(seed: int) -> str:
    """Weights of an approach's extra seed (``train.seeds`` > 1) beside the main checkpoint."""
    return f"seed-{seed}.params"


def save_checkpoint(net: LSTMClassifier, spec: dict, directory: str | Path,
                    extra_seeds: dict[int, LSTMClassifier] | None = None) -> None:
    """Write weights then spec, each atomically; the spec records how to rebuild and feed the model.

    ``extra_seeds`` are the same architecture trained from other seeds (for the seed-to-seed spread);
    only their weights are stored, and the spec lists every seed, the main checkpoint's first.
    """
    directory = Path(directory)
    extra_seeds = extra_seeds or {}
    for seed, other in extra_seeds.items():
        with atomic_path(directory / seed_params_file(seed)) as tmp:
            other.save_parameters(str(tmp))
    with atomic_path(directory / PARAMS_FILE) as tmp:
        net.save_parameters(str(tmp))
    write_json(directory / SPEC_FILE, spec)


def load_seed_weights(net: LSTMClassifier, spec: dict, directory: str | Path, ctx: mx.Context) -> Iterator[int]:
    """Load each extra seed's weights into ``net`` in turn, yielding the seed (the spec's ``seeds[1:]``)."""
    directory = Path(directory)
    for seed in spec.get("seeds", [])[1:]:
        path = directory / seed_params_file(seed)
        try:
            net.load_parameters(str(path), ctx=ctx)
        except Exception as exc:  # a missing, truncated or mismatched file
            raise CheckpointError(f"{path}: weights of seed {seed} listed in {directory / SPEC_FILE} cannot be "
                                  f"loaded ({one_line(exc)}); {_retrain(directory)}") from None
        yield seed


def _retrain(directory: Path) -> str:
    return f"retrain it (`dvc repro train@{directory.name}`)"


def _check_spec_shape(spec: Any, spec_path: Path, directory: Path) -> None:
    problem = None
    if not isinstance(spec, dict):
        problem = f"the file holds {type(spec).__name__}, expected a JSON object"
    elif not isinstance(spec.get("model"), dict):
        problem = "'model' is missing or not an object"
    elif not isinstance(spec.get("preprocessing"), dict):
        problem = "'preprocessing' is missing or not an object"
    else:
        prep = spec["preprocessing"]
        for key, kind in (("max_tokens", int), ("pad_id", int), ("lowercase", bool)):
            if not isinstance(prep.get(key), kind) or (kind is int and isinstance(prep.get(key), bool)):
                problem = f"preprocessing.{key} = {prep.get(key)!r}, expected {kind.__name__}"
                break
    if problem:
        raise CheckpointError(f"{spec_path}: not a checkpoint spec written by the train stage ({problem}); "
                              f"{_retrain(directory)}")


def load_checkpoint(directory: str | Path, vocab_size: int, ctx: mx.Context) -> tuple[LSTMClassifier, dict]:
    """Rebuild the model from its spec and load its weights; refuse a vocabulary that does not fit."""
    directory = Path(directory)
    params_path, spec_path = directory / PARAMS_FILE, directory / SPEC_FILE
    for path in (params_path, spec_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint file not found; train the approach first "
                                  f"(`dvc repro train@{directory.name}`)")
    spec = read_json(spec_path)
    _check_spec_shape(spec, spec_path, directory)
    model = spec["model"]
    if model.get("vocab_size") != vocab_size:
        raise CheckpointError(f"{spec_path}: the checkpoint was trained with a vocabulary of "
                              f"{model.get('vocab_size')} entries, the current vocabulary has "
                              f"{vocab_size}; {_retrain(directory)}")
    try:
        net = build_model(ModelSpec(**model), ctx)
    except Exception as exc:  # unknown keys (TypeError) or values MXNet refuses
        raise CheckpointError(f"{spec_path}: model spec does not describe an LSTMClassifier ({one_line(exc)}); "
                              f"{_retrain(directory)}") from None
    try:
        net.load_parameters(str(params_path), ctx=ctx)
    except Exception as exc:  # MXNetError on a truncated file, AssertionError on a shape mismatch
        raise CheckpointError(f"{params_path}: weights do not match {spec_path} or the file is truncated "
                              f"({one_line(exc)}); {_retrain(directory)}") from None
    return net, spec


def check_matches_params(spec: dict, approach: dict, lowercase: bool, pad_id: int, directory: str | Path,
                         train_settings: dict | None = None) -> None:
    """Refuse a checkpoint trained with other settings than params.yaml now gives its approach.

    Catches an approach edited in params.yaml but not retrained (``python -m stages.evaluate`` run by
    hand, or a checkpoint copied from elsewhere): its metrics would be reported under settings it was
    not trained with. Every difference is listed, checkpoint value first.
    """
    directory = Path(directory)
    model, prep = spec["model"], spec["preprocessing"]
    recorded = {key: model.get(key) for key in MODEL_KEYS}
    recorded["max_tokens"] = prep.get("max_tokens")
    current = {key: approach.get(key) for key in MODEL_KEYS}
    current["max_tokens"] = approach.get("max_tokens")
    differences = [f"{key} is {recorded[key]!r} in the checkpoint but {current[key]!r} in params.yaml"
                   for key in ("max_tokens", *MODEL_KEYS) if _differs(recorded[key], current[key])]
    if prep.get("lowercase") != lowercase:
        differences.append(f"lowercase is {prep.get('lowercase')!r} in the checkpoint but {lowercase!r} "
                           "in params.yaml vocab.lowercase")
    trained_with = spec.get("train")
    if train_settings is not None and isinstance(trained_with, dict):
        differences += [f"train.{key} is {trained_with[key]!r} in the checkpoint but {value!r} in params.yaml"
                        for key, value in train_settings.items()
                        if key in trained_with and _differs(trained_with[key], value)]
    if prep.get("pad_id") != pad_id:
        differences.append(f"pad_id is {prep.get('pad_id')!r} in the checkpoint but {pad_id!r} in the "
                           "current vocabulary")
    if differences:
        raise CheckpointError(f"{directory / SPEC_FILE} does not match params.yaml approaches.{directory.name}: "
                              f"{'; '.join(differences)}. The approach was edited but not retrained; "
                              f"{_retrain(directory)}")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) != float(b)
    return a != b


def load_for_approach(name: str, params: dict, vocab, ctx: mx.Context) -> tuple[LSTMClassifier, dict]:
    """Load approach ``name``'s checkpoint, refusing one that does not fit ``vocab`` or params.yaml."""
    directory = paths.model_dir(name)
    net, spec = load_checkpoint(directory, len(vocab), ctx)
    check_matches_params(spec, params["approaches"][name], params["vocab"]["lowercase"],
                         vocab.token_to_idx[vocab.padding_token], directory, train_settings(params, name))
    return net, spec
