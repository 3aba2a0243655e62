"""The four user workflows of the README's 'Workflows' section, typed exactly as a user would.

Every test runs the real `git` and `dvc` (and `python -m pipeline.predict`) in a project built once per
session (``dvc_project`` in conftest.py: a copy of this repository, a generated corpus, tiny params, a
full `dvc repro`, committed on `main`). Tests that change the project work on their own copy of it, so
no test depends on another one having run, or not run, before it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import CLASS_NAMES
from tests.corpus_gen import make_corpus
from tests.dvc_project import (
    SMALL_APPROACHES,
    TEXTS,
    approach_stages,
    check_rows,
    copy_project,
    predict,
    read_json,
    repro,
    run,
    write_csv,
)

pytestmark = pytest.mark.integration

APPROACHES = list(SMALL_APPROACHES)  # uni, bi
# A 2-layer bidirectional LSTM added without a code change (the README adds one with 128 units).
NEW_APPROACH = "bilstm2"
NEW_APPROACH_OVERRIDE = (f"+approaches.{NEW_APPROACH}="
                         "{max_tokens:12,embed_len:8,hidden:[6,6],bidirectional:true,dense:[],pooling:last}")
# The README's narrow `dvc exp show` table: test accuracy and max_tokens of every approach.
EXP_SHOW_NARROW = ["dvc", "exp", "show", "--md", "--drop", ".*",
                   "--keep", "Experiment|metrics/eval/.*:accuracy|.*max_tokens"]


def edit_params(root: Path, change) -> None:
    """Edit params.yaml the way a user does: load, change, save."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


@pytest.fixture
def workspace(dvc_project, tmp_path) -> tuple[Path, dict]:
    """This test's own copy of the built project."""
    return copy_project(dvc_project, tmp_path / "repo")


# --- 1. Rebuild only what changed ------------------------------------------------------------------

def test_repro_reruns_exactly_what_an_edit_touches(workspace):
    root, env = workspace
    # After a full `dvc repro`, a second one has nothing to do.
    assert repro(root, env) == []
    assert run(["dvc", "status"], root, env).stdout == "download:\n\talways changed\n"

    # One approach edited: its train and evaluate, explain and summarize; nothing upstream, no other approach.
    edit_params(root, lambda p: p["approaches"]["uni"].update(hidden=[12]))
    ran = repro(root, env)
    assert set(ran) == approach_stages("uni"), ran
    assert read_json(root / "models/uni/spec.json")["model"]["hidden"] == [12]
    assert repro(root, env) == []

    # (Changing only max_tokens reruns the same four, not vectorize_cache: test_experiments_with_set_param.)
    # A vocabulary option: tokenize_vocab writes a smaller vocabulary, and then every stage that reads it is
    # out of date (and everything after those, as the window edit below shows; a full rerun would take a minute).
    before = read_json(root / "metrics/vocab.json")["vocab_size"]
    edit_params(root, lambda p: p["vocab"].update(max_size=30))
    assert repro(root, env, "tokenize_vocab") == ["tokenize_vocab"]
    assert read_json(root / "metrics/vocab.json")["vocab_size"] < before
    stale = json.loads(run(["dvc", "status", "--json"], root, env).stdout)
    every_train = {f"train@{name}" for name in APPROACHES}
    assert set(stale) == {"download", "vectorize_cache", "embeddings", "explain", *every_train}, stale
    # Undone: tokenize_vocab writes the previous vocabulary again, the same bytes, so nothing after it reruns.
    edit_params(root, lambda p: p["vocab"].update(max_size=None))
    assert repro(root, env, "tokenize_vocab") == ["tokenize_vocab"]
    assert read_json(root / "metrics/vocab.json")["vocab_size"] == before
    assert repro(root, env) == []

    # The word vectors' window: the vectors and every model that starts from them; no baseline, nothing upstream.
    vectors = (root / "data/embeddings.npy").read_bytes()
    edit_params(root, lambda p: p["embeddings"].update(window=2))
    ran = repro(root, env)
    every_model = every_train | {f"evaluate@{name}" for name in APPROACHES}
    assert set(ran) == {"embeddings", "explain", "summarize", *every_model}, ran
    assert (root / "data/embeddings.npy").read_bytes() != vectors


