"""pipeline.predict without DVC: reading texts (arguments, stdin, CSV), batching, messages.

The end-to-end run of the command on a DVC-trained project is in test_workflows.py.
"""

from __future__ import annotations

import io
import json

import pytest

from pipeline import CLASS_NAMES
from pipeline.checkpoint import CheckpointError, save_checkpoint
from pipeline.predict import classify, main, read_csv_texts
from pipeline.vocab import save_vocab


@pytest.fixture
def checkpoint(tmp_path, tiny_data, trained):
    """``models/tiny`` and ``vocab.json`` under tmp_path, as the train stage writes them."""
    save_checkpoint(trained.net, {**trained.checkpoint_spec, "class_names": list(CLASS_NAMES)},
                    tmp_path / "models" / "tiny")
    save_vocab(tiny_data.vocab, tmp_path / "vocab.json")
    return tmp_path / "models", tmp_path / "vocab.json"


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_batching_keeps_order_and_probabilities(checkpoint, tiny_data):
    models, vocab = checkpoint
    texts = tiny_data.test_texts[:7]
    whole = classify(texts, "tiny", models, vocab, batch_size=1024)
    pieces = classify(texts, "tiny", models, vocab, batch_size=2)
    assert [r["text"] for r in pieces] == texts
    for a, b in zip(whole, pieces, strict=True):
        assert a["predicted"] == b["predicted"]
        assert list(a["probabilities"]) == list(CLASS_NAMES)
        for name in CLASS_NAMES:
            assert a["probabilities"][name] == pytest.approx(b["probabilities"][name], abs=2e-6)


@pytest.mark.parametrize("texts, message", [(["ok", ""], "text 2 is empty"), (["  \t"], "text 1 is empty")])
def test_empty_text_is_refused(checkpoint, texts, message):
    with pytest.raises(ValueError, match=message):
        classify(texts, "tiny", *checkpoint)


def test_unknown_approach_lists_the_trained_ones(checkpoint):
    with pytest.raises(CheckpointError, match=r"no trained approach 'tiyn' .*did you mean 'tiny'.*: tiny$"):
        classify(["x"], "tiyn", *checkpoint)


def test_missing_weights(checkpoint):
    models, vocab = checkpoint
    (models / "tiny" / "model.params").unlink()
    with pytest.raises(CheckpointError, match="model.params: checkpoint file not found"):
        classify(["x"], "tiny", models, vocab)


def test_csv_in_ag_news_format(tmp_path):
    path = write(tmp_path / "news.csv", '"3","Wall St. rallies","Stocks rose, bonds fell."\n"2","Cup final",""\n')
    assert read_csv_texts(path) == ["Wall St. rallies Stocks rose, bonds fell.", "Cup final"]


def test_csv_with_a_header(tmp_path):
    path = write(tmp_path / "t.csv", "id,text\n1,Stocks rally\n2,\"Cup final, tonight\"\n")
    assert read_csv_texts(path) == ["Stocks rally", "Cup final, tonight"]
    path = write(tmp_path / "td.csv", "label,title,description\nBusiness,Stocks,rally today\n")
    assert read_csv_texts(path) == ["Stocks rally today"]
    path = write(tmp_path / "h.csv", "id,headline\n1,Stocks rally\n")
    assert read_csv_texts(path, "headline") == ["Stocks rally"]


@pytest.mark.parametrize("content, column, message", [
    ("id,headline\n1,Stocks\n", None, r"no column 'text' \(columns: id, headline\); name the text column "
                                      r"with --text-column"),
    ("id,text\n1,Stocks\n2,  \n", None, r"t\.csv:3: the text is empty"),
    ("id,text\n1,Stocks,extra\n", None, r"t\.csv:2: found 3 columns, the header has 2"),
    ("id,text\n", None, "the header is the only row"),
    ("\n\n", None, "no rows"),
    ('"1","a","b"\n"7","c","d"\n', None, r"t\.csv:2: label 7 is outside 1\.\.4"),
])
def test_csv_problems_are_named(tmp_path, content, column, message):
    with pytest.raises(ValueError, match=message):
        read_csv_texts(write(tmp_path / "t.csv", content), column)


def test_main_reads_stdin_and_prints_json_lines(checkpoint, monkeypatch, capsys):
    models, vocab = checkpoint
    monkeypatch.setattr("sys.stdin", io.StringIO("first text\n\n  \nsecond text\r\n"))
    assert main(["--approach", "tiny", "--models", str(models), "--vocab", str(vocab)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["first text", "second text"]


@pytest.mark.parametrize("argv, stdin, message", [
    (["--approach", "tiny"], "\n \n", "error: no texts given"),
    (["--approach", "tiny", "--csv", "x.csv", "a text"], "", "error: give texts as arguments or with --csv"),
    (["--approach", "tiny", "--batch-size", "0", "a text"], "", "error: --batch-size 0: expected an integer >= 1"),
    (["--approach", "tiny", "--csv", "missing.csv"], "", "error: missing.csv: file not found"),
])
def test_main_refuses_with_one_line(checkpoint, monkeypatch, capsys, argv, stdin, message):
    models, vocab = checkpoint
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main([*argv, "--models", str(models), "--vocab", str(vocab)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message) and captured.err.count("\n") == 1
