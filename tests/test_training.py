"""pipeline.training: a tiny model learns the synthetic corpus, deterministically; schedule; early stop."""

from __future__ import annotations

import dataclasses
import math
import time

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from pipeline.dataset import Split
from pipeline.inference import predict_logits
from pipeline.model import build_model
from pipeline.params import Architecture, TrainSettings
from pipeline.training import WeightAverage, drop_words, lr_scheduler, make_trainer, train, validation_loss
from tests.conftest import tiny_architecture


def spec_for(**overrides) -> Architecture:
    return tiny_architecture(**overrides)


def weights(net) -> dict[str, np.ndarray]:
    # Structural names: two separately built models of the same spec have the same keys.
    return {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items()}


def run(data, ctx, settings, seed=1, **spec_overrides):
    net = build_model(spec_for(**spec_overrides), data.vocab_size, ctx, seed=seed,
                      sparse_grad=settings.sparse_embedding)
    result = train(net, data.train, data.val, settings, data.max_tokens, data.pad_id, ctx, seed=seed,
                   progress=False)
    return net, result


def test_tiny_model_learns_the_synthetic_corpus(tiny_data, ctx, settings):
    started = time.perf_counter()
    net, result = run(tiny_data, ctx, settings(epochs=6))
    wall = time.perf_counter() - started
    assert result.epochs_run == 6 and len(result.history) == 6
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5, 6]
    assert 1 <= result.best_epoch <= 6
    best = result.history[result.best_epoch - 1]
    assert best["val_accuracy"] > 0.8  # chance is 0.25
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert best["val_loss"] == min(h["val_loss"] for h in result.history)
    # The epochs' own time (not the validation passes'), within the call's; throughput counts every training
    # document of every epoch over it (train_seconds is rounded to the millisecond).
    assert 0 < result.train_seconds <= wall
    documents = len(tiny_data.train) * 6
    assert documents / (result.train_seconds + 5e-4) <= result.samples_per_second \
        <= documents / max(result.train_seconds - 5e-4, 1e-9) + 0.05
    test_logits = predict_logits(net, tiny_data.test, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    assert (test_logits.argmax(axis=1) == tiny_data.test.labels).mean() > 0.75


@pytest.mark.parametrize("overrides", [
    {"hidden": [6], "bidirectional": True, "pooling": "meanmax", "dense": [6]},
    {"hidden": [4, 4], "fused": True, "dropout": 0.3, "embed_dropout": 0.1},
])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense_embedding", "sparse_embedding"])
def test_same_seed_gives_identical_history_and_weights(tiny_data, ctx, settings, overrides, sparse):
    s = settings(epochs=2, lr_schedule="cosine", warmup_epochs=1, clip_gradient=1.0, weight_decay=1e-4,
                 word_dropout=0.1, ema_decay=0.9, sparse_embedding=sparse)
    net_a, result_a = run(tiny_data, ctx, s, seed=5, **overrides)
    net_b, result_b = run(tiny_data, ctx, s, seed=5, **overrides)
    assert result_a.history == result_b.history
    assert result_a.best_epoch == result_b.best_epoch
    wa, wb = weights(net_a), weights(net_b)
    assert wa.keys() == wb.keys() and len(wa) > 0
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)
    _, result_c = run(tiny_data, ctx, s, seed=6, **overrides)
    assert result_c.history != result_a.history  # the seed does matter, so the check above can fail


def applied_rates(settings: TrainSettings, total_steps: int, steps_per_epoch: int) -> list[float]:
    """The learning rate of each update as the optimizer applies it, from a real trainer stepping a tiny net."""
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize(ctx=mx.cpu())
    trainer = make_trainer(net, dataclasses.replace(settings, weight_decay=0.0, clip_gradient=None),
                           lr_scheduler(settings, total_steps, steps_per_epoch))
    rates = []
    for _ in range(total_steps):
        with autograd.record():
            loss = net(mx.nd.ones((1, 2))).sum()
        loss.backward()
        trainer.step(1)
        rates.append(trainer.learning_rate)  # after update n: the rate update n ran at
    return rates


def closed_form(settings: TrainSettings, total_steps: int, steps_per_epoch: int) -> list[float]:
    """Linear warm-up over W updates (numbered from 1), then constant or cosine decay reaching 0 at the end."""
    base, warmup = settings.learning_rate, settings.warmup_epochs * steps_per_epoch
    rates = []
    for n in range(1, total_steps + 1):
        if n <= warmup:
            rates.append(base * n / warmup)
        elif settings.lr_schedule == "cosine":
            rates.append(base * (1 + math.cos(math.pi * (n - warmup) / (total_steps - warmup))) / 2)
        else:
            rates.append(base)
    return rates


