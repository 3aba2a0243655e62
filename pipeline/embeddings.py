"""Word vectors the models' embeddings start from, counted on the training part of the cache (no labels).

Words that appear near each other get similar vectors: co-occurrence counts within a window (a word at
distance ``d`` counts ``1/d``), positive pointwise mutual information (PPMI, the context counts raised to
``context_smoothing`` as in word2vec), and a truncated SVD, ``U * sqrt(S)`` (Levy, Goldberg and Dagan
2015, "Improving distributional similarity with lessons learned from word embeddings"). Seconds for the
whole AG News training split, where word2vec would need minutes and a library the stack does not have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from threadpoolctl import threadpool_limits

from pipeline.dataset import Split
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_open

DENSE_SVD_WORDS = 2000  # up to here the exact SVD of the dense matrix is cheap (tests, tiny corpora)


class EmbeddingsError(PipelineError, ValueError):
    """The word-vector file is missing or does not fit the vocabulary or the model."""


def cooccurrence(split: Split, vocab_size: int, window: int) -> sp.csr_matrix:
    """Symmetric ``vocab_size`` x ``vocab_size`` counts of words at distance 1..``window`` within a document,
    each pair weighted ``1 / distance``."""
    ids = split.ids.astype(np.int64)
    doc = split.document_index
    rows, cols, weights = [], [], []
    for distance in range(1, window + 1):
        same = doc[distance:] == doc[:-distance]
        left, right = ids[:-distance][same], ids[distance:][same]
        weight = np.full(left.shape, 1.0 / distance)
        rows += [left, right]
        cols += [right, left]
        weights += [weight, weight]
    counts = sp.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(vocab_size, vocab_size))
    return counts.tocsr()  # sums duplicate pairs


def ppmi(counts: sp.csr_matrix, context_smoothing: float) -> sp.csr_matrix:
    """``max(0, log(p(w, c) / (p(w) p_s(c))))`` where ``p_s`` is the context distribution raised to
    ``context_smoothing`` and renormalised (which keeps rare contexts from dominating)."""
    total = counts.sum()
    if total == 0:
        return sp.csr_matrix(counts.shape)
    word = np.asarray(counts.sum(axis=1)).ravel() / total
    context = np.asarray(counts.sum(axis=0)).ravel() ** context_smoothing
    context /= context.sum()
    pairs = counts.tocoo()
    pmi = np.log(pairs.data / total) - np.log(word[pairs.row]) - np.log(context[pairs.col])
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (pairs.row[keep], pairs.col[keep])), shape=counts.shape)


def svd_vectors(matrix: sp.csr_matrix, dim: int, seed: int) -> np.ndarray:
    """``U * sqrt(S)`` of the rank-``dim`` truncated SVD, components by decreasing singular value, each
    component's sign fixed (largest entry positive) so the result does not depend on the solver's.

    A vocabulary of at most ``DENSE_SVD_WORDS`` words (or not more than ``dim``) takes the exact dense SVD;
    components beyond its rank are zeros.
    """
    words = min(matrix.shape)
    # One BLAS thread: with two, the sums are split differently and the vectors differ in their last bits
    # from a run with one, which then changes every model trained from them (a stage takes one thread per
    # free core, so the count varies between runs). The 52k data's SVD: 3.0 s on one thread, 2.7-2.9 on two.
    with threadpool_limits(limits=1, user_api="blas"):
        if words > DENSE_SVD_WORDS and dim < words - 1:
            v0 = np.random.RandomState(seed).uniform(-1, 1, words)
            u, s, _ = svds(matrix.astype(np.float64), k=dim, v0=v0)
        else:
            u, s, _ = np.linalg.svd(matrix.toarray().astype(np.float64))
            u, s = u[:, :dim], s[:dim]
    order = np.argsort(-s, kind="stable")
    u, s = u[:, order], s[order]
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    vectors = np.zeros((matrix.shape[0], dim), dtype=np.float32)
    vectors[:, :u.shape[1]] = u * signs * np.sqrt(s)
    return vectors


def word_vectors(split: Split, vocab_size: int, window: int, context_smoothing: float, dim: int,
                 seed: int) -> np.ndarray:
    """The ``vocab_size`` x ``dim`` PPMI-SVD vectors of a split's documents (rows of unseen words are 0)."""
    return svd_vectors(ppmi(cooccurrence(split, vocab_size, window), context_smoothing), dim, seed)


def save_vectors(vectors: np.ndarray, path: str | Path) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, vectors.astype(np.float32), allow_pickle=False)


def load_vectors(path: str | Path, vocab_size: int, dim: int) -> np.ndarray:
    """The saved vectors, refused with the remedy when missing or counted for another vocabulary or
    ``embeddings.dim`` (stages run by hand after either changed, without ``dvc repro embeddings``)."""
    path = Path(path)
    if not path.is_file():
        raise EmbeddingsError(f"{path}: not found; run `dvc repro embeddings` first")
    try:
        vectors = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise EmbeddingsError(f"{path}: not a readable NumPy array ({exc}); rerun `dvc repro embeddings`") from None
    if vectors.shape != (vocab_size, dim):
        raise EmbeddingsError(f"{path}: holds vectors of shape {vectors.shape}, expected ({vocab_size}, {dim}) for "
                              f"the vocabulary's {vocab_size} words and embeddings.dim = {dim}; rerun "
                              "`dvc repro embeddings` after the vocabulary or params.yaml changed")
    return vectors


def initial_embedding(vectors: np.ndarray, embed_len: int, std: float) -> np.ndarray:
    """The first ``embed_len`` components (the rank-``embed_len`` SVD), scaled so their entries have
    standard deviation ``std``."""
    if embed_len > vectors.shape[1]:
        raise EmbeddingsError(f"an approach has embed_len {embed_len} but the word vectors have only "
                              f"{vectors.shape[1]} components: raise embeddings.dim in params.yaml to at least "
                              f"{embed_len}, or set train.embedding_init: xavier for that approach")
    part = vectors[:, :embed_len]
    spread = part.std()
    return (part * (std / spread) if spread > 0 else part).astype(np.float32)
