"""Interrupted runs: Ctrl-C, SIGTERM and SIGKILL in the middle of training or of a download.

Under `dvc repro` (a real git + DVC project, like tests/test_integration.py): a killed stage keeps its
previous checkpoint, metrics and history (dvc.yaml marks every output `persist: true`, so DVC does not
delete them first) and leaves no temporary file at its output paths, dvc.lock is not updated, the command
an interrupted stage prints brings back the last committed outputs, and the next `dvc repro` reruns the
stage cleanly. Run directly (`python -m stages.download`): the previous outputs are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from pipeline.fileio import output_path
from tests.conftest import write_agnews_csv
from tests.corpus_gen import make_corpus
from tests.dvc_project import REPO, project_files, run, stages_run
from tests.stage_runs import (
    QuietHandler,
    edit_params,
    md5_of,
    save_params,
    server_class,
    snapshot,
    stage_cmd,
    stage_env,
    temp_files,
    tiny_params,
)

pytestmark = pytest.mark.integration

NAME = "uni"
# Big enough that a batch takes a few milliseconds (with source_server's corpus, an epoch lasts about half a second).
APPROACH = {"max_tokens": 30, "embed_len": 32, "hidden": [64], "bidirectional": False, "dense": [],
            "pooling": "last"}
TRAIN_OUTPUTS = (f"models/{NAME}/model.params", f"models/{NAME}/spec.json", f"metrics/train/{NAME}.json",
                 f"plots/history/{NAME}.csv")
EPOCHS_INTERRUPTED = 3
WORKSPACE_SKIP = (".git", ".dvc")
BASH, SH = shutil.which("bash") or "/bin/bash", "/bin/sh"


# ---------------------------------------------------------------------------------------------
# a local HTTP source that can stall in the middle of a file

class StallingHandler(QuietHandler):
    """Serves files; while ``server.stall`` is set it sends half of a file, then waits."""

    def copyfile(self, source, outputfile):
        if not self.server.stall.is_set():
            return super().copyfile(source, outputfile)
        data = source.read()
        try:
            outputfile.write(data[: len(data) // 2])
            outputfile.flush()
        except OSError:
            return
        self.server.stalled.set()
        self.server.release.wait(60)


@pytest.fixture(scope="module")
def source_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    # 90 batches of 4 per epoch, about half a second on a quiet machine: the interrupt tests pause training
    # inside an epoch (pause_mid_epoch), which must last longer than it takes them to see it start (a few
    # polls of 20 ms).
    write_agnews_csv(folder / "train.csv", make_corpus(100, seed=1))
    write_agnews_csv(folder / "test.csv", make_corpus(20, seed=2))
    server = server_class()(("127.0.0.1", 0),
                             lambda *a: StallingHandler(*a, directory=str(folder)))
    server.stall, server.stalled, server.release = threading.Event(), threading.Event(), threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.folder = folder
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------
# the project

def dvc_env() -> dict:
    env = stage_env()  # no AGNEWS_SOURCE: data comes from the local HTTP server
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", "DVC_NO_ANALYTICS": "1",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    # DVC runs each stage command through $SHELL (or /bin/sh when unset), and how a Ctrl-C reaches the
    # stage depends on that shell: fix it here, the tests that care choose one explicitly.
    env["SHELL"] = BASH
    return env


@pytest.fixture(scope="module")
def failing_project(tmp_path_factory, source_server) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("failures") / "project"
    for name in project_files():
        dest = root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest)
    for generated in ("metrics", "plots", "reports", "dvc.lock"):
        target = root / generated
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    params = tiny_params({NAME: dict(APPROACH)})
    params["train"].update(epochs=2, batch_size=4)
    params["data"]["url"] = source_server.url
    params["data"]["md5"] = {s: md5_of(source_server.folder / f"{s}.csv") for s in ("train", "test")}
    save_params(root, params)
    env = dvc_env()
    run(["git", "init", "-q", "-b", "main"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "project"], root, env)
    run(["dvc", "repro", f"train@{NAME}"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "trained"], root, env)
    return root, env


@pytest.fixture
def project(failing_project):
    """The shared project; whatever a test leaves behind (even when it fails) is reset for the next one."""
    yield failing_project
    root, env = failing_project
    # `reset --hard`, not `checkout -- .`: DVC stages dvc.lock itself (core.autostage), and a staged lock
    # of a failed test would otherwise survive into the next one.
    subprocess.run(["git", "reset", "-q", "--hard", "HEAD"], cwd=root, env=env, capture_output=True)
    subprocess.run(["dvc", "checkout", "--force"], cwd=root, env=env, capture_output=True)
    # Ignored, so neither git nor DVC removes them: the temporary files a killed run left.
    for leftover in temp_files(root):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def workspace(root: Path) -> dict[str, str]:
    return {k: v for k, v in snapshot(root).items() if Path(k).parts[0] not in WORKSPACE_SKIP}


def edit_training(root: Path, embed_len: int) -> None:
    """Edit the approach so that train@uni must rerun (a value never trained before: no run-cache hit), with
    one epoch more than the committed run: a second chance to catch the stage inside an epoch after the
    first (:func:`pause_mid_epoch`)."""
    def modify(params):
        params["approaches"][NAME]["embed_len"] = embed_len
        params["train"]["epochs"] = EPOCHS_INTERRUPTED
    edit_params(root, modify)


def start(cmd: list[str], root: Path, env: dict, log: Path) -> subprocess.Popen:
    """Start ``cmd`` as the leader of a new process group (as a shell does), output to ``log``."""
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """Ctrl-C as in a terminal: a test run started in the background of a non-interactive shell (`cmd &`)
    inherits an ignored SIGINT, under which Python installs no KeyboardInterrupt handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Generous: only a failing test waits this long, and with another pytest worker on the cores (`make test`
# runs one per core) a repro once took more than 90 s to reach epoch 2.
def wait_for(proc: subprocess.Popen, log: Path, condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    if proc.poll() is None:  # stuck: ask every stage process where it is (pipeline.cli) before killing it
        for child in psutil.Process(proc.pid).children(recursive=True):
            if any(arg.startswith("stages.") for arg in child.cmdline()):  # not a wrapping shell
                child.send_signal(signal.SIGUSR1)
        time.sleep(2)
    give_up(proc, log, f"never saw {what}")


def give_up(proc: subprocess.Popen, log: Path, why: str) -> None:
    """Kill the whole run and fail with ``why`` and the end of its log."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise AssertionError(f"{why}:\n{log.read_text(errors='replace')[-8000:]}")


def stall(server) -> None:
    server.stalled.clear()
    server.release.clear()
    server.stall.set()


def unstall(server) -> None:
    server.stall.clear()
    server.release.set()


def other_spelling(server) -> str:
    """The server's URL with a trailing slash: the same files, a source that metrics/data.json does not
    record, so the download stage fetches instead of keeping what it has."""
    return server.url + "/"


def stage_process(proc: subprocess.Popen, module: str) -> psutil.Process:
    """The Python process of stage ``module`` under ``proc`` (not a shell whose command line names it)."""
    for child in psutil.Process(proc.pid).children(recursive=True):
        if module in child.cmdline():  # python -m <module>; sh -c "python -m <module>" has it in one string
            return child
    raise AssertionError(f"no {module} process under {proc.pid}")


def pause_mid_epoch(proc: subprocess.Popen, log: Path) -> tuple[psutil.Process, int]:
    """Suspend the training stage at a moment its log shows it inside an epoch after the first; returns the
    suspended process and that epoch.

    Sending the signal when the progress bar of epoch 2 shows up is not enough: on a busy machine the epoch
    can end before the signal lands. Frozen, the stage cannot move on, and its log says where it is: the
    bar of epoch k is written, the line that ends epoch k is not (the logging handler flushes every line).
    """
    for epoch in range(2, EPOCHS_INTERRUPTED + 1):
        bar = f"epoch {epoch}/{EPOCHS_INTERRUPTED}"
        wait_for(proc, log, lambda bar=bar: bar in log.read_text(errors="replace"), f"the start of epoch {epoch}")
        stage = stage_process(proc, "stages.train")
        stage.suspend()
        if f"epoch {epoch}:" not in log.read_text(errors="replace"):
            return stage, epoch
        stage.resume()
    give_up(proc, log, "every epoch ended before the stage was paused in it")


def outputs(snap: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in snap.items() if k != "params.yaml"}


def assert_previous_outputs_kept(root: Path, before: dict[str, str]) -> None:
    """Every output of train@uni is its previous version (DVC did not delete them, the stage replaced
    none), and no temporary file is left."""
    assert outputs(workspace(root)) == outputs(before)
    assert all((root / p).is_file() for p in TRAIN_OUTPUTS)
    assert not temp_files(root)


def assert_up_to_date(root: Path, env: dict, target: str) -> None:
    """`dvc status` has nothing to report but `download`, which runs every time (it checks its source)."""
    status = run(["dvc", "status", target], root, env).stdout
    rest = status.replace("download:\n\talways changed\n", "").strip()
    assert rest in ("", "Data and pipelines are up to date."), status


def restore_and_check(root: Path, env: dict, before: dict[str, str]) -> None:
    """The previous good outputs come back exactly: git for params and metrics, DVC's cache for the rest."""
    run(["git", "checkout", "--", "."], root, env)
    run(["dvc", "checkout", f"train@{NAME}"], root, env)
    assert workspace(root) == before
    assert_up_to_date(root, env, f"train@{NAME}")


def interrupt_training(project, tmp_path, embed_len: int, kill,
                       shell: str = BASH) -> tuple[str, int, dict[str, str]]:
    """Start `dvc repro train@uni` on edited params, let ``kill(proc)`` interrupt it mid-epoch, check."""
    root, env = project
    before, lock = workspace(root), (root / "dvc.lock").read_bytes()
    edit_training(root, embed_len)
    log = tmp_path / "repro.log"
    proc = start(["dvc", "repro", f"train@{NAME}"], root, {**env, "SHELL": shell}, log)
    stage, epoch = pause_mid_epoch(proc, log)
    kill(proc)
    with contextlib.suppress(psutil.NoSuchProcess):
        stage.resume()  # a pending Ctrl-C or SIGTERM is delivered now
    rc = proc.wait(timeout=60)
    # When a wrapper shell dies first, DVC may return while the stage is still removing its temporary files.
    psutil.wait_procs([stage], timeout=60)
    output = log.read_text(errors="replace")
    assert rc != 0, output[-3000:]
    assert "epoch 1:" in output and f"epoch {epoch}:" not in output, output[-3000:]  # killed mid-epoch
    assert (root / "dvc.lock").read_bytes() == lock  # a failed stage is not recorded
    assert_previous_outputs_kept(root, before)
    status = run(["dvc", "status", f"train@{NAME}"], root, env).stdout
    assert f"train@{NAME}" in status and "changed" in status  # the next repro will rerun it
    return output, rc, before


@pytest.mark.parametrize("shell, embed_len, codes", [
    # bash execs a lone command, so DVC sees the stage's own exit code.
    (BASH, 33, ("130",)),
    # dash (Debian's /bin/sh, DVC's choice when $SHELL is unset) stays in between and dies of the same
    # Ctrl-C, so DVC reports the shell's -2; the stage still cleans up.
    (SH, 36, ("130", "-2")),
], ids=["bash", "sh"])
def test_ctrl_c_mid_epoch(project, tmp_path, shell, embed_len, codes):
    root, env = project
    output, rc, before = interrupt_training(project, tmp_path, embed_len,
                                            lambda proc: os.killpg(proc.pid, signal.SIGINT), shell)
    restore = (f"git checkout HEAD -- plots/history/{NAME}.csv metrics/train/{NAME}.json && "
               f"dvc checkout train@{NAME}")
    assert (f"error: interrupted; each output of train@{NAME} holds its previous or its complete new version, "
            f"no partial files; to bring back its last committed outputs: `{restore}`") in output
    assert "Traceback" not in output
    assert any(f"exited with {code}\n" in output for code in codes), output[-2000:]
    # The printed command brings back the committed outputs, whatever happened to them since.
    shutil.rmtree(root / f"models/{NAME}")
    (root / f"metrics/train/{NAME}.json").write_text("{}")
    run(["sh", "-c", restore], root, env)
    assert outputs(workspace(root)) == outputs(before)
    restore_and_check(root, env, before)


def test_sigkill_of_the_training_process_mid_epoch(project, tmp_path):
    """What the OOM killer does: the stage dies at once, DVC reports the failure."""
    root, env = project
    output, rc, before = interrupt_training(
        project, tmp_path, 34, lambda proc: stage_process(proc, "stages.train").kill())
    assert "failed to reproduce" in output and "-9" in output
    restore_and_check(root, env, before)


def test_sigkill_of_everything_then_repro_reruns_cleanly(project, tmp_path):
    """DVC itself dies too (a crash); temporary files of the killed writers are left, ignored by git and DVC;
    `dvc repro` recovers."""
    root, env = project
    lock_before = (root / "dvc.lock").read_text()
    _output, rc, _before = interrupt_training(project, tmp_path, 35,
                                              lambda proc: os.killpg(proc.pid, signal.SIGKILL))
    assert rc == -signal.SIGKILL
    # A SIGKILL while a file was being written leaves its temporary file: plant what one would leave, also
    # inside the output folders DVC hashes (data/cache, models/<approach>).
    cache_temp = root / "data/cache/.train.npz.x9y8z7w6.tmp"
    stale = [root / f"models/{NAME}/.model.params.k2j4h5g6.tmp", cache_temp,
             root / f"metrics/train/.{NAME}.json.abcd1234.tmp", root / f"plots/history/.{NAME}.csv.zz_99x8y.tmp"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")

    result = run(["dvc", "repro", f"train@{NAME}"], root, env)
    assert f"Running stage 'train@{NAME}'" in result.stdout
    assert all((root / p).is_file() for p in TRAIN_OUTPUTS)
    # The old checkpoint folder left with its leftover when the new one was swapped in; the others stay ...
    assert temp_files(root) == sorted(stale[1:]), temp_files(root)
    spec = json.loads((root / f"models/{NAME}/spec.json").read_text())
    assert spec["model"]["embed_len"] == 35
    lock = (root / "dvc.lock").read_text()
    assert lock != lock_before and "embed_len: 35" in lock
    # ... ignored: data/cache is up to date (its hash leaves the leftover out) and git sees none of them.
    assert_up_to_date(root, env, f"train@{NAME}")
    assert "x9y8z7w6" not in run(["dvc", "data", "status", "--granular", "--unchanged"], root, env).stdout
    untracked = run(["git", "status", "--porcelain", "--untracked-files=all"], root, env).stdout
    assert ".tmp" not in untracked, untracked
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "retrained"], root, env)


def test_download_killed_mid_transfer(project, source_server, tmp_path):
    """SIGKILL while the data is half downloaded: its temporary files stay, hidden and ignored."""
    root, env = project
    raw = {s: md5_of(root / f"data/raw/{s}.csv") for s in ("train", "test")}
    lock = (root / "dvc.lock").read_bytes()
    log = tmp_path / "download.log"
    stall(source_server)
    try:
        # Another spelling of the same URL: the stage does not find it recorded, so it downloads.
        other = {**env, "AGNEWS_SOURCE": other_spelling(source_server)}
        proc = start(["dvc", "repro", "--force", "download"], root, other, log)
        wait_for(proc, log, source_server.stalled.is_set, "a stalled download")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        unstall(source_server)
    left = temp_files(root)
    assert [output_path(p).name for p in left] == ["test.csv", "train.csv"]  # train half-written
    assert {s: md5_of(root / f"data/raw/{s}.csv") for s in ("train", "test")} == raw  # kept (persist)
    assert (root / "dvc.lock").read_bytes() == lock

    # Same URL and MD5s: the stage sees the data it recorded and keeps it; nothing downstream runs.
    result = run(["dvc", "repro", f"train@{NAME}"], root, env)
    assert "Running stage 'download'" in result.stdout
    assert "Running stage 'train" not in result.stdout and "Running stage 'tokenize" not in result.stdout
    assert {s: md5_of(root / f"data/raw/{s}.csv") for s in ("train", "test")} == raw
    assert (root / "dvc.lock").read_bytes() == lock
    # DVC does not care about the leftover hidden files (no output or dependency holds them) ...
    assert_up_to_date(root, env, f"train@{NAME}")
    assert all(p.parent == root / "data/raw" for p in temp_files(root))
    # ... nor does git; the next download leaves no new ones.
    assert ".tmp" not in run(["git", "status", "--porcelain", "--untracked-files=all"], root, env).stdout
    result = run(["dvc", "repro", "--force", "download"], root, env)
    assert "Running stage 'download'" in result.stdout
    assert temp_files(root) == left
    assert (root / "dvc.lock").read_bytes() == lock


@pytest.mark.parametrize("signum, code, message", [
    (signal.SIGINT, 130, "error: interrupted;"),
    (signal.SIGTERM, 143, "error: terminated (SIGTERM);"),
    (signal.SIGKILL, -9, None),
], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_download_interrupted_outside_dvc_keeps_the_previous_data(failing_project, source_server, tmp_path,
                                                                  signum, code, message):
    """Run directly, a stage never touches its previous outputs; a caught signal leaves no temporary file."""
    root = tmp_path / "direct"
    root.mkdir()
    shutil.copy2(failing_project[0] / "params.yaml", root / "params.yaml")
    for name in ("data/raw", "metrics"):
        shutil.copytree(failing_project[0] / name, root / name)
    before = snapshot(root)
    log = tmp_path / "stage.log"
    stall(source_server)
    try:
        proc = start(stage_cmd("download"), root, stage_env(other_spelling(source_server)), log)
        wait_for(proc, log, source_server.stalled.is_set, "a stalled download")
        proc.send_signal(signum)
        rc = proc.wait(timeout=30)
    finally:
        unstall(source_server)
    output = log.read_text(errors="replace")
    assert rc == code, output
    leftovers = temp_files(root)
    if message is not None:
        assert output.strip().splitlines()[-1].startswith(message) and "Traceback" not in output
        assert not leftovers
    else:
        assert len(leftovers) == 2  # what only SIGKILL can leave ...
    assert {k: v for k, v in snapshot(root).items() if not k.endswith(".tmp")} == before  # ... nothing else
    # The next run downloads again (and leaves no new temporary file).
    result = subprocess.run(stage_cmd("download"), cwd=root, env=stage_env(other_spelling(source_server)),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert temp_files(root) == leftovers
    after = {k: v for k, v in snapshot(root).items() if not k.endswith(".tmp")}
    assert after.pop("metrics/data.json") != before.pop("metrics/data.json")  # the new origin is recorded
    assert after == before


# ---------------------------------------------------------------------------------------------
# a refused download and a changed source, under `dvc repro` (issue 11, items 1 and 2)

def test_refused_download_under_dvc_repro_keeps_the_previous_data(project, tmp_path):
    """DVC would delete data/raw/*.csv and the git-tracked metrics/data.json before running the stage."""
    root, env = project
    kept = ("data/raw/train.csv", "data/raw/test.csv", "metrics/data.json")
    before, lock = workspace(root), (root / "dvc.lock").read_bytes()
    bad = tmp_path / "bad"
    write_agnews_csv(bad / "train.csv", make_corpus(3, seed=5) + [(7, "a title", "a description")])
    write_agnews_csv(bad / "test.csv", make_corpus(2, seed=6))
    proc = run(["dvc", "repro", f"train@{NAME}"], root, {**env, "AGNEWS_SOURCE": str(bad)}, check=False)
    assert proc.returncode != 0
    assert f"error: {bad}/train.csv:13: label 7 is outside 1..4" in proc.stdout + proc.stderr
    assert {k: workspace(root).get(k) for k in kept} == {k: before[k] for k in kept}
    assert workspace(root) == before and not temp_files(root)
    assert (root / "dvc.lock").read_bytes() == lock
    assert run(["git", "status", "--porcelain"], root, env).stdout == ""


def test_a_changed_source_is_noticed_by_dvc_repro(project, source_server, tmp_path):
    """AGNEWS_SOURCE and the files behind it are invisible to DVC: `download` runs every time, keeps the
    data when source and files are the ones it recorded, and installs them when they changed."""
    root, env = project
    raw = {s: md5_of(root / f"data/raw/{s}.csv") for s in ("train", "test")}
    assert "always changed" in run(["dvc", "status", "download"], root, env).stdout

    # Nothing changed: download keeps its data, nothing downstream runs.
    result = run(["dvc", "repro", f"train@{NAME}"], root, env)
    assert stages_run(result.stdout) == ["download"]
    assert "the source and its files are the ones metrics/data.json records" in result.stderr

    # The same files from a folder: recorded as the new origin, the data (and so every result) is kept.
    same = tmp_path / "same"
    shutil.copytree(source_server.folder, same)
    result = run(["dvc", "repro", f"train@{NAME}"], root, {**env, "AGNEWS_SOURCE": "../same"}, check=False)
    assert result.returncode != 0 and "../same: no such folder" in result.stdout + result.stderr
    result = run(["dvc", "repro", f"train@{NAME}"], root, {**env, "AGNEWS_SOURCE": str(same)})
    assert stages_run(result.stdout) == ["download"]
    assert json.loads((root / "metrics/data.json").read_text())["origin"] == str(same)
    assert {s: md5_of(root / f"data/raw/{s}.csv") for s in ("train", "test")} == raw

    # One row edited in that folder: new data, and everything downstream reruns.
    rows = (same / "train.csv").read_text().splitlines(keepends=True)
    rows[0] = rows[0].replace('"1"', '"2"', 1) if rows[0].startswith('"1"') else '"1"' + rows[0][3:]
    (same / "train.csv").write_text("".join(rows))
    result = run(["dvc", "repro", "vectorize_cache"], root, {**env, "AGNEWS_SOURCE": str(same)})
    assert stages_run(result.stdout) == ["download", "tokenize_vocab", "vectorize_cache"]
    assert md5_of(root / "data/raw/train.csv") == md5_of(same / "train.csv") != raw["train"]
    assert f"train@{NAME}" in run(["dvc", "status", f"train@{NAME}"], root, env).stdout

    # Back to the params' source (the URL): the recorded origin differs, so it downloads again.
    result = run(["dvc", "repro", "download"], root, env)
    assert stages_run(result.stdout) == ["download"]
    assert {s: md5_of(root / f"data/raw/{s}.csv") for s in ("train", "test")} == raw
    assert json.loads((root / "metrics/data.json").read_text())["origin"] == source_server.url
