"""pipeline.embeddings: PPMI-SVD word vectors of the training part, and models that start from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from pipeline import embeddings
from pipeline.checkpoint import load_checkpoint
from pipeline.dataset import vectorize
from pipeline.embeddings import (
    EmbeddingsError,
    cooccurrence,
    initial_embedding,
    load_vectors,
    ppmi,
    save_vectors,
    svd_vectors,
    word_vectors,
)
from pipeline.model import build_model
from pipeline.tokenize import tokenize_all
from pipeline.vocab import build_vocab
from tests.conftest import tiny_architecture
from tests.corpus_gen import CLASS_WORDS, make_corpus


def split_of(docs: list[list[int]]):
    labels = np.zeros(len(docs), dtype=np.int32)
    return vectorize([[str(i) for i in doc] for doc in docs], {str(i): i for i in range(100)}, 0, labels)


def test_cooccurrence_weights_pairs_by_distance_within_documents_only():
    counts = cooccurrence(split_of([[2, 3, 4], [5, 6], [3, 2]]), vocab_size=7, window=2).toarray()
    expected = np.zeros((7, 7))
    for a, b, w in [(2, 3, 1.0), (3, 4, 1.0), (2, 4, 0.5), (5, 6, 1.0), (3, 2, 1.0)]:
        expected[a, b] += w
        expected[b, a] += w
    np.testing.assert_allclose(counts, expected)  # 4 and 5 are neighbours in the flat array, not in a document


def test_ppmi_is_the_positive_part_of_smoothed_pmi():
    rng = np.random.RandomState(0)
    dense = rng.poisson(1.0, size=(6, 6)).astype(float)
    dense = dense + dense.T
    total = dense.sum()
    context = dense.sum(axis=0) ** 0.75
    with np.errstate(divide="ignore"):
        pmi = np.log(dense / total) - np.log(dense.sum(axis=1, keepdims=True) / total) - np.log(context / context.sum())
    expected = np.where(dense > 0, np.maximum(pmi, 0), 0)
    np.testing.assert_allclose(ppmi(sp.csr_matrix(dense), 0.75).toarray(), expected, rtol=1e-12)
    assert (expected == 0).any() and (expected > 0).any()  # both sides of the cut are exercised


def test_the_truncated_solver_gives_the_exact_svd_vectors(monkeypatch):
    rng = np.random.RandomState(1)
    dense = np.where(rng.rand(80, 80) < 0.2, rng.rand(80, 80), 0.0)
    matrix = sp.csr_matrix(dense + dense.T)
    exact = svd_vectors(matrix, 5, seed=0)  # 80 words: the dense path
    monkeypatch.setattr(embeddings, "DENSE_SVD_WORDS", 10)
    truncated = svd_vectors(matrix, 5, seed=0)
    np.testing.assert_allclose(truncated, exact, atol=1e-5)  # signs fixed the same way by both paths
    np.testing.assert_array_equal(svd_vectors(matrix, 5, seed=0), truncated)  # deterministic


def test_components_beyond_a_tiny_vocabularys_rank_are_zeros():
    vectors = svd_vectors(sp.csr_matrix(np.diag([3.0, 2.0, 1.0])), 5, seed=0)
    assert vectors.shape == (3, 5)
    np.testing.assert_allclose(np.abs(vectors[:, :3]), np.diag(np.sqrt([3.0, 2.0, 1.0])), atol=1e-12)
    assert not vectors[:, 3:].any()


def test_words_of_one_topic_get_closer_vectors_than_words_of_different_topics():
    texts = [f"{title} {description}" for _, title, description in make_corpus(150, seed=3)]
    tokens = list(tokenize_all(texts))
    vocab = build_vocab(tokens)
    split = vectorize(tokens, vocab.token_to_idx, 0, np.zeros(len(texts), dtype=np.int32))
    vectors = word_vectors(split, len(vocab), window=5, context_smoothing=0.75, dim=8, seed=0)
    topics = [[vocab.token_to_idx[w] for w in words] for words in CLASS_WORDS]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)  # <pad> has no vector
    within = np.mean([unit[t] @ unit[t].T for t in topics])
    across = np.mean([unit[a] @ unit[b].T for i, a in enumerate(topics) for b in topics[i + 1:]])
    assert within > across + 0.3, (within, across)


def test_vectors_round_trip_and_refuse_another_vocabulary(tmp_path):
    path = tmp_path / "embeddings.npy"
    with pytest.raises(EmbeddingsError, match=r"embeddings.npy: not found; run `dvc repro embeddings`"):
        load_vectors(path, 10, 4)
    vectors = np.random.RandomState(0).randn(10, 4).astype(np.float32)
    save_vectors(vectors, path)
    np.testing.assert_array_equal(load_vectors(path, 10, 4), vectors)
    with pytest.raises(EmbeddingsError, match=r"shape \(10, 4\), expected \(12, 4\) for the vocabulary's 12 words"):
        load_vectors(path, 12, 4)
    with pytest.raises(EmbeddingsError, match=r"shape \(10, 4\), expected \(10, 8\) .* embeddings.dim = 8; rerun "
                       r"`dvc repro embeddings`"):
        load_vectors(path, 10, 8)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(EmbeddingsError, match="not a readable NumPy array"):
        load_vectors(path, 10, 4)


def test_initial_embedding_takes_the_leading_components_at_the_asked_spread():
    vectors = np.random.RandomState(2).randn(50, 6).astype(np.float32) * [5, 4, 3, 2, 1, 1]
    start = initial_embedding(vectors, 4, std=0.3)
    assert start.shape == (50, 4)
    assert start.std() == pytest.approx(0.3, rel=1e-5)
    np.testing.assert_allclose(start / start.std(), vectors[:, :4] / vectors[:, :4].std(), rtol=1e-5)
    with pytest.raises(EmbeddingsError, match=r"embed_len 8 but the word vectors have only 6 components.*"
                                              r"embeddings.dim"):
        initial_embedding(vectors, 8, std=0.3)


def test_a_model_built_on_vectors_starts_from_them_and_draws_every_other_weight_as_without():
    architecture = tiny_architecture(embed_len=4, hidden=[5])
    start = np.random.RandomState(3).randn(30, 4).astype(np.float32)
    plain = build_model(architecture, 30, mx.cpu(), seed=7)
    seeded = build_model(architecture, 30, mx.cpu(), seed=7, embedding=start)
    np.testing.assert_array_equal(seeded.embedding.weight.data().asnumpy(), start)
    pairs = list(zip(plain.collect_params().items(), seeded.collect_params().values(), strict=True))
    others = [(p, q) for (name, p), q in pairs if not name.endswith("embedding0_weight")]
    assert len(others) == len(pairs) - 1 > 0
    for p, q in others:
        np.testing.assert_array_equal(p.data().asnumpy(), q.data().asnumpy())


@pytest.mark.parametrize("init", ["ppmi_svd", "xavier"])
def test_the_train_stage_starts_the_embedding_from_the_word_vectors_only_when_asked(project, init):
    from tests.stage_runs import APPROACH, assert_ok, edit_params, run_stage

    def barely_train(params):  # one epoch at a learning rate that cannot move a weight measurably
        params["train"].update(epochs=1, learning_rate=1e-9, embedding_init=init, embedding_std=0.3)
    edit_params(project, barely_train)
    assert_ok(run_stage(project, f"train --approach {APPROACH}"))
    vocab_size = len(json.loads((project / "data/vocab.json").read_text())["idx_to_token"])
    net, _ = load_checkpoint(project / "models" / APPROACH, vocab_size, mx.cpu())
    trained = net.embedding.weight.data().asnumpy()
    dim = yaml.safe_load((project / "params.yaml").read_text())["embeddings"]["dim"]
    start = initial_embedding(load_vectors(project / "data/embeddings.npy", vocab_size, dim), trained.shape[1], 0.3)
    assert np.abs(start).max() > 0.1
    if init == "ppmi_svd":
        np.testing.assert_allclose(trained, start, atol=1e-6)
    else:
        assert np.abs(trained - start).max() > 0.1


THREAD_COUNT = """
import os
import numpy as np
import mxnet as mx
from pipeline.model import build_model
from tests.conftest import tiny_architecture

