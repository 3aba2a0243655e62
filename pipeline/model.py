"""The LSTM text classifier: a small hybridizable Gluon block that never reads padding.

MXNet 1.9.1's CPU LSTM ignores ``use_sequence_length``, so lengths are honoured around the LSTM:
batches are padded on the right, a forward LSTM's output at step ``t`` depends only on tokens
``<= t``, the backward direction runs a forward LSTM over each document reversed within its own
length (what ``SequenceReverse`` computes, here as a gather), and pooling reads valid steps only
(``SequenceLast``/``SequenceMask``).
"""

from __future__ import annotations

from collections import OrderedDict

import mxnet as mx
import numpy as np
from mxnet import gluon
from mxnet.gluon import nn, rnn

from pipeline import NUM_CLASSES
from pipeline.inference import to_device
from pipeline.params import Architecture

NEG_INF = -1e9
MXNET_VERSION = mx.__version__
# Max over time by oneDNN's pooling kernel, which is CPU code; where MXNet sees a GPU, the plain
# reduction is used (MXNet's 1-D NWC pooling on GPUs is not exercised by this project's tests).
MAX_BY_POOLING = mx.context.num_gpus() == 0


def max_over_time(F, seq, units: int):
    """``max(seq, axis=0)`` for ``(T, batch, units)``, as a global max-pooling over T in NWC layout with
    one "channel" per (document, unit): in a hybridized graph oneDNN's pooling trains about twice as fast
    as MXNet's reduction (``benchmarks/choices.py``), with identical values."""
    if not MAX_BY_POOLING:
        return F.max(seq, axis=0)
    pooled = F.Pooling(F.expand_dims(F.reshape(seq, shape=(0, -3)), axis=0), kernel=(1,), pool_type="max",
                       global_pool=True, layout="NWC")
    return F.reshape(pooled, shape=(-1, units))


def reversal_rows(F, seq, lengths):
    """Row indices that reverse each document of ``seq`` (``(T, batch, C)``) within its length, padding left
    in place, into ``seq`` flattened to ``(T * batch, C)``: step ``t < length`` of a document reads its step
    ``length - 1 - t``. Float32, exact below 2 ** 24 rows (T * batch)."""
    steps = F.reshape(F.contrib.arange_like(seq, axis=0), shape=(-1, 1))  # (T, 1)
    docs = F.reshape(F.contrib.arange_like(seq, axis=1), shape=(1, -1))  # (1, batch)
    lens = F.reshape(lengths, shape=(1, -1))
    kept = F.broadcast_add(steps, F.zeros_like(lens))  # (T, batch): every row its own step
    source = F.where(F.broadcast_lesser(kept, lens), F.broadcast_sub(lens - 1, kept), kept)
    batch = F.reshape(F.sum(F.ones_like(docs)), shape=(1, 1))
    return F.reshape(F.broadcast_add(F.broadcast_mul(source, batch), docs), shape=(-1,))


def reverse_valid(F, seq, rows):
    """``SequenceReverse(seq, lengths)`` as a gather of the ``rows`` of :func:`reversal_rows`: the same values
    and gradients, about 1.5x as fast alone on the CPU (``benchmarks/choices.py``) and more within a step, where
    one index serves every reversal: ``SequenceReverse`` was 15 % of the 3-layer BiLSTM's training step, the
    gather is 4 % (``benchmarks/profile_step.py``)."""
    return F.reshape_like(F.take(F.reshape(seq, shape=(-3, 0)), rows), seq)


def pool(F, seqs: list, lengths, pooling: str, units: int):
    """One vector per document from each of ``seqs`` (``(T, batch, units)``, valid steps first), read
    over valid steps only; features are ordered by pooling kind, then by sequence."""
    parts = []
    if pooling == "last":
        parts += [F.SequenceLast(seq, lengths, use_sequence_length=True) for seq in seqs]
    if pooling in ("mean", "meanmax"):
        per_doc = F.reshape(lengths, (-1, 1))
        parts += [F.broadcast_div(F.sum(F.SequenceMask(seq, lengths, use_sequence_length=True, value=0.0), axis=0),
                                  per_doc) for seq in seqs]
    if pooling in ("max", "meanmax"):
        parts += [max_over_time(F, F.SequenceMask(seq, lengths, use_sequence_length=True, value=NEG_INF), units)
                  for seq in seqs]
    return parts[0] if len(parts) == 1 else F.concat(*parts, dim=1)


