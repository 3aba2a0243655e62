"""The training loop: Adam over length-bucketed batches cut from the cached arrays."""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from scipy.special import log_softmax
from tqdm import tqdm

from pipeline.dataset import Split, length_batches, pad_batch
from pipeline.errors import TrainingError
from pipeline.inference import batch_arrays, predict_logits, to_device
from pipeline.model import StaticShapeCopies
from pipeline.params import TrainSettings

log = logging.getLogger(__name__)

# Enough refreshes of the weight average per time constant (1 / (1 - decay) steps) that sampling it
# changes nothing measurable; fewer would save little more (see WeightAverage).
SAMPLES_PER_TIME_CONSTANT = 100


@dataclass
class TrainResult:
    history: list[dict]
    best_epoch: int
    epochs_run: int
    train_seconds: float
    samples_per_second: float


def lr_scheduler(settings: TrainSettings, total_steps: int,
                 steps_per_epoch: int) -> mx.lr_scheduler.LRScheduler | None:
    """MXNet's schedule: linear warm-up for ``warmup_epochs``, then constant or cosine decay to zero.

    The optimizer numbers its updates from 1: update ``n`` of a warm-up over ``W`` updates runs at
    ``learning_rate * n / W`` and update ``W`` at the full rate. The cosine then reaches 0 on the last
    update, ``learning_rate * (1 + cos(pi * (n - W) / (total_steps - W))) / 2``. None (a constant rate
    the optimizer keeps) without warm-up and decay.
    """
    base = settings.learning_rate
    warmup = settings.warmup_epochs * steps_per_epoch
    if settings.lr_schedule == "cosine":
        # MXNet divides by max_update - warmup_steps: a warm-up as long as the training needs one more update.
        return mx.lr_scheduler.CosineScheduler(max(total_steps, warmup + 1), base_lr=base, final_lr=0.0,
                                               warmup_steps=warmup, warmup_begin_lr=0.0)
    if warmup:
        # factor 1: no decay; a step beyond the last update so that the scheduler never logs a change.
        return mx.lr_scheduler.FactorScheduler(max(total_steps, 1), factor=1.0, base_lr=base,
                                               warmup_steps=warmup, warmup_begin_lr=0.0)
    return None


