"""One table comparing every approach (and the baseline) with the reference study."""

from __future__ import annotations

import html
from pathlib import Path

from pipeline.fileio import atomic_path
from pipeline.params import is_number

COLUMNS = [("approach", "approach"), ("max_tokens", "max_tokens"), ("embed_len", "embed"),
           ("hidden", "hidden"), ("bidirectional", "bidir"), ("pooling", "pooling"),
           ("test_accuracy", "test acc."), ("macro_f1", "macro F1"), ("train_seconds", "train s"),
           ("reference_accuracy", "reference acc. (full data)")]


METRIC_RULES = {
    "accuracy": (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "macro_f1": (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "train_seconds": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
}


def check_metrics(data, path: str | Path, keys: tuple[str, ...], stage: str) -> dict:
    """Refuse a metrics file that lacks a value the summary shows, or holds something else there.

    Metrics files are committed to git and may be edited or merged by hand; a value that is not a
    number (text, markup) is refused rather than copied into the report.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds {type(data).__name__}, expected a JSON object; rerun `dvc repro {stage}`")
    for key in keys:
        check, expected = METRIC_RULES[key]
        if key not in data:
            raise ValueError(f"{path}: '{key}' is missing, expected {expected}; rerun `dvc repro {stage}`")
        if not check(data[key]):
            raise ValueError(f"{path}: {key} = {data[key]!r}, expected {expected}; rerun `dvc repro {stage}`")
    return data


def summary_rows(approaches: dict, train_metrics: dict, eval_metrics: dict, reference: dict,
                 baseline: dict | None) -> list[dict]:
    rows = []
    for name, spec in approaches.items():
        rows.append({
            "approach": name,
            "max_tokens": spec["max_tokens"],
            "embed_len": spec["embed_len"],
            "hidden": list(spec["hidden"]),
            "bidirectional": spec["bidirectional"],
            "pooling": spec["pooling"],
            "test_accuracy": eval_metrics[name]["accuracy"],
            "macro_f1": eval_metrics[name]["macro_f1"],
            "train_seconds": train_metrics[name]["train_seconds"],
            "reference_accuracy": reference.get(name),
        })
    if baseline is not None:
        rows.append({"approach": "baseline (TF-IDF + logistic regression)", "max_tokens": None,
                     "embed_len": None, "hidden": None, "bidirectional": None, "pooling": None,
                     "test_accuracy": baseline["accuracy"], "macro_f1": baseline["macro_f1"],
                     "train_seconds": baseline["train_seconds"], "reference_accuracy": None})
    return rows


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("test_accuracy", "reference_accuracy"):
        return f"{100 * value:.2f} %"
    if key == "macro_f1":
        return f"{value:.4f}"
    if key == "train_seconds":
        return f"{value:.1f}"
    if isinstance(value, list):
        value = "[" + ", ".join(map(str, value)) + "]"
    # Approach names come from params.yaml; escape so a name cannot inject markup or break the table.
    return html.escape(str(value)).replace("|", "\\|")


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_cell(key, row[key]) for key, _ in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def plot_accuracy(rows: list[dict], path: str | Path) -> None:
    import matplotlib  # imported here: the metrics are checked before the plotting stack loads

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["approach"].split(" (")[0] for row in rows]
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 4))
    ours = [100 * row["test_accuracy"] for row in rows]
    ref = [100 * row["reference_accuracy"] if row["reference_accuracy"] is not None else 0 for row in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, label="this pipeline")
    ax.bar([i + 0.2 for i in x], ref, width=0.4, label="reference study (full data)")
    ax.set_xticks(list(x), names, rotation=20, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(min([v for v in ours + ref if v > 0] + [50]) - 5, 100)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
