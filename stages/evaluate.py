"""Stage `evaluate@<approach>`: test accuracy, per-class report and confusion matrix of one approach."""

import argparse

from pipeline import CLASS_NAMES, cli, paths
from pipeline.params import Params


def main(args: argparse.Namespace, params: Params) -> None:
    # MXNet and the plotting stack load here, after params.yaml was validated: a refusal is instant.
    import numpy as np

    from pipeline.checkpoint import load_for_approach, load_members
    from pipeline.dataset import load_split
    from pipeline.inference import member_probabilities
    from pipeline.model import default_context
    from pipeline.vocab import load_vocab

    name = args.approach
    vocab = load_vocab(paths.VOCAB)
    test = load_split(paths.cache_file("test"), len(vocab))
    ctx = default_context()
    net, metadata = load_for_approach(params.approach(name), params, vocab, ctx)
    prep = metadata["preprocessing"]
    # With train.seeds > 1 the approach is the ensemble of its seeds (mean probabilities); each seed's own
    # accuracy is reported beside it, for the seed-to-seed spread.
    members = load_members(net, metadata, paths.model_dir(name), ctx)
    probabilities = member_probabilities(members, test, prep["max_tokens"], prep["pad_id"], ctx)
    predicted = np.mean(probabilities, axis=0).argmax(axis=1)

    from pipeline.fileio import atomic_paths, write_json
    from pipeline.metrics import classification_metrics, plot_confusion, write_predictions

    report = classification_metrics(test.labels, predicted, CLASS_NAMES)
    if len(members) > 1:
        report["ensemble_size"] = len(members)
        # load_members gives one model per recorded seed, in the metadata's order.
        report["seed_accuracies"] = {str(seed): round(float((p.argmax(axis=1) == test.labels).mean()), 6)
                                     for seed, p in zip(metadata["seeds"], probabilities, strict=True)}
    outputs = [paths.METRICS / "eval" / f"{name}.json", paths.PLOTS / "predictions" / f"{name}.csv",
               paths.PLOTS / "confusion" / f"{name}.png"]
    # All three are renamed into place together, after each is complete: never new metrics beside an old PNG.
    with atomic_paths(outputs) as (metrics, predictions, picture):
        write_json(metrics, report)
        write_predictions(predictions, test.labels, predicted, CLASS_NAMES)
        plot_confusion(picture, test.labels, predicted, CLASS_NAMES, title=f"{name}: normalised confusion matrix")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__, approach=True).parse_args())
