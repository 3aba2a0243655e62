"""LIME explanations: which words push a trained model's prediction towards each class."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import lime.explanation
import lime.lime_text
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from lime.lime_text import LimeTextExplainer  # noqa: E402

from pipeline.fileio import atomic_path, write_json, write_text  # noqa: E402
from pipeline.tokenize import TOKEN_PATTERN  # noqa: E402


class _ScriptSafeJson:
    """``json`` whose strings cannot close the ``<script>`` element they are written into."""

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        text = json.dumps(obj, **kwargs)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@contextmanager
def _script_safe_lime():
    # LIME writes the document text and word names into inline <script> blocks with json.dumps;
    # a document containing "</script>" would otherwise end the block and inject markup.
    saved = lime.explanation.json, lime.lime_text.json
    lime.explanation.json = lime.lime_text.json = _ScriptSafeJson
    try:
        yield
    finally:
        lime.explanation.json, lime.lime_text.json = saved


def explain_document(text: str, predict_proba: Callable[[list[str]], np.ndarray],
                     class_names: Sequence[str], num_features: int, num_samples: int, seed: int):
    """Run LIME on one text for every class; return the ``lime`` Explanation."""
    explainer = LimeTextExplainer(class_names=list(class_names), split_expression=r"\W+",
                                  random_state=seed)
    # LIME's own token pattern must agree with ours so that it removes the words the model sees.
    assert TOKEN_PATTERN == r"\w+"
    return explainer.explain_instance(text, predict_proba, num_features=num_features,
                                      num_samples=num_samples, labels=range(len(class_names)))


def explanation_record(explanation, text: str, doc_index: int, true_label: int,
                       class_names: Sequence[str]) -> dict:
    probabilities = explanation.predict_proba
    return {
        "doc_index": doc_index,
        "text": text,
        "actual": class_names[true_label],
        "predicted": class_names[int(np.argmax(probabilities))],
        "probabilities": {name: round(float(p), 6) for name, p in zip(class_names, probabilities, strict=False)},
        "weights": {class_names[label]: [[word, round(float(w), 6)] for word, w in explanation.as_list(label)]
                    for label in explanation.available_labels()},
    }


def plot_weights(record: dict, path: str | Path, title: str) -> None:
    """One bar chart per class: the words pushing towards (right) or away from (left) it."""
    names = list(record["weights"])
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=False):
        pairs = record["weights"][name][::-1]
        words = [w for w, _ in pairs]
        weights = [v for _, v in pairs]
        ax.barh(words, weights, color=["tab:green" if v > 0 else "tab:red" for v in weights])
        ax.set_title(f"{name} (p={record['probabilities'][name]:.2f})")
        ax.axvline(0, color="black", linewidth=0.5)
    fig.suptitle(f"{title}: actual {record['actual']}, predicted {record['predicted']}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def write_explanation(explanation, record: dict, html_path: Path, png_path: Path, json_path: Path,
                      title: str) -> None:
    with _script_safe_lime():
        html = explanation.as_html()
    write_text(html_path, html)
    write_json(json_path, record)
    plot_weights(record, png_path, title)
