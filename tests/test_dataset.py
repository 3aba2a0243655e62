"""pipeline.dataset: ragged int32 token ids, padding at batch time, npz storage, seeded splits, batching."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.dataset import (
    CacheError,
    Split,
    SplitError,
    length_batches,
    load_split,
    pad_batch,
    save_split,
    stratified_split,
    vectorize,
)

VOCAB = {"<unk>": 0, "<pad>": 1, "a": 2, "b": 3, "c": 4, "d": 5, "e": 6}
PAD = 1


def docs_split() -> Split:
    tokens = [["a", "b", "c"], [], ["d", "zzz", "e", "a", "b", "c", "d"], ["e"], ["b", "b"]]
    return vectorize(tokens, VOCAB, 0, np.array([0, 1, 2, 3, 0]))


def test_vectorize_ragged_ids():
    split = docs_split()
    assert split.ids.dtype == np.int32 and split.offsets.dtype == np.int64
    assert split.labels.dtype == np.int32 and split.rows.dtype == np.int64
    assert split.ids.tolist() == [2, 3, 4, 5, 0, 6, 2, 3, 4, 5, 6, 3, 3]
    assert split.offsets.tolist() == [0, 3, 3, 10, 11, 13]
    assert split.lengths.tolist() == [3, 0, 7, 1, 2]
    assert split.labels.tolist() == [0, 1, 2, 3, 0]
    assert split.rows.tolist() == [0, 1, 2, 3, 4]
    assert len(split) == 5
    assert split.document(2).tolist() == [5, 0, 6, 2, 3, 4, 5]
    assert split.document(1).tolist() == []


def test_vectorize_consumes_a_generator():
    split = vectorize((t for t in [["a"], ["b", "c"]]), VOCAB, 0, [1, 2])
    assert split.ids.tolist() == [2, 3, 4]
    assert split.offsets.tolist() == [0, 1, 3]


def test_subset_keeps_documents_labels_and_rows():
    split = docs_split()
    sub = split.subset(np.array([4, 1, 2]))
    assert len(sub) == 3
    assert sub.offsets.tolist() == [0, 2, 2, 9]
    assert [sub.document(i).tolist() for i in range(3)] == [split.document(4).tolist(), [],
                                                            split.document(2).tolist()]
    assert sub.labels.tolist() == [0, 1, 2]
    assert sub.rows.tolist() == [4, 1, 2]
    assert sub.ids.dtype == np.int32
    empty = split.subset(np.array([], dtype=np.int64))
    assert len(empty) == 0 and empty.offsets.tolist() == [0] and len(empty.ids) == 0


def test_document_index_names_each_tokens_document_and_skips_empty_ones():
    split = docs_split()
    np.testing.assert_array_equal(split.document_index, [0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 3, 4, 4])
    assert len(split.document_index) == len(split.ids)


def test_pad_batch_right_padding():
    split = docs_split()
    tokens, lengths = pad_batch(split, np.array([0, 3, 4]), max_tokens=10, pad_id=PAD)
    assert tokens.dtype == np.int32 and lengths.dtype == np.int32
    assert tokens.tolist() == [[2, 3, 4], [6, 1, 1], [3, 3, 1]]
    assert lengths.tolist() == [3, 1, 2]


def test_pad_batch_clips_to_max_tokens():
    split = docs_split()
    tokens, lengths = pad_batch(split, np.array([2, 0]), max_tokens=4, pad_id=PAD)
    assert tokens.tolist() == [[5, 0, 6, 2], [2, 3, 4, 1]]  # the first max_tokens tokens are kept
    assert lengths.tolist() == [4, 3]


def test_pad_batch_bucket_multiple():
    split = docs_split()
    tokens, lengths = pad_batch(split, np.array([0, 4]), max_tokens=50, pad_id=PAD, multiple=5)
    assert tokens.shape == (2, 5)
    assert tokens.tolist() == [[2, 3, 4, 1, 1], [3, 3, 1, 1, 1]]
    assert lengths.tolist() == [3, 2]
    tokens, _ = pad_batch(split, np.array([2]), max_tokens=50, pad_id=PAD, multiple=5)
    assert tokens.shape == (1, 10)
    # Rounding up never goes past max_tokens.
    tokens, lengths = pad_batch(split, np.array([2]), max_tokens=6, pad_id=PAD, multiple=5)
    assert tokens.shape == (1, 6) and lengths.tolist() == [6]


def test_pad_batch_empty_document_gets_one_pad_step():
    split = docs_split()
    tokens, lengths = pad_batch(split, np.array([1]), max_tokens=10, pad_id=PAD)
    assert tokens.tolist() == [[PAD]]
    assert lengths.tolist() == [1]
    tokens, lengths = pad_batch(split, np.array([1, 3]), max_tokens=10, pad_id=PAD, multiple=4)
    assert tokens.tolist() == [[PAD] * 4, [6, PAD, PAD, PAD]]
    assert lengths.tolist() == [1, 1]


def test_pad_batch_never_reads_a_neighbouring_document():
    split = docs_split()
    for i in range(len(split)):
        tokens, lengths = pad_batch(split, np.array([i]), max_tokens=100, pad_id=99)
        doc = split.document(i).tolist()
        assert tokens[0, :len(doc)].tolist() == doc
        assert set(tokens[0, len(doc):].tolist()) <= {99}


def test_pad_batch_on_a_split_of_only_empty_documents():
    split = vectorize([[], []], VOCAB, 0, [0, 1])
    tokens, lengths = pad_batch(split, np.array([0, 1]), max_tokens=5, pad_id=PAD)
    assert tokens.tolist() == [[PAD], [PAD]]
    assert lengths.tolist() == [1, 1]


def test_save_load_roundtrip_without_pickle(tmp_path):
    split = docs_split()
    path = tmp_path / "cache" / "train.npz"
    save_split(split, path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["ids", "labels", "offsets", "rows"]
        assert data["ids"].dtype == np.int32
        assert data["labels"].dtype == np.int32
    loaded = load_split(path, vocab_size=len(VOCAB))
    for key in ("ids", "offsets", "labels", "rows"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(split, key))
        assert getattr(loaded, key).dtype == getattr(split, key).dtype
    assert not [p for p in path.parent.iterdir() if p.name != "train.npz"]


@pytest.mark.parametrize("keep", [0, 3, 10, 100, -30])
def test_truncated_file_raises_cache_error(tmp_path, keep):
    path = tmp_path / "train.npz"
    save_split(docs_split(), path)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(CacheError) as err:
        load_split(path)
    assert str(path) in str(err.value)


def test_pickled_object_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, ids=np.array([object()], dtype=object), offsets=np.array([0, 1]),
             labels=np.array([0]), rows=np.array([0]))
    with pytest.raises(CacheError, match="evil.npz"):
        load_split(path)


def test_missing_file_and_missing_keys(tmp_path):
    with pytest.raises(CacheError, match="not found"):
        load_split(tmp_path / "absent.npz")
    path = tmp_path / "partial.npz"
    np.savez(path, ids=np.array([2], dtype=np.int32), offsets=np.array([0, 1]))
    with pytest.raises(CacheError, match="lacks labels, rows"):
        load_split(path)


def test_inconsistent_offsets(tmp_path):
    split = docs_split()
    bad = Split(split.ids, split.offsets[:-1], split.labels, split.rows)
    path = tmp_path / "bad.npz"
    save_split(bad, path)
    with pytest.raises(CacheError, match="do not fit together"):
        load_split(path)


def test_ids_beyond_vocab_size(tmp_path):
    path = tmp_path / "test.npz"
    save_split(docs_split(), path)
    assert len(load_split(path, vocab_size=7)) == 5
    with pytest.raises(CacheError) as err:
        load_split(path, vocab_size=6)
    assert str(path) in str(err.value)
    assert "6 entries" in str(err.value)
    assert "reach 6" in str(err.value)


def test_negative_ids_are_refused(tmp_path):
    split = docs_split()
    ids = split.ids.copy()
    ids[0] = -1
    path = tmp_path / "neg.npz"
    save_split(Split(ids, split.offsets, split.labels, split.rows), path)
    with pytest.raises(CacheError, match="neg.npz"):
        load_split(path, vocab_size=7)


def labels_with_counts(counts, seed=0):
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)]).astype(np.int32)
    return np.random.RandomState(seed).permutation(labels)


def test_stratified_split_is_seeded_disjoint_and_complete():
    labels = labels_with_counts([100, 60, 40, 200])
    train, val = stratified_split(labels, 0.1, seed=3)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    again_train, again_val = stratified_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(val, again_val)
    _, other_val = stratified_split(labels, 0.1, seed=4)
    assert not np.array_equal(val, other_val)


def test_stratified_split_keeps_class_proportions():
    counts = [100, 60, 40, 200]
    labels = labels_with_counts(counts)
    train, val = stratified_split(labels, 0.25, seed=0)
    assert np.bincount(labels[val], minlength=4).tolist() == [25, 15, 10, 50]
    assert np.bincount(labels[train], minlength=4).tolist() == [75, 45, 30, 150]


@pytest.mark.parametrize("labels, fraction, message", [
    ([0, 0, 1], 0.5, r"class Sports \(label 2\) has only 1 training row; .* at least 2 rows of every class"),
    ([0, 1] * 200, 0.001, "leaves 399 training and 1 validation documents out of 400 training rows; "
                          "expected at least one of each of the 2 classes in each part"),
    ([0, 1] * 2, 0.9, "leaves 0 training and 4 validation documents"),
])
def test_stratified_split_names_what_is_too_small(labels, fraction, message):
    with pytest.raises(SplitError, match=message):
        stratified_split(np.asarray(labels, dtype=np.int32), fraction, seed=0)


def test_length_batches_without_rng_sorts_by_length():
    lengths = np.array([5, 1, 9, 3, 3, 7, 0])
    batches = length_batches(lengths, 3, rng=None)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert lengths[flat].tolist() == sorted(lengths.tolist())


@pytest.mark.parametrize("n, batch_size, pool", [(1000, 32, 3), (7, 10, 50), (64, 8, 1), (0, 4, 2)])
def test_length_batches_with_rng_covers_every_index_once(n, batch_size, pool):
    lengths = np.random.RandomState(1).randint(0, 40, size=n)
    batches = length_batches(lengths, batch_size, np.random.RandomState(5), pool=pool)
    flat = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert sorted(flat.tolist()) == list(range(n))
    assert all(0 < len(b) <= batch_size for b in batches)
    again = length_batches(lengths, batch_size, np.random.RandomState(5), pool=pool)
    assert [b.tolist() for b in again] == [b.tolist() for b in batches]


def test_length_batches_with_rng_groups_similar_lengths_and_shuffles():
    lengths = np.random.RandomState(2).randint(1, 100, size=2000)
    batches = length_batches(lengths, 50, np.random.RandomState(0), pool=40)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 10  # sorted inside the pool: each batch has similar lengths
    firsts = [int(lengths[b].min()) for b in batches]
    assert firsts != sorted(firsts)  # the batch order itself is shuffled
    other = length_batches(lengths, 50, np.random.RandomState(1), pool=40)
    assert [b.tolist() for b in other] != [b.tolist() for b in batches]
