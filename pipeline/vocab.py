"""Build the GluonNLP vocabulary from the training split and store it as JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import gluonnlp

from pipeline.fileio import write_text

UNK, PAD = "<unk>", "<pad>"


def build_vocab(token_lists: Iterable[list[str]], min_freq: int = 1,
                max_size: int | None = None) -> gluonnlp.Vocab:
    """Count tokens and keep those seen ``min_freq`` times (most frequent first, ``max_size`` at most).

    Index 0 is ``<unk>`` and 1 is ``<pad>``; no BOS/EOS tokens, the classifier does not use them.
    """
    counter: Counter[str] = Counter()
    for tokens in token_lists:
        counter.update(tokens)
    return gluonnlp.Vocab(counter, max_size=max_size, min_freq=min_freq, unknown_token=UNK,
                          padding_token=PAD, bos_token=None, eos_token=None)


def save_vocab(vocab: gluonnlp.Vocab, path: str | Path) -> None:
    write_text(path, vocab.to_json())


def load_vocab(path: str | Path) -> gluonnlp.Vocab:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: vocabulary not found; run `dvc repro tokenize_vocab`")
    try:
        vocab = gluonnlp.Vocab.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"{path}: not a GluonNLP vocabulary JSON ({exc}); rerun tokenize_vocab") from exc
    if vocab.unknown_token != UNK or vocab.padding_token != PAD:
        raise ValueError(f"{path}: expected unknown token {UNK!r} and padding token {PAD!r}, found "
                         f"{vocab.unknown_token!r} and {vocab.padding_token!r}")
    return vocab