# --- 2. Compare branches ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def branch(dvc_project, tmp_path_factory) -> tuple[Path, dict, list[str]]:
    """A copy with branch `faster-uni`: approach uni trained at a higher learning rate, reproduced and
    committed. Returns ``(root, env, stages the repro ran)``; tests only read it."""
    root, env = copy_project(dvc_project, tmp_path_factory.mktemp("branch") / "repo")
    run(["git", "checkout", "-q", "-b", "faster-uni"], root, env)
    edit_params(root, lambda p: p["approaches"]["uni"].update(train={"learning_rate": 0.02}))
    ran = repro(root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "uni: learning rate 0.02"], root, env)
    return root, env, ran


def vega_specs(html: str) -> dict[str, dict]:
    """The Vega-Lite spec of every plot in a `dvc plots show/diff` page, by its div id."""
    found = re.findall(r'<div id = "([^"]+)">\s*<script[^>]*>\s*var spec = (.*?);\s*vegaEmbed', html, re.S)
    return {div: json.loads(spec) for div, spec in found}


def test_metrics_and_plots_diff_against_main(branch):
    root, env, ran = branch
    assert set(ran) == approach_stages("uni"), ran
    old = json.loads(run(["git", "show", "main:metrics/eval/uni.json"], root, env).stdout)["accuracy"]
    new = read_json(root / "metrics/eval/uni.json")["accuracy"]
    assert old != new  # the tiny corpus is learnable: 2 epochs at 0.02 beat 2 epochs at 0.001

    diff = json.loads(run(["dvc", "metrics", "diff", "main", "--json"], root, env).stdout)
    assert diff["metrics/eval/uni.json"]["accuracy"] == {"old": old, "new": new, "diff": pytest.approx(new - old)}
    assert not any(f"metrics/eval/{name}.json" in diff for name in APPROACHES if name != "uni")  # unchanged
    assert not any(path.startswith("metrics/baseline/") for path in diff)

    table = run(["dvc", "metrics", "diff", "main"], root, env).stdout  # what a user reads
    row = next(line for line in table.splitlines() if re.match(r"metrics/eval/uni\.json\s+accuracy\s", line))
    assert [float(v) for v in row.split()[2:5]] == pytest.approx([old, new, new - old], abs=1e-5), row
    md = run(["dvc", "metrics", "diff", "main", "--md"], root, env).stdout
    row = next(line for line in md.splitlines() if re.match(r"\| metrics/eval/uni\.json +\| accuracy +\|", line))
    assert [float(v) for v in row.strip("| ").split("|")[2:5]] == pytest.approx([old, new, new - old], abs=1e-5)

    # `dvc plots diff main` draws both revisions: in each Vega plot's data and as one image per revision.
    out = run(["dvc", "plots", "diff", "main"], root, env).stdout
    page = root / "dvc_plots/index.html"
    assert str(page) in out or page.as_uri() in out
    html = page.read_text(encoding="utf-8")
    specs = vega_specs(html)
    for div in ("plots_history_uni_csv", "plots_predictions_uni_csv"):
        assert {v["rev"] for v in specs[div]["data"]["values"]} == {"main", "workspace"}, div
    for rev in ("main", "workspace"):
        image = f"static/{rev}_plots_confusion_uni.png"
        assert f'src="{image}"' in html and (root / "dvc_plots" / image).stat().st_size > 1000


def test_metrics_diff_shows_only_metrics_files(branch):
    root, env, _ = branch
    diff = json.loads(run(["dvc", "metrics", "diff", "main", "--json"], root, env).stdout)
    assert [path for path in diff if not path.endswith(".json")] == []


# --- 4. Try a configuration without touching code -------------------------------------------------

