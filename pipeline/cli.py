"""What every stage script shares: argument parsing, logging, and errors as messages, not tracebacks.

A stage refuses bad input (a :class:`~pipeline.errors.PipelineError`, or an ``OSError`` such as a missing
file, a read-only folder or a full disk) with one line on stderr, ``error: <what is wrong and what was
expected>``, and exit code 2; ``--debug`` or ``AGNEWS_DEBUG=1`` shows the traceback too. Any other
exception is a bug and keeps its traceback (an ``MXNetError`` from a shape mismatch is not bad input).
An interrupted stage (Ctrl-C, SIGTERM) says so and exits 130 or 143. In every case
each output still holds its previous version or its complete new one (``pipeline.fileio``; under
`dvc repro` too, as dvc.yaml marks every output ``persist: true`` so that DVC does not delete them before
the stage runs), and the partial files of an earlier run that was killed outright are removed when the
next stage starts. An interrupted stage names the command that brings back its last committed outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import yaml

from pipeline import params as params_module
from pipeline.errors import PipelineError

log = logging.getLogger("pipeline")
EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 130, 143
DEBUG_ENV = "AGNEWS_DEBUG"  # =1: refusals show their traceback too, as with --debug


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread so that temporary files are cleaned up on the way out."""


class _Formatter(logging.Formatter):
    """Progress lines keep their time stamp; a refusal is one plain ``error: ...`` line."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR and record.name == log.name:
            trace = f"\n{self.formatException(record.exc_info)}" if record.exc_info else ""  # --debug
            return f"error: {record.getMessage()}{trace}"
        return super().format(record)


def parser(description: str, approach: bool = False, baseline: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--params", default=str(params_module.DEFAULT_PARAMS),
                   help="parameters file (default: %(default)s)")
    if approach:
        p.add_argument("--approach", required=True, help="approach name, a key of `approaches` in params.yaml")
    if baseline:
        p.add_argument("--baseline", required=True, help="baseline name, a key of `baselines` in params.yaml")
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    add_debug_flag(p)
    return p


def add_debug_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true",
                   help=f"show the traceback of a refusal too (same as {DEBUG_ENV}=1)")


def debugging(args: argparse.Namespace) -> bool:
    """Whether refusals should keep their traceback: ``--debug`` or ``AGNEWS_DEBUG=1``."""
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def one_line(exc: BaseException) -> str:
    """An exception's message as one line, for an ``error: ...`` message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # MXNet errors wrap the reason in a C++ traceback: keep the reason.
    if lines[0].startswith("Traceback"):
        return lines[-1].removeprefix("MXNetError: ")
    if any(line.startswith("Stack trace") for line in lines):
        lines = lines[:1]
    return " ".join(lines)


def stage_name(approach: str | None = None) -> str:
    """The DVC stage this process runs: the script's name (stages/<stage>.py), ``@<approach>`` for foreach stages."""
    stage = Path(sys.argv[0]).stem
    return f"{stage}@{approach}" if approach else stage


