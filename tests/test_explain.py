"""pipeline.explain: real LIME on a tiny trained model; HTML, PNG and JSON outputs; no script injection."""

from __future__ import annotations

import json

import lime.explanation
import lime.lime_text
import numpy as np
import pytest

from pipeline import CLASS_NAMES
from pipeline.explain import explain_document, explanation_record, write_explanation
from pipeline.inference import predict_texts
from pipeline.tokenize import tokenize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INJECTION = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def predict_proba(tiny_data, trained, ctx):
    def predict(texts):
        return predict_texts([trained.net], texts, tiny_data.vocab, trained.metadata["preprocessing"], ctx)
    return predict


def explain(text, predict_proba, seed=0):
    return explain_document(text, predict_proba, CLASS_NAMES, num_features=6, num_samples=50, seed=seed)


def test_explanation_record(tiny_data, predict_proba):
    text = tiny_data.test_texts[0]
    explanation = explain(text, predict_proba)
    record = explanation_record(explanation, text, 17, int(tiny_data.test.labels[0]), CLASS_NAMES)
    assert record["doc_index"] == 17 and record["text"] == text
    assert record["actual"] == CLASS_NAMES[tiny_data.test.labels[0]]
    assert set(record["weights"]) == set(CLASS_NAMES)
    words = set(tokenize(text, lowercase=False))
    for name in CLASS_NAMES:
        pairs = record["weights"][name]
        assert 1 <= len(pairs) <= 6
        assert all(isinstance(w, str) and isinstance(v, float) for w, v in pairs)
        assert {w for w, _ in pairs} <= words  # LIME's words are the document's own tokens
    assert list(record["probabilities"]) == list(CLASS_NAMES)
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    expected = predict_proba([text])[0]
    np.testing.assert_allclose(list(record["probabilities"].values()), expected, atol=1e-6)
    assert record["predicted"] == CLASS_NAMES[int(np.argmax(expected))]
    json.dumps(record)  # serialisable as written


def test_same_seed_same_explanation(tiny_data, predict_proba):
    text = tiny_data.test_texts[3]
    first = explanation_record(explain(text, predict_proba, seed=4), text, 3, 0, CLASS_NAMES)
    second = explanation_record(explain(text, predict_proba, seed=4), text, 3, 0, CLASS_NAMES)
    assert first == second


def test_write_explanation_outputs(tmp_path, tiny_data, predict_proba):
    text = tiny_data.test_texts[1]
    explanation = explain(text, predict_proba)
    record = explanation_record(explanation, text, 1, int(tiny_data.test.labels[1]), CLASS_NAMES)
    html_path, png_path = tmp_path / "explain" / "a_doc1.html", tmp_path / "plots" / "a_doc1.png"
    json_path = tmp_path / "reports" / "a_doc1.json"
    write_explanation(explanation, record, html_path, png_path, json_path, title="tiny, test document 1")
    html = html_path.read_text(encoding="utf-8")
    assert html.lstrip().startswith("<html")
    assert "Sci/Tech" in html
    assert png_path.read_bytes()[:8] == PNG_MAGIC
    assert png_path.stat().st_size > 2000
    assert json.loads(json_path.read_text(encoding="utf-8")) == json.loads(json.dumps(record))
    for folder in (html_path.parent, png_path.parent, json_path.parent):
        assert not list(folder.glob("*.tmp"))


def test_document_text_cannot_inject_script(tmp_path, tiny_data, predict_proba):
    text = f"Football coach wins {INJECTION} league <b>title</b> & more"
    explanation = explain(text, predict_proba)
    record = explanation_record(explanation, text, 0, 1, CLASS_NAMES)
    html_path = tmp_path / "x.html"
    write_explanation(explanation, record, html_path, tmp_path / "x.png", tmp_path / "x.json", title="x")
    html = html_path.read_text(encoding="utf-8")
    assert INJECTION not in html
    assert "<script>alert" not in html
    assert "alert(1)" in html  # the text is still shown, only escaped
    assert "<b>title" not in html
    # The JSON report keeps the text exactly.
    assert json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))["text"] == text


def test_lime_json_is_restored_after_writing(tmp_path, tiny_data, predict_proba):
    text = tiny_data.test_texts[2]
    explanation = explain(text, predict_proba)
    record = explanation_record(explanation, text, 2, 0, CLASS_NAMES)
    write_explanation(explanation, record, tmp_path / "y.html", tmp_path / "y.png", tmp_path / "y.json",
                      title="y")
    assert lime.explanation.json is json
    assert lime.lime_text.json is json
