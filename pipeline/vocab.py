"""Build the GluonNLP vocabulary from the training split and store it as JSON.

GluonNLP (and with it MXNet, about two seconds) is imported on first use, so that a stage can refuse
bad params or a bad CSV before paying for it; the stages that only look words up or count them read the
file with ``load_token_index`` and never import it.
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


def _corrupt(path: Path, why: object) -> InputError:
    return InputError(f"{path}: not a GluonNLP vocabulary JSON ({why}); the file is truncated or corrupt, "
                      "rerun `dvc repro tokenize_vocab`")


def _read_checked(path: Path) -> tuple[str, list[str]]:
    """The text of the vocabulary JSON at ``path`` and its tokens in index order, checked as far as the
    pipeline relies on them (a list of distinct tokens; ``<unk>`` and ``<pad>`` as GluonNLP 0.10 records
    them) without importing GluonNLP: a truncated or foreign file is refused before MXNet loads."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: vocabulary not found; run `dvc repro tokenize_vocab`")

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _corrupt(path, exc) from None
    tokens = data.get("idx_to_token") if isinstance(data, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens) or len(set(tokens)) < len(tokens):
        raise _corrupt(path, "expected a list of distinct tokens under 'idx_to_token'")
    specials = data.get("identifiers_to_tokens")
    unknown, padding = data.get("unknown_token"), specials.get("padding_token") if isinstance(specials, dict) else None
    if unknown != UNK or padding != PAD:
        raise InputError(f"{path}: expected unknown token {UNK!r} and padding token {PAD!r}, found "
                         f"{unknown!r} and {padding!r}")
    if UNK not in tokens or PAD not in tokens:
        raise _corrupt(path, f"{UNK!r} or {PAD!r} missing from 'idx_to_token'")
    return text, tokens


def load_token_index(path: str | Path) -> dict[str, int]:
    """Token -> index of the vocabulary at ``path``, without GluonNLP and MXNet (about two seconds per
    process): for the stages that only look words up or count them."""
    _, tokens = _read_checked(Path(path))
    return {token: index for index, token in enumerate(tokens)}


def load_vocab(path: str | Path) -> gluonnlp.Vocab:
    path = Path(path)
    text, _ = _read_checked(path)
    import gluonnlp

    try:
        return gluonnlp.Vocab.from_json(text)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise _corrupt(path, exc) from None
