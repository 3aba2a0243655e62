"""A small project run by the real stage CLIs (`python -m stages.X`), without DVC: helpers shared by
test_bad_input.py, test_faults.py, test_failures_dvc.py and the `built` fixture (conftest.py)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from tests.corpus_gen import make_corpus
from tests.dvc_project import SMALL_APPROACH_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
APPROACH = "tiny"
BASELINE = "svm"
TINY_APPROACH = {"max_tokens": 12, "embed_len": 8, "hidden": [8], "bidirectional": False, "dense": [],
                 "pooling": "last"}
# Rows that hold text but no \w token: kept, counted as empty documents, read as one <pad> step.
EMPTY_TRAIN_ROWS = [(1, "!!!", "..."), (2, "...", ""), (3, "--", "?? !!")]
EMPTY_TEST_ROWS = [(4, "!!! ...", "")]
GOOD_ROWS = make_corpus(3, seed=5)  # 12 rows



def stage_env(source: Path | None = None, **extra: str) -> dict:
    """Environment of a stage run: the repository's code on the path, no AGNEWS_SOURCE unless given."""
    env = {k: v for k, v in os.environ.items() if k != "AGNEWS_SOURCE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")  # tiny models; several stages often run at once
    if source is not None:
        env["AGNEWS_SOURCE"] = str(source)
    env.update(extra)
    return env


def stage_cmd(stage: str) -> list[str]:
    return [sys.executable, "-m", f"stages.{stage.split()[0]}", *stage.split()[1:]]


def run_stage(root: Path, stage: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m stages.<stage>`` (``stage`` may carry arguments) with ``root`` as the project."""
    return subprocess.run(stage_cmd(stage), cwd=root, env=env or stage_env(), capture_output=True, text=True,
                          timeout=timeout)


def run_concurrently(jobs: list[tuple[Path, str, dict | None]], timeout: float = 300) -> list:
    """Run every ``(root, stage, env)``, a few at a time (most of a short stage run is importing MXNet)."""
    workers = max(2, min(len(jobs), (os.cpu_count() or 2) + 1))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: run_stage(job[0], job[1], job[2], timeout), jobs))


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"{' '.join(map(str, proc.args))} failed:\n{proc.stderr[-3000:]}"


def assert_refused(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2, no traceback, the last stderr line is ``error: ...`` holding every fragment."""
    where = f"{' '.join(map(str, proc.args[2:]))}: rc={proc.returncode}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 2, where
    assert "Traceback" not in proc.stderr, where
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), where
    for fragment in fragments:
        assert fragment in last, f"{fragment!r} not in the message:\n{last}"
    return last


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the MD5 of its bytes."""
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.tmp") if ".dvc" not in p.relative_to(root).parts
                  and ".git" not in p.relative_to(root).parts)


def assert_untouched(root: Path, before: dict[str, str]) -> None:
    after = snapshot(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"files changed, added or removed: {changed}"
    assert not temp_files(root)


def load_params(root: Path) -> dict:
    return yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))


def save_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def edit_params(root: Path, modify) -> None:
    params = load_params(root)
    modify(params)
    save_params(root, params)


def tiny_params(approaches: dict | None = None) -> dict:
    """The repository's params.yaml shrunk to tiny, fast runs."""
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update(epochs=2, batch_size=16, learning_rate=0.02)
    # Plain, fast training whatever the repository's tuning (keys it does not have are left out).
    plain = {"lr_schedule": "constant", "warmup_epochs": 0, "patience": None, "word_dropout": 0.0,
             "ema_decay": None, "sparse_embedding": False}
    params["train"].update({k: v for k, v in plain.items() if k in params["train"]})
    params["approach_defaults"] = dict(SMALL_APPROACH_DEFAULTS)
    params["approaches"] = approaches or {APPROACH: dict(TINY_APPROACH)}
    params["reference"] = {name: 0.8 for name in params["approaches"]}
    params["baselines"] = {BASELINE: {"ngram_max": 2, "model": "linear_svm", "C": [1.0], "sublinear_tf": True,
                                      "max_iter": 1000}}
    # explain.num_features stays the repository's (tests.dvc_project.shrink_params says why).
    params["explain"].update(doc_indices=[3], num_samples=30, batch_size=64)
    return params


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@functools.cache
def server_class():
    return type("Server", (http.server.ThreadingHTTPServer,), {"daemon_threads": True})


def serve_folder(folder: Path):
    """Serve ``folder`` on 127.0.0.1 in a thread; returns (server, base URL). Call server.shutdown()."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = server_class()(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def copies(built: Path, tmp_path: Path, n: int) -> list[Path]:
    roots = []
    for i in range(n):
        roots.append(tmp_path / f"p{i}")
        shutil.copytree(built, roots[-1])
    return roots
