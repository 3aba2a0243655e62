"""Shared fixtures: tiny AG-News-shaped corpora, their vocabulary and caches, a tiny trained model."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path
from types import SimpleNamespace

import mxnet as mx
import pytest
import yaml

from pipeline import checkpoint
from pipeline.corpus import read_corpus
from pipeline.dataset import stratified_split, vectorize
from pipeline.model import build_model
from pipeline.params import Approach, Architecture, TrainSettings, VocabSettings
from pipeline.params import load as load_params
from pipeline.tokenize import tokenize_all
from pipeline.training import train
from pipeline.vocab import build_vocab
from tests.corpus_gen import agnews_csv_text, make_corpus
from tests.dvc_project import build_project

REPO = Path(__file__).resolve().parent.parent
PARAMS_YAML = REPO / "params.yaml"

# Training settings for tiny, fast runs: the repository's `train` defaults (so that keys added there
# later are present) with the sizes and rates of a tiny run on top.
TINY_SETTINGS: TrainSettings = dataclasses.replace(
    load_params(PARAMS_YAML).train,
    epochs=4,
    batch_size=32,
    learning_rate=0.02,
    lr_schedule="constant",
    warmup_epochs=0,
    weight_decay=0.0,
    clip_gradient=None,
    word_dropout=0.0,  # the repository's regularisers slow learning too much for 4 tiny epochs
    ema_decay=None,
    patience=None,
    min_delta=0.0,
    bucket_width=5,
)
TINY_MAX_TOKENS = 20
TINY_SEED = 7
TINY_TEXT = VocabSettings(lowercase=True, min_freq=1)  # how tiny_data's texts are tokenized


def write_agnews_csv(path, rows, newline: str = "\n") -> Path:
    """Write ``rows`` of ``(label, title, description)`` as a canonical AG News CSV (no header)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(agnews_csv_text(rows, newline).encode("utf-8"))
    return path


def tiny_architecture(**overrides) -> Architecture:
    values = {"embed_len": 8, "hidden": (8,), "bidirectional": False, "fused": False, "dense": (),
              "pooling": "last", "dropout": 0.0, "embed_dropout": 0.0}
    values.update({k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    return Architecture(**values)


@pytest.fixture
def write_csv():
    """The ``write_agnews_csv`` helper as a fixture."""
    return write_agnews_csv


@pytest.fixture(scope="session")
def corpus_rows():
    return make_corpus(30, seed=0)


@pytest.fixture
def agnews_csv(tmp_path, corpus_rows) -> Path:
    return write_agnews_csv(tmp_path / "train.csv", corpus_rows)


@pytest.fixture(scope="session")
def repo_params() -> dict:
    """params.yaml of the repository, parsed but not validated (tests modify deep copies)."""
    return yaml.safe_load(PARAMS_YAML.read_text(encoding="utf-8"))


@pytest.fixture
def params_variant(tmp_path, repo_params):
    """Return ``write(modify)``: a params file at tmp_path built from a deep copy of params.yaml."""
    def write(modify=None) -> Path:
        data = copy.deepcopy(repo_params)
        if modify is not None:
            modify(data)
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path
    return write


@pytest.fixture
def settings():
    """Return ``make(**overrides)``: training settings for tiny, fast runs."""
    return lambda **overrides: dataclasses.replace(TINY_SETTINGS, **overrides)


@pytest.fixture(scope="session")
def ctx() -> mx.Context:
    return mx.cpu()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> SimpleNamespace:
    """A synthetic corpus run through the real pipeline functions: CSV -> tokens -> vocab -> splits."""
    folder = tmp_path_factory.mktemp("tiny_data")
    train_csv = write_agnews_csv(folder / "train.csv", make_corpus(60, seed=1))
    test_csv = write_agnews_csv(folder / "test.csv", make_corpus(20, seed=2))
    train_corpus, test_corpus = read_corpus(train_csv), read_corpus(test_csv)
    vocab = build_vocab(tokenize_all(train_corpus.texts))
    unk = vocab.token_to_idx[vocab.unknown_token]
    full = vectorize(tokenize_all(train_corpus.texts), vocab.token_to_idx, unk, train_corpus.labels)
    test = vectorize(tokenize_all(test_corpus.texts), vocab.token_to_idx, unk, test_corpus.labels)
    train_idx, val_idx = stratified_split(full.labels, 0.25, seed=0)
    return SimpleNamespace(vocab=vocab, vocab_size=len(vocab), pad_id=vocab.token_to_idx[vocab.padding_token],
                           train=full.subset(train_idx), val=full.subset(val_idx), test=test,
                           test_texts=test_corpus.texts, max_tokens=TINY_MAX_TOKENS)


@pytest.fixture(scope="session")
def trained(tiny_data, ctx) -> SimpleNamespace:
    """A tiny classifier trained once per session on ``tiny_data`` (shared, treat as read-only)."""
    approach = Approach("tiny", TINY_MAX_TOKENS, tiny_architecture(), TINY_SETTINGS)
    net = build_model(approach.architecture, tiny_data.vocab_size, ctx, seed=TINY_SEED)
    result = train(net, tiny_data.train, tiny_data.val, TINY_SETTINGS, TINY_MAX_TOKENS,
                   tiny_data.pad_id, ctx, seed=TINY_SEED, progress=False)
    # The metadata the train stage writes, built by the same function (pipeline.checkpoint.save).
    metadata = checkpoint.build_metadata(approach, tiny_data.vocab, lowercase=True, stop_words=None,
                                          seeds=[TINY_SEED])
    return SimpleNamespace(net=net, approach=approach, metadata=metadata, result=result)



@pytest.fixture(scope="session")
def dvc_project(tmp_path_factory) -> tuple[Path, dict]:
    """The repository copied into its own git repo, a full `dvc repro` on tiny params, committed on `main`.

    Built once per session and shared: tests read it, or change a copy (``tests.dvc_project.copy_project``).
    Returns ``(root, env)``; ``env`` puts this venv's `dvc` and `python` first on PATH.
    """
    return build_project(tmp_path_factory.mktemp("dvc_project"))


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """A small project built once by the real stage CLIs (no DVC): treat as read-only, change a copy."""
    from tests.stage_runs import (
        APPROACH,
        BASELINE,
        EMPTY_TEST_ROWS,
        EMPTY_TRAIN_ROWS,
        assert_ok,
        run_concurrently,
        run_stage,
        save_params,
        stage_env,
        tiny_params,
    )
    root = tmp_path_factory.mktemp("built")
    source = tmp_path_factory.mktemp("source")
    write_agnews_csv(source / "train.csv", make_corpus(15, seed=1) + EMPTY_TRAIN_ROWS)
    write_agnews_csv(source / "test.csv", make_corpus(5, seed=2) + EMPTY_TEST_ROWS)
    save_params(root, tiny_params())
    env = stage_env(source)
    for stage in ("download", "tokenize_vocab", "vectorize_cache", "embeddings", f"train --approach {APPROACH}"):
        assert_ok(run_stage(root, stage, env))
    jobs = [(root, f"evaluate --approach {APPROACH}", env), (root, f"baseline --baseline {BASELINE}", env)]
    for proc in run_concurrently(jobs):
        assert_ok(proc)
    assert_ok(run_stage(root, "summarize", env))
    return root


@pytest.fixture
def project(built, tmp_path) -> Path:
    """This test's own copy of ``built``."""
    root = tmp_path / "project"
    shutil.copytree(built, root)
    return root
