"""Stage `baseline`: TF-IDF + logistic regression on the cached splits, evaluated like the LSTMs."""

import time

from pipeline import CLASS_NAMES, cli, paths
from pipeline.cache import load_split
from pipeline.fileio import write_json
from pipeline.vocab import load_vocab


def main(args, params) -> None:
    opts = params["baseline"]
    vocab_size = len(load_vocab(paths.VOCAB))
    train, val, test = (load_split(paths.cache_file(s), vocab_size) for s in ("train", "val", "test"))

    # scikit-learn and the plotting stack load once the inputs have been checked.
    from pipeline.baseline import predict_baseline, train_baseline
    from pipeline.evaluation import classification_metrics, plot_confusion, write_predictions

    started = time.perf_counter()
    model = train_baseline(train, vocab_size, opts["C"], opts["sublinear_tf"], opts["max_iter"], params["seed"])
    seconds = time.perf_counter() - started
    predicted = predict_baseline(model, test, vocab_size)
    metrics = classification_metrics(test.labels, predicted, CLASS_NAMES)
    metrics["val_accuracy"] = round(float((predict_baseline(model, val, vocab_size) == val.labels).mean()), 6)
    metrics["train_seconds"] = round(seconds, 3)
    write_json(paths.METRICS / "baseline.json", metrics)
    write_predictions(paths.PLOTS / "predictions" / "baseline.csv", test.labels, predicted, CLASS_NAMES)
    plot_confusion(paths.PLOTS / "confusion" / "baseline.png", test.labels, predicted, CLASS_NAMES,
                   title="baseline (TF-IDF + LR): normalised confusion matrix")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
