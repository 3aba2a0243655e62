"""pipeline.predict without DVC: reading texts (arguments, stdin, CSV), batching, messages.

The end-to-end run of the command on a DVC-trained project is in test_workflows.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from pipeline import CLASS_NAMES
from pipeline import checkpoint as checkpoint_module
from pipeline.errors import CheckpointError
from pipeline.predict import classify, main, read_csv_texts
from pipeline.vocab import save_vocab
from tests.conftest import REPO, TINY_TEXT


@pytest.fixture
def checkpoint(tmp_path, tiny_data, trained):
    """``models/tiny`` and ``vocab.json`` under tmp_path, as the train stage writes them."""
    checkpoint_module.save(tmp_path / "models" / "tiny", trained.net, trained.approach, tiny_data.vocab, TINY_TEXT,
                           trained.metadata["seeds"])
    save_vocab(tiny_data.vocab, tmp_path / "vocab.json")
    return tmp_path / "models", tmp_path / "vocab.json"


def stdin_of(data: str | bytes) -> io.TextIOWrapper:
    """A stand-in for ``sys.stdin`` with its byte ``buffer``, as the real one has."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")


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


def test_a_mistyped_approach_or_empty_text_is_refused_before_mxnet_loads(checkpoint, tmp_path):
    models, vocab = checkpoint
    code = ("import sys; from pipeline.predict import main; "
            f"codes = [main(['--models', {str(models)!r}, '--vocab', {str(vocab)!r}, *args]) "
            "for args in (['--approach', 'tiyn', 'x'], ['--approach', 'tiny', ' '])]; "
            "print(codes, 'mxnet' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert proc.stdout == "[2, 2] False\n"
    assert "did you mean 'tiny'" in proc.stderr and "text 1 is empty" in proc.stderr


def test_ctrl_c_is_one_line_and_exit_130(checkpoint):
    """Interrupted while it waits for texts on stdin, the command says so in one line, without a traceback."""
    models, vocab = checkpoint
    code = ("import sys\nfrom pipeline import predict\nread = predict._read_texts\n"
            "def reading(args):  # says when the command is about to wait for stdin\n"
            "    print('ready', flush=True)\n    return read(args)\n"
            "predict._read_texts = reading\n"
            f"sys.argv[1:] = ['--approach', 'tiny', '--models', {str(models)!r}, '--vocab', {str(vocab)!r}]\n"
            "predict.run()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)  # stdin stays open (until the end): the command waits for it
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, proc.stderr.read()) == (130, "error: interrupted\n")


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
    monkeypatch.setattr("sys.stdin", stdin_of("first text\n\n  \nsecond text\r\n"))
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
    monkeypatch.setattr("sys.stdin", stdin_of(stdin))
    assert main([*argv, "--models", str(models), "--vocab", str(vocab)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message) and captured.err.count("\n") == 1


# --- a checkpoint or an input that cannot be trusted (issue 11, item 5) ------------------------------

def _edit_spec(models, change) -> None:
    """Edit spec.json as a user (or a bad copy) would: the weights' hash in it stays right."""
    path = models / "tiny" / "spec.json"
    spec = json.loads(path.read_text())
    change(spec)
    path.write_text(json.dumps(spec))


def run_main(checkpoint, capsys, *argv: str) -> tuple[int, str, str]:
    models, vocab = checkpoint
    rc = main(["--approach", "tiny", "--models", str(models), "--vocab", str(vocab), *argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(class_names=["World", "Sports"]), "class_names has 2 names but the model has 4 outputs"),
    (lambda s: s.update(class_names=["World", "World", "Business", "Sci/Tech"]), "names a class twice"),
    (lambda s: s["preprocessing"].update(max_tokens=0), "preprocessing.max_tokens = 0, expected an integer >= 1"),
    (lambda s: s["preprocessing"].update(max_tokens=-1), "preprocessing.max_tokens = -1, expected an integer >= 1"),
    (lambda s: s.pop("weights_sha256"), "'weights_sha256' is missing: written by an older version"),
    (lambda s: s["preprocessing"].update(stop_words="klingon"),
     "preprocessing.stop_words = 'klingon', expected null or one of english"),
], ids=["two class names", "duplicate class names", "max_tokens 0", "max_tokens -1", "no weights hash",
        "unknown stop words"])
def test_predict_refuses_a_spec_that_would_give_wrong_answers(checkpoint, capsys, change, message):
    _edit_spec(checkpoint[0], change)
    rc, out, err = run_main(checkpoint, capsys, "a text")
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: models") or err.startswith(f"error: {checkpoint[0]}"), err
    assert message in err and "retrain it" in err


def test_a_checkpoint_trained_without_stop_words_reads_them_as_its_spec_says(checkpoint):
    """Raw text is tokenized as the checkpoint records: with ``stop_words: english`` the stop words are
    dropped before lookup (a sentence reads as its content words), without it they are looked up."""
    models, vocab = checkpoint
    def probabilities(text):
        return classify([text], "tiny", models, vocab)[0]["probabilities"]
    padded, bare = "The football of the match and it was over", "football match"
    assert probabilities(padded) != probabilities(bare)  # stop words are <unk> (or words) for this model
    _edit_spec(models, lambda s: s["preprocessing"].update(stop_words="english"))
    assert probabilities(padded) == probabilities(bare)
    # A spec written before the key existed reads as "no stop words".
    _edit_spec(models, lambda s: s["preprocessing"].pop("stop_words"))
    assert probabilities(padded) != probabilities(bare)


def test_predict_refuses_nan_weights(checkpoint, trained, capsys, tmp_path):
    models, _vocab = checkpoint
    spec = json.loads((models / "tiny" / "spec.json").read_text())
    spec.pop("weights_sha256")
    net = trained.net
    weight = next(iter(net.collect_params().values()))
    saved = weight.data().copy()
    try:
        weight.set_data(saved * float("nan"))
        checkpoint_module.write(models / "tiny", net, spec)  # a diverged training run writes a consistent checkpoint
    finally:
        weight.set_data(saved)
    rc, out, err = run_main(checkpoint, capsys, "a text")
    assert rc == 2 and out == "" and "holds NaN or infinite values" in err and weight.name.split("_", 1)[1] in err, err


def test_predict_refuses_a_vocabulary_with_two_indices_swapped(checkpoint, capsys):
    models, vocab = checkpoint
    data = json.loads(vocab.read_text())
    tokens = data["idx_to_token"]
    a, b = len(tokens) - 1, len(tokens) - 2  # two ordinary words: same size, same special tokens
    tokens[a], tokens[b] = tokens[b], tokens[a]
    data["token_to_idx"].update({tokens[a]: a, tokens[b]: b})
    vocab.write_text(json.dumps(data))
    rc, out, err = run_main(checkpoint, capsys, "a text")
    assert rc == 2 and out == "", err
    assert "spec.json: the checkpoint was trained with another vocabulary than the current one" in err


def test_predict_refuses_weights_of_another_training_run(checkpoint, trained, capsys, tmp_path):
    """A new model.params beside an old spec.json (what renaming the two files one by one could leave)."""
    models, _vocab = checkpoint
    other = tmp_path / "other"
    weight = next(iter(trained.net.collect_params().values()))
    saved = weight.data().copy()
    try:
        weight.set_data(saved + 0.5)
        checkpoint_module.write(other, trained.net, json.loads((models / "tiny" / "spec.json").read_text()))
    finally:
        weight.set_data(saved)
    (models / "tiny" / "model.params").write_bytes((other / "model.params").read_bytes())
    rc, out, err = run_main(checkpoint, capsys, "a text")
    assert rc == 2 and out == "", err
    assert "model.params: the weights file is not the one" in err and "from another training run" in err


def test_predict_refuses_undecodable_stdin(checkpoint, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", stdin_of(b"fine text\nbad \xff\xfe bytes\n"))
    rc, out, err = run_main(checkpoint, capsys)
    assert rc == 2 and out == ""
    assert err == "error: stdin line 2: bytes b'\\xff' are not valid UTF-8; give UTF-8 text\n"


def test_predict_csv_from_a_folder_and_from_a_pipe(checkpoint, capsys, tmp_path):
    rc, out, err = run_main(checkpoint, capsys, "--csv", str(tmp_path))
    assert rc == 2 and err == f"error: {tmp_path}: is a folder, expected a CSV file\n"
    read, write_end = os.pipe()
    content = b"text\nfrom a pipe\nand another\n"
    writer = threading.Thread(target=lambda: (os.write(write_end, content), os.close(write_end)))
    writer.start()
    try:
        rc, out, err = run_main(checkpoint, capsys, "--csv", f"/dev/fd/{read}")
    finally:
        writer.join()
        os.close(read)
    assert rc == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["from a pipe", "and another"]


def test_predict_csv_with_a_long_field(checkpoint, capsys, tmp_path):
    long_text = "word " * 40_000  # 200 KB, over the csv module's default field limit
    path = tmp_path / "long.csv"
    path.write_text(f'text\n"{long_text}"\nshort one\n', encoding="utf-8")
    rc, out, err = run_main(checkpoint, capsys, "--csv", str(path))
    assert rc == 0, err
    assert [len(json.loads(line)["text"]) for line in out.splitlines()] == [len(long_text.strip()), 9]