@pytest.mark.parametrize("schedule, warmup_epochs, steps_per_epoch, epochs", [
    ("constant", 2, 10, 5),
    ("constant", 3, 4, 2),   # a warm-up longer than the training
    ("cosine", 0, 10, 10),
    ("cosine", 1, 10, 3),
    ("cosine", 2, 5, 2),     # the warm-up is the whole training
    ("cosine", 3, 4, 2),
])
def test_learning_rate_schedule_matches_the_closed_form(settings, schedule, warmup_epochs, steps_per_epoch, epochs):
    s = settings(learning_rate=0.01, warmup_epochs=warmup_epochs, lr_schedule=schedule)
    total = steps_per_epoch * epochs
    rates = applied_rates(s, total, steps_per_epoch)
    assert rates == pytest.approx(closed_form(s, total, steps_per_epoch), rel=1e-12, abs=1e-15)
    warmup = min(warmup_epochs * steps_per_epoch, total)
    warm, after = rates[:warmup], rates[warmup:]
    assert np.all(np.diff(warm) > 0)
    if schedule == "constant":
        assert after == [0.01] * len(after)
    elif after:
        assert np.all(np.diff(after) < 0)  # decays from the first update after warm-up
        assert after[-1] == pytest.approx(0.0, abs=1e-15) and min(rates[:-1]) > 0


def test_constant_learning_rate_needs_no_schedule(settings):
    s = settings(learning_rate=0.01, warmup_epochs=0, lr_schedule="constant")
    assert lr_scheduler(s, 50, 10) is None  # the optimizer keeps learning_rate: training as without schedules
    assert applied_rates(s, 5, 1) == [0.01] * 5


def test_cosine_halfway_and_a_quarter(settings):
    s = settings(learning_rate=0.1, warmup_epochs=1, lr_schedule="cosine")
    rates = applied_rates(s, 50, 10)  # 10 warm-up updates, then 40 of decay
    assert rates[9] == pytest.approx(0.1)
    assert rates[19] == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert rates[29] == pytest.approx(0.05)


def test_early_stopping_restores_the_best_epoch(tiny_data, ctx, settings):
    # Validation labels shifted by one class: the better the model fits the training data, the worse
    # its validation loss, so the best epoch is early and the run stops after `patience` more.
    val = tiny_data.val
    contrary = Split(val.ids, val.offsets, ((val.labels + 1) % 4).astype(np.int32), val.rows)
    patience = 2
    s = settings(epochs=12, patience=patience, learning_rate=0.03)
    net = build_model(spec_for(), tiny_data.vocab_size, ctx, seed=2)
    result = train(net, tiny_data.train, contrary, s, tiny_data.max_tokens, tiny_data.pad_id, ctx, seed=2,
                   progress=False)
    assert result.epochs_run < 12
    assert result.best_epoch <= result.epochs_run
    assert result.epochs_run == result.best_epoch + patience
    losses = [h["val_loss"] for h in result.history]
    assert losses[result.best_epoch - 1] == min(losses)
    assert min(losses) < losses[-1]
    # The net now holds the best epoch's weights, not the last epoch's.
    loss, accuracy = validation_loss(net, contrary, tiny_data.max_tokens, tiny_data.pad_id, ctx,
                                   s.batch_size, s.bucket_width)
    best = result.history[result.best_epoch - 1]
    assert loss == pytest.approx(best["val_loss"], abs=1e-5)
    assert accuracy == pytest.approx(best["val_accuracy"], abs=1e-6)
    assert abs(loss - losses[-1]) > 1e-3


def test_min_delta_stops_on_small_gains_but_keeps_the_lowest_loss(tiny_data, ctx, settings):
    # The tiny corpus is learnt steadily: with every gain counting, the run goes on; when a gain must
    # exceed 0.999 (more than any epoch after the first can gain), it stops after epoch 2, and the
    # weights kept are still those of the lower of its two validation losses.
    _, steady = run(tiny_data, ctx, settings(epochs=5, patience=1, min_delta=0.0), seed=3)
    strict_settings = settings(epochs=5, patience=1, min_delta=0.999)
    net, strict = run(tiny_data, ctx, strict_settings, seed=3)
    assert steady.epochs_run > 2
    assert strict.epochs_run == 2
    assert strict.history == steady.history[:2]  # same run, cut short
    losses = [h["val_loss"] for h in strict.history]
    assert losses[1] < losses[0] and strict.best_epoch == 2
    loss, _ = validation_loss(net, tiny_data.val, tiny_data.max_tokens, tiny_data.pad_id, ctx,
                              strict_settings.batch_size, strict_settings.bucket_width)
    assert loss == pytest.approx(losses[1], abs=1e-5)


def test_patience_waits_until_the_weight_average_has_left_the_initial_weights(tiny_data, ctx, settings):
    # A weight average of decay d needs about 1 / (1 - d) updates to move away from the initial weights;
    # here that is 3.5 epochs, so no epoch can stop the run before epoch 4 is over, even when (as with
    # this min_delta) no epoch after the first counts as progress.
    steps = math.ceil(len(tiny_data.train) / settings().batch_size)
    s = settings(epochs=8, patience=1, min_delta=0.999, ema_decay=1 - 1 / (3.5 * steps))
    _, result = run(tiny_data, ctx, s, seed=3)
    assert result.epochs_run == 5  # 4 epochs to settle, then one of patience
    _, plain = run(tiny_data, ctx, settings(epochs=8, patience=1, min_delta=0.999), seed=3)
    assert plain.epochs_run == 2  # no average: patience counts from the start


