"""Checkpoints: this module owns their format, writing and reading alike.

A checkpoint is a folder holding the Gluon weights (``model.params``) and the checkpoint metadata
(``spec.json``): the architecture, the preprocessing, the training settings, the SHA-256 of the weights and
of the vocabulary they were trained with. The files change as one (:func:`pipeline.fileio.atomic_dir`),
and a weights file beside the metadata of another training run, or a vocabulary that is not the one
trained with, is refused on loading.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mxnet as mx
import numpy as np

from pipeline import CLASS_NAMES, NUM_CLASSES, paths
from pipeline.cli import one_line
from pipeline.errors import CheckpointError
from pipeline.fileio import OutputError, atomic_dir, read_json, sha256_file, write_json
from pipeline.model import MXNET_VERSION, LSTMClassifier, build_model
from pipeline.params import STOP_WORD_LISTS, Approach, Architecture, Params, VocabSettings, short_repr
from pipeline.tokenize import TOKEN_PATTERN

if TYPE_CHECKING:
    from gluonnlp import Vocab

# METADATA_FILE keeps the name it has always had, so that existing checkpoints load.
PARAMS_FILE, METADATA_FILE = "model.params", "spec.json"


def seed_params_file(seed: int) -> str:
    """Weights of an approach's extra seed (``train.seeds`` > 1, an ensemble member) beside the main checkpoint."""
    return f"seed-{seed}.params"


def build_metadata(approach: Approach, vocab: Vocab, lowercase: bool, stop_words: str | None,
                   seeds: list[int]) -> dict:
    """What a checkpoint records besides its weights: how to rebuild the model and feed it text."""
    from pipeline.vocab import fingerprint

    return {
        "approach": approach.name,
        "model": {"vocab_size": len(vocab), **_plain(dataclasses.asdict(approach.architecture)),
                  "num_classes": NUM_CLASSES},
        "preprocessing": {"token_pattern": TOKEN_PATTERN, "lowercase": lowercase, "stop_words": stop_words,
                          "max_tokens": approach.max_tokens, "padding": "right",
                          "pad_id": vocab.token_to_idx[vocab.padding_token],
                          "unk_id": vocab.token_to_idx[vocab.unknown_token], "vocab_sha256": fingerprint(vocab)},
        "class_names": list(CLASS_NAMES),
        "train": dataclasses.asdict(approach.train),
        "seeds": list(seeds),
        "mxnet_version": MXNET_VERSION,
    }


def save(directory: str | Path, net: LSTMClassifier, approach: Approach, vocab: Vocab, text: VocabSettings,
         seeds: list[int], extra_seeds: dict[int, LSTMClassifier] | None = None) -> None:
    """Write ``net`` trained for ``approach`` on text tokenized as ``text`` says as the checkpoint at
    ``directory`` (see :func:`write`)."""
    write(directory, net, build_metadata(approach, vocab, text.lowercase, text.stop_words, seeds), extra_seeds)


