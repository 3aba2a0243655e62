"""pipeline.fileio: outputs hold the old file or the complete new one, never a half-written one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.fileio import atomic_open, atomic_path, read_json, write_json, write_text


def test_atomic_path_keeps_old_file_when_the_block_raises(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(path) as tmp:
            assert tmp.parent == path.parent and tmp != path
            tmp.write_text("half-written new", encoding="utf-8")
            raise RuntimeError("boom")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_path_no_file_created_when_the_block_raises(tmp_path):
    path = tmp_path / "new" / "out.bin"
    with pytest.raises(KeyError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"x")
            raise KeyError("x")
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_atomic_path_replaces_on_success_with_normal_mode(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with atomic_path(path) as tmp:
        tmp.write_text("new", encoding="utf-8")
        assert path.read_text(encoding="utf-8") == "old"  # not replaced before the block ends
    assert path.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_atomic_open_text_and_binary(tmp_path):
    with atomic_open(tmp_path / "a.txt") as fh:
        fh.write("é\n")
    assert (tmp_path / "a.txt").read_bytes() == "é\n".encode()  # utf-8, newline untranslated
    with atomic_open(tmp_path / "b.bin", "wb") as fh:
        fh.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_write_json_read_json_roundtrip(tmp_path):
    data = {"accuracy": 0.85, "per_class": {"Sci/Tech": [1, 2.5, None, True]}, "name": "ünï</script>"}
    path = tmp_path / "metrics" / "x.json"
    write_json(path, data)
    assert read_json(path) == data
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert list(json.loads(path.read_text(encoding="utf-8"))) == ["accuracy", "per_class", "name"]


def test_write_text(tmp_path):
    write_text(tmp_path / "t.md", "| a |\n")
    assert (tmp_path / "t.md").read_text(encoding="utf-8") == "| a |\n"


def test_read_json_truncated(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"a": [1, 2, 3], "b": {"c": 1}})
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ValueError) as err:
        read_json(path)
    assert str(path) in str(err.value)
    assert "not valid JSON" in str(err.value)


def test_read_json_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.json"):
        read_json(tmp_path / "absent.json")


# --- folders that change as one (checkpoints) ---------------------------------------------------------

def _files(folder):
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


def test_atomic_dir_swaps_the_whole_folder(tmp_path):
    from pipeline.fileio import atomic_dir
    target = tmp_path / "models" / "uni"
    target.mkdir(parents=True)
    (target / "model.params").write_text("old weights", encoding="utf-8")
    (target / "spec.json").write_text("old spec", encoding="utf-8")
    (target / "stray.txt").write_text("old", encoding="utf-8")
    with atomic_dir(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".uni.") and tmp.name.endswith(".tmp")
        (tmp / "model.params").write_text("new weights", encoding="utf-8")
        write_json(tmp / "spec.json", {"new": True})
    assert _files(target) == {"model.params": "new weights", "spec.json": '{\n  "new": true\n}\n'}
    assert [p.name for p in target.parent.iterdir()] == ["uni"]  # the old folder is gone too


def test_atomic_dir_keeps_the_old_folder_when_the_second_file_fails(tmp_path):
    from pipeline.fileio import atomic_dir
    target = tmp_path / "uni"
    target.mkdir()
    (target / "model.params").write_text("old weights", encoding="utf-8")
    (target / "spec.json").write_text("old spec", encoding="utf-8")
    with pytest.raises(OSError, match=r"cannot write .*uni/spec\.json: No space left on device; free some space"):
        with atomic_dir(target) as tmp:
            (tmp / "model.params").write_text("new weights", encoding="utf-8")
            raise OSError(28, "No space left on device", str(tmp / "spec.json"))
    assert _files(target) == {"model.params": "old weights", "spec.json": "old spec"}
    assert [p.name for p in tmp_path.iterdir()] == ["uni"]


def test_temporary_files_a_kill_leaves_are_ignored_by_git_and_dvc(tmp_path):
    """Nothing sweeps up after a SIGKILL: the project's ignore files keep what it can leave out of commits and
    out of the hash of an output folder (data/cache, a checkpoint folder)."""
    import shutil
    import subprocess
    import sys

    from pipeline.fileio import atomic_dir, atomic_path
    repo = Path(__file__).resolve().parents[1]
    for name in (".gitignore", ".dvcignore"):
        shutil.copy(repo / name, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    with atomic_path(tmp_path / "data/cache/train.npz") as tmp_file, \
            atomic_dir(tmp_path / "models/uni") as tmp_dir:
        (tmp_dir / "model.params").write_bytes(b"half")
        left = [str(p.relative_to(tmp_path)) for p in (tmp_file, tmp_dir, tmp_dir / "model.params")]
        git = subprocess.run(["git", "check-ignore", *left], cwd=tmp_path, capture_output=True, text=True)
        dvc = subprocess.run([sys.executable, "-m", "dvc", "check-ignore", *left], cwd=tmp_path,
                             capture_output=True, text=True)
    assert git.stdout.split() == left, git.stderr
    assert dvc.stdout.split() == left, dvc.stderr
