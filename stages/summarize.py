"""Stage `summarize`: one table (Markdown + JSON) and a chart comparing every approach."""

from pipeline import cli, paths
from pipeline.fileio import read_json, write_json, write_text
from pipeline.summary import check_metrics, markdown_table, plot_accuracy, summary_rows


def _read(path, keys, stage) -> dict:
    return check_metrics(read_json(path), path, keys, stage)


def main(args, params) -> None:
    names = list(params["approaches"])
    train = {n: _read(paths.METRICS / "train" / f"{n}.json", ("train_seconds",), f"train@{n}") for n in names}
    evals = {n: _read(paths.METRICS / "eval" / f"{n}.json", ("accuracy", "macro_f1"), f"evaluate@{n}")
             for n in names}
    baseline = _read(paths.METRICS / "baseline.json", ("accuracy", "macro_f1", "train_seconds"), "baseline")
    rows = summary_rows(params["approaches"], train, evals, params["reference"], baseline)
    write_json(paths.REPORTS / "summary.json", rows)
    write_text(paths.REPORTS / "summary.md", markdown_table(rows))
    plot_accuracy(rows, paths.PLOTS / "summary.png")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
