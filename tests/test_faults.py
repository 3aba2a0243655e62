"""Faults beyond bad values (issue 11), met by the real stage CLIs in a copy of a small built project.

A full disk is simulated with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored, so a write fails with
EFBIG as it would with ENOSPC on a full disk: a short write, then an error). A read-only folder is a
read-only bind mount when the tests run as root (root ignores file modes), else a folder without write
permission. Every refusal is one line naming the output, exit code 2, and every file stays as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import write_agnews_csv
from tests.corpus_gen import make_corpus
from tests.stage_runs import (
    APPROACH,
    GOOD_ROWS,
    assert_ok,
    assert_refused,
    assert_untouched,
    edit_params,
    run_stage,
    snapshot,
    stage_cmd,
    stage_env,
)

pytestmark = pytest.mark.integration


def run_limited(root: Path, stage: str, max_file_bytes: int, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a stage whose files cannot grow beyond ``max_file_bytes`` (a disk that fills up)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death by signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    return subprocess.run(stage_cmd(stage), cwd=root, env=env or stage_env(), capture_output=True, text=True,
                          timeout=300, preexec_fn=limit)


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` cannot be written to while the block runs."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


# --- 3. outputs that change as one, and 6. errors that name the output ---------------------------------

def test_full_disk_while_saving_the_checkpoint_keeps_the_previous_one(project):
    """MXNet's own message ('FileStream.Write incomplete') names no file: the stage names it."""
    def larger(params):  # new, larger weights (random word vectors: the saved ones have fewer components)
        params["approaches"][APPROACH].update(embed_len=64, train={"embedding_init": "xavier"})
    edit_params(project, larger)
    before = {k: v for k, v in snapshot(project).items() if k != "params.yaml"}
    size = (project / f"models/{APPROACH}/model.params").stat().st_size
    proc = run_limited(project, f"train --approach {APPROACH}", size)  # the new weights do not fit
    assert_refused(proc, f"cannot write models/{APPROACH}/model.params:", "(is the disk full?)",
                   "the previous checkpoint is kept")
    after = {k: v for k, v in snapshot(project).items() if k != "params.yaml"}
    assert after == before  # checkpoint, metrics and history as they were; no temporary file or folder


def test_full_disk_while_drawing_the_confusion_matrix_keeps_all_three_outputs(project):
    """evaluate's metrics, prediction table and PNG are replaced together: never new metrics beside an old PNG."""
    outputs = [f"metrics/eval/{APPROACH}.json", f"plots/predictions/{APPROACH}.csv",
               f"plots/confusion/{APPROACH}.png"]
    for name in outputs[:2]:  # make the old versions recognisable
        (project / name).write_text("old\n")
    before = snapshot(project)
    limit = max((project / n).stat().st_size for n in outputs[:2]) + 4096  # metrics fit, the PNG does not
    assert (project / outputs[2]).stat().st_size > limit
    proc = run_limited(project, f"evaluate --approach {APPROACH}", limit)
    assert_refused(proc, f"cannot write plots/confusion/{APPROACH}.png: File too large",
                   "free some space", "its previous version is kept")
    assert_untouched(project, before)


def test_read_only_output_folder_is_named(project):
    before = snapshot(project)
    with read_only(project / "plots/confusion"):
        proc = run_stage(project, f"evaluate --approach {APPROACH}")
    message = assert_refused(proc, f"cannot write plots/confusion/{APPROACH}.png:",
                             "make plots/confusion writable and rerun")
    assert ".tmp" not in message and ".pid" not in message
    assert_untouched(project, before)


def test_a_checkpoint_is_swapped_in_as_one_folder(project):
    """The new checkpoint replaces the folder whole: no file of the old run remains beside the new ones."""
    stray = project / f"models/{APPROACH}/notes.txt"
    stray.write_text("left by hand\n")
    old_spec = json.loads((project / f"models/{APPROACH}/spec.json").read_text())
    edit_params(project, lambda p: p["approaches"][APPROACH].update(embed_len=9))
    assert_ok(run_stage(project, f"train --approach {APPROACH}"))
    folder = project / f"models/{APPROACH}"
    assert sorted(p.name for p in folder.iterdir()) == ["model.params", "spec.json"]
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["model"]["embed_len"] == 9 and spec["weights_sha256"] != old_spec["weights_sha256"]
    assert not [p for p in (project / "models").iterdir() if p.name.startswith(".")]
    assert_ok(run_stage(project, f"evaluate --approach {APPROACH}"))


# --- 4. a tiny params file that would exhaust memory ---------------------------------------------------

BOMB = "".join(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['1'] * 9)}]\n"
               for prev, name in zip([None, "a", "b", "c", "d", "e", "f", "g"], "abcdefgh", strict=True))


def test_yaml_alias_bomb_is_refused_at_once(project):
    text = (project / "params.yaml").read_text(encoding="utf-8").replace("seed: 42\n", "seed: *h\n", 1)
    (project / "params.yaml").write_text(BOMB + text, encoding="utf-8")
    assert (project / "params.yaml").stat().st_size < 5000
    before = snapshot(project)
    def limit():  # 2 GB of address space: what expanding 9**8 values would need many times over
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    proc = subprocess.run(stage_cmd("download"), cwd=project, env=stage_env(), capture_output=True, text=True,
                          timeout=60, preexec_fn=limit)
    assert_refused(proc, "params.yaml: its anchors and aliases (&name, *name) expand to",
                   "at most 100,000 are accepted")
    assert len(proc.stderr) < 400
    assert_untouched(project, before)


