"""Checkpoints: Gluon ``.params`` weights plus a JSON spec of the architecture and preprocessing."""

from __future__ import annotations

from pathlib import Path

import mxnet as mx

from pipeline.fileio import atomic_path, read_json, write_json
from pipeline.model import LSTMClassifier, ModelSpec, build_model

PARAMS_FILE, SPEC_FILE = "model.params", "spec.json"


class CheckpointError(ValueError):
    """A checkpoint is missing or does not fit the vocabulary it is used with."""


def save_checkpoint(net: LSTMClassifier, spec: dict, directory: str | Path) -> None:
    """Write weights then spec, each atomically; the spec records how to rebuild and feed the model."""
    directory = Path(directory)
    with atomic_path(directory / PARAMS_FILE) as tmp:
        net.save_parameters(str(tmp))
    write_json(directory / SPEC_FILE, spec)


def load_checkpoint(directory: str | Path, vocab_size: int, ctx: mx.Context) -> tuple[LSTMClassifier, dict]:
    """Rebuild the model from its spec and load its weights; refuse a vocabulary that does not fit."""
    directory = Path(directory)
    params_path, spec_path = directory / PARAMS_FILE, directory / SPEC_FILE
    for path in (params_path, spec_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint file not found; train the approach first "
                                  f"(`dvc repro train@{directory.name}`)")
    spec = read_json(spec_path)
    model = spec.get("model", {})
    if model.get("vocab_size") != vocab_size:
        raise CheckpointError(f"{spec_path}: the checkpoint was trained with a vocabulary of "
                              f"{model.get('vocab_size')} entries, the current vocabulary has "
                              f"{vocab_size}; retrain it (`dvc repro train@{directory.name}`)")
    try:
        net = build_model(ModelSpec(**model), ctx)
    except TypeError as exc:
        raise CheckpointError(f"{spec_path}: model spec does not describe an LSTMClassifier ({exc}); "
                              f"retrain it (`dvc repro train@{directory.name}`)") from None
    try:
        net.load_parameters(str(params_path), ctx=ctx)
    except (AssertionError, mx.base.MXNetError) as exc:
        raise CheckpointError(f"{params_path}: weights do not match {spec_path} "
                              f"({str(exc).splitlines()[0]}); retrain the approach") from None
    return net, spec