def _plain(values: dict) -> dict:
    """Tuples as lists, as JSON gives them back."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _save_weights(net: LSTMClassifier, path: Path, shown: Path) -> str:
    try:
        net.save_parameters(str(path))
    except mx.base.MXNetError:  # MXNet's C++ stream ("FileStream.Write incomplete") names no file or reason
        raise OutputError(f"cannot write {shown}: the write was incomplete (is the disk "
                          "full?); the previous checkpoint is kept") from None
    return sha256_file(path)


def write(directory: str | Path, net: LSTMClassifier, metadata: dict,
          extra_seeds: dict[int, LSTMClassifier] | None = None) -> None:
    """Write weights and metadata into a new folder and swap it in for ``directory`` as one unit.

    The metadata gains the SHA-256 of the weights written with it. ``extra_seeds`` are the same
    architecture trained from other seeds (the ensemble's other members): only their weights are stored,
    each with its SHA-256 in the metadata.
    """
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        seed_hashes = {str(seed): _save_weights(other, tmp / seed_params_file(seed), directory / seed_params_file(seed))
                       for seed, other in (extra_seeds or {}).items()}
        weights = _save_weights(net, tmp / PARAMS_FILE, directory / PARAMS_FILE)
        write_json(tmp / METADATA_FILE, {**metadata, "weights_sha256": weights,
                                         **({"seed_weights_sha256": seed_hashes} if seed_hashes else {})})


def _load_weights(net: LSTMClassifier, path: Path, expected_sha256: Any, directory: Path, ctx: mx.Context) -> None:
    """Load the weights at ``path`` into ``net``, refusing a file that is not the one the metadata records,
    that does not fit the architecture, or that holds NaN or infinite values."""
    metadata_path = directory / METADATA_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found; train the approach first "
                              f"(`dvc repro train@{directory.name}`)")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise CheckpointError(f"{path}: the weights file is not the one {metadata_path} was written with "
                              f"(SHA-256 {actual[:12]}..., {METADATA_FILE} records {str(expected_sha256)[:12]}...): "
                              f"truncated, corrupt or from another training run; {_retrain(directory)}")
    try:
        net.load_parameters(str(path), ctx=ctx)
    except Exception as exc:  # MXNetError on a truncated file, AssertionError on a shape mismatch
        raise CheckpointError(f"{path}: weights do not match {metadata_path} or the file is truncated "
                              f"({one_line(exc)}); {_retrain(directory)}") from None
    for name, param in net.collect_params().items():
        if not np.isfinite(param.data().asnumpy()).all():
            short = name.split("_", 1)[-1]  # without the per-process block prefix
            raise CheckpointError(f"{path}: weight {short} holds NaN or infinite values (training "
                                  f"diverged?); {_retrain(directory)}")


def load_members(net: LSTMClassifier, metadata: dict, directory: str | Path, ctx: mx.Context) -> list[LSTMClassifier]:
    """The models an approach predicts with: ``net`` (the first seed) and, with ``train.seeds`` > 1, one
    model per extra seed (the metadata's ``seeds[1:]``), each loaded with the same checks as ``net``.
    The approach's prediction is the mean of their class probabilities: an ensemble of its seeds."""
    directory = Path(directory)
    hashes = metadata.get("seed_weights_sha256") or {}
    members = [net]
    for seed in metadata.get("seeds", [])[1:]:
        member = build_model(net.architecture, net.vocab_size, ctx, num_classes=net.num_classes)
        _load_weights(member, directory / seed_params_file(seed), hashes.get(str(seed)), directory, ctx)
        members.append(member)
    return members


def _retrain(directory: Path) -> str:
    return f"retrain it (`dvc repro train@{directory.name}`)"


def _check_metadata_shape(metadata: Any, metadata_path: Path, directory: Path) -> None:
    problem = None
    if not isinstance(metadata, dict):
        problem = f"the file holds {type(metadata).__name__}, expected a JSON object"
    elif not isinstance(metadata.get("model"), dict):
        problem = "'model' is missing or not an object"
    elif not isinstance(metadata.get("preprocessing"), dict):
        problem = "'preprocessing' is missing or not an object"
    else:
        prep = metadata["preprocessing"]
        for key, kind in (("max_tokens", int), ("pad_id", int), ("lowercase", bool)):
            if not isinstance(prep.get(key), kind) or (kind is int and isinstance(prep.get(key), bool)):
                problem = f"preprocessing.{key} = {prep.get(key)!r}, expected {kind.__name__}"
                break
        # A missing stop_words key reads as null: checkpoints written before the setting existed.
        if problem is None and prep.get("stop_words") not in (None, *STOP_WORD_LISTS):
            problem = (f"preprocessing.stop_words = {short_repr(prep.get('stop_words'))}, expected null or one of "
                       f"{', '.join(STOP_WORD_LISTS)}")
    if problem is None:
        problem = _check_metadata_values(metadata)
    if problem:
        raise CheckpointError(f"{metadata_path}: not checkpoint metadata written by the train stage ({problem}); "
                              f"{_retrain(directory)}")


def _check_metadata_values(metadata: dict) -> str | None:
    """What the shapes alone do not catch: values that would make predictions silently wrong."""
    prep, model = metadata["preprocessing"], metadata["model"]
    if prep["max_tokens"] < 1:
        return f"preprocessing.max_tokens = {prep['max_tokens']}, expected an integer >= 1"
    if not isinstance(metadata.get("weights_sha256"), str):
        return "'weights_sha256' is missing: written by an older version"
    names = metadata.get("class_names")
    if names is not None:
        if not (isinstance(names, list) and all(isinstance(n, str) and n.strip() for n in names)):
            return f"class_names = {short_repr(names)}, expected a list of non-empty strings"
        if len(set(names)) != len(names):
            return f"class_names = {short_repr(names)} names a class twice"
        if len(names) != model.get("num_classes", NUM_CLASSES):
            return (f"class_names has {len(names)} names but the model has "
                    f"{model.get('num_classes', NUM_CLASSES)} outputs")
    return None


def load_checkpoint(directory: str | Path, vocab_size: int, ctx: mx.Context,
                    vocab_sha256: str | None = None) -> tuple[LSTMClassifier, dict]:
    """Rebuild the model from the checkpoint metadata and load its weights; refuse a vocabulary that does
    not fit. Returns the model and the metadata.

    ``vocab_sha256`` (:func:`pipeline.vocab.fingerprint`): the vocabulary must be the one the model was
    trained with, not only of the same size.
    """
    directory = Path(directory)
    params_path, metadata_path = directory / PARAMS_FILE, directory / METADATA_FILE
    for path in (params_path, metadata_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint file not found; train the approach first "
                                  f"(`dvc repro train@{directory.name}`)")
    metadata = read_json(metadata_path)
    _check_metadata_shape(metadata, metadata_path, directory)
    model = metadata["model"]
    if model.get("vocab_size") != vocab_size:
        raise CheckpointError(f"{metadata_path}: the checkpoint was trained with a vocabulary of "
                              f"{model.get('vocab_size')} entries, the current vocabulary has "
                              f"{vocab_size}; {_retrain(directory)}")
    recorded_vocab = metadata["preprocessing"].get("vocab_sha256")
    if vocab_sha256 is not None and recorded_vocab != vocab_sha256:
        raise CheckpointError(f"{metadata_path}: the checkpoint was trained with another vocabulary than the "
                              f"current one (SHA-256 {str(recorded_vocab)[:12]}... in the metadata, "
                              f"{vocab_sha256[:12]}... now: same size, different words or order); "
                              f"{_retrain(directory)}")
    try:
        extra = set(model) - {f.name for f in dataclasses.fields(Architecture)} - {"vocab_size", "num_classes"}
        if extra:
            raise TypeError(f"unknown keys {', '.join(sorted(extra))}")
        net = build_model(Architecture.from_mapping(model), vocab_size, ctx,
                          num_classes=model.get("num_classes", NUM_CLASSES))
    except Exception as exc:  # missing or unknown keys, or values MXNet refuses
        raise CheckpointError(f"{metadata_path}: the model in it does not describe an LSTMClassifier "
                              f"({one_line(exc)}); {_retrain(directory)}") from None
    _load_weights(net, params_path, metadata["weights_sha256"], directory, ctx)
    return net, metadata


def check_matches_params(metadata: dict, approach: Approach, text: VocabSettings, pad_id: int,
                         directory: str | Path) -> None:
    """Refuse a checkpoint trained with other settings than params.yaml now gives its approach.

    Catches an approach edited in params.yaml but not retrained (``python -m stages.evaluate`` run by
    hand, or a checkpoint copied from elsewhere): its metrics would be reported under settings it was
    not trained with. Every difference is listed, checkpoint value first.
    """
    directory = Path(directory)
    model, prep = metadata["model"], metadata["preprocessing"]
    differences = []
    if prep.get("max_tokens") != approach.max_tokens:
        differences.append(f"max_tokens is {prep.get('max_tokens')!r} in the checkpoint but "
                           f"{approach.max_tokens!r} in params.yaml")
    recorded = Architecture.from_mapping(model)  # load_checkpoint has checked that it has every key
    if recorded != approach.architecture:
        differences += [f"{key} is {theirs!r} in the checkpoint but {ours!r} in params.yaml"
                        for key, theirs, ours in _field_differences(recorded, approach.architecture)]
    for key in ("lowercase", "stop_words"):
        if prep.get(key) != getattr(text, key):
            differences.append(f"{key} is {prep.get(key)!r} in the checkpoint but {getattr(text, key)!r} "
                               f"in params.yaml vocab.{key}")
    trained_with = metadata.get("train")
    if isinstance(trained_with, dict):
        differences += [f"train.{key} is {trained_with[key]!r} in the checkpoint but {value!r} in params.yaml"
                        for key, value in dataclasses.asdict(approach.train).items()
                        if key in trained_with and trained_with[key] != value]
    if prep.get("pad_id") != pad_id:
        differences.append(f"pad_id is {prep.get('pad_id')!r} in the checkpoint but {pad_id!r} in the "
                           "current vocabulary")
    if differences:
        raise CheckpointError(f"{directory / METADATA_FILE} does not match params.yaml approaches.{directory.name}: "
                              f"{'; '.join(differences)}. The approach was edited but not retrained; "
                              f"{_retrain(directory)}")


def _field_differences(recorded: Architecture, current: Architecture) -> list[tuple[str, Any, Any]]:
    theirs, ours = _plain(dataclasses.asdict(recorded)), _plain(dataclasses.asdict(current))
    return [(key, theirs[key], ours[key]) for key in theirs if theirs[key] != ours[key]]


def load_for_approach(approach: Approach, params: Params, vocab: Vocab,
                      ctx: mx.Context) -> tuple[LSTMClassifier, dict]:
    """Load ``approach``'s checkpoint, refusing one that does not fit ``vocab`` or params.yaml."""
    from pipeline.vocab import fingerprint

    directory = paths.model_dir(approach.name)
    net, metadata = load_checkpoint(directory, len(vocab), ctx, fingerprint(vocab))
    check_matches_params(metadata, approach, params.vocab, vocab.token_to_idx[vocab.padding_token],
                         directory)
    return net, metadata
