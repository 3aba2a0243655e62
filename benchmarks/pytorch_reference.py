"""The six approaches written plainly in PyTorch, timed on the very batches the pipeline trains on.

Embedding -> ``nn.LSTM`` (one multi-layer module when the layer sizes are equal, otherwise one module
per layer; bidirectional as the approach says) -> the approach's pooling over the valid steps -> dense ReLU
layers -> output; dropout where the approach has it, Adam (lr 0.001), dense embedding gradients,
softmax cross-entropy. The LSTM reads every padded step, as the pipeline's does.

Run by ``benchmarks.throughput`` in a child process (``--serve JSON``), so that torch and MXNet never
share a process and torch gets the pipeline's thread count; it times one window of batches whenever the
parent asks, in turn with the reference loop and the pipeline (``benchmarks.child_timer``). Needs the
optional benchmark extra: ``make bench`` or ``.venv/bin/pip install -r requirements-bench.lock`` (CPU torch).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable

import numpy as np

from benchmarks.child_timer import serve

INSTALL_HINT = "`make bench` or `.venv/bin/pip install -r requirements-bench.lock` installs CPU torch"


def available() -> bool:
    return importlib.util.find_spec("torch") is not None


def build(vocab_size: int, approach: dict, num_classes: int = 4):
    import torch
    from torch import nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            hidden, bi = approach["hidden"], approach["bidirectional"]
            directions = 2 if bi else 1
            self.embedding = nn.Embedding(vocab_size, approach["embed_len"])
            self.embed_dropout = nn.Dropout(approach.get("embed_dropout") or 0.0)
            if len(set(hidden)) == 1:
                self.lstms = nn.ModuleList([nn.LSTM(approach["embed_len"], hidden[0], num_layers=len(hidden),
                                                    batch_first=True, bidirectional=bi)])
            else:
                inputs = [approach["embed_len"]] + [h * directions for h in hidden[:-1]]
                self.lstms = nn.ModuleList([nn.LSTM(i, h, batch_first=True, bidirectional=bi)
                                            for i, h in zip(inputs, hidden, strict=True)])
            layers: list[nn.Module] = []
            width = hidden[-1] * directions * (2 if approach["pooling"] == "meanmax" else 1)
            for units in approach["dense"]:
                layers += [nn.Dropout(approach.get("dropout") or 0.0), nn.Linear(width, units), nn.ReLU()]
                width = units
            layers += [nn.Dropout(approach.get("dropout") or 0.0), nn.Linear(width, num_classes)]
            self.head = nn.Sequential(*layers)

        def forward(self, tokens, lengths):
            out = self.embed_dropout(self.embedding(tokens))
            for lstm in self.lstms:
                out, _ = lstm(out)
            return self.head(pool(out, lengths, approach["pooling"]))

    torch.manual_seed(0)
    return Model()


def pool(out, lengths, pooling: str):
    """``(batch, T, C)`` LSTM outputs -> one vector per document, over its valid steps (as ``pipeline.model.pool``
    computes it for a forward LSTM; ``last`` is the output at the last valid step). A timing model: the
    backward direction of a BiLSTM reads the padding here, which costs the same."""
    import torch

    if pooling == "last":
        return out[torch.arange(out.shape[0]), lengths - 1]
    parts = []
    valid = (torch.arange(out.shape[1])[None, :] < lengths[:, None])[:, :, None]
    if pooling in ("mean", "meanmax"):
        parts.append(out.masked_fill(~valid, 0.0).sum(dim=1) / lengths[:, None])
    if pooling in ("max", "meanmax"):
        parts.append(out.masked_fill(~valid, float("-inf")).amax(dim=1))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def window_timer(approach: dict, vocab_size: int, batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 untimed: int, size: int) -> Callable[[], float]:
    """Trains on the first ``untimed`` batches now; returns a function timing the next ``size`` (seconds)."""
    import torch

    net = build(vocab_size, approach)
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    tensors = [(torch.from_numpy(t).long(), torch.from_numpy(n).long(), torch.from_numpy(y).long())
               for t, n, y in batches]

    def step(batch) -> None:
        tokens, lengths, labels = batch
        optimizer.zero_grad()
        loss_fn(net(tokens, lengths), labels).backward()
        optimizer.step()

    it = iter(tensors)
    for _ in range(untimed):
        step(next(it))

    def window() -> float:
        started = time.perf_counter()
        for _ in range(size):
            step(next(it))
        return time.perf_counter() - started
    return window


def serve_job(spec: str) -> None:
    """``spec``: JSON with ``threads``, ``approach``, ``vocab_size``, ``npz`` (the batches), ``untimed``, ``size``;
    builds and warms the model, then times windows on request (``benchmarks.child_timer``)."""
    import torch

    job = json.loads(spec)
    torch.set_num_threads(int(job["threads"]))
    with np.load(job["npz"], allow_pickle=False) as data:
        batches = [(data[f"tokens_{i}"], data[f"lengths_{i}"], data[f"labels_{i}"]) for i in range(int(data["count"]))]
    window = window_timer(job["approach"], job["vocab_size"], batches, job["untimed"], job["size"])
    serve(window, {"torch": torch.__version__, "threads": torch.get_num_threads()})


def save_batches(path, batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    arrays = {"count": np.array(len(batches))}
    for i, (tokens, lengths, labels) in enumerate(batches):
        arrays.update({f"tokens_{i}": tokens, f"lengths_{i}": lengths, f"labels_{i}": labels})
    np.savez(path, **arrays)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--serve", required=True, help="JSON job description (written by benchmarks.throughput)")
    serve_job(p.parse_args().serve)
