"""Timing code in a child process window by window, interleaved with other code the parent times.

The parent starts the child with :class:`ChildTimer`; the child builds what it times, runs its untimed
batches, then calls :func:`serve`, which announces itself with one JSON line and times one window per
``window`` line it reads, answering ``{"seconds": ...}``. An idle child blocks on its stdin and uses no CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ChildTimer:
    """A child process that has built its model, trained its untimed batches and waits: each :meth:`window`
    has it train one timed window and returns the seconds. Idle, it blocks on its stdin and uses no CPU,
    so the parent can time other code in between, under the same machine conditions."""

    def __init__(self, cmd: list[str], env: dict, what: str):
        self.what = what
        self.stderr = tempfile.TemporaryFile(mode="w+")  # a pipe could fill up and block the child
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        self.info = self._reply()

    def _reply(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("{"):  # a library's stray output on stdout is not an answer
                return json.loads(line)
        code = self.proc.wait()
        self.stderr.seek(0)
        raise RuntimeError(f"{self.what} failed ({code}):\n{self.stderr.read()[-4000:]}")

    def window(self) -> float:
        self.proc.stdin.write("window\n")
        self.proc.stdin.flush()
        return float(self._reply()["seconds"])

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait()
        self.stderr.close()


def serve(window: Callable[[], float], info: dict) -> None:
    """The child side of :class:`ChildTimer`: announce ``info``, then time a window per ``window`` line."""
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        if line.strip() == "window":
            print(json.dumps({"seconds": window()}), flush=True)
