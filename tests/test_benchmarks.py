"""benchmarks/: the side-by-side timings run at small shapes and the FLOP count is the textbook one."""

from __future__ import annotations

import functools

import mxnet as mx
import numpy as np

from benchmarks import choices
from benchmarks.throughput import lstm_flops, render_choices
from pipeline.model import ModelSpec, StaticShapeCopies, build_model
from pipeline.training import make_trainer, step_on_arrays


def test_kernel_choices_time_both_ways():
    found = {"max_pooling": choices.pooling(6, 8, 3, repeats=5),
             "bidirectional_outputs": choices.bidirectional_outputs(6, 8, 3, repeats=5)}
    assert found["max_pooling"]["shape"] == [6, 8, 3]
    for key in ("reduce_ms", "onednn_pooling_ms"):
        assert found["max_pooling"][key] > 0
    for key in ("reverse_concat_pool_ms", "pool_each_direction_ms"):
        assert found["bidirectional_outputs"][key] > 0
    lines = render_choices(found)
    assert len(lines) == 5 and all(line.startswith("|") for line in lines[1:])


def test_batch_transfer_and_weight_average_run_real_training_steps(tiny_data, settings):
    spec = ModelSpec(vocab_size=tiny_data.vocab_size, embed_len=8, hidden=[8], bidirectional=False)
    net = build_model(spec, mx.cpu(), seed=0)
    forward, trainer = StaticShapeCopies(net), make_trainer(net, settings())
    before = net.embedding.weight.data().asnumpy()
    split = tiny_data.train
    batches = [(np.full((4, 5), 2, dtype=np.int32), np.full(4, 5, dtype=np.float32), split.labels[:4])]
    step = functools.partial(step_on_arrays, forward, trainer, mx.gluon.loss.SoftmaxCrossEntropyLoss())
    transfer = choices.batch_transfer(step, batches, repeats=5)
    assert transfer["nd_array_ms"] > 0 and transfer["zero_copy_ms"] > 0
    assert not np.array_equal(net.embedding.weight.data().asnumpy(), before)  # the steps did train
    average = choices.weight_average(net, 0.9, repeats=5)
    assert average["parameters"] == sum(p.data().size for p in net.collect_params().values())


def test_lstm_flops_count_the_gate_gemms_forward_and_backward():
    # one layer: 4 gates x (input + hidden) x hidden multiply-adds per step and document, x2 FLOPs, x3 with backward
    uni = {"embed_len": 40, "hidden": [75], "bidirectional": False}
    assert lstm_flops(uni, steps=25, batch=1024) == 3 * 2 * 4 * 75 * (40 + 75) * 25 * 1024
    bi_two = {"embed_len": 40, "hidden": [75, 75], "bidirectional": True}
    per_step = 2 * (2 * 4 * 75 * (40 + 75)) + 2 * (2 * 4 * 75 * (150 + 75))  # layer 2 reads both directions
    assert lstm_flops(bi_two, steps=1, batch=1) == 3 * per_step
