"""The tokenizer of the reference study (regex ``\\w+``), lower-cased the same way for counting and lookup."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

TOKEN_PATTERN = r"\w+"
_TOKEN = re.compile(TOKEN_PATTERN)


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    # Lower-case before matching so that the vocabulary and every lookup see the same form
    # (the reference study counted lower-case tokens but looked them up in their original case).
    return _TOKEN.findall(text.lower() if lowercase else text)


def tokenize_all(texts: Iterable[str], lowercase: bool = True) -> Iterator[list[str]]:
    for text in texts:
        yield tokenize(text, lowercase)
