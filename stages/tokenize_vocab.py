"""Stage `tokenize_vocab`: tokenize the training split and build the GluonNLP vocabulary (JSON)."""

import argparse

from pipeline import cli, paths
from pipeline.corpus import read_raw_split
from pipeline.errors import InputError
from pipeline.fileio import atomic_paths, write_json
from pipeline.params import Params
from pipeline.tokenize import tokenize_all
from pipeline.vocab import build_vocab, save_vocab


def main(args: argparse.Namespace, params: Params) -> None:
    opts = params.vocab
    corpus = read_raw_split("train")
    vocab = build_vocab(tokenize_all(corpus.texts, opts.lowercase, opts.stop_words), opts.min_freq, opts.max_size)
    if len(vocab) <= 2:
        raise InputError(f"{paths.RAW / 'train.csv'}: no token occurs {opts.min_freq} times "
                         "(params.yaml vocab.min_freq), so the vocabulary would hold only <unk> and <pad>; "
                         "lower vocab.min_freq or check the training data")
    with atomic_paths([paths.VOCAB, paths.METRICS / "vocab.json"]) as (vocab_tmp, metrics_tmp):  # both or neither
        save_vocab(vocab, vocab_tmp)
        write_json(metrics_tmp, {"vocab_size": len(vocab), "documents": len(corpus)})


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