def validation_loss(net, split: Split, max_tokens: int, pad_id: int, ctx: mx.Context,
                    batch_size: int, bucket_width: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` on ``split``: what early stopping and model selection read."""
    logits = predict_logits(net, split, max_tokens, pad_id, ctx, batch_size, bucket_width)
    log_probs = log_softmax(logits, axis=1)
    loss = -log_probs[np.arange(len(split)), split.labels].mean()
    accuracy = float((logits.argmax(axis=1) == split.labels).mean())
    return float(loss), accuracy


class WeightAverage:
    """Exponential moving average of the weights; validation and the checkpoint use the average.

    Averaging smooths the step-to-step noise of small-batch Adam, which on a few thousand documents
    is worth about as much as another regulariser.

    The average is refreshed every ``every`` steps with decay ``decay ** every``: the same time constant,
    sampled about :data:`SAMPLES_PER_TIME_CONSTANT` times within it. One refresh costs ~6 ms (most of it the
    embedding table's 1.3 million weights), which on every step was a third of ``lstm_25``'s step at batch 128.
    """

    def __init__(self, net, decay: float):
        self.time_constant = 1 / (1 - decay)  # steps
        self.every = max(1, round(self.time_constant / SAMPLES_PER_TIME_CONSTANT))
        self.decay = decay ** self.every
        self.params = list(net.collect_params().values())
        self.shadow = [p.data().copy() for p in self.params]
        self.steps = 0

    def update(self) -> None:
        """Count one training step; refresh the average on every ``every``-th."""
        self.steps += 1
        if self.steps % self.every == 0:
            self.refresh()

    def refresh(self) -> None:
        for avg, param in zip(self.shadow, self.params, strict=True):
            avg *= self.decay  # in place: one pass less over the embedding table on every refresh
            avg += (1.0 - self.decay) * param.data()

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Swap the averaged weights in for the duration of the block."""
        current = [p.data().copy() for p in self.params]
        for avg, param in zip(self.shadow, self.params, strict=True):
            param.set_data(avg)
        try:
            yield
        finally:
            for saved, param in zip(current, self.params, strict=True):
                param.set_data(saved)


def drop_words(tokens: np.ndarray, lengths: np.ndarray, rate: float, unk_id: int,
               rng: np.random.RandomState) -> np.ndarray:
    """Replace each valid token by ``<unk>`` with probability ``rate`` (word dropout)."""
    if rate <= 0:
        return tokens
    valid = np.arange(tokens.shape[1])[None, :] < lengths[:, None]
    return np.where(valid & (rng.random_sample(tokens.shape) < rate), unk_id, tokens).astype(np.int32)


def make_trainer(net, settings: TrainSettings,
                 schedule: mx.lr_scheduler.LRScheduler | None = None) -> gluon.Trainer:
    """Adam with the configured weight decay, gradient clipping and learning-rate ``schedule`` (lazy rows for
    sparse gradients)."""
    optimizer_args = {"learning_rate": settings.learning_rate, "wd": settings.weight_decay,
                      "lr_scheduler": schedule}
    if settings.clip_gradient:
        optimizer_args["clip_gradient"] = settings.clip_gradient
    return gluon.Trainer(net.collect_params(), "adam", optimizer_args)


def train_step(forward, trainer: gluon.Trainer, loss_fn, data: mx.nd.NDArray, lengths: mx.nd.NDArray,
               labels: mx.nd.NDArray) -> mx.nd.NDArray:
    """One forward/backward/update on a padded batch already on the device (:func:`batch_arrays`);
    returns the per-document losses (not synced).

    ``forward`` is the model or, faster, its :class:`~pipeline.model.StaticShapeCopies`.
    """
    with autograd.record():
        loss = loss_fn(forward(data, lengths), labels)
    loss.backward()
    trainer.step(data.shape[0])
    return loss


def train(net, train_split: Split, val_split: Split, settings: TrainSettings, max_tokens: int, pad_id: int,
          ctx: mx.Context, seed: int, progress: bool = True, unk_id: int = 0) -> TrainResult:
    """Train ``net`` in place; on return it holds the weights of the best validation epoch."""
    rng = np.random.RandomState(seed)
    batch_size, width = settings.batch_size, settings.bucket_width
    lengths = np.minimum(train_split.lengths, max_tokens)
    steps_per_epoch = math.ceil(len(train_split) / batch_size)
    total_steps = steps_per_epoch * settings.epochs
    trainer = make_trainer(net, settings, lr_scheduler(settings, total_steps, steps_per_epoch))
    forward = StaticShapeCopies(net)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    history: list[dict] = []
    best = {"val_loss": math.inf, "epoch": 0, "params": None}
    # Early stopping counts an epoch as progress only if it beats the loss of the last such epoch by more
    # than min_delta; the weights kept are still those of the lowest validation loss seen.
    progress_loss, progress_epoch = math.inf, 0
    seen, train_time = 0, 0.0
    average = WeightAverage(net, settings.ema_decay) if settings.ema_decay else None
    # The average starts at the initial weights and takes about a time constant to move away from
    # them; until then its validation loss stays near chance whatever the model learns (on 13,000 documents
    # a 3-layer LSTM was stopped at 25 % accuracy after epoch 2), so patience only counts after that.
    settle_epochs = math.ceil(average.time_constant / steps_per_epoch) if average else 0
    evaluated = average.applied if average else contextlib.nullcontext
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        batches = length_batches(lengths, batch_size, rng)
        epoch_loss = mx.nd.zeros(1, ctx=ctx)
        bar = tqdm(batches, desc=f"epoch {epoch}/{settings.epochs}", unit="batch",
                   disable=not progress, leave=False)
        for index in bar:
            tokens, batch_lengths = pad_batch(train_split, index, max_tokens, pad_id, width)
            tokens = drop_words(tokens, batch_lengths, settings.word_dropout, unk_id, rng)
            data, valid = batch_arrays(tokens, batch_lengths, ctx)
            loss = train_step(forward, trainer, loss_fn, data, valid,
                              to_device(train_split.labels[index], ctx, "float32"))
            if average:
                average.update()
            epoch_loss += loss.sum()
        train_loss = float(epoch_loss.asscalar()) / len(train_split)
        train_time += time.perf_counter() - started
        seen += len(train_split)
        with evaluated():  # the weights validated are the ones kept
            val_loss, val_acc = validation_loss(net, val_split, max_tokens, pad_id, ctx, batch_size, width)
            if val_loss < best["val_loss"]:
                best = {"val_loss": val_loss, "epoch": epoch,
                        "params": {k: p.data().copy() for k, p in net.collect_params().items()}}
            if val_loss < progress_loss - settings.min_delta:
                progress_loss, progress_epoch = val_loss, epoch
        history.append({"epoch": epoch, "train_loss": round(train_loss, 6),
                        "val_loss": round(val_loss, 6), "val_accuracy": round(val_acc, 6)})
        log.info("epoch %d: train loss %.4f, val loss %.4f, val accuracy %.4f",
                 epoch, train_loss, val_loss, val_acc)
        if settings.patience and epoch - max(progress_epoch, settle_epochs) >= settings.patience:
            log.info("early stop: validation loss not lower by more than %g for %d epochs",
                     settings.min_delta, settings.patience)
            break
    # The static-shape copies hold their activation buffers (about 1 GB for bilstm3) in reference cycles,
    # which Python frees only at some later collection: free them now, so that the next model trained in
    # this process (train.seeds > 1) does not hold both (three bilstm3 seeds: 4.2 -> 2.3 GB peak, README).
    del forward
    gc.collect()
    if best["params"] is None:
        raise TrainingError("validation loss was never finite: training diverged; lower "
                           "train.learning_rate or set train.clip_gradient in params.yaml")
    for key, param in net.collect_params().items():
        param.set_data(best["params"][key])
    return TrainResult(history=history, best_epoch=best["epoch"], epochs_run=len(history),
                       train_seconds=round(train_time, 3),
                       samples_per_second=round(seen / train_time, 1) if train_time else 0.0)
