"""pipeline.summary: rows from metrics, an escaped Markdown table, the accuracy chart."""

from __future__ import annotations

import pytest

from pipeline.summary import COLUMNS, markdown_table, plot_accuracy, summary_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

APPROACHES = {
    "lstm_25": {"max_tokens": 25, "embed_len": 40, "hidden": [75], "bidirectional": False, "pooling": "last"},
    "bilstm3": {"max_tokens": 50, "embed_len": 40, "hidden": [75, 75, 75], "bidirectional": True,
                "pooling": "meanmax"},
}
TRAIN = {"lstm_25": {"train_seconds": 12.345}, "bilstm3": {"train_seconds": 99.0}}
EVAL = {"lstm_25": {"accuracy": 0.8123, "macro_f1": 0.81111},
        "bilstm3": {"accuracy": 0.85, "macro_f1": 0.849}}
REFERENCE = {"lstm_25": 0.8103}
BASELINE = {"accuracy": 0.9, "macro_f1": 0.899, "train_seconds": 3.21}


def test_summary_rows_with_baseline():
    rows = summary_rows(APPROACHES, TRAIN, EVAL, REFERENCE, BASELINE)
    assert [r["approach"] for r in rows] == ["lstm_25", "bilstm3", "baseline (TF-IDF + logistic regression)"]
    assert rows[0]["test_accuracy"] == 0.8123 and rows[0]["reference_accuracy"] == 0.8103
    assert rows[1]["reference_accuracy"] is None
    assert rows[1]["hidden"] == [75, 75, 75] and rows[1]["pooling"] == "meanmax"
    assert rows[2]["test_accuracy"] == 0.9 and rows[2]["hidden"] is None
    assert all(set(r) == {key for key, _ in COLUMNS} for r in rows)
    assert len(summary_rows(APPROACHES, TRAIN, EVAL, REFERENCE, None)) == 2


def test_markdown_table():
    table = markdown_table(summary_rows(APPROACHES, TRAIN, EVAL, REFERENCE, BASELINE))
    lines = table.splitlines()
    assert table.endswith("\n")
    assert len(lines) == 2 + 3
    assert lines[0].startswith("| approach | max_tokens |")
    assert lines[1] == "|" + "|".join("---" for _ in COLUMNS) + "|"
    assert all(line.count("|") == len(COLUMNS) + 1 for line in lines)
    assert lines[2] == "| lstm_25 | 25 | 40 | [75] | False | last | 81.23 % | 0.8111 | 12.3 | 81.03 % |"
    assert "| bilstm3 | 50 | 40 | [75, 75, 75] | True | meanmax | 85.00 % | 0.8490 | 99.0 | - |" in table
    assert lines[4].startswith("| baseline (TF-IDF + logistic regression) | - | - | - | - | - | 90.00 % |")


def test_markdown_escapes_approach_names():
    approaches = {"evil<b>|x": APPROACHES["lstm_25"]}
    rows = summary_rows(approaches, {"evil<b>|x": TRAIN["lstm_25"]}, {"evil<b>|x": EVAL["lstm_25"]}, {}, None)
    table = markdown_table(rows)
    assert "<b>" not in table
    assert "&lt;b&gt;" in table
    row = table.splitlines()[2]
    assert "evil&lt;b&gt;\\|x" in row
    # Exactly the column separators remain unescaped: the row still has every column.
    assert row.replace("\\|", "").count("|") == len(COLUMNS) + 1


@pytest.mark.parametrize("with_baseline", [True, False])
def test_plot_accuracy_writes_a_png(tmp_path, with_baseline):
    import matplotlib.image as mpimg
    rows = summary_rows(APPROACHES, TRAIN, EVAL, REFERENCE, BASELINE if with_baseline else None)
    path = tmp_path / "plots" / "summary.png"
    plot_accuracy(rows, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = mpimg.imread(path)
    assert abs(image.shape[1] - 100 * (1.4 * len(rows) + 2)) <= 1  # width grows with the number of rows
    assert image.shape[0] == 400
    assert image.std() > 0.01
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.png"]