def test_experiments_with_set_param(workspace):
    root, env = workspace
    # max_tokens: only that approach is retrained (documents are cached unclipped: no vectorize_cache).
    ran = repro(root, env, "exp", "run", "-n", "uni-80", "-S", "approaches.uni.max_tokens=80")
    assert set(ran) == approach_stages("uni"), ran
    assert read_json(root / "models/uni/spec.json")["preprocessing"]["max_tokens"] == 80
    committed = {"uni-80": read_json(root / "metrics/eval/uni.json")}

    # A new approach from the command line: its own train/evaluate stages and a summary row.
    ran = repro(root, env, "exp", "run", "-n", NEW_APPROACH, "-S", NEW_APPROACH_OVERRIDE)
    assert set(ran) == approach_stages(NEW_APPROACH), ran
    committed[NEW_APPROACH] = read_json(root / "metrics/eval/uni.json")
    rows = {row["approach"]: row for row in read_json(root / "reports/summary.json")}
    assert rows[NEW_APPROACH]["hidden"] == [6, 6] and rows[NEW_APPROACH]["bidirectional"] is True
    assert f"| {NEW_APPROACH} |" in (root / "reports/summary.md").read_text(encoding="utf-8")
    assert {f"train@{NEW_APPROACH}", f"evaluate@{NEW_APPROACH}"} <= set(
        run(["dvc", "stage", "list", "--name-only"], root, env).stdout.split())
    changed_code = run(["git", "status", "--porcelain", "--", "pipeline", "stages", "dvc.yaml"], root, env).stdout
    assert changed_code == ""

    # `dvc exp show` lists both experiments with their parameters and metrics.
    shown = json.loads(run(["dvc", "exp", "show", "--json"], root, env).stdout)
    main = next(entry for entry in shown if entry.get("name") == "main")
    exps = {exp["name"]: exp["revs"][0]["data"] for exp in main["experiments"]}
    assert set(exps) == {"uni-80", NEW_APPROACH}
    for name, data in exps.items():
        assert data["params"]["params.yaml"]["data"]["approaches"]["uni"]["max_tokens"] == 80, name
        shown_accuracy = data["metrics"]["metrics/eval/uni.json"]["data"]["accuracy"]
        assert shown_accuracy == committed[name]["accuracy"], name  # the experiment's own metrics file
    assert "metrics/eval/bilstm2.json" in exps[NEW_APPROACH]["metrics"]
    assert "metrics/eval/bilstm2.json" not in exps["uni-80"]["metrics"]
    table = run(EXP_SHOW_NARROW, root, env).stdout
    for name in ("uni-80", NEW_APPROACH):
        row = next(line for line in table.splitlines() if f"[{name}]" in line)
        assert re.search(r"\|\s*80\s*\|", row) and re.search(r"\|\s*0\.\d+\s*\|", row), row


