"""pipeline.baseline: the document-term counts and a TF-IDF + logistic regression that learns."""

from __future__ import annotations

import numpy as np

from pipeline.baseline import bag_of_ids, predict_baseline, train_baseline
from pipeline.cache import vectorize

VOCAB = {"<unk>": 0, "<pad>": 1, "a": 2, "b": 3, "c": 4}


def test_bag_of_ids_counts_hand_example():
    tokens = [["a", "a", "b", "zzz"], [], ["c", "<pad>", "zzz", "zzz"], ["b", "c", "b", "a", "b"]]
    split = vectorize(tokens, VOCAB, 0, [0, 1, 2, 3])
    matrix = bag_of_ids(split, vocab_size=len(VOCAB))
    assert matrix.shape == (4, 5)
    assert matrix.toarray().tolist() == [[0, 0, 2, 1, 0],
                                         [0, 0, 0, 0, 0],
                                         [0, 0, 0, 0, 1],
                                         [0, 0, 1, 3, 1]]
    assert matrix.nnz == 6  # duplicates summed, <unk> and <pad> not stored at all
    assert matrix.dtype == np.float32


def test_bag_of_ids_custom_ignore_and_empty_split():
    split = vectorize([["a", "zzz"]], VOCAB, 0, [0])
    assert bag_of_ids(split, 5, ignore=()).toarray().tolist() == [[1, 0, 1, 0, 0]]
    empty = vectorize([], VOCAB, 0, np.array([], dtype=np.int32))
    assert bag_of_ids(empty, 5).shape == (0, 5)


def test_baseline_learns_the_synthetic_corpus(tiny_data):
    model = train_baseline(tiny_data.train, tiny_data.vocab_size, C=10.0, sublinear_tf=True, max_iter=1000,
                           seed=0)
    predicted = predict_baseline(model, tiny_data.test, tiny_data.vocab_size)
    assert predicted.dtype == np.int32
    assert predicted.shape == (len(tiny_data.test),)
    assert (predicted == tiny_data.test.labels).mean() > 0.9
    assert set(np.unique(predicted)) == {0, 1, 2, 3}
