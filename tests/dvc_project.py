"""A copy of this repository as its own git + DVC project: helpers shared by the real-dvc tests.

Plain functions (no pytest), used by the session fixture ``dvc_project`` in ``conftest.py``, by
``test_integration.py``, ``test_workflows.py``, ``test_sharing.py`` and ``test_failures_dvc.py``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline import CLASS_NAMES
from tests.corpus_gen import make_corpus

REPO = Path(__file__).resolve().parents[1]

# Two approaches, tiny, so a full `dvc repro` takes seconds: enough to show what `foreach` does for each one and
# what an edit of one leaves alone. Every architecture kind (fused, stacked, bidirectional, each pooling) is
# trained and checkpointed by the unit tests (test_model, test_training, test_checkpoint_inference); each
# approach here costs every full tiny repro a train and an evaluate process (about 7 s).
# What the small test approaches leave out: no regularisation, so that a few tiny epochs learn something.
SMALL_APPROACH_DEFAULTS = {"fused": False, "pooling": "last", "dropout": 0.0, "embed_dropout": 0.0}
SMALL_APPROACHES = {
    "uni": {"max_tokens": 12, "embed_len": 8, "hidden": [8], "bidirectional": False, "dense": [],
            "pooling": "last"},
    "bi": {"max_tokens": 12, "embed_len": 8, "hidden": [5, 6], "bidirectional": True, "dense": [8],
           "pooling": "meanmax"},
}
GENERATED = ("metrics", "plots", "reports", "dvc.lock")  # results of the repository's own run
RUNNING_STAGE = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)


def project_files() -> list[str]:
    """The repository's tracked files and untracked files that git does not ignore."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return [f for f in out.splitlines() if (REPO / f).is_file()]


def write_csv(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def run(cmd: list[str], cwd: Path, env: dict, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def stages_run(output: str) -> list[str]:
    """The stages a `dvc repro` / `dvc exp run` ran, in order, from its 'Running stage' lines."""
    return RUNNING_STAGE.findall(output)


def read_params(root: Path) -> dict:
    return yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))


def shrink_params(path: Path) -> None:
    params = yaml.safe_load(path.read_text())
    # No weight average: over the few steps of a tiny run it would keep the weights near their start.
    params["train"].update(epochs=2, batch_size=32, ema_decay=None)
    params["approach_defaults"] = dict(SMALL_APPROACH_DEFAULTS)
    params["approaches"] = SMALL_APPROACHES
    params["reference"] = {"uni": 0.81}
    # explain.num_features stays the repository's: above 6 LIME keeps the words of highest weight, as the real
    # run does; at 6 or fewer it switches to forward selection, slower and never run by the real pipeline.
    params["explain"].update(doc_indices=[3], num_samples=40)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


# Set in this (pytest) process by `import mxnet` (KMP_*) and by `import pipeline` (OMP_NUM_THREADS), not by
# the user. Inherited by stage processes they make MXNet's OpenMP threads spin: a 1.4 s train stage took
# 6-13 s on a busy 2-core machine. The tiny test models need one thread.
INHERITED_BY_IMPORT = ("KMP_INIT_AT_FORK", "KMP_DUPLICATE_LIB_OK", "OMP_NUM_THREADS")


def project_env(source: Path) -> dict:
    """The environment a user has: this venv's tools first on PATH, the corpus from a local folder,
    one OpenMP thread per MXNet process."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_BY_IMPORT}
    # COLUMNS: DVC wraps its tables at the terminal width, 80 without a terminal, and a long temporary path
    # (pytest-xdist's folders are longer) would push `dvc remote list`'s "(default)" onto a line of its own.
    return {**env, "OMP_NUM_THREADS": "1", "AGNEWS_SOURCE": str(source), "COLUMNS": "400",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def build_project(root: Path) -> tuple[Path, dict]:
    """Copy the repository to ``root`` (a new, empty folder), give it its own git history, a generated
    corpus and tiny params, run a full `dvc repro` and commit the results on branch ``main``."""
    for name in project_files():
        dest = root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest)
    for generated in GENERATED:
        target = root / generated
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    source = root.parent / f"{root.name}_source"
    source.mkdir()
    write_csv(source / "train.csv", make_corpus(60, seed=1))
    write_csv(source / "test.csv", make_corpus(20, seed=2))
    shrink_params(root / "params.yaml")
    env = project_env(source)
    run(["git", "init", "-q", "-b", "main"], root, env)
    # The default DVC remote is the user's real one (~/.cache/...): a test that pushes must reach a temporary
    # folder instead. .dvc/config.local is git-ignored and copied with the project (copy_project).
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(root.parent / f"{root.name}_dvc_remote")],
        root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "project"], root, env)
    run(["dvc", "repro"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "repro"], root, env)
    return root, env


def copy_project(built: tuple[Path, dict], dest: Path) -> tuple[Path, dict]:
    """An independent copy of a built project (git history, DVC cache, workspace) to change freely.

    DVC keeps its state database outside the repository, keyed by the repository's path, so the copy
    starts with none and hashes its files afresh; ``.dvc/tmp`` (locks, experiment scratch) is not copied.
    """
    root, env = built
    shutil.copytree(root, dest, symlinks=True, ignore=lambda d, names: ["tmp"] if d == str(root / ".dvc") else [])
    dirty = run(["git", "status", "--porcelain"], dest, env).stdout
    assert dirty == "", f"the built project was changed by another test:\n{dirty}"
    return dest, env


def approach_stages(name: str) -> set[str]:
    """What editing one approach must rerun: its own train and evaluate, then explain and summarize."""
    return {f"train@{name}", f"evaluate@{name}", "explain", "summarize"}


def repro(root: Path, env: dict, *args: str) -> list[str]:
    """`dvc repro` (or `dvc exp run ...` when args start with 'exp'); the stages it ran."""
    cmd = ["dvc", *args] if args and args[0] == "exp" else ["dvc", "repro", *args]
    ran = stages_run(run(cmd, root, env).stdout)
    assert len(ran) == len(set(ran)), f"a stage ran twice: {ran}"
    # `download` runs every time (DVC cannot see $AGNEWS_SOURCE or the files behind it, so the stage
    # checks them); left out here: when it keeps its data, as in these tests, nothing downstream reruns.
    assert ran[:1] == ["download"], ran
    return ran[1:]


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


TEXTS = ["The minister met rebels at the embassy before the summit",
         "The coach says the football league playoff starts today",
         "Bank shares and profit rise after the merger",
         "New wireless chip for laptop and robot computer"]


def predict(cwd: Path, env: dict, *args: str, stdin: str | None = None, check: bool = True):
    return run([sys.executable, "-m", "pipeline.predict", *args], cwd, env, check=check, input=stdin)


def check_rows(rows: list[dict], texts: list[str]) -> None:
    assert [row["text"] for row in rows] == texts
    for row in rows:
        assert row["predicted"] in CLASS_NAMES
        assert list(row["probabilities"]) == list(CLASS_NAMES)
        assert abs(sum(row["probabilities"].values()) - 1.0) <= 1e-4
        assert row["predicted"] == max(row["probabilities"], key=row["probabilities"].get)
