"""The tokenizer of the reference study (regex ``\\w+``), lower-cased the same way for counting and lookup,
optionally without stop words (``vocab.stop_words``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from pipeline.params import STOP_WORD_LISTS

TOKEN_PATTERN = r"\w+"
_TOKEN = re.compile(TOKEN_PATTERN)


@functools.cache
def stop_word_set(name: str | None) -> frozenset[str]:
    """The words of a named stop-word list (``None``: none). ``english`` is scikit-learn's 318-word list,
    the one ``TfidfVectorizer(stop_words="english")`` removes."""
    if name is None:
        return frozenset()
    if name == "english":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    raise ValueError(f"unknown stop-word list {name!r}; expected null or one of {', '.join(STOP_WORD_LISTS)}")


def tokenize(text: str, lowercase: bool = True, stop_words: str | None = None) -> list[str]:
    # Lower-case before matching so that the vocabulary and every lookup see the same form
    # (the reference study counted lower-case tokens but looked them up in their original case).
    tokens = _TOKEN.findall(text.lower() if lowercase else text)
    if stop_words is None:
        return tokens
    # Removed, not mapped to <unk>: a 25-token window then holds 25 content words (README, Results).
    stop = stop_word_set(stop_words)
    return [token for token in tokens if token not in stop]


def tokenize_all(texts: Iterable[str], lowercase: bool = True, stop_words: str | None = None) -> Iterator[list[str]]:
    for text in texts:
        yield tokenize(text, lowercase, stop_words)
