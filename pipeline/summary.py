"""One report comparing every approach with the baselines and the reference study.

Each row carries its test accuracy with a 95 % interval; each approach is compared with each baseline
by McNemar's paired test over the same test documents, Holm-corrected over the approaches, so the
report says which differences are real and which are within noise.
"""

from __future__ import annotations

import csv
import html
import statistics
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.fileio import atomic_path
from pipeline.params import Approach, Baseline, is_number
from pipeline.statistics import holm, mcnemar, wilson_interval

ALPHA = 0.05
COLUMNS = [("approach", "approach"), ("max_tokens", "max_tokens"), ("embed_len", "embed"),
           ("hidden", "hidden"), ("bidirectional", "bidir"), ("pooling", "pooling"),
           ("test_accuracy", "test acc."), ("test_accuracy_ci95", "95 % CI"), ("macro_f1", "macro F1"),
           ("seed_accuracy", "seeds: mean ± std"), ("train_seconds", "train s"),
           ("reference_accuracy", "reference acc. (full data)")]

METRIC_RULES = {
    "accuracy": (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "macro_f1": (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "val_accuracy": (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "train_seconds": (lambda v: is_number(v) and v >= 0, "a number >= 0"),
}


def check_metrics(data, path: str | Path, keys: tuple[str, ...], stage: str) -> dict:
    """Refuse a metrics file that lacks a value the summary shows, or holds something else there.

    Metrics files are committed to git and may be edited or merged by hand; a value that is not a
    number (text, markup) is refused rather than copied into the report.
    """
    if not isinstance(data, dict):
        raise InputError(f"{path}: holds {type(data).__name__}, expected a JSON object; rerun `dvc repro {stage}`")
    for key in keys:
        check, expected = METRIC_RULES[key]
        if key not in data:
            raise InputError(f"{path}: '{key}' is missing, expected {expected}; rerun `dvc repro {stage}`")
        if not check(data[key]):
            raise InputError(f"{path}: {key} = {data[key]!r}, expected {expected}; rerun `dvc repro {stage}`")
    return data


def read_correct(path: str | Path, class_names: tuple[str, ...], stage: str) -> tuple[list[str], np.ndarray]:
    """The ``actual`` column and a correct/wrong flag per test document from a predictions CSV."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(f"{path}: not found; run `dvc repro {stage}`") from None
    if not rows or rows[0] != ["actual", "predicted"]:
        raise InputError(f"{path}: expected the header 'actual,predicted'; rerun `dvc repro {stage}`")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or row[0] not in class_names or row[1] not in class_names:
            raise InputError(f"{path}:{line}: expected two class names out of {', '.join(class_names)}; "
                             f"rerun `dvc repro {stage}`")
    return [r[0] for r in rows[1:]], np.array([r[0] == r[1] for r in rows[1:]], dtype=bool)


def paired_correctness(paths: dict[str, Path], class_names: tuple[str, ...],
                       stages: dict[str, str]) -> dict[str, np.ndarray]:
    """Per-document correctness of every classifier, checked to be over the same test documents."""
    correct, reference = {}, None
    for name, path in paths.items():
        actual, correct[name] = read_correct(path, class_names, stages[name])
        if reference is None:
            reference = (name, actual)
        elif actual != reference[1]:
            raise InputError(f"{path}: its test documents differ from those in {paths[reference[0]]} "
                             "(another test split or order); rerun `dvc repro` so every classifier is "
                             "evaluated on the same cache")
    return correct


def _accuracy_fields(correct: np.ndarray) -> dict:
    low, high = wilson_interval(int(correct.sum()), len(correct))
    return {"test_documents": len(correct), "test_accuracy": round(float(correct.mean()), 6),
            "test_accuracy_ci95": [round(low, 6), round(high, 6)]}


def _seed_fields(eval_metrics: dict) -> dict:
    seeds = eval_metrics.get("seed_accuracies") or {}
    values = [v for v in seeds.values() if is_number(v)]
    if len(values) < 2:
        return {"seed_accuracy": None}
    return {"seed_accuracy": {"seeds": len(values), "mean": round(statistics.fmean(values), 6),
                              "std": round(statistics.stdev(values), 6)}}


def summary_rows(approaches: dict[str, Approach], baselines: dict[str, Baseline], train_metrics: dict,
                 eval_metrics: dict, baseline_metrics: dict, correct: dict[str, np.ndarray],
                 reference: dict) -> list[dict]:
    """One row per approach, then one per baseline; approach rows carry their paired tests."""
    rows = []
    for name, approach in approaches.items():
        arch = approach.architecture
        rows.append({"approach": name, "kind": "lstm", "max_tokens": approach.max_tokens,
                     "embed_len": arch.embed_len, "hidden": list(arch.hidden),
                     "bidirectional": arch.bidirectional, "pooling": arch.pooling,
                     **_accuracy_fields(correct[name]), "macro_f1": eval_metrics[name]["macro_f1"],
                     **_seed_fields(eval_metrics[name]),
                     "train_seconds": train_metrics[name]["train_seconds"],
                     "reference_accuracy": reference.get(name)})
    for name, settings in baselines.items():
        metrics = baseline_metrics[name]
        rows.append({"approach": name, "kind": "baseline", "description": describe_baseline(settings, metrics),
                     "max_tokens": None, "embed_len": None, "hidden": None, "bidirectional": None,
                     "pooling": None, **_accuracy_fields(correct[name]), "macro_f1": metrics["macro_f1"],
                     "val_accuracy": metrics["val_accuracy"], "seed_accuracy": None,
                     "train_seconds": metrics["train_seconds"], "reference_accuracy": None})
    for baseline in baselines:
        tests = {name: mcnemar(correct[name], correct[baseline]) for name in approaches}
        adjusted = holm([t["p_value"] for t in tests.values()])
        for row, test, p_holm in zip(rows[:len(approaches)], tests.values(), adjusted, strict=True):
            row.setdefault("vs_baselines", {})[baseline] = {
                "difference": round(test["difference"], 6),
                "difference_ci95": [round(v, 6) for v in test["difference_ci95"]],
                "only_this_correct": test["a_only"], "only_baseline_correct": test["b_only"],
                "p_value": test["p_value"], "p_holm": p_holm, "verdict": _verdict(test["difference"], p_holm)}
    return rows


def _verdict(difference: float, p_holm: float) -> str:
    if p_holm >= ALPHA:
        return "no significant difference"
    return "better" if difference > 0 else "worse"


def describe_baseline(settings: Baseline, metrics: dict) -> str:
    grams = "1-grams" if settings.ngram_max == 1 else f"1-{settings.ngram_max}-grams"
    model = {"logistic_regression": "logistic regression", "linear_svm": "linear SVM"}[settings.model]
    return f"TF-IDF {grams} + {model}, C = {metrics.get('C', '?')} (chosen on validation)"


def best_baseline(rows: list[dict]) -> str:
    """The baseline a practitioner would pick: the best on validation, never on test."""
    return max((r for r in rows if r["kind"] == "baseline"), key=lambda r: r["val_accuracy"])["approach"]


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _cell(key: str, row: dict) -> str:
    value = row[key]
    if value is None:
        return "-"
    if key in ("test_accuracy", "reference_accuracy"):
        return _pct(value)
    if key == "test_accuracy_ci95":
        return f"{100 * value[0]:.2f}-{100 * value[1]:.2f}"
    if key == "seed_accuracy":
        return f"{100 * value['mean']:.2f} ± {100 * value['std']:.2f} ({value['seeds']})"
    if key == "macro_f1":
        return f"{value:.4f}"
    if key == "train_seconds":
        return f"{value:.1f}"
    if isinstance(value, list):
        value = "[" + ", ".join(map(str, value)) + "]"
    return _escape(value)


def _escape(value) -> str:
    # Names come from params.yaml; escape so a name cannot inject markup or break the table.
    return html.escape(str(value)).replace("|", "\\|")


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(cells) + " |" for cells in lines)]


def markdown_report(rows: list[dict]) -> str:
    lstms = [r for r in rows if r["kind"] == "lstm"]
    baselines = [r for r in rows if r["kind"] == "baseline"]
    best = best_baseline(rows) if baselines else None
    out = ["## Test accuracy", "",
           f"Every row is evaluated on the same {rows[0]['test_documents']:,} test documents; "
           "95 % CI: Wilson score interval. Seeds: test accuracy of each of the "
           "`train.seeds` models of an approach, mean ± std (`-` for one seed); with more than one, the "
           "approach predicts with their mean probabilities (an ensemble) and its test accuracy and train "
           "time are the ensemble's.", ""]
    out += _table([title for _, title in COLUMNS], [[_cell(key, r) for key, _ in COLUMNS] for r in rows])
    if not baselines:
        return "\n".join(out) + "\n"
    out += ["", "Baselines: " + "; ".join(f"`{_escape(r['approach'])}`: {_escape(r['description'])}, "
                                         f"validation {_pct(r['val_accuracy'])}" for r in baselines)
            + f". Best on validation: `{_escape(best)}`.", "",
            "## Against the baselines", "",
            "Accuracy difference in points (approach minus baseline) with its 95 % interval, and McNemar's "
            "exact test over the same test documents, Holm-corrected over the approaches; a verdict is "
            f"*better* or *worse* only where the corrected p is below {ALPHA}.", ""]
    header = ["approach"] + [f"vs {_escape(b['approach'])}" for b in baselines]
    lines = []
    for row in lstms:
        cells = [_escape(row["approach"])]
        for b in baselines:
            test = row["vs_baselines"][b["approach"]]
            low, high = test["difference_ci95"]
            cells.append(f"{100 * test['difference']:+.2f} ({100 * low:+.2f} to {100 * high:+.2f}), "
                         f"p = {test['p_holm']:.2g}: **{test['verdict']}**")
        lines.append(cells)
    out += _table(header, lines) + [""]
    for b in baselines:
        groups = {v: [f"`{_escape(r['approach'])}`" for r in lstms if r["vs_baselines"][b["approach"]]["verdict"] == v]
                  for v in ("better", "no significant difference", "worse")}
        out.append(f"- Against `{_escape(b['approach'])}` ({_pct(b['test_accuracy'])}): "
                   + "; ".join(f"{verdict}: {', '.join(names)}" for verdict, names in groups.items() if names)
                   + ".")
    return "\n".join(out) + "\n"


def plot_accuracy(rows: list[dict], path: str | Path) -> None:
    """Test accuracy with its 95 % interval per row, beside the reference study's reported figure."""
    import matplotlib  # imported here: the metrics are checked before the plotting stack loads

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["approach"] for row in rows]
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 4))
    ours = np.array([100 * row["test_accuracy"] for row in rows])
    ci = np.array([[100 * row["test_accuracy"] - 100 * row["test_accuracy_ci95"][0],
                    100 * row["test_accuracy_ci95"][1] - 100 * row["test_accuracy"]] for row in rows]).T
    ref = [100 * row["reference_accuracy"] if row["reference_accuracy"] is not None else 0 for row in rows]
    x = np.arange(len(rows))
    colours = ["tab:blue" if row["kind"] == "lstm" else "tab:gray" for row in rows]
    ax.bar(x - 0.2, ours, width=0.4, yerr=ci, capsize=3, color=colours, label="this pipeline (95 % CI)")
    ax.bar(x + 0.2, ref, width=0.4, color="tab:orange", label="reference study (full data)")
    ax.set_xticks(list(x), names, rotation=20, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(min([v for v in list(ours) + ref if v > 0] + [50]) - 5, 100)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
