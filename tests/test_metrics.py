"""pipeline.metrics: metric values on a hand-made example, the predictions CSV, the confusion PNG."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from pipeline import CLASS_NAMES
from pipeline.metrics import classification_metrics, plot_confusion, write_predictions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# 10 documents; class 3 (Sci/Tech) is never predicted and never true.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2], dtype=np.int32)
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0], dtype=np.int32)


def test_classification_metrics_hand_example():
    metrics = classification_metrics(Y_TRUE, Y_PRED, CLASS_NAMES)
    assert metrics["accuracy"] == pytest.approx(0.7)
    assert metrics["test_documents"] == 10
    assert metrics["confusion_matrix"] == [[3, 1, 0, 0],
                                           [0, 2, 1, 0],
                                           [1, 0, 2, 0],
                                           [0, 0, 0, 0]]
    # World: P 3/4, R 3/4 -> F1 .75; Sports: P 2/3, R 2/3; Business: P 2/3, R 2/3; Sci/Tech: 0.
    world = metrics["per_class"]["World"]
    assert world["precision"] == pytest.approx(0.75) and world["recall"] == pytest.approx(0.75)
    assert world["support"] == 4
    assert metrics["per_class"]["Sports"]["f1-score"] == pytest.approx(2 / 3, abs=1e-6)
    assert metrics["per_class"]["Sci/Tech"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0,
                                                "support": 0.0}
    assert metrics["macro_f1"] == pytest.approx((0.75 + 2 / 3 + 2 / 3 + 0) / 4, abs=1e-6)
    assert set(metrics["per_class"]) == set(CLASS_NAMES)


def test_classification_metrics_perfect_and_json_friendly():
    import json
    metrics = classification_metrics(np.arange(4), np.arange(4), CLASS_NAMES)
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0
    assert metrics["confusion_matrix"] == np.eye(4, dtype=int).tolist()
    assert json.loads(json.dumps(metrics)) == metrics  # plain Python types only


def test_write_predictions(tmp_path):
    path = tmp_path / "plots" / "predictions" / "x.csv"
    write_predictions(path, Y_TRUE, Y_PRED, CLASS_NAMES)
    text = path.read_text(encoding="utf-8")
    assert "\r" not in text
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["actual", "predicted"]
    assert len(rows) == 11
    assert rows[1] == ["World", "World"]
    assert rows[4] == ["World", "Sports"]
    assert rows[10] == ["Business", "World"]
    assert [CLASS_NAMES.index(a) for a, _ in rows[1:]] == Y_TRUE.tolist()
    assert [CLASS_NAMES.index(p) for _, p in rows[1:]] == Y_PRED.tolist()


def test_write_predictions_quotes_names_with_commas(tmp_path):
    path = tmp_path / "p.csv"
    write_predictions(path, np.array([0, 1]), np.array([1, 1]), ("a, b", "c"))
    with open(path, newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["actual", "predicted"], ["a, b", "c"], ["c", "c"]]


def dark_cells(path) -> list[tuple[float, float, int]]:
    """(x, y, pixels) of each dark-blue patch of the picture, left of the colour bar, top to bottom.

    In the normalised matrix a cell holding 1.0 is the darkest blue, a cell holding 0 near white; the colour
    bar's dark end is the right-most patch."""
    import matplotlib.image as mpimg
    from scipy import ndimage
    rgb = mpimg.imread(path)[..., :3]
    dark = (rgb[..., 0] < 0.25) & (rgb[..., 2] > 0.3)
    labels, n = ndimage.label(dark)
    sizes = ndimage.sum(dark, labels, range(1, n + 1))
    centres = ndimage.center_of_mass(dark, labels, range(1, n + 1))
    patches = [(x, y, int(size)) for (y, x), size in zip(centres, sizes, strict=True) if size > 1000]
    colour_bar = max(patches)
    return sorted((p for p in patches if p != colour_bar), key=lambda p: p[1])


def test_plot_confusion_draws_the_matrix(tmp_path):
    """The picture shows the matrix it was given: rows are the actual class, columns the predicted one."""
    folder = tmp_path / "plots" / "confusion"
    y_true = np.repeat(np.arange(4), 5)
    drawn = {}
    for name, y_pred in {"right": y_true, "next": (y_true + 1) % 4, "world": np.zeros_like(y_true)}.items():
        plot_confusion(folder / f"{name}.png", y_true, y_pred, CLASS_NAMES, title=f"{name}: confusion matrix")
        assert (folder / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
        drawn[name] = dark_cells(folder / f"{name}.png")
    # Every prediction right: four dark cells down the diagonal, one cell apart in both directions.
    right = drawn["right"]
    assert len(right) == 4
    steps = np.diff([(x, y) for x, y, _ in right], axis=0)
    assert np.all(steps > 50) and np.ptp(steps) < 3
    # Each class taken for the next: the same rows, each dark cell one column to the right (Sci/Tech's
    # wraps to World's column).
    shifted = drawn["next"]
    assert len(shifted) == 4
    for i, (x, y, _) in enumerate(shifted):
        assert abs(y - right[i][1]) < 3 and abs(x - right[(i + 1) % 4][0]) < 3
    # Everything taken for World: one dark column under World, as tall as the four rows.
    (column,) = drawn["world"]
    assert abs(column[0] - right[0][0]) < 3 and abs(column[1] - np.mean([y for _, y, _ in right])) < 10
    assert column[2] > 3.5 * right[1][2]
    assert sorted(p.name for p in folder.iterdir()) == ["next.png", "right.png", "world.png"]
