"""Bad input meets the real stage CLIs (`python -m stages.X` in a temporary project directory).

Every refusal must be one `error: ...` line naming what is wrong and what was expected, exit code 2,
and leave every file of the project exactly as it was (previous outputs kept, no `*.tmp` left).
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import write_agnews_csv
from tests.corpus_gen import agnews_csv_text, make_corpus
from tests.stage_runs import (
    APPROACH,
    BASELINE,
    EMPTY_TEST_ROWS,
    EMPTY_TRAIN_ROWS,
    GOOD_ROWS,
    REPO,
    TINY_APPROACH,
    assert_ok,
    assert_refused,
    assert_untouched,
    copies,
    edit_params,
    free_port,
    md5_of,
    run_concurrently,
    run_stage,
    serve_folder,
    snapshot,
    stage_env,
    temp_files,
)

STAGES = ["download", "tokenize_vocab", "vectorize_cache", "embeddings", f"train --approach {APPROACH}",
          f"evaluate --approach {APPROACH}", f"baseline --baseline {BASELINE}", "explain", "summarize"]


# ---------------------------------------------------------------------------------------------
# params.yaml

def _set(path: str, value):
    """A modifier that sets the dotted key ``path`` (creating nothing but the last key)."""
    def modify(params):
        *parents, last = path.split(".")
        target = params
        for key in parents:
            target = target[key]
        target[last] = value
    return modify


def _delete(path: str):
    def modify(params):
        *parents, last = path.split(".")
        target = params
        for key in parents:
            target = target[key]
        del target[last]
    return modify


def _rename_approach(new: str):
    def modify(params):
        params["approaches"][new] = params["approaches"].pop(APPROACH)
    return modify


def _add_approach(name: str):
    def modify(params):
        params["approaches"][name] = dict(TINY_APPROACH)
    return modify


A = f"approaches.{APPROACH}"
PARAMS_CASES = {
    "unknown key": (_set("train.epoch", 3), ["unknown key 'train.epoch'", "did you mean 'epochs'"]),
    "unknown approach key": (_set(f"{A}.hiden", [8]), [f"unknown key '{A}.hiden'", "did you mean 'hidden'"]),
    "wrong type": (_set("train.batch_size", "16"), ["train.batch_size = '16'", "expected an integer >= 1"]),
    "bool is not a number": (_set("train.epochs", True), ["train.epochs = True", "expected an integer >= 1"]),
    "max_tokens < 1": (_set(f"{A}.max_tokens", 0), [f"{A}.max_tokens = 0", "expected an integer >= 1"]),
    "empty hidden": (_set(f"{A}.hidden", []), [f"{A}.hidden = []", "expected a non-empty list"]),
    "non-positive hidden size": (_set(f"{A}.hidden", [8, 0]), [f"{A}.hidden[1] = 0", "an integer >= 1"]),
    "embed_len < 1": (_set(f"{A}.embed_len", 0), [f"{A}.embed_len = 0", "an integer >= 1"]),
    "learning rate 0": (_set("train.learning_rate", 0), ["train.learning_rate = 0", "a number in (0, 10]"]),
    "learning rate nan": (_set("train.learning_rate", float("nan")),
                          ["train.learning_rate = nan", "a number in (0, 10]"]),
    "learning rate 1e300": (_set("train.learning_rate", 1e300),  # MXNet: "Out of range value for lr"
                            ["train.learning_rate = 1e+300", "a number in (0, 10]"]),
    "seed beyond NumPy": (_set("seed", 1099511627776),  # NumPy: "Seed must be between 0 and 2**32 - 1"
                          ["seed = 1099511627776", "an integer in [0, 4294967295]"]),
    "fused and bidirectional": (lambda p: p["approaches"][APPROACH].update(fused=True, bidirectional=True),
                                [f"{A}.fused = True", "false when bidirectional: true",
                                 "the fused LSTM block runs forward only"]),
    "epochs < 1": (_set("train.epochs", 0), ["train.epochs = 0", "an integer >= 1"]),
    "batch < 1": (_set("train.batch_size", 0), ["train.batch_size = 0", "an integer >= 1"]),
    "override epochs < 1": (_set(f"{A}.train", {"epochs": 0}), [f"{A}.train.epochs = 0", "an integer >= 1"]),
    "val_fraction 1": (_set("data.val_fraction", 1.0), ["data.val_fraction = 1.0", "open interval (0, 1)"]),
    "val_fraction 0": (_set("data.val_fraction", 0), ["data.val_fraction = 0", "open interval (0, 1)"]),
    "num_samples < 1": (_set("explain.num_samples", 0), ["explain.num_samples = 0", "an integer >= 1"]),
    "doc index out of range": (_set("explain.doc_indices", [3, 7600]),
                               ["explain.doc_indices[1] = 7600", "[0, 7600)"]),
    "negative doc index": (_set("explain.doc_indices", [-1]), ["explain.doc_indices[0] = -1"]),
    "unsafe approach name": (_rename_approach("../evil"), ["approach name '../evil'", "not safe as a file"]),
    "markup approach name": (_rename_approach("<b>x</b>"), ["'<b>x</b>'", "not safe as a file"]),
    "names differing in case": (_add_approach("TINY"), ["'tiny' and 'TINY'", "differ only in case"]),
    "missing section": (_delete("train"), ["missing key 'train'", "expected a section with the keys epochs"]),
    "missing key": (_delete(f"{A}.embed_len"), [f"missing key '{A}.embed_len'", "expected an integer >= 1"]),
}
RAW_PARAMS_CASES = {
    "empty file": ("", ["params.yaml: the file is empty", "expected a mapping with the sections seed"]),
    "not YAML": ("seed: 42: 43\n", ["params.yaml: line 1: not valid YAML"]),
    "duplicate key": (None, ["key 'seed' is given twice (first on line 4)"]),
}


@pytest.mark.parametrize("case", list(PARAMS_CASES) + list(RAW_PARAMS_CASES))
def test_bad_params_are_refused_before_any_work(project, built, case):
    """download does real work (it re-copies the source) unless validation stops it first."""
    if case in PARAMS_CASES:
        modify, fragments = PARAMS_CASES[case]
        edit_params(project, modify)
    else:
        text, fragments = RAW_PARAMS_CASES[case]
        if text is None:  # `seed` on line 4, and again at the end
            text = (project / "params.yaml").read_text(encoding="utf-8")
            assert text.startswith("seed: 42\n")
            text = "# a\n# b\n\n" + text + "seed: 7\n"
        (project / "params.yaml").write_text(text, encoding="utf-8")
    before = snapshot(project)
    source = built.parent / "nowhere"  # never reached
    assert_refused(run_stage(project, "download", stage_env(source)), *fragments)
    assert_untouched(project, before)


def test_every_stage_refuses_bad_params_the_same_way(built, tmp_path):
    root = copies(built, tmp_path, 1)[0]
    edit_params(root, _set(f"{A}.hidden", [8, 0]))
    before = snapshot(root)
    results = run_concurrently([(root, stage, None) for stage in STAGES])
    messages = {assert_refused(proc, f"params.yaml: {A}.hidden[1] = 0: expected an integer >= 1")
                for proc in results}
    assert len(messages) == 1  # one validation step, one message
    assert_untouched(root, before)


def test_unknown_approach_argument(project):
    before = snapshot(project)
    assert_refused(run_stage(project, "evaluate --approach tinny"),
                   "no approach named 'tinny'", "did you mean 'tiny'", "known approaches: tiny")
    assert_untouched(project, before)


# ---------------------------------------------------------------------------------------------
# CSV input

CSV_CASES = {
    "empty file": (b"", "train.csv: file is empty; expected rows \"label\",\"title\",\"description\""),
    "header row": (agnews_csv_text([("label", "title", "description")] + GOOD_ROWS).encode(),
                   "train.csv:1: label 'label' is not an integer 1..4 (a header row?"),
    "two columns": (agnews_csv_text(GOOD_ROWS[:2] + [("1", "only a title")] + GOOD_ROWS).encode(),
                    "train.csv:3: found 2 columns, expected 3"),
    "four columns": (agnews_csv_text(GOOD_ROWS[:4] + [("1", "a", "b", "c")]).encode(),
                     "train.csv:5: found 4 columns, expected 3"),
    "label not an integer": (agnews_csv_text(GOOD_ROWS[:1] + [("World", "a", "b")]).encode(),
                             "train.csv:2: label 'World' is not an integer 1..4"),
    "label outside 1..4": (agnews_csv_text(GOOD_ROWS + [(0, "a", "b")]).encode(),
                           "train.csv:13: label 0 is outside 1..4"),
    "empty text": (agnews_csv_text(GOOD_ROWS[:5] + [(2, " ", "")]).encode(),
                   "train.csv:6: title and description are both empty"),
    "not UTF-8": (agnews_csv_text(GOOD_ROWS[:6]).encode() + b'"1","Caf\xe9 opens","in Paris"\n',
                  "train.csv:7: bytes b'\\xe9' are not valid UTF-8"),
    "quote left open": (agnews_csv_text(GOOD_ROWS[:7]).encode() + b'"2","open quote,"never closed\n',
                        "train.csv:8: malformed CSV"),
    "quote never closed": (agnews_csv_text(GOOD_ROWS[:8]).encode() + b'"2","title","never closed\n',
                           "train.csv:9: malformed CSV (unexpected end of data): a quote opened in this "
                           "row is never closed"),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_bad_csv_from_the_source_is_refused(project, tmp_path, case):
    """The download stage checks a copy but names the source file and its line."""
    content, fragment = CSV_CASES[case]
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.csv").write_bytes(content)
    write_agnews_csv(source / "test.csv", GOOD_ROWS)
    before = snapshot(project)
    assert_refused(run_stage(project, "download", stage_env(source)), f"{source}/{fragment}")
    assert_untouched(project, before)  # the previous data/raw files and metrics/data.json are kept


def test_bad_csv_in_data_raw_is_refused_by_the_reading_stages(built, tmp_path):
    roots = copies(built, tmp_path, 3)
    bad = agnews_csv_text(GOOD_ROWS[:2]).encode() + b'"7","t","d"\n'
    (roots[0] / "data/raw/train.csv").write_bytes(bad)
    (roots[1] / "data/raw/test.csv").write_bytes(bad)
    (roots[2] / "data/raw/test.csv").unlink()
    befores = [snapshot(r) for r in roots]
    results = run_concurrently([(roots[0], "tokenize_vocab", None), (roots[1], "vectorize_cache", None),
                                (roots[2], "explain", None)])
    assert_refused(results[0], "data/raw/train.csv:3: label 7 is outside 1..4")
    assert_refused(results[1], "data/raw/test.csv:3: label 7 is outside 1..4")
    assert_refused(results[2], "data/raw/test.csv: file not found; run `dvc repro download` first")
    for root, before in zip(roots, befores, strict=True):
        assert_untouched(root, before)


def test_windows_line_endings_are_accepted(project, tmp_path):
    source = tmp_path / "source"
    write_agnews_csv(source / "train.csv", GOOD_ROWS, newline="\r\n")
    write_agnews_csv(source / "test.csv", GOOD_ROWS[:4], newline="\r\n")
    ran = run_stage(project, "download", stage_env(source, OMP_NUM_THREADS="3"))
    assert_ok(ran)
    # The stage's cost line, with the thread count it ran with (here the user's).
    assert re.search(r"stage download: [0-9.]+ s, peak memory [0-9]+ MB, OpenMP threads 3\n", ran.stderr)
    data = json.loads((project / "metrics/data.json").read_text())
    assert data["train"]["rows"] == 12 and data["test"]["rows"] == 4
    assert (project / "data/raw/train.csv").read_bytes() == (source / "train.csv").read_bytes()
    assert_ok(run_stage(project, "tokenize_vocab"))
    vocab = json.loads((project / "data/vocab.json").read_text())
    assert not any("\r" in token for token in vocab["idx_to_token"])
    assert not temp_files(project)


def test_documents_empty_after_tokenization_are_kept_counted_and_classified(built):
    """Rows such as '!!! ...' pass the CSV check; they are kept, counted, and the model reads one <pad>."""
    cache = json.loads((built / "metrics/cache.json").read_text())
    assert cache["train"]["empty_documents"] + cache["val"]["empty_documents"] == len(EMPTY_TRAIN_ROWS)
    assert cache["test"]["empty_documents"] == len(EMPTY_TEST_ROWS)
    n_test = 20 + len(EMPTY_TEST_ROWS)
    assert cache["test"]["documents"] == n_test
    data = json.loads((built / "metrics/data.json").read_text())
    assert data["train"]["rows"] == 60 + len(EMPTY_TRAIN_ROWS)
    # train and evaluate ran over them: every test document, the empty one included, got a prediction.
    evaluation = json.loads((built / f"metrics/eval/{APPROACH}.json").read_text())
    assert evaluation["test_documents"] == n_test
    predictions = (built / f"plots/predictions/{APPROACH}.csv").read_text().splitlines()
    assert len(predictions) == n_test + 1
    history = (built / f"plots/history/{APPROACH}.csv").read_text().splitlines()
    assert len(history) == 3 and "nan" not in "".join(history)


def test_explaining_a_document_without_words_is_refused(project):
    text = (project / "data/raw/test.csv").read_text(encoding="utf-8")
    index = len(text.splitlines()) - 1  # the last row is EMPTY_TEST_ROWS[0]
    edit_params(project, _set("explain.doc_indices", [index]))
    before = snapshot(project)
    assert_refused(run_stage(project, "explain"), f"explain.doc_indices[0] = {index}",
                   "has no words to explain; choose another index")
    assert_untouched(project, before)


def test_too_small_validation_fraction_is_refused(project):
    edit_params(project, _set("data.val_fraction", 0.001))
    before = snapshot(project)
    assert_refused(run_stage(project, "vectorize_cache"), "data.val_fraction = 0.001 leaves",
                   " 1 validation documents", "expected at least one of each of the 4 classes in each part")
    assert_untouched(project, before)


# ---------------------------------------------------------------------------------------------
# download

def test_unreachable_source_suggests_agnews_source(project):
    port = free_port()
    edit_params(project, _set("data.url", f"http://127.0.0.1:{port}/ag_news_csv"))
    before = snapshot(project)
    message = assert_refused(run_stage(project, "download"),
                             f"cannot download http://127.0.0.1:{port}/ag_news_csv/train.csv",
                             "Set AGNEWS_SOURCE=/path/to/folder holding train.csv and test.csv")
    assert re.search(r"refused|Errno", message)
    assert_untouched(project, before)


def test_md5_mismatch_discards_the_download_and_keeps_the_previous_data(project, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    write_agnews_csv(served / "train.csv", make_corpus(4, seed=11))
    write_agnews_csv(served / "test.csv", make_corpus(2, seed=12))
    server, url = serve_folder(served)
    try:
        md5 = {"train": md5_of(served / "train.csv"), "test": md5_of(served / "test.csv")}
        edit_params(project, _set("data.url", url))
        edit_params(project, _set("data.md5", md5))
        assert_ok(run_stage(project, "download"))  # a good download first
        assert json.loads((project / "metrics/data.json").read_text())["train"]["canonical"] is True
        good = snapshot(project)

        # New train.csv (and its MD5 in params.yaml), but the server's test.csv is corrupted.
        write_agnews_csv(served / "train.csv", make_corpus(5, seed=13))
        edit_params(project, _set("data.md5.train", md5_of(served / "train.csv")))
        (served / "test.csv").write_bytes((served / "test.csv").read_bytes()[:-10])
        before = snapshot(project)
        assert_refused(run_stage(project, "download"), f"{url}/test.csv: MD5 mismatch",
                       f"expected {md5['test']} (params.yaml data.md5.test), got {md5_of(served / 'test.csv')}",
                       "the download was discarded")
        assert_untouched(project, before)
        # All or nothing: the new, valid train.csv was not installed beside the old test.csv.
        assert {k: good[k] for k in ("data/raw/train.csv", "data/raw/test.csv", "metrics/data.json")} == \
               {k: before[k] for k in ("data/raw/train.csv", "data/raw/test.csv", "metrics/data.json")}

        (served / "test.csv").unlink()
        assert_refused(run_stage(project, "download"), f"cannot download {url}/test.csv: HTTP 404")
        assert_untouched(project, before)
    finally:
        server.shutdown()
        server.server_close()


def test_local_source_missing_a_file(project, tmp_path):
    source = tmp_path / "source"
    write_agnews_csv(source / "train.csv", GOOD_ROWS)
    before = snapshot(project)
    assert_refused(run_stage(project, "download", stage_env(source)),
                   f"{source}: test.csv not found there; AGNEWS_SOURCE must name a folder holding train.csv "
                   "and test.csv")
    assert_refused(run_stage(project, "download", stage_env(tmp_path / "absent")),
                   f"{tmp_path / 'absent'}: no such folder")
    assert_untouched(project, before)


# ---------------------------------------------------------------------------------------------
# artifacts that do not fit together

def _grow_vocab(root: Path) -> int:
    from pipeline.vocab import build_vocab, load_vocab, save_vocab
    vocab = load_vocab(root / "data/vocab.json")
    grown = build_vocab([vocab.idx_to_token[2:] + ["zzzextra"]])
    save_vocab(grown, root / "data/vocab.json")
    return len(vocab)


def _shrink_vocab(root: Path) -> int:
    from pipeline.vocab import build_vocab, load_vocab, save_vocab
    vocab = load_vocab(root / "data/vocab.json")
    save_vocab(build_vocab([vocab.idx_to_token[2:12]]), root / "data/vocab.json")
    return len(vocab)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_artifacts_that_do_not_fit_together(built, tmp_path):
    n = len(json.loads((built / "data/vocab.json").read_text())["idx_to_token"])
    cases = [  # (stage, change, fragments of the message)
        ("evaluate", _grow_vocab,
         [f"models/{APPROACH}/spec.json: the checkpoint was trained with a vocabulary of {n} entries, the current "
          f"vocabulary has {n + 1}", f"`dvc repro train@{APPROACH}`"]),
        (f"baseline --baseline {BASELINE}", _shrink_vocab,
         ["data/cache/train.npz: token ids span", "but the current vocabulary has 12 entries (ids 0..11)",
          "rerun `dvc repro vectorize_cache`"]),
        ("evaluate", lambda r: edit_params(r, lambda p: (p["approaches"][APPROACH].update(max_tokens=20),
                                                         p["train"].update(learning_rate=0.5))),
         [f"models/{APPROACH}/spec.json does not match params.yaml {A}: max_tokens is 12 in the checkpoint "
          "but 20 in params.yaml; train.learning_rate is 0.02 in the checkpoint but 0.5 in params.yaml",
          "edited but not retrained"]),
        ("explain", lambda r: edit_params(r, _set(f"{A}.hidden", [16])),
         ["hidden is [8] in the checkpoint but [16] in params.yaml", f"`dvc repro train@{APPROACH}`"]),
        ("evaluate", lambda r: (r / "data/cache/test.npz").unlink(),
         ["data/cache/test.npz: cache file not found; run `dvc repro vectorize_cache`"]),
        (f"baseline --baseline {BASELINE}", lambda r: _truncate(r / "data/cache/val.npz"),
         ["data/cache/val.npz: cannot read the cache", "truncated or corrupt"]),
        ("evaluate", lambda r: _truncate(r / f"models/{APPROACH}/model.params"),
         [f"models/{APPROACH}/model.params: the weights file is not the one", "truncated, corrupt"]),
        ("explain", lambda r: _truncate(r / f"models/{APPROACH}/spec.json"),
         [f"models/{APPROACH}/spec.json: line", "not valid JSON", "truncated or corrupt"]),
        ("vectorize_cache", lambda r: _truncate(r / "data/vocab.json"),
         ["data/vocab.json: not a GluonNLP vocabulary JSON", "truncated or corrupt"]),
        ("summarize", lambda r: _truncate(r / f"metrics/eval/{APPROACH}.json"),
         [f"metrics/eval/{APPROACH}.json: line", "not valid JSON"]),
    ]
    roots = copies(built, tmp_path, len(cases))
    befores = []
    for root, (_stage, change, _fragments) in zip(roots, cases, strict=True):
        change(root)
        befores.append(snapshot(root))
    jobs = [(root, f"{stage} --approach {APPROACH}" if stage == "evaluate" else stage, None)
            for root, (stage, _, _) in zip(roots, cases, strict=True)]
    for proc, root, before, (_s, _c, fragments) in zip(run_concurrently(jobs), roots, befores, cases, strict=True):
        assert_refused(proc, *fragments)
        assert_untouched(root, before)


# ---------------------------------------------------------------------------------------------
# untrusted files

FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
FORBIDDEN_CALLS = {"yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all",
                   "mx.nd.load", "mxnet.nd.load", "nd.load", "mx.ndarray.load", "torch.load",
                   "pd.read_pickle", "pandas.read_pickle", "eval", "exec"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def project_sources() -> list[Path]:
    return sorted(p for folder in ("pipeline", "stages", "benchmarks", "tests")
                  for p in (REPO / folder).rglob("*.py"))


def test_no_pickle_loading_anywhere():
    """Every file the pipeline reads is data: no pickle, np.load only with allow_pickle=False."""
    problems = []
    sources = project_sources()
    assert any(p.name == "dataset.py" for p in sources)
    for path in sources:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        where = path.relative_to(REPO)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                bad = {n.split(".")[0] for n in names if n} & FORBIDDEN_MODULES
                if bad:
                    problems.append(f"{where}:{node.lineno}: imports {', '.join(sorted(bad))}")
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name in FORBIDDEN_CALLS:
                    problems.append(f"{where}:{node.lineno}: calls {name}")
                if name in ("np.load", "numpy.load"):
                    flag = [k for k in node.keywords if k.arg == "allow_pickle"]
                    if not flag or not (isinstance(flag[0].value, ast.Constant) and flag[0].value.value is False):
                        problems.append(f"{where}:{node.lineno}: np.load without allow_pickle=False")
        # and a plain grep, for anything the AST walk could miss (aliases, strings passed to getattr)
        for lineno, line in enumerate(text.splitlines(), 1):
            if re.search(r"allow_pickle\s*=\s*True|pickle\.loads?\(|unsafe_load|read_pickle", line) \
                    and path.name != "test_bad_input.py":
                problems.append(f"{where}:{lineno}: {line.strip()}")
    assert not problems, "\n".join(problems)


MALICIOUS_TITLE = "</script><script>window.PWNED=1</script> election minister"
MALICIOUS_DESCRIPTION = '<img src=x onerror="alert(1)"> treaty <b>summit</b> & "embassy"'


def test_document_text_cannot_inject_markup_into_the_lime_html(project):
    test_csv = project / "data/raw/test.csv"
    with open(test_csv, "a", encoding="utf-8", newline="") as fh:
        fh.write(agnews_csv_text([(1, MALICIOUS_TITLE, MALICIOUS_DESCRIPTION)]))
    index = len(test_csv.read_text(encoding="utf-8").splitlines()) - 1
    edit_params(project, _set("explain.doc_indices", [3, index]))  # a plain document beside it
    assert_ok(run_stage(project, "explain"))
    plain = (project / f"data/explain/{APPROACH}_doc3.html").read_text(encoding="utf-8")
    html = (project / f"data/explain/{APPROACH}_doc{index}.html").read_text(encoding="utf-8")
    assert "window.PWNED=1" in html  # the document is shown ...
    for markup in ("<script>window", "</script><script>window", "<img src=x", "<b>summit", 'onerror="alert'):
        assert markup not in html  # ... as inert text
    for tag in ("<script", "</script", "<img", "<b>"):
        assert html.count(tag) == plain.count(tag)  # no element beyond those of any explanation
    record = json.loads((project / f"reports/explain/{APPROACH}_doc{index}.json").read_text(encoding="utf-8"))
    assert record["text"] == f"{MALICIOUS_TITLE} {MALICIOUS_DESCRIPTION}"  # JSON keeps it verbatim
    picture = (project / f"plots/explain/{APPROACH}_doc{index}.png").read_bytes()
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")  # its weights are drawn too, as another picture than doc 3's
    assert picture != (project / f"plots/explain/{APPROACH}_doc3.png").read_bytes()
    assert not temp_files(project)


def test_summary_refuses_markup_in_metrics_and_escapes_what_it_writes(built, tmp_path):
    roots = copies(built, tmp_path, 2)
    metrics = roots[0] / f"metrics/eval/{APPROACH}.json"
    data = json.loads(metrics.read_text())
    data["accuracy"] = "<script>alert(1)</script>"
    metrics.write_text(json.dumps(data))
    (roots[1] / f"metrics/baseline/{BASELINE}.json").write_text(json.dumps({"accuracy": 0.9}))
    befores = [snapshot(r) for r in roots]
    results = run_concurrently([(r, "summarize", None) for r in roots])
    assert_refused(results[0], f"metrics/eval/{APPROACH}.json: accuracy = '<script>alert(1)</script>', "
                               "expected a number in [0, 1]", f"rerun `dvc repro evaluate@{APPROACH}`")
    assert_refused(results[1], f"metrics/baseline/{BASELINE}.json: 'macro_f1' is missing")
    for root, before in zip(roots, befores, strict=True):
        assert_untouched(root, before)
    # What a good run writes holds no markup but the table itself.
    summary = (built / "reports/summary.md").read_text(encoding="utf-8")
    assert "<" not in summary and ">" not in summary
    # Two tables: results (header, rule, the approach, the baseline) and the paired tests (header, rule, row).
    assert Counter(line.count("|") for line in summary.splitlines() if "|" in line) == Counter({13: 4, 3: 3})
