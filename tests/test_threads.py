"""How many OpenMP threads a training process takes (pipeline/__init__.py), alone and under `dvc queue`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import count_queue_workers, default_threads

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
    assert threads_chosen(base) == cores  # outside an experiment: every core, whatever runs elsewhere
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
        assert chosen == max(1, cores // count_queue_workers())  # >= 2 workers: at most half the cores each
        assert chosen == 1 or chosen <= cores // 2
        # An explicit choice always wins.
        assert threads_chosen({**in_experiment, "OMP_NUM_THREADS": "3"}) == 3
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
            proc.stdout.close()