def test_diverged_run_fails_with_a_clear_error(tiny_data, ctx, settings):
    # Every epoch's validation loss is NaN: no epoch is ever "best". Training must end with a clear
    # error that the stage turns into a message, not a TypeError from restoring missing weights.
    net = build_model(spec_for(), tiny_data.vocab_size, ctx, seed=1)
    with pytest.raises((ValueError, RuntimeError, ArithmeticError)) as err:
        train(net, tiny_data.train, tiny_data.val, settings(epochs=2, learning_rate=1e38),
              tiny_data.max_tokens, tiny_data.pad_id, ctx, seed=1, progress=False)
    assert any(word in str(err.value).lower() for word in ("nan", "finite", "diverge"))


def test_validation_loss_matches_a_hand_computation(tiny_data, ctx, trained):
    loss, accuracy = validation_loss(trained.net, tiny_data.val, tiny_data.max_tokens, tiny_data.pad_id, ctx,
                                   batch_size=7, bucket_width=3)
    logits = predict_logits(trained.net, tiny_data.val, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(probs[np.arange(len(probs)), tiny_data.val.labels]).mean()
    assert loss == pytest.approx(expected, rel=1e-4)
    assert accuracy == pytest.approx((logits.argmax(axis=1) == tiny_data.val.labels).mean())


def test_drop_words_only_touches_valid_tokens():
    tokens = np.array([[5, 6, 7, 1, 1], [8, 9, 1, 1, 1], [4, 4, 4, 4, 4]], dtype=np.int32)
    lengths = np.array([3, 2, 5], dtype=np.int32)
    assert drop_words(tokens, lengths, 0.0, 0, np.random.RandomState(0)) is tokens
    dropped = drop_words(tokens, lengths, 0.5, 0, np.random.RandomState(0))
    assert dropped.dtype == np.int32 and dropped.shape == tokens.shape
    valid = np.arange(5)[None, :] < lengths[:, None]
    np.testing.assert_array_equal(dropped[~valid], tokens[~valid])  # padding stays padding
    changed = dropped != tokens
    assert changed.any() and np.all(dropped[changed] == 0)
    again = drop_words(tokens, lengths, 0.5, 0, np.random.RandomState(0))
    np.testing.assert_array_equal(again, dropped)
    everything = drop_words(tokens, lengths, 0.999999, 0, np.random.RandomState(1))
    assert np.all(everything[valid] == 0)



def test_weight_average_is_what_validation_sees_and_what_is_kept(tiny_data, ctx, settings):
    net, result = run(tiny_data, ctx, settings(epochs=3, ema_decay=0.5))
    best = result.history[result.best_epoch - 1]
    logits = predict_logits(net, tiny_data.val, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    # The restored weights are the averaged ones that were validated at the best epoch.
    assert abs((logits.argmax(axis=1) == tiny_data.val.labels).mean() - best["val_accuracy"]) < 1e-6


@pytest.mark.parametrize("decay, every", [(0.9, 1), (0.995, 2), (0.999, 10)])
def test_weight_average_refreshes_sparsely_with_the_same_time_constant(ctx, decay, every):
    net = build_model(spec_for(), 30, ctx, seed=3)
    average = WeightAverage(net, decay)
    assert average.every == every and average.decay == pytest.approx(decay ** every)
    start = [avg.asnumpy() for avg in average.shadow]
    target = [np.full(p.shape, 2.0, dtype=np.float32) for p in average.params]
    for param, value in zip(average.params, target, strict=True):
        param.set_data(mx.nd.array(value, ctx=ctx))
    for _ in range(every - 1):
        average.update()
    for avg, before in zip(average.shadow, start, strict=True):
        np.testing.assert_array_equal(avg.asnumpy(), before)  # not refreshed between samples
    average.update()
    # Weights that stayed put for `every` steps: exactly where `every` per-step updates with `decay` end up.
    for avg, before, value in zip(average.shadow, start, target, strict=True):
        np.testing.assert_allclose(avg.asnumpy(), decay ** every * before + (1 - decay ** every) * value,
                                   rtol=1e-5, atol=1e-6)


def test_training_frees_its_static_shape_copies_before_returning(tiny_data, ctx, settings):
    """The hybridized copies of each batch shape (and their activation buffers) sit in reference cycles;
    train() collects them, so a second model trained in the same process (train.seeds > 1) does not keep
    the first one's. With the automatic collector off, only an explicit collection can free them."""
    import gc

    from pipeline.model import LSTMClassifier

    def alive() -> int:
        return sum(isinstance(o, LSTMClassifier) for o in gc.get_objects())

    gc.collect()
    before = alive()
    gc.disable()
    try:
        net, _ = run(tiny_data, ctx, settings(epochs=2))
        assert alive() == before + 1  # the trained model itself, none of its copies
    finally:
        gc.enable()
