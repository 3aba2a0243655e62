"""A generated full-scale AG News-like corpus: 127,600 documents, ~66k distinct words.

Document lengths follow the token-count quantiles of the real AG News test split (title + " " +
description, regex ``\\w+``); word frequencies follow Zipf's law, as natural text does.
"""

from __future__ import annotations

import numpy as np

# Percentiles 0, 5, ..., 100 of tokens per document in the canonical AG News test split.
LENGTH_PERCENTILES = [14, 24, 27, 30, 31, 33, 34, 35, 36, 37, 39, 40, 41, 42, 43, 44, 46, 48, 51, 57, 145]
TRAIN_DOCS, TEST_DOCS = 120_000, 7_600
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def make_words(n: int, rng: np.random.RandomState) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        for length in rng.randint(2, 11, size=n):
            words.add("".join(rng.choice(LETTERS, size=length)))
            if len(words) == n:
                break
    return sorted(words)


def sample_lengths(n: int, rng: np.random.RandomState) -> np.ndarray:
    q = rng.uniform(0, 100, size=n)
    return np.interp(q, np.linspace(0, 100, len(LENGTH_PERCENTILES)), LENGTH_PERCENTILES).astype(int)


def make_texts(n_docs: int, vocab_size: int = 70_000, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n_docs`` texts with Title-cased first words and punctuation, and labels 0..3."""
    rng = np.random.RandomState(seed)
    words = np.array(make_words(vocab_size, rng))
    ranks = np.arange(1, vocab_size + 1)
    probs = 1.0 / ranks ** 1.07
    probs /= probs.sum()
    lengths = sample_lengths(n_docs, rng)
    ids = rng.choice(vocab_size, size=int(lengths.sum()), p=probs)
    texts, start = [], 0
    for length in lengths:
        doc = words[ids[start:start + length]].tolist()
        start += length
        doc[0] = doc[0].capitalize()
        texts.append(" ".join(doc[: length // 2]) + ", " + " ".join(doc[length // 2:]) + ".")
    return texts, rng.randint(0, 4, size=n_docs).astype(np.int32)
