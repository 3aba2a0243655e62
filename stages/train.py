"""Stage `train@<approach>`: train one approach's LSTM classifier and write its checkpoint."""

import argparse
import csv
import logging

from pipeline import checkpoint, cli, paths
from pipeline.dataset import load_split
from pipeline.embeddings import initial_embedding, load_vectors
from pipeline.fileio import atomic_open, atomic_paths, write_json
from pipeline.model import build_model, default_context
from pipeline.params import WORD_VECTORS, Params
from pipeline.training import train
from pipeline.vocab import load_vocab

log = logging.getLogger(__name__)


def main(args: argparse.Namespace, params: Params) -> None:
    approach = params.approach(args.approach)
    name, settings = approach.name, approach.train
    vocab = load_vocab(paths.VOCAB)
    pad_id = vocab.token_to_idx[vocab.padding_token]
    train_split = load_split(paths.cache_file("train"), len(vocab))
    val_split = load_split(paths.cache_file("val"), len(vocab))
    ctx = default_context()
    unk_id = vocab.token_to_idx[vocab.unknown_token]
    embedding = None
    if settings.embedding_init == WORD_VECTORS:
        embedding = initial_embedding(load_vectors(paths.EMBEDDINGS, len(vocab), params.embeddings.dim),
                                      approach.architecture.embed_len, settings.embedding_std)
    # Seeds seed, seed+1, ...: with more than one, the approach is their ensemble (evaluate, predict and
    # explain average their probabilities); the first seed's training metrics and history are written.
    seeds = [params.seed + k for k in range(settings.seeds)]
    nets, results = {}, {}
    for seed in seeds:
        if len(seeds) > 1:
            log.info("training %s with seed %d (%d of %d)", name, seed, len(nets) + 1, len(seeds))
        nets[seed] = build_model(approach.architecture, len(vocab), ctx, seed=seed,
                                 sparse_grad=settings.sparse_embedding, embedding=embedding)
        results[seed] = train(nets[seed], train_split, val_split, settings, approach.max_tokens, pad_id,
                              ctx, seed, progress=not args.quiet, unk_id=unk_id)
    net, result = nets[seeds[0]], results[seeds[0]]
    best = result.history[result.best_epoch - 1]
    metrics, history = paths.METRICS / "train" / f"{name}.json", paths.PLOTS / "history" / f"{name}.csv"
    # The metrics and history are written first and renamed into place right after the checkpoint: a
    # failure while writing any of them leaves all three as they were.
    with atomic_paths([metrics, history]) as (metrics_tmp, history_tmp):
        write_json(metrics_tmp, {
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
            "best_val_loss": best["val_loss"], "best_val_accuracy": best["val_accuracy"],
            # What the approach cost: every seed's training (an ensemble's members are trained one by one).
            "train_seconds": round(sum(r.train_seconds for r in results.values()), 3),
            "samples_per_second": result.samples_per_second,
            "device": str(ctx),
            **({"seed_best_val_accuracy": {str(s): r.history[r.best_epoch - 1]["val_accuracy"]
                                           for s, r in results.items()}} if len(seeds) > 1 else {}),
        })
        with atomic_open(history_tmp) as fh:
            writer = csv.DictWriter(fh, fieldnames=list(result.history[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(result.history)
        checkpoint.save(paths.model_dir(name), net, approach, vocab, params.vocab, seeds,
                        extra_seeds={s: nets[s] for s in seeds[1:]})


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__, approach=True).parse_args())
