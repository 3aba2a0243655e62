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


def ms_per_call(plain: Callable[[], None], ours: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Milliseconds per call of each: the median over alternating rounds of 5 back-to-back calls (queued
    as in training, synchronised once per round), so that machine noise hits both alike."""
    times: dict[Callable, list[float]] = {plain: [], ours: []}
    for fn in (plain, ours):  # warm-up: first calls build kernels and grow memory pools
        for _ in range(3):
            fn()
        mx.nd.waitall()
    for _ in range(max(1, repeats // 5)):
        for fn in (plain, ours):
            started = time.perf_counter()
            for _ in range(5):
                fn()
            mx.nd.waitall()
            times[fn].append((time.perf_counter() - started) / 5)
    return tuple(round(1000 * float(np.median(times[fn])), 2) for fn in (plain, ours))


def _trained_graph(fn: Callable, *inputs: mx.nd.NDArray) -> Callable[[], None]:
    """One forward + backward of ``fn(F, *inputs)`` as a static hybridized graph, as inside the model
    (imperative calls would add copies that the graph's memory planner removes)."""
    block = mx.gluon.nn.HybridLambda(fn)
    block.hybridize(static_alloc=True, static_shape=True)

    def call():
        with autograd.record():
            out = block(*inputs)
        out.backward()
    return call


def _random_outputs(steps: int, batch: int, hidden: int, count: int) -> tuple[list, mx.nd.NDArray]:
    """LSTM-like outputs and lengths, drawn by MXNet's engine.

    Not ``mx.nd.array`` from NumPy: a copy of over 200k elements on the main thread starts an OpenMP
    team there too, and GNU OpenMP then spins less (more threads than cores) and slows every later
    small step of this process several times over, which would skew whatever is measured next.
    """
    mx.random.seed(0)
    outputs = [mx.nd.random.uniform(-1, 1, (steps, batch, hidden)) for _ in range(count)]
    for out in outputs:
        out.attach_grad()
    return outputs, mx.nd.random.randint(1, steps + 1, (batch,)).astype("float32")


def pooling(steps: int, batch: int, hidden: int, repeats: int) -> dict:
    (seq,), lengths = _random_outputs(steps, batch, hidden, 1)
    plain, ours = ms_per_call(
        _trained_graph(lambda F, s, lens: F.max(F.SequenceMask(s, lens, use_sequence_length=True, value=NEG_INF),
                                                axis=0), seq, lengths),
        _trained_graph(lambda F, s, lens: pool(F, [s], lens, "max", hidden), seq, lengths), repeats)
    return {"shape": [steps, batch, hidden], "reduce_ms": plain, "onednn_pooling_ms": ours}


def bidirectional_outputs(steps: int, batch: int, hidden: int, repeats: int) -> dict:
    (forward, backward_rev), lengths = _random_outputs(steps, batch, hidden, 2)

    def aligned(F, f, b, lens):  # the textbook way: both directions in document order, then pool
        b = F.SequenceReverse(b, lens, use_sequence_length=True)
        return pool(F, [F.concat(f, b, dim=2)], lens, "max", 2 * hidden)

    def per_direction(F, f, b, lens):  # what the model does for its last layer
        return pool(F, [f, b], lens, "max", hidden)

    plain, ours = ms_per_call(_trained_graph(aligned, forward, backward_rev, lengths),
                              _trained_graph(per_direction, forward, backward_rev, lengths), repeats)
    return {"shape": [steps, batch, hidden], "reverse_concat_pool_ms": plain, "pool_each_direction_ms": ours}


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
