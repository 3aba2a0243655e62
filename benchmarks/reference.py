"""A plain re-implementation of the reference study's training loop, as the baseline to beat.

Non-hybridized ``nn.Block``, dense embedding gradients, every batch re-tokenized from raw text in
Python, padded with ``<unk>`` at the end to ``max_tokens``, classified from the last (padded) step.
"""

from __future__ import annotations

import re

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from mxnet.gluon import nn, rnn

TOKEN = re.compile(r"\w+")


class ReferenceModel(nn.Block):
    def __init__(self, vocab_size: int, approach: dict, num_classes: int = 4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, approach["embed_len"])
        hidden = approach["hidden"]
        self.lstms = nn.Sequential()
        if approach.get("fused") or len(set(hidden)) == 1 and approach["bidirectional"]:
            self.lstms.add(rnn.LSTM(hidden[0], num_layers=len(hidden), layout="NTC",
                                    bidirectional=approach["bidirectional"]))
        else:
            for size in hidden:
                self.lstms.add(rnn.LSTM(size, layout="NTC", bidirectional=approach["bidirectional"]))
        self.head = nn.Sequential()
        for units in approach["dense"]:
            self.head.add(nn.Dense(units, activation="relu"))
        self.head.add(nn.Dense(num_classes))

    def forward(self, x):
        out = self.lstms(self.embedding(x))
        return self.head(out[:, -1, :])


def vectorize_batch(texts: list[str], token_to_idx: dict, max_tokens: int, unk: int = 0) -> np.ndarray:
    """The study's per-batch preprocessing: tokenize, look up (original case), clip, pad at the end."""
    rows = []
    for text in texts:
        ids = [token_to_idx.get(t, unk) for t in TOKEN.findall(text)][:max_tokens]
        rows.append(ids + [unk] * (max_tokens - len(ids)))
    return np.asarray(rows, dtype=np.float32)


def reference_step(net, trainer, loss_fn, texts, labels, token_to_idx, max_tokens, ctx) -> mx.nd.NDArray:
    data = mx.nd.array(vectorize_batch(texts, token_to_idx, max_tokens), ctx=ctx)
    with autograd.record():
        loss = loss_fn(net(data), mx.nd.array(labels, ctx=ctx))
    loss.backward()
    trainer.step(len(labels))
    return loss


def build_reference(vocab_size: int, approach: dict, ctx: mx.Context, seed: int = 0):
    mx.random.seed(seed)
    net = ReferenceModel(vocab_size, approach)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.001})
    return net, trainer, gluon.loss.SoftmaxCrossEntropyLoss()
