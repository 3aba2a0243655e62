"""pipeline.model: the classifier never reads padding, for every architecture and pooling."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest
from scipy.special import softmax

from pipeline.inference import batch_arrays
from pipeline.model import (
    LSTMClassifier,
    StaticShapeCopies,
    build_model,
    max_over_time,
    pool,
    reversal_rows,
    reverse_valid,
)
from pipeline.params import Architecture
from tests.conftest import tiny_architecture

VOCAB_SIZE = 40
PAD = 1

ARCHITECTURES = {
    "uni_single": {"hidden": [6], "bidirectional": False},
    "fused_3_layers": {"hidden": [5, 5, 5], "bidirectional": False, "fused": True, "dense": [7]},
    "stacked_5_6_7": {"hidden": [5, 6, 7], "bidirectional": False, "dense": [7]},
    "bi_single": {"hidden": [6], "bidirectional": True, "dense": [7]},
    "bi_3_layers": {"hidden": [5, 5, 5], "bidirectional": True},
    "bi_3_layers_fused_flag": {"hidden": [4, 4, 4], "bidirectional": True, "fused": True},
}
POOLINGS = ("last", "mean", "max", "meanmax")

RNG = np.random.RandomState(11)
DOC_A = RNG.randint(2, VOCAB_SIZE, size=12)
DOC_B = RNG.randint(2, VOCAB_SIZE, size=21)


def make_spec(arch: str, pooling: str) -> Architecture:
    return tiny_architecture(embed_len=6, pooling=pooling, **ARCHITECTURES[arch])


def batch(docs, width: int, filler=None) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ``(len(docs), width)`` tokens; padding is ``PAD`` or random ids from ``filler``."""
    tokens = np.full((len(docs), width), PAD, dtype=np.int32)
    for i, doc in enumerate(docs):
        tokens[i, :len(doc)] = doc
        if filler is not None:
            tokens[i, len(doc):] = filler.randint(0, VOCAB_SIZE, size=width - len(doc))
    return tokens, np.array([len(d) for d in docs], dtype=np.int32)


