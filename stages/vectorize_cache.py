"""Stage `vectorize_cache`: token ids of every document as int32 arrays (train/val/test .npz)."""

import argparse

import numpy as np

from pipeline import cli, paths
from pipeline.corpus import check_classes, label_counts, read_raw_split
from pipeline.dataset import SplitError, save_split, stratified_split, vectorize
from pipeline.fileio import atomic_paths, write_json
from pipeline.params import Params
from pipeline.tokenize import tokenize_all
from pipeline.vocab import UNK, load_token_index


def describe(split) -> dict:
    lengths = split.lengths
    return {"documents": len(split), "tokens": int(lengths.sum()),
            "empty_documents": int((lengths == 0).sum()),
            "unknown_tokens": int((split.ids == 0).sum()),
            "length_median": float(np.median(lengths)) if len(lengths) else 0.0,
            "length_p95": float(np.percentile(lengths, 95)) if len(lengths) else 0.0,
            "labels": label_counts(split.labels)}


def main(args: argparse.Namespace, params: Params) -> None:
    corpora = {name: read_raw_split(name)
               for name in ("train", "test")}
    check_classes(corpora["train"], paths.RAW / "train.csv")
    fraction = params.data.val_fraction
    try:
        train_idx, val_idx = stratified_split(corpora["train"].labels, fraction, params.seed)
    except SplitError as exc:
        raise SplitError(f"params.yaml: data.val_fraction = {fraction} {exc}; change data.val_fraction or use "
                         f"more data in {paths.RAW / 'train.csv'}") from None
    token_to_idx = load_token_index(paths.VOCAB)
    text = params.vocab
    splits = {name: vectorize(tokenize_all(corpus.texts, text.lowercase, text.stop_words), token_to_idx,
                              token_to_idx[UNK], corpus.labels)
              for name, corpus in corpora.items()}
    full_train = splits.pop("train")
    splits = {"train": full_train.subset(train_idx), "val": full_train.subset(val_idx), **splits}
    # All three caches and their metrics are renamed into place together, once all four are complete.
    with atomic_paths([*(paths.cache_file(name) for name in splits), paths.METRICS / "cache.json"]) as temps:
        for split, tmp in zip(splits.values(), temps, strict=False):
            save_split(split, tmp)
        # Empty documents are kept (the model reads one <pad> step for them) and counted here.
        write_json(temps[-1], {name: describe(split) for name, split in splits.items()})


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