def test_huge_values_are_echoed_short(project):
    edit_params(project, lambda p: p.update(seed=list(range(50_000))))
    before = snapshot(project)
    message = assert_refused(run_stage(project, "download"), "params.yaml: seed = [0, 1, 2",
                             "expected an integer in [0, 4294967295]")
    assert len(message) < 200
    assert_untouched(project, before)


def test_oversized_params_file_is_refused_before_parsing(project):
    text = (project / "params.yaml").read_text(encoding="utf-8")
    indices = "".join(f"  - {i % 7600}\n" for i in range(300_000))  # ~2.5 MB, valid YAML
    text = text.replace("  doc_indices:", "  doc_indices:\n" + indices + "  #", 1)
    (project / "params.yaml").write_text(text, encoding="utf-8")
    before = snapshot(project)
    start = time.monotonic()
    assert_refused(run_stage(project, "download"), "params.yaml: ", "bytes; a params file is a few KB and at most "
                   "1,048,576 bytes are read")
    assert time.monotonic() - start < 30
    assert_untouched(project, before)


# --- 6 and 7. data that names no key or gets the wrong hint ------------------------------------------

def test_training_data_of_one_class_is_refused_by_download_and_vectorize(project, tmp_path):
    source = tmp_path / "source"
    one_class = [row for row in make_corpus(6, seed=3) if row[0] == 2]
    write_agnews_csv(source / "train.csv", one_class)
    write_agnews_csv(source / "test.csv", GOOD_ROWS)
    before = snapshot(project)
    assert_refused(run_stage(project, "download", stage_env(source)),
                   f"{source}/train.csv: every row has the same class (Sports (label 2))",
                   "at least two of the 4 classes")
    assert_untouched(project, before)
    shutil.copy(source / "train.csv", project / "data/raw/train.csv")  # edited by hand
    before = snapshot(project)
    assert_refused(run_stage(project, "vectorize_cache"), "data/raw/train.csv: every row has the same class")
    assert_untouched(project, before)


def test_a_5mb_description_is_data_not_a_malformed_csv(project, tmp_path):
    source = tmp_path / "source"
    long_row = (3, "A long report", "shares profit " * 400_000)  # 5.6 MB in one field
    write_agnews_csv(source / "train.csv", GOOD_ROWS + [long_row])
    write_agnews_csv(source / "test.csv", GOOD_ROWS)
    assert_ok(run_stage(project, "download", stage_env(source)))
    assert json.loads((project / "metrics/data.json").read_text())["train"]["rows"] == len(GOOD_ROWS) + 1


def test_a_folder_named_train_csv_is_called_a_folder(project, tmp_path):
    source = tmp_path / "source"
    (source / "train.csv").mkdir(parents=True)
    write_agnews_csv(source / "test.csv", GOOD_ROWS)
    before = snapshot(project)
    assert_refused(run_stage(project, "download", stage_env(source)),
                   f"{source}: train.csv is a folder there, expected a CSV file")
    (project / "data/raw/test.csv").unlink()
    (project / "data/raw/test.csv").mkdir()
    before = snapshot(project)
    assert_refused(run_stage(project, "explain"), "data/raw/test.csv: is a folder, expected a CSV file")
    assert_untouched(project, before)


# --- what `persist: true` asks of the stages, and the data.source parameter ---------------------------

def test_explain_removes_explanations_it_no_longer_writes(project):
    """DVC keeps explain's folders across runs now; explanations of a removed approach or document go."""
    stale = [project / "data/explain/gone_doc9.html", project / "plots/explain/gone_doc9.png",
             project / "reports/explain/gone_doc9.json"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("from an earlier configuration\n")
    assert_ok(run_stage(project, "explain"))
    assert not any(path.exists() for path in stale)
    assert sorted(p.name for p in (project / "reports/explain").iterdir()) == [f"{APPROACH}_doc3.json"]


def test_data_source_parameter_and_its_override(project, tmp_path):
    """params.yaml data.source names a folder; $AGNEWS_SOURCE, when set, wins; metrics/data.json records
    the source as given."""
    source = tmp_path / "from_params"
    write_agnews_csv(source / "train.csv", GOOD_ROWS)
    write_agnews_csv(source / "test.csv", GOOD_ROWS[:4])
    edit_params(project, lambda p: p["data"].update(source=str(source)))
    assert_ok(run_stage(project, "download"))  # stage_env() has no AGNEWS_SOURCE
    data = json.loads((project / "metrics/data.json").read_text())
    assert data["origin"] == str(source) and data["train"]["rows"] == len(GOOD_ROWS)
    before = snapshot(project)
    proc = run_stage(project, "download", stage_env(tmp_path / "nowhere"))
    assert_refused(proc, f"{tmp_path / 'nowhere'}: no such folder")
    assert_untouched(project, before)
