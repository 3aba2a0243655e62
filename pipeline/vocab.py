"""Build the GluonNLP vocabulary from the training split and store it as JSON.

GluonNLP (and with it MXNet, about two seconds) is imported on first use, so that a stage can refuse
bad params or a bad CSV before paying for it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import InputError
from pipeline.fileio import write_text

if TYPE_CHECKING:
    import gluonnlp

UNK, PAD = "<unk>", "<pad>"


def build_vocab(token_lists: Iterable[list[str]], min_freq: int = 1,
                max_size: int | None = None) -> gluonnlp.Vocab:
    """Count tokens and keep those seen ``min_freq`` times (most frequent first, ``max_size`` at most).

    Index 0 is ``<unk>`` and 1 is ``<pad>``; no BOS/EOS tokens, the classifier does not use them.
    """
    import gluonnlp

    counter: Counter[str] = Counter()
    for tokens in token_lists:
        counter.update(tokens)
    return gluonnlp.Vocab(counter, max_size=max_size, min_freq=min_freq, unknown_token=UNK,
                          padding_token=PAD, bos_token=None, eos_token=None)


def fingerprint(vocab: gluonnlp.Vocab) -> str:
    """SHA-256 of the vocabulary's tokens in index order: two vocabularies of the same size with other
    words, or with two indices swapped, differ here."""
    return hashlib.sha256(json.dumps(list(vocab.idx_to_token), ensure_ascii=False).encode("utf-8")).hexdigest()


def save_vocab(vocab: gluonnlp.Vocab, path: str | Path) -> None:
    write_text(path, vocab.to_json())


def load_vocab(path: str | Path) -> gluonnlp.Vocab:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: vocabulary not found; run `dvc repro tokenize_vocab`")
    def corrupt(exc: Exception) -> InputError:
        return InputError(f"{path}: not a GluonNLP vocabulary JSON ({exc}); the file is truncated or corrupt, "
                          "rerun `dvc repro tokenize_vocab`")

    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)  # a truncated file is refused here, before GluonNLP is imported
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise corrupt(exc) from None
    import gluonnlp

    try:
        vocab = gluonnlp.Vocab.from_json(text)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise corrupt(exc) from None
    if vocab.unknown_token != UNK or vocab.padding_token != PAD:
        raise InputError(f"{path}: expected unknown token {UNK!r} and padding token {PAD!r}, found "
                         f"{vocab.unknown_token!r} and {vocab.padding_token!r}")
    return vocab
