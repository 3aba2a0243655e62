"""Side-by-side timings of three implementation choices in ``pipeline``, each against the plain way.

The training-throughput table runs every variant with the same model code, so these choices, which
change no result, are measured here on their own, at the study's batch size:

- max pooling over time: MXNet's ``max`` reduction against oneDNN's global pooling (``model.py``);
- BiLSTM outputs: reverse the backward direction, concatenate, pool, against pooling each direction
  as it comes out of its LSTM (``model.py``);
- batch transfer: ``mx.nd.array`` against zero-copy DLPack (``inference.to_device``), in full
  training steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import mxnet as mx
import numpy as np
from mxnet import autograd

from pipeline.inference import to_device
from pipeline.model import NEG_INF, pool


def ms_per_call(fn: Callable[[], mx.nd.NDArray], repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of ``fn()`` (forward + backward, synchronised) over ``repeats`` calls."""
    for _ in range(warmup):
        fn()
    mx.nd.waitall()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        mx.nd.waitall()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def _reduce_max(seq, lengths, units):
    return mx.nd.max(mx.nd.SequenceMask(seq, lengths, use_sequence_length=True, value=NEG_INF), axis=0)


def _pooling_max(seq, lengths, units):
    return pool(mx.nd, [seq], lengths, "max", units)


def _backward_through(fn, *inputs):
    def call():
        with autograd.record():
            out = fn(*inputs)
        out.backward()
    return call


def pooling(steps: int, batch: int, hidden: int, repeats: int) -> dict:
    rng = np.random.RandomState(0)
    seq = mx.nd.array(rng.uniform(-1, 1, (steps, batch, hidden)))
    seq.attach_grad()
    lengths = mx.nd.array(rng.randint(1, steps + 1, batch))
    return {"shape": [steps, batch, hidden],
            "reduce_ms": round(ms_per_call(_backward_through(_reduce_max, seq, lengths, hidden), repeats), 2),
            "onednn_pooling_ms": round(ms_per_call(_backward_through(_pooling_max, seq, lengths, hidden),
                                                   repeats), 2)}


def bidirectional_outputs(steps: int, batch: int, hidden: int, repeats: int) -> dict:
    rng = np.random.RandomState(0)
    forward, backward_rev = (mx.nd.array(rng.uniform(-1, 1, (steps, batch, hidden))) for _ in range(2))
    forward.attach_grad()
    backward_rev.attach_grad()
    lengths = mx.nd.array(rng.randint(1, steps + 1, batch))

    def aligned(f, b, lens):  # the textbook way: both directions in document order, then pool
        b = mx.nd.SequenceReverse(b, lens, use_sequence_length=True)
        return pool(mx.nd, [mx.nd.concat(f, b, dim=2)], lens, "max", 2 * hidden)

    def per_direction(f, b, lens):  # what the model does for its last layer
        return pool(mx.nd, [f, b], lens, "max", hidden)

    return {"shape": [steps, batch, hidden],
            "reverse_concat_pool_ms": round(ms_per_call(_backward_through(aligned, forward, backward_rev, lengths),
                                                        repeats), 2),
            "pool_each_direction_ms": round(ms_per_call(
                _backward_through(per_direction, forward, backward_rev, lengths), repeats), 2)}


def batch_transfer(step: Callable, batches: list[tuple], repeats: int) -> dict:
    """Milliseconds per training step when the batch reaches MXNet by ``nd.array`` or zero-copy.

    ``step(data, lengths, labels)`` runs one asynchronous training step on NDArrays; ``batches`` holds
    NumPy ``(tokens, lengths, labels)``. Steps are timed back to back, as in training.
    """
    def copied(tokens, lengths, labels):
        return (mx.nd.array(tokens, dtype="int32"), mx.nd.array(lengths, dtype="float32"),
                mx.nd.array(labels, dtype="float32"))

    def zero_copy(tokens, lengths, labels):
        return to_device(tokens, mx.cpu(), "int32"), to_device(lengths, mx.cpu(), "float32"), \
            to_device(labels, mx.cpu(), "float32")

    result = {}
    for name, convert in (("nd_array_ms", copied), ("zero_copy_ms", zero_copy)) * 2:  # twice: warm, then timed
        for batch in batches[:3]:
            step(*convert(*batch))
        mx.nd.waitall()
        started = time.perf_counter()
        for batch in batches[:repeats]:
            step(*convert(*batch))
        mx.nd.waitall()
        result[name] = round(1000 * (time.perf_counter() - started) / min(repeats, len(batches)), 2)
    return result