def test_seeds_make_an_ensemble_and_report_the_spread(workspace):
    """`train.seeds: 2` for one approach: two models; evaluate and predict use the mean of their probabilities,
    each model's own test accuracy is reported, mean ± std in the summary."""
    root, env = workspace
    ran = repro(root, env, "exp", "run", "-S", "+approaches.uni.train={seeds:2}")
    assert set(ran) == approach_stages("uni"), ran
    assert sorted(p.name for p in (root / "models/uni").iterdir()) == ["model.params", "seed-43.params", "spec.json"]
    assert read_json(root / "models/uni/spec.json")["seeds"] == [42, 43]
    evaluated = read_json(root / "metrics/eval/uni.json")
    assert set(evaluated["seed_accuracies"]) == {"42", "43"}
    assert evaluated["ensemble_size"] == 2
    # The second model really is another one: trained from another seed, its weights differ.
    first, second = ((root / "models/uni" / f).read_bytes() for f in ("model.params", "seed-43.params"))
    assert first != second
    # Recomputed here from the two checkpoints: each seed's accuracy, and the labels of their mean probabilities
    # are evaluate's labels and the reported accuracy (not the first seed's alone).
    import mxnet as mx
    from scipy.special import softmax

    from pipeline.checkpoint import load_checkpoint, load_members
    from pipeline.dataset import load_split
    from pipeline.inference import predict_logits

    ctx, vocab_size = mx.cpu(), read_json(root / "models/uni/spec.json")["model"]["vocab_size"]
    net, metadata = load_checkpoint(root / "models/uni", vocab_size, ctx)
    test = load_split(root / "data/cache/test.npz", vocab_size)
    prep = metadata["preprocessing"]
    probs = [softmax(predict_logits(m, test, prep["max_tokens"], prep["pad_id"], ctx), axis=1)
             for m in load_members(net, metadata, root / "models/uni", ctx)]
    for seed, p in zip(("42", "43"), probs, strict=True):
        assert evaluated["seed_accuracies"][seed] == pytest.approx((p.argmax(1) == test.labels).mean(), abs=1e-6)
    ensemble = ((probs[0] + probs[1]) / 2).argmax(1)
    assert (ensemble != probs[0].argmax(1)).any()  # else this test could not tell the ensemble from seed 42
    assert evaluated["accuracy"] == pytest.approx((ensemble == test.labels).mean(), abs=1e-6)
    labels = [row["predicted"] for row in csv.DictReader((root / "plots/predictions/uni.csv").open(encoding="utf-8"))]
    assert labels == [CLASS_NAMES[i] for i in ensemble]
    out = predict(root, env, "--approach", "uni", "--csv", "data/raw/test.csv").stdout
    assert [json.loads(line)["predicted"] for line in out.splitlines()] == labels
    rows = {row["approach"]: row for row in read_json(root / "reports/summary.json")}
    spread = rows["uni"]["seed_accuracy"]
    values = list(evaluated["seed_accuracies"].values())
    assert spread["seeds"] == 2 and spread["mean"] == pytest.approx(sum(values) / 2, abs=1e-6)
    assert spread["std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5, abs=1e-6)
    assert rows["bi"]["seed_accuracy"] is None  # one seed: nothing to show
    assert read_json(root / "metrics/train/uni.json")["seed_best_val_accuracy"].keys() == {"42", "43"}


# --- 5. Use a trained model ------------------------------------------------------------------------

def test_predict_command(dvc_project, tmp_path):
    root, env = dvc_project  # only read

    # Texts as arguments: one JSON line per text, in order.
    out = predict(root, env, "--approach", "bi", *TEXTS).stdout
    by_args = [json.loads(line) for line in out.splitlines()]
    check_rows(by_args, TEXTS)

    # Stdin, one text per line (blank lines skipped), CSV output, small batches: the same probabilities.
    out = predict(root, env, "--approach", "bi", "--format", "csv", "--batch-size", "3",
                  stdin="\n".join([TEXTS[0], "", *TEXTS[1:]]) + "\n").stdout
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == ["text", "predicted", *CLASS_NAMES]
    assert [row["text"] for row in table] == TEXTS
    for row, expected in zip(table, by_args, strict=True):
        assert row["predicted"] == expected["predicted"]
        for name in CLASS_NAMES:
            assert float(row[name]) == pytest.approx(expected["probabilities"][name], abs=2e-6)

    # A CSV file in the AG News format.
    rows = make_corpus(3, seed=9)
    news = tmp_path / "news.csv"
    write_csv(news, rows)
    out = predict(root, env, "--approach", "uni", "--csv", str(news)).stdout
    check_rows([json.loads(line) for line in out.splitlines()], [f"{t} {d}" for _, t, d in rows])

    # The same CSV through a pipe (`--csv /dev/stdin`); undecodable bytes on stdin are refused (issue 11).
    out = predict(root, env, "--approach", "uni", "--csv", "/dev/stdin", stdin=news.read_text()).stdout
    check_rows([json.loads(line) for line in out.splitlines()], [f"{t} {d}" for _, t, d in rows])
    proc = subprocess.run([sys.executable, "-m", "pipeline.predict", "--approach", "uni"], cwd=root, env=env,
                          input=b"fine\nbad \xff byte\n", capture_output=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr == b"error: stdin line 2: bytes b'\\xff' are not valid UTF-8; give UTF-8 text\n"

    # Raw text goes through the same tokenization as the cached test split (lower-casing, stop words
    # removed: the project's params.yaml has vocab.stop_words: english): the same labels as evaluate's.
    out = predict(root, env, "--approach", "uni", "--csv", "data/raw/test.csv").stdout
    evaluated = list(csv.DictReader((root / "plots/predictions/uni.csv").open(encoding="utf-8")))
    assert [json.loads(line)["predicted"] for line in out.splitlines()] == [row["predicted"] for row in evaluated]

    # Only the checkpoint, its spec and the vocabulary are needed: no params.yaml, no caches, no DVC.
    bare = tmp_path / "bare"
    for name in ("models/bi/model.params", "models/bi/spec.json", "data/vocab.json"):
        (bare / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, bare / name)
    code_only = {**env, "PYTHONPATH": str(root)}  # the project's code, none of its data
    out = predict(bare, code_only, "--approach", "bi", *TEXTS).stdout
    assert [json.loads(line) for line in out.splitlines()] == by_args

    # Clear messages, exit code 2, no traceback.
    failures = {
        "unknown approach": (root, ["--approach", "unii", "x"],
                             "error: no trained approach 'unii' in models/ (did you mean 'uni'?); "
                             "trained approaches: bi, uni"),
        "empty text": (root, ["--approach", "uni", "fine", " "], "error: text 2 is empty"),
        "missing checkpoint": (bare, ["--approach", "bi", "x"], "models/bi/model.params: checkpoint file not found"),
    }
    (bare / "models/bi/model.params").unlink()
    for case, (cwd, args, message) in failures.items():
        proc = predict(cwd, code_only, *args, check=False)
        assert proc.returncode == 2 and proc.stdout == "", case
        assert message in proc.stderr and "Traceback" not in proc.stderr, (case, proc.stderr)
