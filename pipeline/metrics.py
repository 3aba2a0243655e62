"""Test-set metrics: accuracy, per-class report, confusion matrix (numbers, DVC plot data, PNG)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scikitplot as skplt  # noqa: E402
from sklearn.metrics import classification_report, confusion_matrix, f1_score  # noqa: E402

from pipeline.fileio import atomic_open, atomic_path  # noqa: E402


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, macro F1, the scikit-learn report per class and the confusion matrix."""
    labels = list(range(len(class_names)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=list(class_names),
                                   output_dict=True, zero_division=0)
    per_class = {name: {k: round(float(v), 6) for k, v in report[name].items()}
                 for name in class_names}
    return {
        "accuracy": round(float((y_true == y_pred).mean()), 6),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                         zero_division=0)), 6),
        "test_documents": int(len(y_true)),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def write_predictions(path: str | Path, y_true: np.ndarray, y_pred: np.ndarray,
                      class_names: Sequence[str]) -> None:
    """One ``actual,predicted`` row per document: the input of DVC's ``confusion`` template."""
    with atomic_open(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["actual", "predicted"])
        writer.writerows((class_names[a], class_names[p]) for a, p in zip(y_true, y_pred, strict=False))


def plot_confusion(path: str | Path, y_true: np.ndarray, y_pred: np.ndarray,
                   class_names: Sequence[str], title: str) -> None:
    """Normalised confusion-matrix picture drawn with scikit-plot."""
    names = np.asarray(class_names)
    fig, ax = plt.subplots(figsize=(6, 5))
    skplt.metrics.plot_confusion_matrix(names[y_true], names[y_pred], normalize=True, ax=ax,
                                        title=title, labels=list(class_names))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
