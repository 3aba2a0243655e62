"""benchmarks/: the side-by-side timings run at small shapes, the FLOP count is the textbook one, the
scaling script runs the real pipeline per size."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import stat
import sys
import time

import matplotlib.image
import mxnet as mx
import numpy as np
import pytest
import yaml

from benchmarks import choices, profile_step, pytorch_reference, scaling
from benchmarks import throughput as bench
from benchmarks.child_timer import ChildTimer
from benchmarks.corpus import make_texts
from pipeline.model import StaticShapeCopies, build_model
from pipeline.params import load as load_params
from pipeline.training import make_trainer, train_step
from tests.conftest import tiny_architecture
from tests.corpus_gen import make_corpus
from tests.dvc_project import REPO, project_env, run, shrink_params, write_csv


def test_ms_per_call_reports_milliseconds_per_call_of_each():
    plain, ours = choices.ms_per_call(lambda: time.sleep(0.012), lambda: time.sleep(0.003), repeats=5)
    assert 12 <= plain < 60 and 3 <= ours < 30 and plain > ours  # a sleep never ends early


def test_kernel_choices_time_both_ways():
    started = time.perf_counter()
    found = {"max_pooling": choices.pooling(6, 8, 3, repeats=5),
             "bidirectional_outputs": choices.bidirectional_outputs(6, 8, 3, repeats=5),
             "reversal": choices.reversal(6, 8, 3, repeats=5)}
    wall_ms = 1000 * (time.perf_counter() - started)
    assert found["max_pooling"]["shape"] == [6, 8, 3]
    # Each way ran 5 timed calls within the wall time (unit or per-round mistakes overshoot it).
    timed = [found["max_pooling"][key] for key in ("reduce_ms", "onednn_pooling_ms")] + \
        [found["bidirectional_outputs"][key] for key in ("reverse_concat_pool_ms", "pool_each_direction_ms")] + \
        [found["reversal"][key] for key in ("sequence_reverse_ms", "gather_ms")]
    assert all(ms > 0 for ms in timed) and 5 * sum(timed) <= wall_ms
    lines = bench.render_choices(found)
    assert len(lines) == 6 and all(line.startswith("|") for line in lines[1:])


def test_batch_transfer_and_weight_average_run_real_training_steps(tiny_data, settings):
    net = build_model(tiny_architecture(), tiny_data.vocab_size, mx.cpu(), seed=0)
    forward, trainer = StaticShapeCopies(net), make_trainer(net, settings())
    before = net.embedding.weight.data().asnumpy()
    split = tiny_data.train
    batches = [(np.full((4, 5), 2, dtype=np.int32), np.full(4, 5, dtype=np.float32), split.labels[:4])]
    step = functools.partial(train_step, forward, trainer, mx.gluon.loss.SoftmaxCrossEntropyLoss())
    transfer = choices.batch_transfer(step, batches, repeats=5)
    assert transfer["nd_array_ms"] > 0 and transfer["zero_copy_ms"] > 0
    assert not np.array_equal(net.embedding.weight.data().asnumpy(), before)  # the steps did train
    average = choices.weight_average(net, 0.9, repeats=5)
    assert average["parameters"] == sum(p.data().size for p in net.collect_params().values())


def test_lstm_flops_count_the_gate_gemms_forward_and_backward():
    # one layer: 4 gates x (input + hidden) x hidden multiply-adds per step and document, x2 FLOPs, x3 with backward
    uni = {"embed_len": 40, "hidden": [75], "bidirectional": False}
    assert bench.lstm_flops(uni, steps=25, batch=1024) == 3 * 2 * 4 * 75 * (40 + 75) * 25 * 1024
    bi_two = {"embed_len": 40, "hidden": [75, 75], "bidirectional": True}
    per_step = 2 * (2 * 4 * 75 * (40 + 75)) + 2 * (2 * 4 * 75 * (150 + 75))  # layer 2 reads both directions
    assert bench.lstm_flops(bi_two, steps=1, batch=1) == 3 * per_step


@pytest.mark.integration
def test_scaling_runs_the_real_pipeline_on_a_prefix_and_reads_its_metrics(tmp_path):
    """One size of a tiny corpus through every stage; figures come from the run's own files. (Every size is
    measured by the same code: the projection over several is tested on given runs below.)"""
    source = tmp_path / "source"
    source.mkdir()
    write_csv(source / "train.csv", make_corpus(40, seed=1))
    write_csv(source / "test.csv", make_corpus(10, seed=2))
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    shrink_params(params)
    baselines = list(yaml.safe_load(params.read_text()).get("baselines") or [])[:1]
    out, work = tmp_path / "out", tmp_path / "work"
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--source", str(source), "--sizes", "120",
           "--params", str(params), "--approaches", "uni", "--out", str(out), "--work", str(work)]
    run(cmd + (["--baselines", *baselines] if baselines else []), REPO, project_env(source))

    result = json.loads((out / "scaling.json").read_text())
    [r] = result["runs"]
    assert r["train_documents"] == 120
    project = work / "n120" / "project"
    source_rows = (source / "train.csv").read_text().splitlines()
    assert (project / "data" / "raw" / "train.csv").read_text().splitlines() == source_rows[:120]  # a prefix
    assert "train@uni" in r["stages"] and "summarize" in r["stages"]
    for stage in r["stages"].values():
        assert stage["seconds"] > 0 and 20 < stage["peak_mb"] < 8000
    # the train stage loads MXNet: well above dvc's own process
    assert r["stages"]["train@uni"]["peak_mb"] > r["dvc_floor_mb"] + 50
    eval_file = json.loads((project / "metrics" / "eval" / "uni.json").read_text())
    assert r["accuracy"]["uni"] == eval_file["accuracy"]
    baseline_files = sorted((project / "metrics").glob("baseline*.json")) + sorted(
        (project / "metrics" / "baseline").glob("*.json"))
    assert len(baseline_files) == 1 and len(r["accuracy"]) == 2
    assert json.loads(baseline_files[0].read_text())["accuracy"] in r["accuracy"].values()
    assert r["total_s"] >= sum(s["seconds"] for s in r["stages"].values()) - 0.1
    assert result["projection"] is None  # a line needs two sizes
    assert "No projection: it needs two or more sizes." in (out / "scaling.md").read_text()
    assert_drawn(out / "scaling.png")


def measured_run(n: int, accuracy: float, seconds: float, peak_mb: int) -> dict:
    """What ``measure_size`` returns for one size, with given figures."""
    stages = {"download": {"seconds": 1.0, "peak_mb": 70}, "train@uni": {"seconds": seconds, "peak_mb": peak_mb}}
    return {"train_documents": n, "stages": stages, "total_s": 1.0 + seconds, "noop_repro_s": 1.5,
            "dvc_floor_mb": 60, "peak_mb": peak_mb, "accuracy": {"uni": accuracy, "baseline:lr": accuracy - 0.01},
            "epochs_run": {"uni": 3}}


def test_scaling_projects_accuracy_on_ln_n_and_cost_on_n_to_120000(tmp_path):
    runs = [measured_run(1_000, 0.80, 10.0, 300), measured_run(10_000, 0.85, 100.0, 500),
            measured_run(100_000, 0.90, 1_000.0, 700)]
    proj = scaling.project(runs)
    assert proj["train_documents"] == 120_000
    # Accuracy gains 0.05 per tenfold: a + b ln N read at 120,000.
    expected = 0.90 + 0.05 * np.log10(1.2)
    assert proj["accuracy"]["uni"]["value"] == pytest.approx(expected, abs=1e-4)
    assert proj["accuracy"]["uni"]["b"] == pytest.approx(0.05 / np.log(10))
    # Seconds are 0.01 N: 1,200 at 120,000. Memory: the least-squares line in N through the three peaks.
    assert proj["stages"]["train@uni"] == {"seconds": pytest.approx(1_200.0, abs=0.1),
                                           "peak_mb": pytest.approx(774.2, abs=0.1)}
    assert proj["stages"]["download"] == {"seconds": 1.0, "peak_mb": 70.0}
    assert proj["total_s"] == pytest.approx(1_201.0, abs=0.1)
    assert proj["peak_mb"] == pytest.approx(774.2, abs=0.1)
    # Accuracy is clipped to 1 however steep the line; a cost that fell with more data (noise) is projected
    # as its largest measurement, not lower.
    steep = scaling.project([measured_run(1_000, 0.5, 2.0, 1), measured_run(2_000, 0.99, 1.0, 1)])
    assert steep["accuracy"]["uni"]["value"] == 1.0
    assert steep["stages"]["train@uni"]["seconds"] == 2.0

    result = {"runs": runs, "projection": proj}
    table = scaling.render(result)
    assert "| 120,000 (projected) | " in table and "| 100,000 | 90.00 % | 89.00 % | 1001 | 700 |" in table
    scaling.plot(result, tmp_path / "scaling.png")
    assert_drawn(tmp_path / "scaling.png")


def assert_drawn(path) -> None:
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300
    assert image.std() > 0.01  # something is drawn


def test_scaling_refuses_a_size_larger_than_the_source_in_one_line(tmp_path):
    write_csv(tmp_path / "train.csv", make_corpus(5, seed=1))
    write_csv(tmp_path / "test.csv", make_corpus(2, seed=2))
    proc = run([sys.executable, "-m", "benchmarks.scaling", "--source", str(tmp_path), "--sizes", "10", "21",
                "--out", str(tmp_path / "out")], REPO, project_env(tmp_path), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(f"error: {tmp_path / 'train.csv'}: has 20 rows, "
                                                          "--sizes asks for 21")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def bench_split():
    """A generated corpus with a few full 1024-document batches (the benchmark's batch size)."""
    texts, labels = make_texts(2 * bench.BATCH + 200, vocab_size=3000)
    _, vocab, split, _ = bench.preprocessing(texts, labels, 2 * bench.BATCH + 100)
    return split, len(vocab)


def test_child_timer_times_windows_on_request_and_reports_a_failing_child(tmp_path):
    child = ("import time\nfrom benchmarks.child_timer import serve\n"
             "serve(lambda: (time.sleep(0.02), 0.02)[1], {'ready': 1})\n")
    timer = ChildTimer([sys.executable, "-c", child], dict(os.environ), "sleeper")
    try:
        assert timer.info == {"ready": 1}
        found = bench.interleave({"child": timer.window, "parent": lambda: 0.01}, count=3)
    finally:
        timer.close()
    assert found == {"child": [0.02] * 3, "parent": [0.01] * 3}
    assert bench.median_ratio(found["child"], found["parent"]) == 2.0
    with pytest.raises(RuntimeError, match=r"(?s)broken failed \(1\):.*ZeroDivisionError"):
        ChildTimer([sys.executable, "-c", "1 / 0"], dict(os.environ), "broken")


def test_pytorch_column_is_timed_in_this_run_or_skipped_with_how_to_install(bench_split, repo_params, tmp_path):
    split, vocab_size = bench_split
    tiny = {"max_tokens": 10, "embed_len": 8, "hidden": [8, 6], "bidirectional": True, "dense": [8], "dropout": 0.5,
            "pooling": "meanmax"}
    params = {"train": load_params(REPO / "params.yaml").train, "approaches": {"tiny": tiny}}
    found = bench.pytorch_timer(params, "tiny", split, vocab_size, bench.VARIANTS["sparse_embedding"], 0, 1, 2,
                                tmp_path)
    if importlib.util.find_spec("torch") is None:  # `make test` does not install the benchmark extra
        assert found == "torch is not installed: " + pytorch_reference.INSTALL_HINT
        assert "requirements-bench.lock" in found
    else:
        try:
            assert found.info["threads"] >= 1 and found.info["torch"].startswith("2.")
            assert all(found.window() > 0 for _ in range(2))
        finally:
            found.close()
        import torch  # every pooling reads the valid steps only: more padding changes nothing

        short, padded = torch.tensor([[3, 4, 5, 1], [6, 1, 1, 1]]), torch.tensor([[3, 4, 5, 1, 1, 1, 1, 1]] * 2)
        padded[1] = torch.tensor([6, 1, 1, 1, 1, 1, 1, 1])
        lengths = torch.tensor([3, 1])
        for pooling in ("last", "mean", "max", "meanmax"):
            net = pytorch_reference.build(50, {"embed_len": 4, "hidden": [5], "bidirectional": False, "dense": [],
                                               "pooling": pooling})
            net.eval()
            assert torch.allclose(net(short, lengths), net(padded, lengths)), pooling


def test_loaded_throughput_runs_quiet_then_next_to_a_busy_process(bench_split):
    split, vocab_size = bench_split
    found = bench.measure_loaded(["lstm_25"], split, vocab_size, "sparse_embedding", 0, 1, 1, ["1"], ["passive"])
    row = found["OMP_NUM_THREADS=1, OMP_WAIT_POLICY=passive"]["lstm_25"]
    assert row["quiet"] > 0 and row["loaded"] > 0
    assert row["ratio"] == round(row["loaded"] / row["quiet"], 2)
    assert bench.render_loaded(found)[-1].startswith("| OMP_NUM_THREADS=1, OMP_WAIT_POLICY=passive | lstm_25 |")


def test_the_quick_benchmark_times_every_column_of_an_approach_in_one_run_and_renders_it(tmp_path):
    out = tmp_path / "results.json"
    assert bench.main(["--quick", "--approaches", "lstm_25", "--out", str(out)]) == 0
    found = json.loads(out.read_text())
    row = found["training"]["lstm_25"]
    assert set(bench.VARIANTS) <= set(row) and row["reference"]["samples_per_s"] > 0
    # The ratios are medians over rounds of windows timed in turn: one window of each per round.
    rounds = row["rounds"]
    assert len(rounds["reference"]) == len(rounds["pipeline"]) == 2
    assert row["vs_reference"] == bench.median_ratio(rounds["reference"], rounds["pipeline"]) > 0
    if "skipped" in found["pytorch"]:
        assert "vs_pytorch" not in row and "pytorch" not in rounds
    else:
        assert row["vs_pytorch"] == bench.median_ratio(rounds["pytorch"], rounds["pipeline"]) > 0
    text = bench.render(found)
    assert "| lstm_25 | " in text and f"| {row['vs_reference']}x |" in text
    assert "dvc repro with nothing to do: " in text and not text.endswith(") s")


def test_step_profile_sums_operator_times_per_group_and_step():
    found = profile_step.group_times({"RNN": 30.0, "_backward_RNN": 60.0, "Dropout": 3.0, "NewOp": 3.0}, steps=3)
    assert found == {"LSTM kernel (oneDNN)": 30.0, "dropout (embedding, head)": 1.0, "other": 1.0}


def test_step_profile_times_every_operator_of_real_training_steps_in_a_named_group():
    tiny = {"max_tokens": 10, "embed_len": 8, "hidden": [8, 6], "bidirectional": True, "fused": False, "dense": [8],
            "pooling": "max", "dropout": 0.5, "embed_dropout": 0.2}
    found = profile_step.profile({"tiny": tiny}, batch=64, steps=3, docs=600)
    # MXNet's profiler deletes the file it is told to write: it must never be a shared path such as /dev/null.
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    row = found["tiny"]
    groups = row["groups_ms_per_step"]
    # Unbulked, each operator is timed under its own name, and every one the step runs has a group.
    assert profile_step.OTHER not in groups and row["other_operators"] == []
    timed = {"LSTM kernel (oneDNN)", "pooling over valid steps", "dropout (embedding, head)", "embedding lookup",
             "Adam update", "reversing (backward direction)", "dense layers and loss"}
    assert timed <= set(groups) and all(groups[group] > 0 for group in timed) and row["steps"] == 3
    assert row["operators_ms_per_step"] == pytest.approx(sum(groups.values()), abs=0.05)
    lines = profile_step.render(found).splitlines()
    assert lines[0] == "| ms per step (share of the operators' time) | tiny |"
    assert lines[-2].startswith(f"| all operators | {row['operators_ms_per_step']:.1f}")
