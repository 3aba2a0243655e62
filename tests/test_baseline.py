"""pipeline.baseline: n-gram counts from cached ids, and C chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.baseline import NgramVocabulary, fit_baseline, ngram_codes
from pipeline.dataset import vectorize
from pipeline.params import Baseline

VOCAB = {"<unk>": 0, "<pad>": 1, "a": 2, "b": 3, "c": 4}
V = len(VOCAB)


def _split(docs):
    return vectorize(docs, VOCAB, 0, np.arange(len(docs)) % 4)


def test_unigram_counts_hand_example():
    split = _split([["a", "a", "b", "zzz"], [], ["c", "<pad>", "zzz", "zzz"], ["b", "c", "b", "a", "b"]])
    features = NgramVocabulary.fit(split, 1, V)
    assert features.codes.tolist() == [2, 3, 4]  # <unk> and <pad> get no feature
    matrix = features.counts(split)
    assert matrix.toarray().tolist() == [[2, 1, 0], [0, 0, 0], [0, 0, 1], [1, 3, 1]]
    assert matrix.dtype == np.float32


def test_bigrams_stay_inside_a_document_and_skip_unknown_words():
    split = _split([["a", "b", "zzz", "c"], ["c", "a"]])
    docs, codes = ngram_codes(split, 2, V)
    # "a b" in document 0 and "c a" in document 1; "b zzz", "zzz c" touch <unk>; "c" + "c" would
    # join the two documents and must not exist.
    assert docs.tolist() == [0, 1]
    assert codes.tolist() == [V + 2 * V + 3, V + 4 * V + 2]


def test_counts_drop_ngrams_unseen_in_training():
    train = _split([["a", "b"], ["b", "c"]])
    features = NgramVocabulary.fit(train, 2, V)
    assert len(features.codes) == 3 + 2  # unigrams a, b, c; bigrams "a b", "b c"
    test = _split([["a", "b", "c", "a"]])  # "c a" was never seen: no column
    row = features.counts(test).toarray()[0]
    assert row.sum() == 4 + 2


@pytest.mark.parametrize("model", ["logistic_regression", "linear_svm"])
def test_fit_baseline_learns_and_scores_every_C_on_validation(tiny_data, model):
    settings = Baseline(ngram_max=2, model=model, C=(10.0, 0.5), sublinear_tf=True, max_iter=1000)
    fitted = fit_baseline(tiny_data.train, tiny_data.val, tiny_data.vocab_size, settings, seed=0)
    assert list(fitted.val_accuracy_by_C) == [0.5, 10.0]  # tried from the strongest regularisation up
    assert fitted.val_accuracy_by_C == {0.5: 1.0, 10.0: 1.0}  # the generated classes are separable
    assert fitted.C == 0.5  # a tie goes to the smaller C
    predicted = fitted.predict(tiny_data.test)
    assert predicted.dtype == np.int32 and predicted.shape == (len(tiny_data.test),)
    assert (predicted == tiny_data.test.labels).mean() > 0.9


def test_fit_baseline_scores_on_the_validation_labels(tiny_data):
    """With every validation label rotated to a wrong class, no C can score: the split is really used."""
    val = tiny_data.val
    wrong = type(val)(val.ids, val.offsets, (val.labels + 1) % 4, val.rows)
    settings = Baseline(ngram_max=1, model="linear_svm", C=(1.0,), sublinear_tf=True, max_iter=1000)
    fitted = fit_baseline(tiny_data.train, wrong, tiny_data.vocab_size, settings, seed=0)
    assert fitted.val_accuracy_by_C == {1.0: 0.0}
