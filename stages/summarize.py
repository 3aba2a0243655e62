"""Stage `summarize`: one report (Markdown + JSON) and a chart comparing every approach and baseline."""

import argparse

from pipeline import CLASS_NAMES, cli, paths
from pipeline.fileio import read_json, write_json, write_text
from pipeline.params import Params
from pipeline.summary import check_metrics, markdown_report, paired_correctness, plot_accuracy, summary_rows


def _read(path, keys, stage) -> dict:
    return check_metrics(read_json(path), path, keys, stage)


def main(args: argparse.Namespace, params: Params) -> None:
    approaches, baselines = params.approaches, params.baselines
    train = {n: _read(paths.METRICS / "train" / f"{n}.json", ("train_seconds",), f"train@{n}") for n in approaches}
    evals = {n: _read(paths.METRICS / "eval" / f"{n}.json", ("accuracy", "macro_f1"), f"evaluate@{n}")
             for n in approaches}
    baseline_metrics = {n: _read(paths.METRICS / "baseline" / f"{n}.json",
                                 ("accuracy", "macro_f1", "val_accuracy", "train_seconds"), f"baseline@{n}")
                        for n in baselines}
    stages = {**{n: f"evaluate@{n}" for n in approaches}, **{n: f"baseline@{n}" for n in baselines}}
    correct = paired_correctness({n: paths.PLOTS / "predictions" / f"{n}.csv" for n in stages},
                                 CLASS_NAMES, stages)
    rows = summary_rows(approaches, baselines, train, evals, baseline_metrics, correct, params.reference)
    write_json(paths.REPORTS / "summary.json", rows)
    write_text(paths.REPORTS / "summary.md", markdown_report(rows))
    plot_accuracy(rows, paths.PLOTS / "summary.png")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
