"""The classic strong baseline: TF-IDF + logistic regression over the same cached token ids."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from pipeline.cache import Split


def bag_of_ids(split: Split, vocab_size: int, ignore: tuple[int, ...] = (0, 1)) -> sp.csr_matrix:
    """Document-term count matrix built directly from the ragged id arrays (no re-tokenizing).

    ``ignore`` drops ``<unk>`` and ``<pad>``: like a vectorizer fitted on the training split, the
    baseline sees no feature for words outside the training vocabulary.
    """
    rows = np.repeat(np.arange(len(split)), split.lengths)
    keep = ~np.isin(split.ids, ignore)
    counts = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], split.ids[keep])),
                           shape=(len(split), vocab_size))
    counts.sum_duplicates()
    return counts


def train_baseline(train: Split, vocab_size: int, C: float, sublinear_tf: bool, max_iter: int, seed: int):
    model = make_pipeline(TfidfTransformer(sublinear_tf=sublinear_tf),
                          LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    model.fit(bag_of_ids(train, vocab_size), train.labels)
    return model


def predict_baseline(model, split: Split, vocab_size: int) -> np.ndarray:
    return model.predict(bag_of_ids(split, vocab_size)).astype(np.int32)
