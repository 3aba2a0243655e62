"""Stage `baseline@<name>`: a TF-IDF n-gram linear model on the cached splits, evaluated like the LSTMs."""

import argparse
import time

from pipeline import CLASS_NAMES, cli, paths
from pipeline.dataset import load_split
from pipeline.fileio import atomic_paths, write_json
from pipeline.params import Params
from pipeline.vocab import load_token_index


def main(args: argparse.Namespace, params: Params) -> None:
    name = args.baseline
    settings = params.baseline(name)
    vocab_size = len(load_token_index(paths.VOCAB))
    train, val, test = (load_split(paths.cache_file(s), vocab_size) for s in ("train", "val", "test"))

    # scikit-learn and the plotting stack load once the inputs have been checked.
    from pipeline.baseline import fit_baseline
    from pipeline.metrics import classification_metrics, plot_confusion, write_predictions

    started = time.perf_counter()
    fitted = fit_baseline(train, val, vocab_size, settings, params.seed)
    seconds = time.perf_counter() - started
    predicted = fitted.predict(test)
    metrics = classification_metrics(test.labels, predicted, CLASS_NAMES)
    metrics.update({
        "val_accuracy": fitted.val_accuracy_by_C[fitted.C], "C": fitted.C,
        "val_accuracy_by_C": {str(c): acc for c, acc in fitted.val_accuracy_by_C.items()},
        "features": int(len(fitted.features.codes)), "train_seconds": round(seconds, 3),
    })
    outputs = [paths.METRICS / "baseline" / f"{name}.json", paths.PLOTS / "predictions" / f"{name}.csv",
               paths.PLOTS / "confusion" / f"{name}.png"]
    with atomic_paths(outputs) as (metrics_tmp, predictions, picture):  # renamed together, as in evaluate
        write_json(metrics_tmp, metrics)
        write_predictions(predictions, test.labels, predicted, CLASS_NAMES)
        plot_confusion(picture, test.labels, predicted, CLASS_NAMES, title=f"{name}: normalised confusion matrix")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__, baseline=True).parse_args())
