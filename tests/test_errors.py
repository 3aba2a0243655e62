"""Refusals against bugs: a PipelineError is one ``error:`` line (exit 2), anything else keeps its traceback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mxnet as mx
import pytest

from pipeline import cli
from pipeline.checkpoint import CheckpointError
from pipeline.errors import PipelineError
from pipeline.fileio import OutputError
from pipeline.params import ParamsError

REPO = Path(__file__).resolve().parent.parent
INTERRUPTIONS = pytest.mark.parametrize("signum, code, message", [
    (signal.SIGINT, cli.EXIT_INTERRUPTED, "error: interrupted;"),
    (signal.SIGTERM, cli.EXIT_TERMINATED, "error: terminated (SIGTERM);"),
], ids=["SIGINT", "SIGTERM"])


@pytest.fixture
def stage_dir(tmp_path, monkeypatch) -> Path:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    return tmp_path


def run_main(main, *argv: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, cli.parser("test stage").parse_args(list(argv)))
    return exit_info.value.code


def refuse(args, params):
    raise CheckpointError("models/x/spec.json: does not fit")


def test_every_refusal_class_is_a_pipeline_error():
    for cls in (ParamsError, CheckpointError, OutputError):
        assert issubclass(cls, PipelineError)
    assert issubclass(OutputError, OSError)  # callers catching OSError still catch it


def test_a_refusal_is_one_line(stage_dir, capsys):
    assert run_main(refuse) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip() == "error: models/x/spec.json: does not fit"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_of_a_refusal(stage_dir, capsys, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert run_main(refuse, *(["--debug"] if how == "flag" else [])) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: models/x/spec.json: does not fit\nTraceback")
    assert "CheckpointError" in err


def test_a_genuine_bug_is_not_reported_as_bad_input(stage_dir):
    def buggy(args, params):  # what a shape mismatch inside MXNet raises
        raise mx.base.MXNetError("Check failed: lhs.shape == rhs.shape")
    with pytest.raises(mx.base.MXNetError, match="shape"):
        cli.run(buggy, cli.parser("test stage").parse_args([]))


def test_a_bug_in_a_real_stage_exits_with_its_traceback(tmp_path):
    """A stage run in a subprocess whose training step is broken (MXNetError): no `error:` line, a traceback."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    code = ("import mxnet as mx, runpy, sys\n"
            "import pipeline.params as p\n"
            "def broken(*a, **k): raise mx.base.MXNetError('Check failed: shape mismatch')\n"
            "p.load = broken\n"
            "sys.argv = ['stages/summarize.py']\n"
            "runpy.run_module('stages.summarize', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" in proc.stderr and "MXNetError: Check failed: shape mismatch" in proc.stderr
    assert "error: " not in proc.stderr.splitlines()[0]


def test_predict_refusal_and_debug(tmp_path, capsys, monkeypatch):
    from pipeline import predict
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    args = ["--approach", "none", "--models", str(tmp_path), "--vocab", str(tmp_path / "v.json"), "text"]
    assert predict.main(args) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: ")
    assert predict.main([*args, "--debug"]) == cli.EXIT_BAD_INPUT
    assert "Traceback" in capsys.readouterr().err


def test_sigusr1_prints_where_a_stage_is_and_lets_it_run_on(stage_dir):
    """`kill -USR1 <pid>` on a stage that seems stuck (pipeline.cli) dumps every thread's stack to stderr."""
    script = ("import time\nfrom pipeline import cli\n"
              "def main(args, params):\n    print('ready', flush=True)\n    time.sleep(0.5)\n"
              "    while True:\n        time.sleep(0.05)\n"
              "cli.run(main, cli.parser('test stage').parse_args([]))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=stage_dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1.5)
        assert proc.poll() is None  # still running
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "Current thread" in err and "in main" in err, err
    assert proc.returncode == cli.EXIT_TERMINATED


@INTERRUPTIONS
def test_an_interrupted_stage_ends_without_teardown_and_loses_no_output(stage_dir, signum, code, message):
    """What aborted an interrupted train stage in CI (exit -6, "terminate called without an active exception"):
    batches wrap numpy arrays without a copy (pipeline.inference.to_device), and when the engine's thread
    drops the last reference to one, it calls back into Python to free it. During the interpreter's teardown
    that callback ends the thread through C++ code that must not unwind, so the process aborted (with the old
    exit, this script aborted in 8 runs of 20). Once its message is out, an interrupted stage now ends without
    teardown (pipeline.cli.exit_now), with its buffered output flushed."""
    script = ("import atexit, os, sys, time\nimport mxnet as mx\nimport numpy as np\nfrom pipeline import cli\n"
              "class SlowTeardown:  # keeps the teardown going until the engine has finished the product below\n"
              "    def __del__(self):\n        time.sleep(10)\n"
              "slow = SlowTeardown()\n"
              "def main(args, params):\n"
              "    atexit.register(lambda: print('teardown ran', file=sys.stderr, flush=True))\n"
              "    print('half done')  # stdout is a pipe: block-buffered, not yet written\n"
              "    batch = mx.nd.from_numpy(np.ones((2000, 2000), dtype='float32'), zero_copy=True)\n"
              "    product = mx.nd.dot(batch, batch)  # about a second on the engine's thread\n"
              "    del batch  # the engine's thread now holds its last reference\n"
              f"    os.kill(os.getpid(), {int(signum)})\n    time.sleep(10)\n"
              "cli.run(main, cli.parser('test stage').parse_args([]))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONUNBUFFERED", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=stage_dir, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "half done\n"
    assert proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr
    assert "teardown ran" not in proc.stderr


@INTERRUPTIONS
def test_a_signal_that_lands_in_a_finalizer_still_stops_the_stage(stage_dir, signum, code, message):
    """Python drops an exception raised inside a ``__del__`` (MXNet frees every temporary array in one, so
    8 to 14 Ctrl-Cs in 300 landed there in a loop of small MXNet operations, and it ran on): it is sent again."""
    script = ("import os, time\nfrom pipeline import cli\n"
              "class Freed:\n    def __del__(self):\n"
              f"        os.kill(os.getpid(), {int(signum)})\n"
              "        time.sleep(0.2)  # the signal's exception is raised here, inside the finalizer\n"
              "def main(args, params):\n    Freed()\n    time.sleep(10)\n    print('ran on', flush=True)\n"
              "cli.run(main, cli.parser('test stage').parse_args([]))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=stage_dir, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == code, proc.stderr
    assert "ran on" not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
