"""Checkpoints: Gluon ``.params`` weights plus a JSON spec of the architecture and preprocessing.

A checkpoint is a folder whose two files change as one (:func:`pipeline.fileio.atomic_dir`), and the spec
records the SHA-256 of the weights and of the vocabulary they were trained with: a weights file beside a
spec of another training run, or a vocabulary that is not the one trained with, is refused on loading.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np

from pipeline import paths
from pipeline.cli import one_line
from pipeline.errors import PipelineError
from pipeline.fileio import OutputError, atomic_dir, read_json, sha256_file, write_json
from pipeline.model import LSTMClassifier, ModelSpec, build_model
from pipeline.params import train_settings

PARAMS_FILE, SPEC_FILE = "model.params", "spec.json"
# Keys of an approach in params.yaml and where the checkpoint's spec.json records them.
MODEL_KEYS = ("embed_len", "hidden", "bidirectional", "fused", "dense", "pooling", "dropout", "embed_dropout")


class CheckpointError(PipelineError, ValueError):
    """A checkpoint is missing or does not fit the vocabulary or the params it is used with."""


def seed_params_file(seed: int) -> str:
    """Weights of an approach's extra seed (``train.seeds`` > 1) beside the main checkpoint."""
    return f"seed-{seed}.params"


def _save_weights(net: LSTMClassifier, path: Path, shown: Path) -> str:
    try:
        net.save_parameters(str(path))
    except mx.base.MXNetError:  # MXNet's C++ stream ("FileStream.Write incomplete") names no file or reason
        raise OutputError(f"cannot write {shown}: the write was incomplete (is the disk "
                          "full?); the previous checkpoint is kept") from None
    return sha256_file(path)


def save_checkpoint(net: LSTMClassifier, spec: dict, directory: str | Path,
                    extra_seeds: dict[int, LSTMClassifier] | None = None) -> None:
    """Write weights and spec into a new folder and swap it in for ``directory`` as one unit.

    The spec records how to rebuild and feed the model, and the SHA-256 of the weights written with it.
    ``extra_seeds`` are the same architecture trained from other seeds (for the seed-to-seed spread):
    only their weights are stored, each with its SHA-256 in the spec.
    """
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        seed_hashes = {str(seed): _save_weights(other, tmp / seed_params_file(seed), directory / seed_params_file(seed))
                       for seed, other in (extra_seeds or {}).items()}
        weights = _save_weights(net, tmp / PARAMS_FILE, directory / PARAMS_FILE)
        write_json(tmp / SPEC_FILE, {**spec, "weights_sha256": weights,
                                     **({"seed_weights_sha256": seed_hashes} if seed_hashes else {})})


def load_seed_weights(net: LSTMClassifier, spec: dict, directory: str | Path, ctx: mx.Context) -> Iterator[int]:
    """Load each extra seed's weights into ``net`` in turn, yielding the seed (the spec's ``seeds[1:]``)."""
    directory = Path(directory)
    hashes = spec.get("seed_weights_sha256") or {}
    for seed in spec.get("seeds", [])[1:]:
        path = directory / seed_params_file(seed)
        if path.is_file() and hashes.get(str(seed)) != sha256_file(path):
            raise CheckpointError(f"{path}: not the weights {directory / SPEC_FILE} was written with (SHA-256 "
                                  "differs); truncated, corrupt or from another training run; "
                                  f"{_retrain(directory)}")
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
    if problem is None:
        problem = _check_spec_values(spec)
    if problem:
        raise CheckpointError(f"{spec_path}: not a checkpoint spec written by the train stage ({problem}); "
                              f"{_retrain(directory)}")


def _check_spec_values(spec: dict) -> str | None:
    """What the shapes alone do not catch: values that would make predictions silently wrong."""
    prep, model = spec["preprocessing"], spec["model"]
    if prep["max_tokens"] < 1:
        return f"preprocessing.max_tokens = {prep['max_tokens']}, expected an integer >= 1"
    if not isinstance(spec.get("weights_sha256"), str):
        return "'weights_sha256' is missing: written by an older version"
    names = spec.get("class_names")
    if names is not None:
        if not (isinstance(names, list) and all(isinstance(n, str) and n.strip() for n in names)):
            return f"class_names = {short_repr(names)}, expected a list of non-empty strings"
        if len(set(names)) != len(names):
            return f"class_names = {short_repr(names)} names a class twice"
        if len(names) != model.get("num_classes", 4):
            return (f"class_names has {len(names)} names but the model has {model.get('num_classes', 4)} "
                    "outputs")
    return None


def short_repr(value: Any, limit: int = 80) -> str:
    from pipeline.params import short_repr as shorten
    return shorten(value, limit)


def load_checkpoint(directory: str | Path, vocab_size: int, ctx: mx.Context,
                    vocab_sha256: str | None = None) -> tuple[LSTMClassifier, dict]:
    """Rebuild the model from its spec and load its weights; refuse a vocabulary that does not fit.

    ``vocab_sha256`` (:func:`pipeline.vocab.fingerprint`): the vocabulary must be the one the model was
    trained with, not only of the same size.
    """
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
    recorded_vocab = spec["preprocessing"].get("vocab_sha256")
    if vocab_sha256 is not None and recorded_vocab != vocab_sha256:
        raise CheckpointError(f"{spec_path}: the checkpoint was trained with another vocabulary than the current "
                              f"one (SHA-256 {str(recorded_vocab)[:12]}... in the spec, {vocab_sha256[:12]}... now: "
                              f"same size, different words or order); {_retrain(directory)}")
    actual = sha256_file(params_path)
    if actual != spec["weights_sha256"]:
        raise CheckpointError(f"{params_path}: the weights file is not the one {spec_path} was written with "
                              f"(SHA-256 {actual[:12]}..., the spec records {spec['weights_sha256'][:12]}...): "
                              f"truncated, corrupt or from another training run; {_retrain(directory)}")
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
    for name, param in net.collect_params().items():
        if not np.isfinite(param.data().asnumpy()).all():
            short = name.split("_", 1)[-1]  # without the per-process block prefix
            raise CheckpointError(f"{params_path}: weight {short} holds NaN or infinite values (training "
                                  f"diverged?); {_retrain(directory)}")
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
    from pipeline.vocab import fingerprint

    directory = paths.model_dir(name)
    net, spec = load_checkpoint(directory, len(vocab), ctx, fingerprint(vocab))
    check_matches_params(spec, params["approaches"][name], params["vocab"]["lowercase"],
                         vocab.token_to_idx[vocab.padding_token], directory, train_settings(params, name))
    return net, spec