def threads():
    return len(os.listdir("/proc/self/task"))

architecture = tiny_architecture(embed_len=40, hidden=[4])
vectors = np.random.RandomState(0).randn(40000, 40).astype(np.float32)
build_model(architecture, 40000, mx.cpu(), seed=0)
mx.nd.waitall()
before = threads()
build_model(architecture, 40000, mx.cpu(), seed=0, embedding=vectors)
mx.nd.waitall()
after = threads()
mx.nd.array(vectors)  # the way that does start a team on this thread: proves the count can tell
print(before, after, threads())
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
def test_starting_from_vectors_starts_no_openmp_team_on_the_main_thread():
    """A second OpenMP team (from a copy on the calling thread) made two-thread training 30 % slower."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", THREAD_COUNT], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    before, after, control = map(int, out[-3:])
    assert after == before, (before, after)
    assert control > after, (after, control)


SVD_DIGEST = """
import hashlib
import numpy as np
import scipy.sparse as sp
from pipeline.embeddings import svd_vectors
m = sp.random(3000, 3000, density=0.01, random_state=np.random.RandomState(0), format="csr")
print(hashlib.md5(svd_vectors(m + m.T, 40, seed=0).tobytes()).hexdigest())
"""


def test_the_vectors_are_the_same_bits_whatever_the_thread_count():
    """A stage takes one thread per free core; the truncated SVD (3,000 words: not the dense path) must not
    depend on it, or every model trained from the vectors would change with the machine's load."""
    digests = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        digests.add(subprocess.run([sys.executable, "-c", SVD_DIGEST], env=env, capture_output=True, text=True,
                                   timeout=120, check=True).stdout.strip())
    assert len(digests) == 1, digests
