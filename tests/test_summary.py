"""pipeline.summary: rows with intervals and paired tests, an escaped Markdown report, the chart."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import CLASS_NAMES
from pipeline.params import Approach, Baseline
from pipeline.summary import COLUMNS, best_baseline, markdown_report, paired_correctness, plot_accuracy, summary_rows
from tests.conftest import TINY_SETTINGS, tiny_architecture

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _approach(name: str, max_tokens: int, **architecture) -> Approach:
    return Approach(name, max_tokens, tiny_architecture(embed_len=40, **architecture), TINY_SETTINGS)


APPROACHES = {
    "lstm_25": _approach("lstm_25", 25, hidden=[75], bidirectional=False, pooling="last"),
    "bilstm3": _approach("bilstm3", 50, hidden=[75, 75, 75], bidirectional=True, pooling="meanmax"),
}
BASELINES = {"uni": Baseline(ngram_max=1, model="logistic_regression", C=(1.0,), sublinear_tf=True, max_iter=100),
             "bi": Baseline(ngram_max=2, model="linear_svm", C=(1.0,), sublinear_tf=True, max_iter=100)}
TRAIN = {"lstm_25": {"train_seconds": 12.345}, "bilstm3": {"train_seconds": 99.0}}
EVAL = {"lstm_25": {"accuracy": 0.8, "macro_f1": 0.81111},
        "bilstm3": {"accuracy": 0.9, "macro_f1": 0.849, "seed_accuracies": {"42": 0.9, "43": 0.88, "44": 0.92}}}
BASELINE_METRICS = {"uni": {"macro_f1": 0.8, "val_accuracy": 0.85, "train_seconds": 3.21, "C": 3.0},
                    "bi": {"macro_f1": 0.8, "val_accuracy": 0.86, "train_seconds": 5.0, "C": 1.0}}
REFERENCE = {"lstm_25": 0.8103}
N = 1000


def _correct(accuracy: float, shift: int = 0) -> np.ndarray:
    flags = np.zeros(N, bool)
    flags[:int(accuracy * N)] = True
    return np.roll(flags, shift)


# bilstm3 is right on 900 documents, the unigram baseline on 850 of the same ones: 50 discordant
# documents all in bilstm3's favour. lstm_25 (800) is nested inside the baseline's 850.
CORRECT = {"lstm_25": _correct(0.8), "bilstm3": _correct(0.9), "uni": _correct(0.85), "bi": _correct(0.9, 100)}


def _rows(approaches=APPROACHES, correct=CORRECT):
    return summary_rows(approaches, BASELINES, TRAIN, EVAL, BASELINE_METRICS, correct, REFERENCE)


def test_rows_carry_accuracy_interval_seeds_and_paired_tests():
    rows = _rows()
    assert [r["approach"] for r in rows] == ["lstm_25", "bilstm3", "uni", "bi"]
    assert [r["kind"] for r in rows] == ["lstm", "lstm", "baseline", "baseline"]
    lstm_25, bilstm3, uni = rows[0], rows[1], rows[2]
    assert lstm_25["test_accuracy"] == 0.8 and lstm_25["test_documents"] == N
    low, high = lstm_25["test_accuracy_ci95"]
    assert 0.77 < low < 0.8 < high < 0.83
    assert lstm_25["seed_accuracy"] is None  # one seed: no spread to show
    assert bilstm3["seed_accuracy"] == {"seeds": 3, "mean": 0.9, "std": 0.02}
    assert uni["description"].startswith("TF-IDF 1-grams + logistic regression, C = 3.0")
    vs = bilstm3["vs_baselines"]["uni"]
    assert (vs["only_this_correct"], vs["only_baseline_correct"]) == (50, 0)
    assert vs["difference"] == pytest.approx(0.05) and vs["verdict"] == "better"
    assert lstm_25["vs_baselines"]["uni"]["verdict"] == "worse"
    # bilstm3 and "bi" have the same accuracy, each right where the other is wrong on 100 documents.
    tie = bilstm3["vs_baselines"]["bi"]
    assert tie["difference"] == 0 and tie["p_value"] == 1.0 and tie["verdict"] == "no significant difference"
    assert lstm_25["vs_baselines"]["uni"]["p_holm"] >= lstm_25["vs_baselines"]["uni"]["p_value"]


def test_a_small_difference_is_not_called_real():
    correct = dict(CORRECT, bilstm3=_correct(0.853))  # 3 documents more than the baseline
    vs = _rows(correct=correct)[1]["vs_baselines"]["uni"]
    assert vs["difference"] > 0 and vs["p_value"] > 0.05 and vs["verdict"] == "no significant difference"


def test_best_baseline_is_chosen_on_validation_not_test():
    rows = _rows()
    assert best_baseline(rows) == "bi"  # validation 0.86 > 0.85, whatever the test accuracies
    metrics = {**BASELINE_METRICS, "uni": {**BASELINE_METRICS["uni"], "val_accuracy": 0.99}}
    rows = summary_rows(APPROACHES, BASELINES, TRAIN, EVAL, metrics, CORRECT, REFERENCE)
    assert best_baseline(rows) == "uni"


def test_markdown_report_tables_and_verdicts():
    report = markdown_report(_rows())
    lines = report.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| approach | max_tokens |"))
    assert lines[header + 1] == "|" + "|".join("---" for _ in COLUMNS) + "|"
    assert lines[header + 2] == ("| lstm_25 | 25 | 40 | [75] | False | last | 80.00 % | 77.41-82.36 | 0.8111 | - | "
                                 "12.3 | 81.03 % |")
    assert "| bilstm3 | 50 | 40 | [75, 75, 75] | True | meanmax | 90.00 % |" in report
    assert "| 90.00 ± 2.00 (3) |" in report
    assert "Best on validation: `bi`" in report
    assert "- Against `uni` (85.00 %): better: `bilstm3`; worse: `lstm_25`." in report
    assert "- Against `bi` (90.00 %): no significant difference: `bilstm3`; worse: `lstm_25`." in report
    assert all(line.count("|") == line.replace("\\|", "").count("|") for line in lines)


def test_markdown_escapes_approach_names():
    name = "evil<b>|x"
    rows = summary_rows({name: APPROACHES["lstm_25"]}, BASELINES, {name: TRAIN["lstm_25"]},
                        {name: EVAL["lstm_25"]}, BASELINE_METRICS, dict(CORRECT, **{name: CORRECT["lstm_25"]}), {})
    report = markdown_report(rows)
    assert "<b>" not in report and "&lt;b&gt;" in report
    row = next(line for line in report.splitlines() if line.startswith("| evil"))
    assert "evil&lt;b&gt;\\|x" in row
    # Exactly the column separators remain unescaped: the row still has every column.
    assert row.replace("\\|", "").count("|") == len(COLUMNS) + 1


def _write(path, rows):
    path.write_text("actual,predicted\n" + "".join(f"{a},{p}\n" for a, p in rows), encoding="utf-8")
    return path


def test_paired_correctness_reads_predictions_and_refuses_other_documents(tmp_path):
    a = _write(tmp_path / "a.csv", [("World", "World"), ("Sports", "World")])
    b = _write(tmp_path / "b.csv", [("World", "Sports"), ("Sports", "Sports")])
    correct = paired_correctness({"a": a, "b": b}, CLASS_NAMES, {"a": "evaluate@a", "b": "baseline@b"})
    assert correct["a"].tolist() == [True, False] and correct["b"].tolist() == [False, True]
    other = _write(tmp_path / "c.csv", [("Sports", "Sports"), ("World", "World")])
    with pytest.raises(ValueError, match="c.csv: its test documents differ from those in .*a.csv"):
        paired_correctness({"a": a, "c": other}, CLASS_NAMES, {"a": "evaluate@a", "c": "baseline@c"})
    bad = _write(tmp_path / "d.csv", [("World", "Politics")])
    with pytest.raises(ValueError, match=r"d.csv:2: expected two class names.*`dvc repro baseline@d`"):
        paired_correctness({"d": bad}, CLASS_NAMES, {"d": "baseline@d"})


def bars(path) -> list[tuple[str, int, int]]:
    """(colour, left x, top y) of each bar of the picture, left to right."""
    import matplotlib.image as mpimg
    from matplotlib.colors import to_rgb
    from scipy import ndimage
    rgb = mpimg.imread(path)[..., :3]
    tops: dict[tuple[str, int], int] = {}
    for colour in ("tab:blue", "tab:gray", "tab:orange"):
        labels, _ = ndimage.label(np.all(np.abs(rgb - to_rgb(colour)) < 0.02, axis=-1))
        for rows, cols in ndimage.find_objects(labels):
            if cols.stop - cols.start > 40:  # a bar, not a legend swatch; the legend box may cut a bar in two
                key = (colour, cols.start)
                tops[key] = min(tops.get(key, rows.start), rows.start)
    return sorted(((colour, x, top) for (colour, x), top in tops.items()), key=lambda bar: bar[1])


def test_plot_accuracy_draws_a_bar_per_row_at_its_accuracy(tmp_path):
    rows = _rows()
    path = tmp_path / "plots" / "summary.png"
    plot_accuracy(rows, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    drawn = bars(path)
    # lstm_25 (blue) with the reference study's figure beside it (orange), bilstm3 (none reported), then the
    # two baselines (grey).
    assert [colour for colour, _, _ in drawn] == ["tab:blue", "tab:orange", "tab:blue", "tab:gray", "tab:gray"]
    heights = [rows[0]["test_accuracy"], rows[0]["reference_accuracy"], *(r["test_accuracy"] for r in rows[1:])]
    assert heights == [0.8, 0.8103, 0.9, 0.85, 0.9]
    # One y axis for all: the top of each bar is a linear function of its accuracy, higher is better.
    slope, offset = np.polyfit(heights, [top for _, _, top in drawn], 1)
    assert slope < -100
    assert all(abs(top - (offset + slope * h)) < 2 for (_, _, top), h in zip(drawn, heights, strict=True))
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.png"]
