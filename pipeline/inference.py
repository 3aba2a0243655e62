"""Batched inference over cached splits or raw texts: sorted by length, padded once per batch."""

from __future__ import annotations

from collections.abc import Sequence

import mxnet as mx
import numpy as np
from scipy.special import softmax

from pipeline.dataset import Split, length_batches, pad_batch, vectorize
from pipeline.tokenize import tokenize_all


def to_device(array: np.ndarray, ctx: mx.Context, dtype: str) -> mx.nd.NDArray:
    """``array`` as an NDArray on ``ctx``, without waiting for the engine.

    ``mx.nd.array`` copies synchronously behind a write barrier that MXNet queues after all work
    already submitted, so preparing batch N+1 waited for batch N to finish training. Wrapping a
    private copy (zero-copy DLPack) needs no engine operation at all.
    """
    host = mx.nd.from_numpy(np.array(array, dtype=dtype, order="C"), zero_copy=True)
    return host if ctx.device_type == "cpu" else host.as_in_context(ctx)


def batch_arrays(tokens: np.ndarray, lengths: np.ndarray, ctx: mx.Context) -> tuple[mx.nd.NDArray, mx.nd.NDArray]:
    return to_device(tokens, ctx, "int32"), to_device(lengths, ctx, "float32")


def predict_logits(net, split: Split, max_tokens: int, pad_id: int, ctx: mx.Context,
                   batch_size: int = 1024, bucket_width: int = 1) -> np.ndarray:
    """Class scores for every document of ``split``, in the split's order."""
    logits = np.zeros((len(split), net.num_classes), dtype=np.float32)
    for index in length_batches(np.minimum(split.lengths, max_tokens), batch_size, rng=None):
        tokens, lengths = pad_batch(split, index, max_tokens, pad_id, bucket_width)
        logits[index] = net(*batch_arrays(tokens, lengths, ctx)).asnumpy()
    return logits


def member_probabilities(members: Sequence, split: Split, max_tokens: int, pad_id: int, ctx: mx.Context,
                         batch_size: int = 1024, bucket_width: int = 1) -> list[np.ndarray]:
    """Each model's class probabilities ``(len(split), num_classes)`` for every document of ``split``."""
    return [softmax(predict_logits(net, split, max_tokens, pad_id, ctx, batch_size, bucket_width), axis=1)
            for net in members]


def predict_probabilities(members: Sequence, split: Split, max_tokens: int, pad_id: int, ctx: mx.Context,
                          batch_size: int = 1024, bucket_width: int = 1) -> np.ndarray:
    """Class probabilities of an approach: the mean over its ``members`` (one model, or the models of
    its seeds: :func:`pipeline.checkpoint.load_members`)."""
    return np.mean(member_probabilities(members, split, max_tokens, pad_id, ctx, batch_size, bucket_width), axis=0)


def texts_to_split(texts: Sequence[str], vocab, lowercase: bool, stop_words: str | None) -> Split:
    """Vectorize raw texts the way ``vectorize_cache`` did for the training data."""
    labels = np.zeros(len(texts), dtype=np.int32)
    return vectorize(tokenize_all(texts, lowercase, stop_words), vocab.token_to_idx,
                     vocab.token_to_idx[vocab.unknown_token], labels)


def predict_texts(members: Sequence, texts: Sequence[str], vocab, prep: dict, ctx: mx.Context,
                  batch_size: int = 1024) -> np.ndarray:
    """Class probabilities ``(len(texts), num_classes)`` of ``members`` (see :func:`predict_probabilities`)
    for raw texts, preprocessed as the checkpoint's ``preprocessing`` entry ``prep`` says."""
    split = texts_to_split(texts, vocab, prep["lowercase"], prep.get("stop_words"))
    max_tokens = prep["max_tokens"]
    pad_id = vocab.token_to_idx[vocab.padding_token]
    return predict_probabilities(members, split, max_tokens, pad_id, ctx, batch_size)