def stage_outputs(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> tuple[list[str], list[str]]:
    """``(cached, git-tracked)`` outputs dvc.yaml declares for ``stage``; empty when it cannot be read."""
    name, _, key = stage.partition("@")
    try:
        stage_def = yaml.safe_load(Path(dvc_yaml).read_text(encoding="utf-8"))["stages"][name]
        stage_def = stage_def.get("do", stage_def)
        entries = [e for section in ("outs", "metrics", "plots") for e in stage_def.get(section) or []]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return [], []
    cached, tracked = [], []
    for entry in entries:
        path, opts = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        path = str(path).replace("${key}", key)
        (cached if (opts or {}).get("cache", True) else tracked).append(path)
    return cached, tracked


def restore_command(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> str:
    """The command that brings back ``stage``'s last committed outputs: git for metrics and plots, DVC's cache
    for the rest (the versions dvc.lock records)."""
    cached, tracked = stage_outputs(stage, dvc_yaml)
    parts = []
    if tracked:
        parts.append("git checkout HEAD -- " + " ".join(tracked))
    if cached or not tracked:
        parts.append(f"dvc checkout {stage}")
    return " && ".join(parts)


def _kept(stage: str) -> str:
    return (f"each output of {stage} holds its previous or its complete new version, no partial files; "
            f"to bring back its last committed outputs: `{restore_command(stage)}`")


def _on_sigterm(signum, frame):
    raise Terminated()


class _RedeliverDroppedSignal:
    """``sys.unraisablehook``: a Ctrl-C or SIGTERM that Python had to drop is sent again.

    Python drops an exception raised inside a finalizer (``__del__``, a weakref callback) with an "Exception
    ignored in" message. A signal's exception lands there whenever the signal arrives while MXNet frees a
    temporary array (``NDArrayBase.__del__``): in a loop of small MXNet operations, 8 and then 14 Ctrl-Cs
    out of 300, and the stage ran on as if never interrupted. Sent again from another thread a moment later,
    once the finalizer has returned, the signal is raised where :func:`run` handles it. Anything else goes
    to the hook that was there before.
    """

    def __init__(self, previous: Callable) -> None:
        self.previous = previous

    def __call__(self, unraisable) -> None:
        signum = {KeyboardInterrupt: signal.SIGINT, Terminated: signal.SIGTERM}.get(type(unraisable.exc_value))
        if signum is None:
            self.previous(unraisable)
            return
        resend = threading.Timer(0.01, os.kill, (os.getpid(), signum))
        resend.daemon = True
        resend.start()


def exit_now(code: int) -> NoReturn:
    """End an interrupted process without Python's teardown, once its message is out.

    An interrupted stage (or predict) can leave MXNet's engine mid-operation. When the engine's thread then
    drops the last reference to a batch that wraps a numpy array (pipeline.inference.to_device), it calls
    into Python to free it; during the interpreter's teardown that call ends the thread through C++ code that
    must not unwind, and the process aborts ("terminate called without an active exception", exit -6 instead
    of 130: seen in CI, see the README). By then every output of a stage is in place or removed
    (pipeline.fileio), so only the output buffers need flushing.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken pipe must not change the exit code
            stream.flush()
    os._exit(code)


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)


def _log_cost(main: Callable, args: argparse.Namespace, seconds: float) -> None:
    """One line per stage with its wall time and peak memory: the figures for sizing a run."""
    stage = main.__module__.rpartition(".")[2]
    if stage == "__main__":
        stage = Path(sys.argv[0]).stem
    name = getattr(args, "approach", None) or getattr(args, "baseline", None)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    # The thread count was chosen from the cores free when the stage started (pipeline/__init__.py):
    # a slow stage on a busy machine shows it here.
    threads = os.environ.get("OMP_NUM_THREADS", "MXNet's default")
    log.info("stage %s%s: %.1f s, peak memory %.0f MB, OpenMP threads %s", stage, f"@{name}" if name else "",
             seconds, peak_mb, threads)


def run(main: Callable[[argparse.Namespace, params_module.Params], None], args: argparse.Namespace) -> None:
    """Validate params, run ``main``; turn refusals into one ``error:`` line and exit code 2."""
    _setup_logging(args.quiet)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not isinstance(sys.unraisablehook, _RedeliverDroppedSignal):
        sys.unraisablehook = _RedeliverDroppedSignal(sys.unraisablehook)
    # `kill -USR1 <pid>` prints where every thread of a stage that seems stuck is, and lets it run on.
    with contextlib.suppress(AttributeError, ValueError):  # no file descriptor 2 (embedded, captured)
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    try:
        params = params_module.load(args.params)
        if getattr(args, "approach", None) is not None:
            params.approach(args.approach)  # an unknown name is refused before any work
        if getattr(args, "baseline", None) is not None:
            params.baseline(args.baseline)
        started = time.perf_counter()
        main(args, params)
        _log_cost(main, args, time.perf_counter() - started)
    except KeyboardInterrupt:
        log.error("interrupted; %s", _kept(stage_name(getattr(args, "approach", None))))
        exit_now(EXIT_INTERRUPTED)
    except Terminated:
        log.error("terminated (SIGTERM); %s", _kept(stage_name(getattr(args, "approach", None))))
        exit_now(EXIT_TERMINATED)
    except (PipelineError, OSError) as exc:
        if debugging(args):
            log.exception("%s", one_line(exc))
        else:
            log.error("%s", one_line(exc))
        sys.exit(EXIT_BAD_INPUT)
