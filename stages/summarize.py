"""Stage `summarize`: one table (Markdown + JSON) and a chart comparing every approach."""

from pipeline import cli, paths
from pipeline.fileio import read_json, write_json, write_text
from pipeline.summary import markdown_table, plot_accuracy, summary_rows


def main(args, params) -> None:
    names = list(params["approaches"])
    train = {n: read_json(paths.METRICS / "train" / f"{n}.json") for n in names}
    evals = {n: read_json(paths.METRICS / "eval" / f"{n}.json") for n in names}
    baseline = read_json(paths.METRICS / "baseline.json")
    rows = summary_rows(params["approaches"], train, evals, params["reference"], baseline)
    write_json(paths.REPORTS / "summary.json", rows)
    write_text(paths.REPORTS / "summary.md", markdown_table(rows))
    plot_accuracy(rows, paths.PLOTS / "summary.png")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
