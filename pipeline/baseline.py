"""Strong linear baselines: TF-IDF of word 1..n-grams + logistic regression or a linear SVM.

Features come straight from the cached token ids (no re-tokenizing); n-grams never span a word
outside the training vocabulary. The regularisation strength ``C`` is chosen on the validation split
from the grid in params.yaml, then the model is used as fitted on the training split: the test split
plays no part in any choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

from pipeline.dataset import Split
from pipeline.params import Baseline

log = logging.getLogger(__name__)

MODELS = ("logistic_regression", "linear_svm")
IGNORED_IDS = (0, 1)  # <unk> and <pad>: like a vectorizer fitted on train, no feature for unseen words


def ngram_codes(split: Split, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(document index, integer code) of every word n-gram of every document.

    An n-gram of ids ``(a, b, ...)`` is coded as the base-``vocab_size`` number ``a b ...``, offset so
    that codes of different ``n`` never meet; int64 holds them up to trigrams of a 2-million-word vocabulary.
    """
    ids = split.ids.astype(np.int64)
    doc = split.document_index
    if len(ids) < n:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    count = len(ids) - n + 1
    code = np.zeros(count, dtype=np.int64)
    keep = doc[n - 1:] == doc[:count]  # all n words in one document
    for k in range(n):
        part = ids[k:k + count]
        keep &= ~np.isin(part, IGNORED_IDS)
        code = code * vocab_size + part
    offset = sum(vocab_size ** k for k in range(1, n))  # unigram codes 0.., bigrams after them, ...
    return doc[:count][keep], code[keep] + offset


@dataclass
class NgramVocabulary:
    """The n-gram codes seen in the training split, sorted: a feature is a position in ``codes``."""

    codes: np.ndarray
    ngram_max: int
    vocab_size: int

    @classmethod
    def fit(cls, split: Split, ngram_max: int, vocab_size: int) -> NgramVocabulary:
        codes = [np.unique(ngram_codes(split, n, vocab_size)[1]) for n in range(1, ngram_max + 1)]
        return cls(np.concatenate(codes), ngram_max, vocab_size)

    def counts(self, split: Split) -> sp.csr_matrix:
        """Document-by-feature count matrix; n-grams not seen in training are dropped."""
        docs, codes = zip(*(ngram_codes(split, n, self.vocab_size) for n in range(1, self.ngram_max + 1)),
                          strict=True)
        docs, codes = np.concatenate(docs), np.concatenate(codes)
        column = np.searchsorted(self.codes, codes).clip(max=len(self.codes) - 1)
        known = self.codes[column] == codes
        matrix = sp.csr_matrix((np.ones(int(known.sum()), dtype=np.float32), (docs[known], column[known])),
                               shape=(len(split), len(self.codes)))
        matrix.sum_duplicates()
        return matrix


def make_classifier(model: str, C: float, sublinear_tf: bool, max_iter: int, seed: int) -> Pipeline:
    if model == "logistic_regression":
        linear = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    elif model == "linear_svm":
        linear = LinearSVC(C=C, max_iter=max_iter, random_state=seed)
    else:
        raise ValueError(f"unknown baseline model {model!r}; expected one of {', '.join(MODELS)}")
    return make_pipeline(TfidfTransformer(sublinear_tf=sublinear_tf), linear)


@dataclass
class FittedBaseline:
    features: NgramVocabulary
    classifier: Pipeline
    C: float
    val_accuracy_by_C: dict[float, float]

    def predict(self, split: Split) -> np.ndarray:
        return self.classifier.predict(self.features.counts(split)).astype(np.int32)


def fit_baseline(train: Split, val: Split, vocab_size: int, settings: Baseline, seed: int) -> FittedBaseline:
    """Fit one model per ``C`` of the grid on ``train``; keep the most accurate on ``val``.

    Ties go to the smaller ``C`` (the stronger regularisation), so the choice does not depend on
    the order of the grid.
    """
    features = NgramVocabulary.fit(train, settings.ngram_max, vocab_size)
    x_train, x_val = features.counts(train), features.counts(val)
    log.info("%d n-gram features (n <= %d)", len(features.codes), settings.ngram_max)
    scores: dict[float, float] = {}
    best: tuple[float, float, Pipeline] | None = None
    for C in sorted(settings.C):
        classifier = make_classifier(settings.model, C, settings.sublinear_tf, settings.max_iter, seed)
        classifier.fit(x_train, train.labels)
        scores[C] = round(float((classifier.predict(x_val) == val.labels).mean()), 6)
        log.info("C = %g: validation accuracy %.4f", C, scores[C])
        if best is None or scores[C] > best[0]:
            best = (scores[C], C, classifier)
    assert best is not None  # params validation requires a non-empty grid
    return FittedBaseline(features, best[2], best[1], scores)
