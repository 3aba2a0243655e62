"""The dataset: every document as int32 token ids stored once (the ``data/cache`` files), ragged, padded
only when a batch is cut; the seeded train/validation split and the length-bucketed batches.

A split is one ``.npz`` holding ``ids`` (all documents' ids concatenated), ``offsets`` (document
``i`` is ``ids[offsets[i]:offsets[i+1]]``), ``labels`` and ``rows`` (the document's row in its CSV).
Storing documents unclipped means a new ``max_tokens`` needs no re-vectorizing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from pipeline import CLASS_NAMES, NUM_CLASSES
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_open

KEYS = ("ids", "offsets", "labels", "rows")


class CacheError(PipelineError, ValueError):
    """A cache file is missing, truncated or does not fit the vocabulary."""


@dataclass(frozen=True)
class Split:
    ids: np.ndarray      # int32, all tokens of all documents
    offsets: np.ndarray  # int64, len(documents) + 1
    labels: np.ndarray   # int32, 0-based classes
    rows: np.ndarray     # int64, row number of each document in its source CSV

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def document_index(self) -> np.ndarray:
        """For every token in ``ids``, the index of the document it belongs to."""
        return np.repeat(np.arange(len(self)), self.lengths)

    def subset(self, index: np.ndarray) -> Split:
        """The documents at ``index`` as a new split (used to carve validation out of train)."""
        starts, ends = self.offsets[index], self.offsets[index + 1]
        lengths = ends - starts
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Split(self.ids[gather], offsets, self.labels[index], self.rows[index])

    def document(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]


def vectorize(token_lists: Iterable[Sequence[str]], token_to_idx: dict[str, int], unk_id: int,
              labels: np.ndarray) -> Split:
    """Map every token to its id (``unk_id`` when unknown) without clipping or padding."""
    lookup = token_to_idx.get
    lengths: list[int] = []
    flat: list[int] = []
    for tokens in token_lists:
        flat.extend([lookup(t, unk_id) for t in tokens])
        lengths.append(len(tokens))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Split(np.asarray(flat, dtype=np.int32), offsets, np.asarray(labels, dtype=np.int32),
                 np.arange(len(lengths), dtype=np.int64))


def save_split(split: Split, path: str | Path) -> None:
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **{key: getattr(split, key) for key in KEYS})


def load_split(path: str | Path, vocab_size: int | None = None) -> Split:
    """Load a split without pickle and check that it is whole and fits ``vocab_size``."""
    path = Path(path)
    if not path.is_file():
        raise CacheError(f"{path}: cache file not found; run `dvc repro vectorize_cache`")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise CacheError(f"{path}: cache file lacks {', '.join(missing)}; rerun vectorize_cache")
            arrays = {k: data[k] for k in KEYS}
    except CacheError:
        raise
    except Exception as exc:  # zipfile/np errors on a truncated or foreign file
        raise CacheError(f"{path}: cannot read the cache ({exc}); the file is truncated or corrupt, "
                         "rerun `dvc repro vectorize_cache`") from None
    for key, array in arrays.items():
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise CacheError(f"{path}: '{key}' is a {array.ndim}-d {array.dtype} array, expected 1-d "
                             "integers; the file was not written by vectorize_cache, rerun it")
    split = Split(arrays["ids"].astype(np.int32, copy=False), arrays["offsets"].astype(np.int64, copy=False),
                  arrays["labels"].astype(np.int32, copy=False), arrays["rows"].astype(np.int64, copy=False))
    n = len(split.labels)
    if len(split.offsets) != n + 1 or split.offsets[0] != 0 or split.offsets[-1] != len(split.ids) \
            or np.any(np.diff(split.offsets) < 0) or len(split.rows) != n:
        raise CacheError(f"{path}: ids, offsets, labels and rows do not fit together; rerun vectorize_cache")
    if n and (split.labels.min() < 0 or split.labels.max() >= NUM_CLASSES):
        raise CacheError(f"{path}: labels span {int(split.labels.min())}..{int(split.labels.max())}, expected "
                         f"class ids 0..{NUM_CLASSES - 1}; rerun vectorize_cache")
    if vocab_size is not None and len(split.ids) and (split.ids.min() < 0 or split.ids.max() >= vocab_size):
        low, high = int(split.ids.min()), int(split.ids.max())
        raise CacheError(f"{path}: token ids span {low}..{high} (reach {high}), but the current vocabulary has "
                         f"{vocab_size} entries (ids 0..{vocab_size - 1}); the cache was built with another "
                         "vocabulary, rerun `dvc repro vectorize_cache`")
    return split


class SplitError(PipelineError, ValueError):
    """The training rows are too few to hold out a stratified validation split."""


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, validation) index arrays, each sorted (scikit-learn's ``train_test_split``).

    Every class present must reach both parts, so each needs two rows and each part at least one row per
    class; :class:`SplitError` says which is short (scikit-learn's own messages name neither class nor rows).
    """
    classes, counts = np.unique(labels, return_counts=True)
    if len(counts) and counts.min() < 2:
        rare = int(classes[counts.argmin()])
        raise SplitError(f"cannot be stratified: class {CLASS_NAMES[rare]} (label {rare + 1}) has only "
                         f"{counts.min()} training row; a stratified validation split needs at least 2 rows "
                         "of every class present")
    try:
        train, val = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels,
                                      random_state=seed)
    except ValueError:  # a part smaller than the number of classes (or empty)
        n_val = math.ceil(fraction * len(labels))  # scikit-learn's rounding
        raise SplitError(f"leaves {len(labels) - n_val} training and {n_val} validation documents out of "
                         f"{len(labels)} training rows; expected at least one of each of the {len(classes)} "
                         "classes in each part") from None
    return np.sort(train), np.sort(val)


def pad_batch(split: Split, index: np.ndarray, max_tokens: int, pad_id: int,
              multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cut the documents at ``index`` into an int32 ``(batch, T)`` matrix padded on the right.

    Documents keep their first ``max_tokens`` tokens; ``T`` is the longest kept length rounded up to
    ``multiple`` (fewer distinct shapes for the hybridized graph). Empty documents get length 1 and a
    single pad token, so the model always reads at least one step. Returns ``(tokens, lengths)``.
    """
    starts = split.offsets[index]
    lengths = np.minimum(split.offsets[index + 1] - starts, max_tokens)
    lengths = np.maximum(lengths, 1)
    width = int(lengths.max()) if len(index) else 1
    width = min(-(-width // multiple) * multiple, max(max_tokens, 1))
    steps = np.arange(width)
    valid = steps[None, :] < lengths[:, None]
    valid &= (starts[:, None] + steps[None, :]) < split.offsets[index + 1][:, None]
    gather = np.where(valid, starts[:, None] + steps[None, :], 0)
    tokens = np.where(valid, split.ids[gather] if len(split.ids) else 0, pad_id).astype(np.int32)
    return tokens, lengths.astype(np.int32)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.RandomState | None,
                   pool: int = 50) -> list[np.ndarray]:
    """Group documents of similar length into batches so that little padding is computed.

    With ``rng`` (training): shuffle, sort by length inside pools of ``pool`` batches, cut, shuffle
    the batch order. Without (inference): sort everything by length, then cut.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    chunk = batch_size * pool
    batches = []
    for start in range(0, n, chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches
