"""Where a training step's time goes: MXNet's operator profile of the step that `train` runs.

    python -m benchmarks.profile_step                          # every approach, batch 1024
    python -m benchmarks.profile_step --approaches lstm_25 --batch 128

The step is the throughput benchmark's *sparse_embedding* column (the pipeline's own model, static-shape
graphs, bucketed batches, lazy Adam) on the same generated documents. MXNet's operator bulking is
switched off, so that the profiler times each operator on its own; the profile then sums every
operator's time per step into a few groups (the LSTM kernel, pooling, dropout, ...) and prints one table
and the figures as JSON. The profiled wall time is a little above the benchmark's: compare shares.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import mxnet as mx  # benchmarks/__init__ imported pipeline first: OpenMP threads are set

from benchmarks.corpus import make_texts
from benchmarks.throughput import MXNET_IMPORT_VARS, VARIANTS, benchmark_params, run_child, training_step
from pipeline.dataset import vectorize
from pipeline.tokenize import tokenize_all
from pipeline.vocab import build_vocab

log = logging.getLogger("benchmarks")

# Operator name -> group; forward and backward operators count together.
GROUPS = {
    "LSTM kernel (oneDNN)": ("RNN", "_backward_RNN", "_rnn_param_concat", "_backward_Concat", "_zeros",
                             "_zeros_without_dtype"),
    "pooling over valid steps": ("Pooling", "_backward_Pooling", "SequenceMask", "_backward_SequenceMask",
                                 "SequenceLast", "_backward_SequenceLast"),
    "dropout (embedding, head)": ("Dropout", "_backward_Dropout"),
    "embedding lookup": ("Embedding", "_backward_Embedding"),
    "Adam update": ("adam_update",),
    # model.reverse_valid: a gather (take) of row indices computed from the lengths
    "reversing (backward direction)": ("take", "_backward_take", "_contrib_arange_like", "broadcast_add",
                                       "broadcast_sub", "broadcast_mul", "broadcast_lesser", "where", "zeros_like",
                                       "ones_like", "sum", "_minus_scalar", "reshape_like",
                                       "SequenceReverse", "_backward_SequenceReverse"),
    "layout (transpose, concat, reshape)": ("transpose", "_backward_transpose", "Concat", "concat", "Reshape",
                                            "_backward_reshape", "expand_dims", "_backward_expand_dims"),
    "dense layers and loss": ("FullyConnected", "_backward_FullyConnected", "Activation", "_backward_Activation",
                              "log_softmax", "_backward_log_softmax", "pick", "_backward_pick", "mean",
                              "_backward_mean", "_mul_scalar", "_backward_mul_scalar"),
    "gradient sums and copies": ("add_n", "_backward_copy", "_copy"),
    "engine bookkeeping": ("DeleteVariable", "SetValueOp"),
}
GROUP_OF = {op: group for group, ops in GROUPS.items() for op in ops}
OTHER = "other"


def group_times(operator_ms: dict[str, float], steps: int) -> dict[str, float]:
    """Milliseconds per step of each group (and ``other``) from total milliseconds per operator name."""
    grouped = dict.fromkeys([*GROUPS, OTHER], 0.0)
    for op, ms in operator_ms.items():
        grouped[GROUP_OF.get(op, OTHER)] += ms / steps
    return {group: round(ms, 2) for group, ms in grouped.items() if ms > 0}


def operator_totals(profile_json: str) -> dict[str, float]:
    """Total milliseconds per operator from ``mx.profiler.dumps(format="json")``."""
    stats = json.loads(profile_json)["Time"].get("operator", {})
    return {name: float(entry["Total"]) for name, entry in stats.items()}


def profile_approach(approach: dict, split, vocab_size: int, settings, batch: int, steps: int,
                     trace: Path) -> dict:
    """Profile ``steps`` training steps of ``approach`` after one warm-up step per batch shape; MXNet writes
    its trace to ``trace``, a path in a private folder (it deletes whatever is there first: given
    ``os.devnull``, it deleted /dev/null)."""
    step, batches, warm, _ = training_step(approach, split, vocab_size, settings, VARIANTS["sparse_embedding"],
                                           batch)
    for index in warm + batches[:2]:
        step(index).wait_to_read()
    timed = batches[2:2 + steps]
    if not timed:
        raise ValueError(f"{len(batches)} batches of {batch} documents: too few to profile; generate more (--docs)")
    mx.profiler.set_config(profile_all=True, aggregate_stats=True, filename=str(trace))
    mx.profiler.set_state("run")
    started = time.perf_counter()
    for index in timed:
        step(index)
    mx.nd.waitall()
    wall_ms = 1000 * (time.perf_counter() - started) / len(timed)
    mx.profiler.set_state("stop")
    totals = operator_totals(mx.profiler.dumps(reset=True, format="json"))
    groups = group_times(totals, len(timed))
    return {"batch": batch, "steps": len(timed), "wall_ms_per_step": round(wall_ms, 2),
            "operators_ms_per_step": round(sum(groups.values()), 2), "groups_ms_per_step": groups,
            "other_operators": sorted(op for op in totals if op not in GROUP_OF)}


def worker(spec: str) -> None:
    """Profile the approaches of ``spec`` (JSON) in this process, whose graphs are built unbulked."""
    opts = json.loads(spec)
    texts, labels = make_texts(opts["docs"], vocab_size=min(67_000, 2 * opts["docs"]))
    vocab = build_vocab(tokenize_all(texts))
    split = vectorize(tokenize_all(texts), vocab.token_to_idx, vocab.token_to_idx[vocab.unknown_token], labels)
    settings = benchmark_params()["train"]
    with tempfile.TemporaryDirectory(prefix="agnews_profile_") as tmp:
        found = {name: profile_approach(approach, split, len(vocab), settings, opts["batch"], opts["steps"],
                                        Path(tmp) / "trace.json")
                 for name, approach in opts["approaches"].items()}
    print(json.dumps(found))


def profile(approaches: dict[str, dict], batch: int, steps: int, docs: int) -> dict:
    """Per approach (name -> the mapping ``benchmark_params`` gives), milliseconds per training step per
    operator group, measured in a child process: MXNet reads whether to bulk operators when it loads."""
    env = {k: v for k, v in os.environ.items() if k not in MXNET_IMPORT_VARS}
    env["MXNET_EXEC_BULK_EXEC_TRAIN"] = "0"
    spec = json.dumps({"approaches": approaches, "batch": batch, "steps": steps, "docs": docs})
    return run_child([sys.executable, "-m", "benchmarks.profile_step", "--worker", spec], env)


def render(found: dict) -> str:
    names = list(found)
    groups = [g for g in [*GROUPS, OTHER] if any(g in found[n]["groups_ms_per_step"] for n in names)]
    lines = ["| ms per step (share of the operators' time) | " + " | ".join(names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for group in groups:
        cells = []
        for name in names:
            ms = found[name]["groups_ms_per_step"].get(group, 0.0)
            cells.append(f"{ms:.1f} ({100 * ms / found[name]['operators_ms_per_step']:.0f} %)")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append("| all operators | " + " | ".join(f"{found[n]['operators_ms_per_step']:.1f}" for n in names) + " |")
    lines.append("| wall time, profiled | " + " | ".join(f"{found[n]['wall_ms_per_step']:.1f}" for n in names) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--approaches", nargs="*", help="subset of approach names (default: all)")
    p.add_argument("--batch", type=int, default=1024, help="documents per step (default: the study's 1024)")
    p.add_argument("--steps", type=int, default=12, help="profiled steps per approach")
    p.add_argument("--docs", type=int, default=30_000, help="generated documents to cut batches from")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    approaches = benchmark_params()["approaches"]
    names = args.approaches or list(approaches)
    unknown = sorted(set(names) - set(approaches))
    if unknown:
        p.error(f"unknown approach(es) {', '.join(unknown)}; params.yaml has {', '.join(approaches)}")
    log.info("profiling %s at batch %d (%d steps each)", ", ".join(names), args.batch, args.steps)
    found = profile({name: approaches[name] for name in names}, args.batch, args.steps, args.docs)
    print(render(found))
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
