"""Preprocessing and training throughput of the pipeline against the reference study's way.

    python -m benchmarks.throughput            # full scale: 127,600 generated documents
    python -m benchmarks.throughput --quick    # a smoke run in about three minutes
    python -m benchmarks.throughput --loaded --loaded-threads 1 2 --wait-policy default passive

Prints a table and writes JSON (default ``benchmarks/results.json``). Everything is measured in this
run, side by side: the reference loop (a child process with MXNet's default threads), the pipeline's own
training code and, where torch is installed (``make bench``), the same models in plain PyTorch
(``benchmarks.pytorch_reference``, a child process), in alternating windows whose ratios are taken per round.
``--loaded`` adds train throughput quiet and next to one busy single-threaded process, per thread setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import mxnet as mx  # benchmarks/__init__ imported pipeline first: OpenMP threads are set
import numpy as np

import pipeline
from benchmarks import choices, pytorch_reference
from benchmarks.child_timer import ChildTimer, serve
from benchmarks.corpus import TEST_DOCS, TRAIN_DOCS, make_texts
from benchmarks.reference import build_reference, reference_step, vectorize_batch
from pipeline.dataset import length_batches, load_split, pad_batch, save_split, vectorize
from pipeline.fileio import write_json
from pipeline.inference import batch_arrays, to_device
from pipeline.model import StaticShapeCopies, build_model
from pipeline.params import Architecture, TrainSettings
from pipeline.params import load as load_params
from pipeline.tokenize import tokenize_all
from pipeline.training import make_trainer, train_step
from pipeline.vocab import build_vocab

log = logging.getLogger("benchmarks")
ROOT = Path(__file__).resolve().parents[1]
# Set by `import mxnet` in this process, not by the user; inherited by a child they make OpenMP
# threads spin (tests/dvc_project.py measured it), so the measuring children do without them.
MXNET_IMPORT_VARS = ("KMP_INIT_AT_FORK", "KMP_DUPLICATE_LIB_OK")
BATCH = 1024  # the reference study's batch size, used for every training measurement


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def preprocessing(texts: list[str], labels: np.ndarray, n_train: int) -> tuple[dict, object, object, list]:
    """Our way (tokenize + count once, vectorize once) against one epoch of per-batch re-tokenizing."""
    train_texts, test_texts = texts[:n_train], texts[n_train:]
    t_vocab, vocab = timed(lambda: build_vocab(tokenize_all(train_texts)))
    unk = vocab.token_to_idx[vocab.unknown_token]
    t_vec, splits = timed(lambda: [vectorize(tokenize_all(part), vocab.token_to_idx, unk, lab)
                                   for part, lab in ((train_texts, labels[:n_train]),
                                                     (test_texts, labels[n_train:]))])
    t_ref, _ = timed(lambda: [vectorize_batch(train_texts[i:i + BATCH], vocab.token_to_idx, 50)
                              for i in range(0, len(train_texts), BATCH)])
    ours = t_vocab + t_vec
    return ({"documents": len(texts), "vocab_size": len(vocab), "tokenize_count_s": round(t_vocab, 2),
             "vectorize_s": round(t_vec, 2), "total_s": round(ours, 2),
             "documents_per_s": round(len(texts) / ours),
             "reference_one_epoch_s": round(t_ref, 2),
             "reference_15_epochs_s": round(15 * t_ref, 2)},
            vocab, splits[0], train_texts)


def lstm_flops(approach: dict, steps: int, batch: int) -> float:
    """Forward + backward FLOPs of the LSTM layers (gate GEMMs; backward ~ 2x forward)."""
    directions = 2 if approach["bidirectional"] else 1
    total, inputs = 0.0, approach["embed_len"]
    for hidden in approach["hidden"]:
        total += directions * 2 * 4 * hidden * (inputs + hidden)
        inputs = hidden * directions
    return 3.0 * total * steps * batch


def window_timer(step, batches: list, warmup: int, size: int, warm: list | None = None) -> Callable[[], float]:
    """Runs the untimed batches now (``warm``, then ``warmup`` of ``batches``) and returns a function that
    trains on the next ``size`` batches and returns their seconds.

    ``warm`` lists extra untimed batches, one per batch shape, so that one-time graph builds (paid
    once per shape per training run, not per batch) stay out of the timed windows.
    """
    for index in warm or []:
        step(index).wait_to_read()
    it = iter(batches)
    for _ in range(warmup):
        step(next(it)).wait_to_read()

    def window() -> float:
        started = time.perf_counter()
        for _ in range(size):
            loss = step(next(it))
        loss.wait_to_read()
        mx.nd.waitall()
        return time.perf_counter() - started
    return window


def windows(step, batches: list, warmup: int, size: int, count: int, warm: list | None = None) -> list[float]:
    """Seconds per window of ``size`` batches, ``count`` windows back to back (:func:`window_timer`)."""
    window = window_timer(step, batches, warmup, size, warm)
    return [window() for _ in range(count)]


def pipeline_batches(approach: dict, split, settings: TrainSettings, variant: dict,
                     batch: int = BATCH) -> tuple[list, int, list]:
    """The batches (index arrays) a measurement trains on, their pad multiple, one batch per padded width."""
    max_tokens = approach["max_tokens"]
    lengths = np.minimum(split.lengths, max_tokens)
    rng = np.random.RandomState(0)
    if variant["bucketing"]:
        batches = length_batches(lengths, batch, rng)
        width = variant.get("bucket_width", settings.bucket_width)
    else:
        batches = [rng.permutation(len(split))[i * batch:(i + 1) * batch] for i in range(len(split) // batch)]
        width = max_tokens
    batches = [b for b in batches if len(b) == batch]
    shapes = {}
    for index in batches:  # the first batch of every padded width
        shapes.setdefault(-(-int(lengths[index].max()) // width), index)
    return batches, width, list(shapes.values())


def training_step(approach: dict, split, vocab_size: int, settings: TrainSettings, variant: dict,
                  batch: int = BATCH) -> tuple:
    """The pipeline's training step as ``variant`` builds it, and what it trains on: ``(step, batches, warm,
    padded_steps)``; ``step(index)`` runs one asynchronous step on a batch of ``split`` and appends its padded
    width to ``padded_steps``; ``warm`` holds one batch per padded width (:func:`pipeline_batches`)."""
    ctx = mx.cpu()
    net = build_model(Architecture.from_mapping(approach), vocab_size, ctx, seed=0, sparse_grad=variant["sparse"],
                      hybridize=False)
    forward = net
    if variant["hybridize"]:
        net.hybridize(static_alloc=True)
    if variant.get("static_shapes"):
        forward = StaticShapeCopies(net)
    trainer = make_trainer(net, dataclasses.replace(settings, learning_rate=0.001))
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    max_tokens = approach["max_tokens"]
    batches, width, warm = pipeline_batches(approach, split, settings, variant, batch)
    padded_steps: list[int] = []

    def step(index):
        tokens, lens = pad_batch(split, index, max_tokens, 1, width)
        if not variant["bucketing"]:
            tokens = np.pad(tokens, ((0, 0), (0, max_tokens - tokens.shape[1])), constant_values=1)
        padded_steps.append(tokens.shape[1])
        data, valid = batch_arrays(tokens, lens, ctx)
        return train_step(forward, trainer, loss_fn, data, valid, to_device(split.labels[index], ctx, "float32"))

    return step, batches, warm, padded_steps


def rate(approach: dict, seconds: list[float], size: int, steps: float) -> dict:
    """Samples/s of the median window of ``size`` batches, and the LSTM GFLOP/s at ``steps`` steps a batch."""
    median = float(np.median(seconds))
    return {"samples_per_s": round(size * BATCH / median),
            "lstm_gflops": round(lstm_flops(approach, steps, BATCH) * size / median / 1e9, 1)}


def pipeline_rate(approach: dict, seconds: list[float], size: int, padded_steps: list[int]) -> dict:
    """:func:`rate` at the mean padded LSTM steps of the timed batches, which it also reports."""
    mean_steps = float(np.mean(padded_steps))
    return {**rate(approach, seconds, size, mean_steps), "mean_padded_steps": round(mean_steps, 1)}


def measure_pipeline(approach: dict, split, vocab_size: int, settings: TrainSettings, variant: dict,
                     warmup: int, size: int, count: int) -> dict:
    step, batches, warm, padded_steps = training_step(approach, split, vocab_size, settings, variant)
    times = windows(step, batches, warmup, size, count, warm)
    return pipeline_rate(approach, times, size, padded_steps[len(warm) + warmup:])


def interleave(timers: dict[str, Callable[[], float]], count: int) -> dict[str, list[float]]:
    """``count`` rounds, each one window of every timer in turn: seconds per window, per timer. Figures
    divided by each other then share the machine's state of the same few seconds."""
    seconds: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(count):
        for name, window in timers.items():
            seconds[name].append(window())
    return seconds


