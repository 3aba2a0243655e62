"""The real `dvc` CLI in a real git repository: every stage, on a small generated corpus."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pipeline import CLASS_NAMES
from tests.dvc_project import SMALL_APPROACHES, read_params, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(dvc_project) -> tuple[Path, dict]:
    """The session's built project (tests/conftest.py): a copy of the repository with its own git
    history, a local corpus and tiny params, after a full `dvc repro`. Read it, do not change it."""
    return dvc_project


def test_every_declared_output_exists(project):
    root, env = project
    listed = run(["dvc", "stage", "list"], root, env).stdout
    baselines = list(read_params(root)["baselines"])
    for stage in ("download", "tokenize_vocab", "vectorize_cache", "explain", "summarize",
                  *(f"baseline@{name}" for name in baselines),
                  *(f"{kind}@{name}" for kind in ("train", "evaluate") for name in SMALL_APPROACHES)):
        assert stage in listed
    expected = ["data/raw/train.csv", "data/raw/test.csv", "data/vocab.json", "metrics/data.json",
                "data/cache/train.npz", "data/cache/val.npz", "data/cache/test.npz",
                *(f"metrics/baseline/{name}.json" for name in baselines),
                "reports/summary.md", "reports/summary.json", "plots/summary.png"]
    for name in SMALL_APPROACHES:
        expected += [f"models/{name}/model.params", f"models/{name}/spec.json",
                     f"metrics/train/{name}.json", f"metrics/eval/{name}.json",
                     f"plots/history/{name}.csv", f"plots/predictions/{name}.csv",
                     f"plots/confusion/{name}.png",
                     f"data/explain/{name}_doc3.html", f"plots/explain/{name}_doc3.png",
                     f"reports/explain/{name}_doc3.json"]
    missing = [p for p in expected if not (root / p).is_file()]
    assert not missing


def test_metrics_have_expected_keys_and_sane_values(project):
    root, env = project
    data = json.loads((root / "metrics/data.json").read_text())
    assert data["train"]["rows"] == 240 and data["test"]["rows"] == 80
    assert sum(data["train"]["labels"].values()) == 240
    train_documents = json.loads((root / "metrics/cache.json").read_text())["train"]["documents"]
    test_rows = csv.reader((root / "data/raw/test.csv").read_text(encoding="utf-8").splitlines())
    test_labels = [CLASS_NAMES[int(row[0]) - 1] for row in test_rows]
    for name in SMALL_APPROACHES:
        train = json.loads((root / f"metrics/train/{name}.json").read_text())
        assert train["epochs_run"] == 2 and 1 <= train["best_epoch"] <= 2
        # Throughput counts every training document of every epoch over the epochs' time (rounded to ms).
        seconds = train["train_seconds"]
        assert train_documents * 2 / (seconds + 5e-4) <= train["samples_per_second"] \
            <= train_documents * 2 / max(seconds - 5e-4, 1e-9) + 0.05
        with open(root / f"plots/history/{name}.csv", newline="") as fh:
            history = list(csv.DictReader(fh))
        best = history[train["best_epoch"] - 1]
        assert float(best["val_loss"]) == min(float(h["val_loss"]) for h in history) == train["best_val_loss"]
        assert float(best["val_accuracy"]) == train["best_val_accuracy"]
        ev = json.loads((root / f"metrics/eval/{name}.json").read_text())
        assert ev["test_documents"] == 80
        # The accuracy is that of the prediction table, whose rows are the test file's rows in order.
        with open(root / f"plots/predictions/{name}.csv", newline="") as fh:
            predictions = list(csv.DictReader(fh))
        assert [row["actual"] for row in predictions] == test_labels
        hits = sum(row["actual"] == row["predicted"] for row in predictions)
        assert ev["accuracy"] == round(hits / 80, 6)
        assert sum(map(sum, ev["confusion_matrix"])) == 80
        assert set(ev["per_class"]) == {"World", "Sports", "Business", "Sci/Tech"}
    baselines = read_params(root)["baselines"]
    for name, settings in baselines.items():
        baseline = json.loads((root / f"metrics/baseline/{name}.json").read_text())
        assert baseline["accuracy"] > 0.9  # the generated classes are separable by their words
        assert baseline["C"] in settings["C"]
        assert baseline["val_accuracy"] == max(baseline["val_accuracy_by_C"].values())
    summary = json.loads((root / "reports/summary.json").read_text())
    assert [row["approach"] for row in summary] == [*SMALL_APPROACHES, *baselines]
    for row in summary[:len(SMALL_APPROACHES)]:
        assert set(row["vs_baselines"]) == set(baselines)
        low, high = row["test_accuracy_ci95"]
        assert low <= row["test_accuracy"] <= high
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], root, env).stdout)
    shown_text = json.dumps(shown)
    assert all(f"metrics/eval/{name}.json" in shown_text for name in SMALL_APPROACHES)