def probabilities(net, tokens, lengths) -> np.ndarray:
    return softmax(net(*batch_arrays(tokens, lengths, mx.cpu())).asnumpy(), axis=1)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_more_padding_does_not_change_the_prediction(arch, pooling):
    net = build_model(make_spec(arch, pooling), VOCAB_SIZE, mx.cpu(), seed=3)
    short = probabilities(net, *batch([DOC_A, DOC_B], 30))
    long = probabilities(net, *batch([DOC_A, DOC_B], 80))
    assert short.shape == (2, 4)
    np.testing.assert_allclose(long, short, atol=1e-6, rtol=0)
    # The other document in the batch (and its position) does not matter either.
    alone = probabilities(net, *batch([DOC_B, DOC_A], 55))
    np.testing.assert_allclose(alone[::-1], short, atol=1e-6, rtol=0)
    # Sanity: the model does read the documents, so the assertions above can fail.
    assert np.abs(short[0] - short[1]).max() > 1e-4


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_padding_content_is_never_read(arch, pooling):
    net = build_model(make_spec(arch, pooling), VOCAB_SIZE, mx.cpu(), seed=4)
    clean = probabilities(net, *batch([DOC_A, DOC_B], 40))
    noisy = probabilities(net, *batch([DOC_A, DOC_B], 40, filler=np.random.RandomState(0)))
    np.testing.assert_allclose(noisy, clean, atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_valid_token_can_change_the_prediction(arch):
    # With "last" pooling a bidirectional model must still see the first token, a forward one the last.
    net = build_model(make_spec(arch, "last"), VOCAB_SIZE, mx.cpu(), seed=5)
    base = probabilities(net, *batch([DOC_A], 20))
    for position in (0, len(DOC_A) - 1):
        changed = DOC_A.copy()
        changed[position] = 2 if DOC_A[position] != 2 else 3
        assert np.abs(probabilities(net, *batch([changed], 20)) - base).max() > 1e-6, position


@pytest.mark.parametrize("arch", ["uni_single", "fused_3_layers", "bi_3_layers"])
@pytest.mark.parametrize("pooling", ["last", "meanmax"])
def test_hybridized_equals_imperative(arch, pooling):
    spec = make_spec(arch, pooling)
    net = build_model(spec, VOCAB_SIZE, mx.cpu(), seed=6, hybridize=False)
    tokens, lengths = batch([DOC_A, DOC_B, DOC_A[:1]], 25)
    imperative = probabilities(net, tokens, lengths)
    net.hybridize(static_alloc=True)
    hybrid = probabilities(net, tokens, lengths)
    hybrid_again = probabilities(net, *batch([DOC_A, DOC_B, DOC_A[:1]], 35))
    assert imperative.shape == (3, 4)
    np.testing.assert_allclose(hybrid, imperative, atol=1e-6, rtol=0)
    np.testing.assert_allclose(hybrid_again, imperative, atol=1e-6, rtol=0)


def test_same_seed_same_initial_weights():
    spec = make_spec("stacked_5_6_7", "mean")
    tokens, lengths = batch([DOC_A, DOC_B], 25)
    first = probabilities(build_model(spec, VOCAB_SIZE, mx.cpu(), seed=9), tokens, lengths)
    second = probabilities(build_model(spec, VOCAB_SIZE, mx.cpu(), seed=9), tokens, lengths)
    other = probabilities(build_model(spec, VOCAB_SIZE, mx.cpu(), seed=10), tokens, lengths)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_output_shape_and_classes():
    net = build_model(tiny_architecture(embed_len=4, hidden=[4]), VOCAB_SIZE, mx.cpu(), seed=1, num_classes=3)
    assert isinstance(net, LSTMClassifier)
    tokens, lengths = batch([DOC_A, DOC_B, DOC_A[:3], DOC_B[:1], DOC_A[:5]], 22)
    out = net(*batch_arrays(tokens, lengths, mx.cpu()))
    assert out.shape == (5, 3)
    assert np.all(np.isfinite(out.asnumpy()))


def test_fused_uses_one_multilayer_block_and_stacked_uses_one_block_per_size():
    fused = LSTMClassifier(make_spec("fused_3_layers", "last"), VOCAB_SIZE)
    stacked = LSTMClassifier(make_spec("stacked_5_6_7", "last"), VOCAB_SIZE)
    bi = LSTMClassifier(make_spec("bi_3_layers", "last"), VOCAB_SIZE)
    assert len(fused.forward_lstms) == 1 and fused.forward_lstms[0]._num_layers == 3
    assert [lstm._hidden_size for lstm in stacked.forward_lstms] == [5, 6, 7]
    assert len(bi.forward_lstms) == 3 and len(bi.backward_lstms) == 3


def test_architecture_from_a_checkpoint_model_entry():
    """The checkpoint's ``model`` entry holds the architecture plus the vocabulary size and class count."""
    model = {"vocab_size": 1234, "embed_len": 40, "hidden": [75, 75, 75], "bidirectional": True, "fused": False,
             "dense": [100], "pooling": "meanmax", "dropout": 0.1, "embed_dropout": 0.0, "num_classes": 4}
    arch = Architecture.from_mapping(model)
    assert arch.hidden == (75, 75, 75) and arch.pooling == "meanmax" and arch.dropout == 0.1
    assert arch == tiny_architecture(embed_len=40, hidden=[75, 75, 75], bidirectional=True, dense=[100],
                                     pooling="meanmax", dropout=0.1)


def test_static_shape_copies_share_weights_match_the_model_and_stay_bounded():
    spec = tiny_architecture(embed_len=4, hidden=[4, 5], bidirectional=True, dense=[3], pooling="max")
    net = build_model(spec, 30, mx.cpu(), seed=3)
    copies = StaticShapeCopies(net, max_copies=2)
    rng = np.random.RandomState(0)
    for steps in (6, 7, 8, 6):
        tokens = mx.nd.array(rng.randint(0, 30, (3, steps)), dtype="int32")
        lengths = mx.nd.array([steps, 2, 1])
        np.testing.assert_allclose(copies(tokens, lengths).asnumpy(), net(tokens, lengths).asnumpy(), atol=1e-6)
    assert len(copies.copies) == 2 and list(copies.copies) == [(3, 8), (3, 6)]
    shared = next(iter(copies.copies.values())).collect_params()
    assert all(shared[name] is param for name, param in net.collect_params().items())


def _value_and_grad(fn, x: mx.nd.NDArray, *args) -> tuple[np.ndarray, np.ndarray]:
    x = x.copy()
    x.attach_grad()
    with mx.autograd.record():
        out = fn(x, *args)
        weighted = (out * mx.nd.arange(out.size).reshape(out.shape)).sum()  # a distinct gradient per output
    weighted.backward()
    return out.asnumpy(), x.grad.asnumpy()


def test_max_over_time_equals_the_reduction_in_value_and_gradient():
    seq = mx.nd.array(np.random.RandomState(0).uniform(-1, 1, (9, 5, 3)))
    ours = _value_and_grad(lambda s: max_over_time(mx.nd, s, 3), seq)
    plain = _value_and_grad(lambda s: mx.nd.max(s, axis=0), seq)
    np.testing.assert_array_equal(ours[0], plain[0])
    np.testing.assert_array_equal(ours[1], plain[1])
    assert "Pooling" in max_over_time(mx.sym, mx.sym.var("seq"), 3).tojson()  # on this CPU: oneDNN's kernel


def test_reversal_by_gather_equals_sequence_reverse_in_value_and_gradient():
    """The BiLSTM reverses each document within its length with ``take``; MXNet's own operator is the reference."""
    seq = mx.nd.array(np.random.RandomState(3).uniform(-1, 1, (7, 5, 3)))
    lengths = mx.nd.array([7, 1, 3, 5, 6])
    rows = reversal_rows(mx.nd, seq, lengths)
    ours = _value_and_grad(lambda s: reverse_valid(mx.nd, s, rows), seq)
    plain = _value_and_grad(lambda s: mx.nd.SequenceReverse(s, lengths, use_sequence_length=True), seq)
    np.testing.assert_array_equal(ours[0], plain[0])
    np.testing.assert_array_equal(ours[1], plain[1])
    assert not np.array_equal(ours[0], seq.asnumpy())  # it did reverse


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_the_reversed_backward_direction_equals_pooling_it_in_document_order(pooling):
    """What the BiLSTM's last layer relies on to skip reversing and concatenating its outputs."""
    rng = np.random.RandomState(1)
    forward, backward_rev = (mx.nd.array(rng.uniform(-1, 1, (7, 4, 3))) for _ in range(2))
    lengths = mx.nd.array([7, 1, 3, 5])
    ours = pool(mx.nd, [forward, backward_rev], lengths, pooling, 3)
    aligned = mx.nd.concat(forward, mx.nd.SequenceReverse(backward_rev, lengths, use_sequence_length=True), dim=2)
    if pooling == "last":  # the backward direction's final state is its last step in reversed order
        expected = mx.nd.concat(mx.nd.SequenceLast(forward, lengths, use_sequence_length=True),
                                mx.nd.SequenceLast(backward_rev, lengths, use_sequence_length=True), dim=1)
    else:
        expected = pool(mx.nd, [aligned], lengths, pooling, 6)  # same feature order: kind, then direction
    np.testing.assert_allclose(ours.asnumpy(), expected.asnumpy(), rtol=1e-6, atol=1e-7)


def test_max_over_time_falls_back_to_the_reduction_where_there_is_a_gpu(monkeypatch):
    from pipeline import model

    monkeypatch.setattr(model, "MAX_BY_POOLING", False)
    seq = mx.nd.array(np.random.RandomState(2).uniform(-1, 1, (4, 3, 2)))
    sym = max_over_time(mx.sym, mx.sym.var("seq"), 2)
    assert "Pooling" not in sym.tojson() and "max" in sym.tojson()
    np.testing.assert_array_equal(max_over_time(mx.nd, seq, 2).asnumpy(), seq.asnumpy().max(axis=0))
