"""Stage `embeddings`: PPMI-SVD word vectors of the training part, the models' initial embeddings."""

import argparse
import logging
import time

import numpy as np

from pipeline import cli, paths
from pipeline.dataset import load_split
from pipeline.embeddings import save_vectors, word_vectors
from pipeline.fileio import atomic_paths, write_json
from pipeline.params import Params
from pipeline.vocab import load_token_index

log = logging.getLogger(__name__)


def main(args: argparse.Namespace, params: Params) -> None:
    opts = params.embeddings
    vocab_size = len(load_token_index(paths.VOCAB))
    split = load_split(paths.cache_file("train"), vocab_size)  # the training part only: no validation text
    started = time.perf_counter()
    vectors = word_vectors(split, vocab_size, opts.window, opts.context_smoothing, opts.dim, params.seed)
    seconds = time.perf_counter() - started
    with_vectors = int((np.abs(vectors).sum(axis=1) > 0).sum())
    log.info("%d x %d word vectors in %.1f s (%d words never seen in the training part keep zeros)",
             vocab_size, opts.dim, seconds, vocab_size - with_vectors)
    with atomic_paths([paths.EMBEDDINGS, paths.METRICS / "embeddings.json"]) as (vectors_tmp, metrics_tmp):
        save_vectors(vectors, vectors_tmp)
        write_json(metrics_tmp, {"words": vocab_size, "words_with_vectors": with_vectors, "dim": opts.dim,
                                 "seconds": round(seconds, 2)})


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