def median_ratio(slow: list[float], fast: list[float]) -> float:
    """The median over rounds of ``slow / fast`` seconds (how many times faster ``fast`` is)."""
    return round(float(np.median(np.asarray(slow) / np.asarray(fast))), 2)


def pytorch_timer(params: dict, name: str, split, vocab_size: int, variant: dict, warmup: int, size: int,
                  count: int, tmp: Path) -> ChildTimer | str:
    """The approach in plain PyTorch (``benchmarks.pytorch_reference``), ready to time in a child process
    with the pipeline's thread count, on the padded batches the pipeline's measurement trains on, in its
    order (saved under ``tmp``); or why it cannot run."""
    if not pytorch_reference.available():
        return f"torch is not installed: {pytorch_reference.INSTALL_HINT}"
    threads = os.environ.get("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    approach = params["approaches"][name]
    batches, width, warm = pipeline_batches(approach, split, params["train"], variant)
    used = warm + batches[:warmup + size * count]
    padded = [pad_batch(split, index, approach["max_tokens"], 1, width) + (split.labels[index],) for index in used]
    npz = tmp / f"{name}.npz"
    pytorch_reference.save_batches(npz, padded)
    job = {"threads": threads, "approach": approach, "vocab_size": vocab_size, "npz": str(npz),
           "untimed": len(warm) + warmup, "size": size}
    env = {k: v for k, v in os.environ.items() if k not in MXNET_IMPORT_VARS}
    env["OMP_NUM_THREADS"] = threads
    return ChildTimer([sys.executable, "-m", "benchmarks.pytorch_reference", "--serve", json.dumps(job)], env,
                      f"PyTorch reference ({name})")


def benchmark_params() -> dict:
    """params.yaml, validated, in the plain form the benchmarks and their child processes (JSON) use:
    ``train`` settings, and each approach as one mapping of max_tokens and its architecture."""
    params = load_params(ROOT / "params.yaml")
    return {"train": params.train,
            "approaches": {name: {"max_tokens": a.max_tokens,
                                  **{k: list(v) if isinstance(v, tuple) else v
                                     for k, v in dataclasses.asdict(a.architecture).items()}}
                           for name, a in params.approaches.items()}}


def measure_choices(params: dict, split, vocab_size: int, repeats: int) -> dict:
    """``benchmarks.choices`` at the shapes of the first unidirectional approach (for max pooling: the first that
    pools by max, if any) and of the first bidirectional one."""
    approaches = list(params["approaches"].values())
    uni = next(a for a in approaches if not a["bidirectional"])
    by_max = next((a for a in approaches if not a["bidirectional"] and a["pooling"] in ("max", "meanmax")), uni)
    bi = next((a for a in approaches if a["bidirectional"]), uni)
    settings = params["train"]
    result = {"max_pooling": choices.pooling(by_max["max_tokens"], BATCH, by_max["hidden"][-1], repeats),
              "bidirectional_outputs": choices.bidirectional_outputs(bi["max_tokens"], BATCH, bi["hidden"][-1],
                                                                     repeats),
              # what a BiLSTM's second layer reverses: both directions of the first
              "reversal": choices.reversal(bi["max_tokens"], BATCH, 2 * bi["hidden"][0], repeats)}
    ctx = mx.cpu()
    steps = uni["max_tokens"]
    full = np.flatnonzero(split.lengths >= steps)  # one batch shape: every document fills all steps
    for batch in (settings.batch_size, BATCH):
        net = build_model(Architecture.from_mapping(uni), vocab_size, ctx, seed=0,
                          sparse_grad=settings.sparse_embedding)
        forward, trainer = StaticShapeCopies(net), make_trainer(net, settings)
        loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
        rng = np.random.RandomState(0)
        batches = [pad_batch(split, index, steps, 1, 1) + (split.labels[index],)
                   for index in (rng.choice(full, batch, replace=False) for _ in range(10))]
        result[f"batch_transfer_{batch}"] = choices.batch_transfer(
            functools.partial(train_step, forward, trainer, loss_fn), batches, repeats)
        result[f"batch_transfer_{batch}"]["shape"] = [batch, steps]
    result["weight_average"] = choices.weight_average(net, settings.ema_decay or 0.995, repeats)
    return result


def reference_window(approach: dict, texts: list[str], labels: np.ndarray, vocab, warmup: int,
                     size: int) -> Callable[[], float]:
    """The reference loop on ``texts``, warmed up: a function timing one window of ``size`` batches."""
    ctx = mx.cpu()
    net, trainer, loss_fn = build_reference(len(vocab), approach, ctx)
    rng = np.random.RandomState(0)
    order = rng.permutation(len(texts))
    batches = [order[i * BATCH:(i + 1) * BATCH] for i in range(len(texts) // BATCH)]

    def step(index):
        return reference_step(net, trainer, loss_fn, [texts[i] for i in index], labels[index],
                              vocab.token_to_idx, approach["max_tokens"], ctx)

    return window_timer(step, batches, warmup, size)


def measure_reference(approach: dict, texts: list[str], labels: np.ndarray, vocab, warmup: int, size: int,
                      count: int) -> dict:
    window = reference_window(approach, texts, labels, vocab, warmup, size)
    return rate(approach, [window() for _ in range(count)], size, approach["max_tokens"])


def reference_timer(name: str, n_docs: int, n_train: int, vocab_size: int, warmup: int, size: int) -> ChildTimer:
    """The reference loop as the study ran it, ready to time: a fresh process with MXNet's default threads."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["AGNEWS_MXNET_DEFAULT_THREADS"] = "1"
    spec = json.dumps({"name": name, "n_docs": n_docs, "n_train": n_train, "vocab_size": vocab_size,
                       "warmup": warmup, "size": size})
    return ChildTimer([sys.executable, "-m", "benchmarks.throughput", "--reference-server", spec], env,
                      f"reference loop ({name})")


def reference_server(spec: str) -> None:
    opts = json.loads(spec)
    texts, labels = make_texts(opts["n_docs"], vocab_size=opts["vocab_size"])
    train_texts = texts[:opts["n_train"]]
    vocab = build_vocab(tokenize_all(train_texts))
    window = reference_window(benchmark_params()["approaches"][opts["name"]], train_texts, labels[:opts["n_train"]],
                              vocab, opts["warmup"], opts["size"])
    serve(window, {"omp_num_threads": os.environ.get("OMP_NUM_THREADS")})


SPIN = "while True:\n    pass\n"  # one competing single-threaded busy process, as on a laptop in use


def train_worker(spec: str) -> None:
    """Train throughput of the named approaches on a saved split, in this (fresh) process's threads."""
    opts = json.loads(spec)
    params = benchmark_params()
    split = load_split(opts["split"], opts["vocab_size"])
    result = {name: measure_pipeline(params["approaches"][name], split, opts["vocab_size"], params["train"],
                                     VARIANTS[opts["variant"]], opts["warmup"], opts["size"], opts["count"])
              for name in opts["names"]}
    print(json.dumps(result))


def measure_loaded(names: list[str], split, vocab_size: int, variant: str, warmup: int, size: int, count: int,
                   threads: list[str], policies: list[str]) -> dict:
    """Train throughput quiet, then next to one busy single-threaded process, per thread setting.

    Every measurement runs in a fresh child with its own ``OMP_NUM_THREADS`` / ``OMP_WAIT_POLICY``
    (both are read once, when MXNet loads); the busy process starts before the loaded child and is
    killed after it.
    """
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="agnews_loaded_") as tmp:
        path = Path(tmp) / "train.npz"
        save_split(split, path)
        spec = json.dumps({"names": names, "split": str(path), "vocab_size": vocab_size, "variant": variant,
                           "warmup": warmup, "size": size, "count": count})
        cmd = [sys.executable, "-m", "benchmarks.throughput", "--train-worker", spec]
        for n_threads in threads:
            for policy in policies:
                env = {k: v for k, v in os.environ.items() if k not in MXNET_IMPORT_VARS + ("OMP_WAIT_POLICY",)}
                env.pop("OMP_NUM_THREADS", None)  # auto: the pipeline's own choice, from the cores free at start
                if n_threads != "auto":
                    env["OMP_NUM_THREADS"] = n_threads
                if policy != "default":
                    env["OMP_WAIT_POLICY"] = policy
                label = f"OMP_NUM_THREADS={n_threads}, OMP_WAIT_POLICY={policy}"
                log.info("train throughput quiet and loaded: %s", label)
                quiet = run_child(cmd, env)
                spinner = subprocess.Popen([sys.executable, "-c", SPIN])
                try:
                    loaded = run_child(cmd, env)
                finally:
                    spinner.kill()
                    spinner.wait()
                results[label] = {}
                for name in names:
                    before, after = quiet[name]["samples_per_s"], loaded[name]["samples_per_s"]
                    results[label][name] = {"quiet": before, "loaded": after, "ratio": round(after / before, 2)}
    return results


def run_child(cmd: list[str], env: dict) -> dict:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


PEAK_SCRIPT = """
import json, time, numpy as np
a = np.random.rand(2048, 2048).astype(np.float32); b = np.random.rand(2048, 2048).astype(np.float32)
a @ b
ts = []
for _ in range(10):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
print(json.dumps(2 * 2048 ** 3 / min(ts) / 1e9))
"""


def sgemm_peak() -> dict:
    """float32 2048x2048 matmul GFLOP/s with numpy, the machine's practical limit for these kernels.

    Run in a child process without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, which this workplace sets for
    old OpenBLAS builds and which slow a current one; the in-process figure is reported beside it.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.pop("OMP_NUM_THREADS", None)
    result = {"in_process_gflops": round(json.loads(subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True, check=True).stdout), 1)}
    try:
        out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], env=env, capture_output=True, text=True,
                             check=True, timeout=120).stdout
        result["gflops"] = round(json.loads(out), 1)
    except (subprocess.SubprocessError, ValueError):
        result["gflops"] = result["in_process_gflops"]
    result["gflops"] = max(result["gflops"], result["in_process_gflops"])
    return result


def dvc_noop() -> dict:
    """Seconds for `dvc repro` on the committed pipeline when nothing changed (skipped if stale)."""
    dvc = shutil.which("dvc")
    if dvc is None:
        return {"skipped": "dvc not on PATH"}
    status = subprocess.run([dvc, "status", "--json"], cwd=ROOT, capture_output=True, text=True)
    # `download` is always_changed (it checks a source DVC cannot see) and runs every time; it counts.
    if status.returncode != 0 or json.loads(status.stdout or "{}") not in ({}, {"download": ["always changed"]}):
        return {"skipped": "the pipeline is not up to date here (run `dvc repro` first)"}
    times = []
    for _ in range(3):
        seconds, proc = timed(subprocess.run, [dvc, "repro"], cwd=ROOT, capture_output=True, text=True)
        if [line for line in proc.stdout.splitlines()
                if line.startswith("Running stage") and not line.startswith("Running stage 'download'")]:
            return {"skipped": "dvc repro ran a stage"}
        times.append(seconds)
    return {"seconds": round(float(np.median(times)), 2)}


VARIANTS = {  # each adds one change to the one before, to show what bought what
    "cache_eager": {"hybridize": False, "sparse": False, "bucketing": False},
    "hybridized": {"hybridize": True, "sparse": False, "bucketing": False},
    "bucketed": {"hybridize": True, "sparse": False, "bucketing": True},
    "static_shapes": {"hybridize": True, "sparse": False, "bucketing": True, "static_shapes": True},
    "sparse_embedding": {"hybridize": True, "sparse": True, "bucketing": True, "static_shapes": True},
}


def interleaved_row(params: dict, name: str, split, vocab_size: int, used: str, n_docs: int, n_train: int,
                    word_count: int, warmup: int, size: int, count: int) -> tuple[dict, dict]:
    """The reference loop (a child with MXNet's default threads), the pipeline's ``used`` variant (this process)
    and PyTorch (a child, when installed), timed in ``count`` rounds of one window each: their rates, and
    the two ratios as medians over rounds. Returns the row and the per-round seconds (with ``pytorch_info``:
    the torch version and threads, or why it was skipped)."""
    approach = params["approaches"][name]
    timers: dict[str, Callable[[], float]] = {}
    children: list[ChildTimer] = []
    with tempfile.TemporaryDirectory(prefix="agnews_torch_") as tmp:
        try:
            children.append(reference_timer(name, n_docs, n_train, word_count, warmup, size))
            timers["reference"] = children[-1].window
            step, batches, warm, padded_steps = training_step(approach, split, vocab_size, params["train"],
                                                              VARIANTS[used])
            timers["pipeline"] = window_timer(step, batches, warmup, size, warm)
            untimed = len(padded_steps)
            torch = pytorch_timer(params, name, split, vocab_size, VARIANTS[used], warmup, size, count, Path(tmp))
            if isinstance(torch, ChildTimer):
                children.append(torch)
                timers["pytorch"] = torch.window
                info = {k: torch.info[k] for k in ("torch", "threads")}
            else:
                info = {"skipped": torch}
            seconds = interleave(timers, count)
        finally:
            for child in children:
                child.close()
    row = {"reference": rate(approach, seconds["reference"], size, approach["max_tokens"]),
           used: pipeline_rate(approach, seconds["pipeline"], size, padded_steps[untimed:])}
    row["pipeline"] = dict(row[used], variant=used)
    # The ratios come from the seconds as stored (0.1 ms), so that results.json recomputes them exactly.
    rounds = {k: [round(t, 4) for t in v] for k, v in seconds.items()}
    row["vs_reference"] = median_ratio(rounds["reference"], rounds["pipeline"])
    if "pytorch" in rounds:
        row["pytorch_samples_per_s"] = round(size * BATCH / float(np.median(seconds["pytorch"])))
        row["vs_pytorch"] = median_ratio(rounds["pytorch"], rounds["pipeline"])
    rounds["pytorch_info"] = info
    return row, rounds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small corpus and few batches (smoke test)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    p.add_argument("--approaches", nargs="*", help="subset of approach names (default: all six)")
    p.add_argument("--loaded", action="store_true",
                   help="also train throughput quiet and next to one busy single-threaded process")
    p.add_argument("--loaded-threads", nargs="+", metavar="N",
                   help="OMP_NUM_THREADS values to try with --loaded; 'auto' leaves it unset, so the pipeline "
                        "picks one per free core (the default)")
    p.add_argument("--wait-policy", nargs="+", default=["default"], choices=["default", "passive", "active"],
                   help="OMP_WAIT_POLICY values to try with --loaded (default: unset)")
    p.add_argument("--reference-server", help=argparse.SUPPRESS)
    p.add_argument("--train-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.reference_server:
        reference_server(args.reference_server)
        return 0
    if args.train_worker:
        train_worker(args.train_worker)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    params = benchmark_params()
    settings = params["train"]
    names = args.approaches or list(params["approaches"])[:6]
    n_docs = 12_760 if args.quick else TRAIN_DOCS + TEST_DOCS
    warmup, size, count = (1, 1, 2) if args.quick else (2, 3, 5)

    log.info("generating %d documents", n_docs)
    word_count = 20_000 if args.quick else 67_000
    texts, labels = make_texts(n_docs, vocab_size=word_count)
    n_train = n_docs - (760 if args.quick else TEST_DOCS)
    log.info("preprocessing")
    prep, vocab, train_split, train_texts = preprocessing(texts, labels, n_train)
    peak = sgemm_peak()
    results = {"machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                           "mxnet": mx.__version__, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                           "sgemm_peak": peak},
               "preprocessing": prep, "training": {}, "quick": args.quick}
    used = "sparse_embedding" if settings.sparse_embedding else "static_shapes"  # what `train` runs
    for name in names:
        approach = params["approaches"][name]
        # The three figures the ratios divide are timed in alternating windows (reference, pipeline,
        # PyTorch, reference, ...), each ratio the median over rounds: a shared machine's speed drifts
        # within a minute, and figures timed one after the other share less of it.
        log.info("training throughput: %s (reference loop, pipeline and PyTorch in alternating windows)", name)
        row, rounds = interleaved_row(params, name, train_split, len(vocab), used, n_docs, n_train, word_count,
                                      warmup, size, count)
        log.info("training throughput: %s (the reference loop with fixed threads and each variant)", name)
        row["reference_threads_fixed"] = measure_reference(approach, train_texts, labels[:n_train], vocab,
                                                           warmup, size, count)
        for variant, opts in VARIANTS.items():
            gc.collect()  # free the last variant's graphs before the next one allocates its own
            row[variant] = row.get(variant) or measure_pipeline(approach, train_split, len(vocab), settings, opts,
                                                                warmup, size, count)
        row["lstm_fraction_of_peak"] = round(row["pipeline"]["lstm_gflops"] / peak["gflops"], 3)
        results["pytorch"] = rounds.pop("pytorch_info", results.get("pytorch", {}))
        row["rounds"] = rounds
        results["training"][name] = row
    if args.loaded:
        threads = args.loaded_threads or [os.environ["OMP_NUM_THREADS"] if pipeline.OMP_THREADS_FROM_USER else "auto"]
        results["loaded"] = measure_loaded(names, train_split, len(vocab), used, warmup, size, count, threads,
                                           args.wait_policy)
    log.info("implementation choices")
    results["choices"] = measure_choices(params, train_split, len(vocab), 5 if args.quick else 20)
    results["dvc_repro_noop"] = dvc_noop()
    write_json(args.out, results)
    print(render(results))
    return 0


def render(results: dict) -> str:
    prep = results["preprocessing"]
    lines = [f"preprocessing {prep['documents']:,} documents (vocab {prep['vocab_size']:,}): "
             f"{prep['total_s']} s ({prep['documents_per_s']:,} docs/s); reference re-tokenizing: "
             f"{prep['reference_one_epoch_s']} s per epoch, {prep['reference_15_epochs_s']} s for 15 epochs",
             f"sgemm peak: {results['machine']['sgemm_peak']['gflops']} GFLOP/s",
             "", "| approach | reference | reference, 1 OpenMP thread/core | " + " | ".join(VARIANTS)
             + " | vs reference | PyTorch | vs PyTorch | LSTM GFLOP/s | of peak |",
             "|---" * (len(VARIANTS) + 8) + "|"]
    for name, row in results["training"].items():
        cells = [name, f"{row['reference']['samples_per_s']:,}",
                 f"{row['reference_threads_fixed']['samples_per_s']:,}"]
        cells += [f"{row[v]['samples_per_s']:,}" for v in VARIANTS]
        torch = row.get("pytorch_samples_per_s")
        cells += [f"{row['vs_reference']}x", f"{torch:,}" if torch else "-",
                  f"{row['vs_pytorch']}x" if torch else "-", str(row["pipeline"]["lstm_gflops"]),
                  f"{100 * row['lstm_fraction_of_peak']:.0f} %"]
        lines.append("| " + " | ".join(cells) + " |")
    skipped = results.get("pytorch", {}).get("skipped")
    if skipped:
        lines.append(f"PyTorch column skipped: {skipped}")
    elif results.get("pytorch"):
        lines.append(f"PyTorch {results['pytorch']['torch']}, {results['pytorch']['threads']} threads, "
                     "timed in this run on the pipeline's batches")
    lines.append("vs reference, vs PyTorch: the median over rounds of one window each of the reference loop, "
                 "the pipeline and PyTorch, timed in turn")
    lines += render_loaded(results.get("loaded"))
    lines += render_choices(results.get("choices"))
    noop = results["dvc_repro_noop"]
    lines.append("")
    lines.append(f"dvc repro with nothing to do: {noop['seconds']} s" if "seconds" in noop
                 else f"dvc repro with nothing to do: skipped ({noop['skipped']})")
    return "\n".join(lines)


def render_loaded(found: dict | None) -> list[str]:
    if not found:
        return []
    lines = ["", "| train samples/s | approach | quiet | next to one busy process | loaded / quiet |",
             "|---|---|---|---|---|"]
    for label, rows in found.items():
        lines += [f"| {label} | {name} | {r['quiet']:,} | {r['loaded']:,} | {r['ratio']}x |"
                  for name, r in rows.items()]
    return lines


def render_choices(found: dict | None) -> list[str]:
    if not found:
        return []
    pooling, bi = found["max_pooling"], found["bidirectional_outputs"]
    lines = ["", "| choice (ms per training step or forward+backward) | plain way | pipeline | speed-up |",
             "|---|---|---|---|"]

    def row(what: str, plain: float, ours: float) -> None:
        lines.append(f"| {what} | {plain} | {ours} | {plain / ours:.2f}x |")

    row(f"max over time, {tuple(pooling['shape'])}: reduction vs oneDNN pooling",
        pooling["reduce_ms"], pooling["onednn_pooling_ms"])
    row(f"BiLSTM outputs, 2 x {tuple(bi['shape'])}: reverse + concat + pool vs pool each direction",
        bi["reverse_concat_pool_ms"], bi["pool_each_direction_ms"])
    reversal = found.get("reversal")
    if reversal:
        row(f"reverse within lengths, {tuple(reversal['shape'])}: SequenceReverse vs gather (take)",
            reversal["sequence_reverse_ms"], reversal["gather_ms"])
    for key in sorted((k for k in found if k.startswith("batch_transfer_")), key=lambda k: int(k.rsplit("_", 1)[1])):
        transfer = found[key]
        row(f"training step, batch {tuple(transfer['shape'])}: nd.array vs zero-copy batch",
            transfer["nd_array_ms"], transfer["zero_copy_ms"])
    average = found.get("weight_average")
    if average:
        row(f"weight average of {average['parameters']:,} weights, one refresh: copy back vs in place",
            average["copy_back_ms"], average["in_place_ms"])
    return lines


if __name__ == "__main__":
    sys.exit(main())
