"""How many OpenMP threads a training process takes (pipeline/__init__.py), alone and under `dvc queue`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import busy_cores, count_queue_workers, default_threads

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("cores", "workers", "expected"), [
    (2, 0, 2),   # not under a queue: every usable core
    (2, 1, 2),
    (2, 2, 1),   # `dvc queue start -j 2` on 2 cores: one thread each, not two spinning threads each
    (2, 3, 1),   # more workers than cores: still at least one
    (8, 3, 2),
    (1, 0, 1),
])
def test_default_threads_shares_the_cores(cores, workers, expected):
    assert default_threads(cores, workers) == expected


@pytest.mark.parametrize(("cores", "workers", "busy", "expected"), [
    (2, 0, 1.0, 1),   # one busy program on 2 cores: one thread on the free core
    (2, 0, 0.3, 2),   # a little background noise does not cost a thread
    (2, 0, 2.0, 1),   # everything busy: still one
    (8, 0, 3.0, 5),
    (8, 2, 1.0, 4),   # the queue share is the tighter limit
    (8, 2, 6.0, 2),   # the free cores are
])
def test_default_threads_leaves_busy_cores_alone(cores, workers, busy, expected):
    assert default_threads(cores, workers, busy) == expected


SPIN = "import time\nprint('up', flush=True)\nwhile True:\n    pass\n"


def test_busy_cores_sees_a_busy_process_and_import_avoids_its_core():
    spinner = subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE)
    try:
        assert spinner.stdout.readline() == b"up\n"
        assert busy_cores(0.5) >= 0.8
        if len(os.sched_getaffinity(0)) == 2:
            env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "DVC_EXP_NAME")}
            assert threads_chosen(env) == 1
    finally:
        spinner.kill()
        spinner.wait()
        spinner.stdout.close()


def test_busy_cores_without_proc_stat_is_zero(tmp_path):
    assert busy_cores(0.0, str(tmp_path / "missing")) == 0.0
    (tmp_path / "stat").write_text("cpu  garbage\n")
    assert busy_cores(0.0, str(tmp_path / "stat")) == 0.0


TRAIN_SCRIPT = """
import hashlib, os, numpy as np, mxnet as mx
from mxnet import gluon
from pipeline.inference import batch_arrays, to_device
from pipeline.model import StaticShapeCopies, build_model
from pipeline.params import Architecture
from pipeline.training import make_trainer, train_step
from tests.conftest import TINY_SETTINGS
rng = np.random.RandomState(0)
digest = hashlib.sha256()
for bidirectional, hidden in ((False, (16, 16)), (True, (16,))):
    architecture = Architecture(embed_len=16, hidden=hidden, bidirectional=bidirectional, fused=False, dense=(16,),
                                pooling="max", dropout=0.0, embed_dropout=0.0)
    net = build_model(architecture, 200, mx.cpu(), seed=3, sparse_grad=True)
    trainer, forward = make_trainer(net, TINY_SETTINGS), StaticShapeCopies(net)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for step in range(20):
        steps = 10 + 5 * (step % 3)
        tokens = rng.zipf(1.3, size=(64, steps)).clip(1, 199).astype(np.int32)  # frequent words repeat
        lengths = rng.randint(1, steps + 1, 64).astype(np.float32)
        data, valid = batch_arrays(tokens, lengths, mx.cpu())
        train_step(forward, trainer, loss_fn, data, valid, to_device(rng.randint(0, 4, 64), mx.cpu(), "float32"))
    for param in net.collect_params().values():
        digest.update(param.data().asnumpy().tobytes())
print(os.environ["OMP_NUM_THREADS"], digest.hexdigest())
"""


def test_thread_count_does_not_change_the_weights():
    """The free-core choice above is only harmless if results do not depend on it: oneDNN's LSTM and
    GEMM kernels and the sparse embedding update must give bit-identical weights with 1 and 2 threads."""
    runs = {}
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT], cwd=REPO, env=env, capture_output=True,
                             text=True, check=True, timeout=300).stdout.split()
        assert out[0] == threads
        runs[threads] = out[1]
    assert runs["1"] == runs["2"]


def fake_process(proc: Path, pid: int, *args: str) -> None:
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes("\0".join(args).encode() + b"\0")


def test_count_queue_workers_reads_command_lines(tmp_path):
    proc = tmp_path / "proc"
    fake_process(proc, 11, "/venv/bin/python", "/venv/bin/dvc", "exp", "queue-worker", "dvc-exp-abc123-1@localhost")
    fake_process(proc, 12, "/venv/bin/python", "/venv/bin/dvc", "exp", "queue-worker", "dvc-exp-abc123-2@localhost")
    fake_process(proc, 13, "/venv/bin/python", "/venv/bin/dvc", "exp", "run", "--queue")  # not a worker
    fake_process(proc, 14, "grep", "queue-worker")  # the words, but not the command
    (proc / "self").mkdir()  # not a process id
    (proc / "15").mkdir()  # ended while being read: no cmdline
    assert count_queue_workers(str(proc)) == 2
    assert count_queue_workers(str(tmp_path / "missing")) == 0


def threads_chosen(env: dict) -> int:
    """OMP_NUM_THREADS after `import pipeline` in a fresh interpreter with ``env``."""
    out = subprocess.run([sys.executable, "-c", "import os, pipeline; print(os.environ['OMP_NUM_THREADS'])"],
                         cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    return int(out)


def test_import_sets_threads_from_running_queue_workers():
    cores = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_NUM_THREADS", "DVC_EXP_NAME", "AGNEWS_MXNET_DEFAULT_THREADS")}
    already = count_queue_workers()
    assert 1 <= threads_chosen(base) <= cores  # outside an experiment: the free cores (tested above)
    # Real processes whose command line is a queue worker's (this test does not start dvc's celery queue).
    workers = [subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)",
                                 "exp", "queue-worker", f"dvc-exp-test-{n}@localhost"], stdout=subprocess.PIPE)
               for n in (1, 2)]
    try:
        for proc in workers:  # its command line is readable once it runs (just after exec it can be empty)
            assert proc.stdout.readline() == b"up\n"
        assert count_queue_workers() >= already + 2
        in_experiment = {**base, "DVC_EXP_NAME": "exp-1"}
        chosen = threads_chosen(in_experiment)
        assert chosen <= max(1, cores // count_queue_workers())  # >= 2 workers: at most half the cores each
        assert chosen == 1 or chosen <= cores // 2
        # An explicit choice always wins.
        assert threads_chosen({**in_experiment, "OMP_NUM_THREADS": "3"}) == 3
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
            proc.stdout.close()