class LSTMClassifier(gluon.HybridBlock):
    """Embedding -> LSTM layer(s) -> length-aware pooling -> dense layers -> class scores.

    ``forward(tokens, lengths)``: ``tokens`` is ``(batch, T)`` with documents padded on the right,
    ``lengths`` is ``(batch,)`` float32 with each document's valid length (>= 1).
    """

    def __init__(self, architecture: Architecture, vocab_size: int, num_classes: int = NUM_CLASSES,
                 sparse_grad: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.architecture, self.vocab_size, self.num_classes = architecture, vocab_size, num_classes
        self.sparse_grad = sparse_grad
        arch = architecture
        with self.name_scope():
            self.embedding = nn.Embedding(vocab_size, arch.embed_len, sparse_grad=sparse_grad)
            self.embed_drop = nn.Dropout(arch.embed_dropout)
            # A fused multi-layer LSTM is only length-safe in the forward direction, so the
            # bidirectional case always stacks one forward and one backward LSTM per layer.
            sizes = [arch.hidden[0]] if arch.fused and not arch.bidirectional else arch.hidden
            layers = len(arch.hidden) if arch.fused and not arch.bidirectional else 1
            self.forward_lstms = nn.HybridSequential()
            self.backward_lstms = nn.HybridSequential()
            for size in sizes:
                self.forward_lstms.add(rnn.LSTM(size, num_layers=layers, layout="TNC"))
                if arch.bidirectional:
                    self.backward_lstms.add(rnn.LSTM(size, layout="TNC"))
            self.head = nn.HybridSequential()
            for units in arch.dense:
                self.head.add(nn.Dropout(arch.dropout), nn.Dense(units, activation="relu"))
            self.head.add(nn.Dropout(arch.dropout), nn.Dense(num_classes))

    def hybrid_forward(self, F, tokens, lengths):
        x = self.embed_drop(self.embedding(tokens))
        x = F.transpose(x, axes=(1, 0, 2))  # (T, batch, C): the LSTM's native layout
        arch = self.architecture
        if not arch.bidirectional:
            for lstm in self.forward_lstms:
                x = lstm(x)
            return self.head(pool(F, [x], lengths, arch.pooling, arch.hidden[-1]))
        layers = list(zip(self.forward_lstms, self.backward_lstms, strict=True))
        rows = reversal_rows(F, x, lengths)  # one index for every reversal of this batch
        for i, (forward_lstm, backward_lstm) in enumerate(layers):
            forward = forward_lstm(x)
            backward_rev = backward_lstm(reverse_valid(F, x, rows))
            if i < len(layers) - 1:  # the next layer reads both directions aligned in time
                x = F.concat(forward, reverse_valid(F, backward_rev, rows), dim=2)
        # Pooling reads the backward direction as it came out, in reversed order: its last step is the
        # final state (document step 0), and max/mean do not depend on order. That saves reversing and
        # concatenating the whole output sequence (`benchmarks/choices.py` measures it).
        return self.head(pool(F, [forward, backward_rev], lengths, arch.pooling, arch.hidden[-1]))


class StaticShapeCopies:
    """Statically shaped, hybridized copies of ``net``, one per input shape, sharing its parameters.

    Unless a CachedOp is ``static_shape``, MXNet 1.9.1 rebuilds the oneDNN LSTM primitives on every
    call; with it, a shape change rebuilds them too. One copy per (batch, steps) shape keeps every copy
    static: measured 1.6-1.7x training throughput (25-step LSTM: 13.8k -> 23.0k samples/s; 3-layer
    BiLSTM, 50 steps: 954 -> 1509), with identical losses. Length bucketing keeps the shapes few.
    Each copy holds its own activation memory (about 1 GB for the 3-layer BiLSTM at batch 1024 and
    40 steps), so at most ``max_copies`` are kept, least recently used dropped first.
    """

    def __init__(self, net: LSTMClassifier, max_copies: int = 12):
        self.net = net
        self.max_copies = max_copies
        self.copies: OrderedDict[tuple[int, ...], LSTMClassifier] = OrderedDict()

    def __call__(self, tokens, lengths):
        block = self.copies.get(tokens.shape)
        if block is None:
            if len(self.copies) >= self.max_copies:
                self.copies.popitem(last=False)
            net = self.net
            block = LSTMClassifier(net.architecture, net.vocab_size, net.num_classes, sparse_grad=net.sparse_grad,
                                   prefix=net.prefix, params=net.collect_params())
            block.hybridize(static_alloc=True, static_shape=True)
            self.copies[tokens.shape] = block
        else:
            self.copies.move_to_end(tokens.shape)
        return block(tokens, lengths)


def build_model(architecture: Architecture, vocab_size: int, ctx: mx.Context, seed: int | None = None,
                sparse_grad: bool = False, hybridize: bool = True, num_classes: int = NUM_CLASSES,
                embedding: np.ndarray | None = None) -> LSTMClassifier:
    """Create, Xavier-initialise and (by default) hybridize a classifier; ``embedding`` (vocab_size x
    embed_len), when given, replaces the Xavier word vectors (every other weight is drawn as without it)."""
    if seed is not None:
        mx.random.seed(seed)
    net = LSTMClassifier(architecture, vocab_size, num_classes, sparse_grad=sparse_grad)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    # One tiny forward pass completes Gluon's deferred initialisation, so every parameter has
    # its shape and value before training code reads or copies it.
    net(mx.nd.ones((1, 1), ctx=ctx, dtype="int32"), mx.nd.ones((1,), ctx=ctx))
    if embedding is not None:
        # Not mx.nd.array: its synchronous copy runs on this thread and gives it an OpenMP team of its own,
        # after which libgomp's threads outnumber the cores and sleep between the engine's many small
        # parallel regions: two-thread training then ran 30 % slower (README, Performance).
        net.embedding.weight.set_data(to_device(embedding, mx.cpu(), "float32"))
    if hybridize:
        net.hybridize(static_alloc=True)
    return net


def default_context() -> mx.Context:
    """The first GPU when MXNet sees one, else the CPU."""
    return mx.gpu(0) if mx.context.num_gpus() > 0 else mx.cpu()
