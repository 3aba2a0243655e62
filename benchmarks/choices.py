"""Side-by-side timings of five implementation choices in ``pipeline``, each against the plain way.

The training-throughput table runs every variant with the same model code, so these choices are
measured here on their own. None changes a value computed; the pooling kernel changes which step gets
the gradient when several steps tie for the maximum (MXNet's reduction gives it to each of them).

- max pooling over time: MXNet's ``max`` reduction against oneDNN's global pooling (``model.py``);
- BiLSTM outputs: reverse the backward direction, concatenate, pool, against pooling each direction
  as it comes out of its LSTM (``model.py``);
- reversing each document within its length for the backward direction: MXNet's ``SequenceReverse``
  against a gather (``take``) of row indices computed from the lengths (``model.py``);
- batch transfer: ``mx.nd.array`` against zero-copy DLPack (``inference.to_device``), in full
  training steps;
- the per-step update of the weights' moving average: copied back against in place (``training.py``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import mxnet as mx
import numpy as np
from mxnet import autograd

from pipeline.inference import to_device
from pipeline.model import NEG_INF, pool, reversal_rows, reverse_valid
from pipeline.training import WeightAverage


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


def reversal(steps: int, batch: int, channels: int, repeats: int) -> dict:
    (seq,), lengths = _random_outputs(steps, batch, channels, 1)
    plain, ours = ms_per_call(
        _trained_graph(lambda F, s, lens: F.SequenceReverse(s, lens, use_sequence_length=True), seq, lengths),
        _trained_graph(lambda F, s, lens: reverse_valid(F, s, reversal_rows(F, s, lens)), seq, lengths), repeats)
    return {"shape": [steps, batch, channels], "sequence_reverse_ms": plain, "gather_ms": ours}


def batch_transfer(step: Callable, batches: list[tuple], repeats: int) -> dict:
    """Milliseconds per training step when the batch reaches MXNet by ``nd.array`` or zero-copy.

    ``step(data, lengths, labels)`` runs one asynchronous training step on NDArrays; ``batches`` holds
    NumPy ``(tokens, lengths, labels)``, cycled through.
    """
    def copied(tokens, lengths, labels):
        return (mx.nd.array(tokens, dtype="int32"), mx.nd.array(lengths, dtype="float32"),
                mx.nd.array(labels, dtype="float32"))

    def zero_copy(tokens, lengths, labels):
        return (to_device(tokens, mx.cpu(), "int32"), to_device(lengths, mx.cpu(), "float32"),
                to_device(labels, mx.cpu(), "float32"))

    def stepper(convert):
        feed = itertools.cycle(batches)
        return lambda: step(*convert(*next(feed)))

    plain, ours = ms_per_call(stepper(copied), stepper(zero_copy), repeats)
    return {"nd_array_ms": plain, "zero_copy_ms": ours}


def weight_average(net, decay: float, repeats: int) -> dict:
    """Milliseconds per refresh of the weights' moving average (``training.WeightAverage``), which
    ``train`` does every few steps: a new array copied back, against updating in place."""
    average = WeightAverage(net, decay)

    def copied():
        for avg, param in zip(average.shadow, average.params, strict=True):
            avg[:] = average.decay * avg + (1.0 - average.decay) * param.data()

    plain, ours = ms_per_call(copied, average.refresh, repeats)
    return {"parameters": sum(p.data().size for p in average.params), "copy_back_ms": plain, "in_place_ms": ours}
