"""A small synthetic, learnable 4-class corpus in the shape of AG News rows.

Every class has its own distinctive words; every document also carries shared filler words that
say nothing about the class. A tiny model separates the classes after a few epochs. Plain
functions only (no pytest), so that integration tests and scripts can import it too.
"""

from __future__ import annotations

import numpy as np

CLASS_WORDS = (
    ("election", "minister", "embassy", "treaty", "summit", "parliament", "rebels", "diplomat"),
    ("football", "goal", "tennis", "coach", "league", "champion", "stadium", "playoff"),
    ("shares", "profit", "merger", "investor", "earnings", "bank", "dividend", "stocks"),
    ("software", "internet", "chip", "computer", "space", "robot", "wireless", "laptop"),
)

FILLER_WORDS = ("the", "a", "of", "on", "in", "new", "after", "report", "says", "week", "year",
                "today", "people", "first", "plan", "monday", "big", "news")


def _sentence(rng: np.random.RandomState, label: int, n_words: int, class_share: float) -> str:
    words = []
    for _ in range(n_words):
        pool = CLASS_WORDS[label] if rng.rand() < class_share else FILLER_WORDS
        words.append(pool[rng.randint(len(pool))])
    # At least one distinctive word per sentence, at a random place, so every document is learnable.
    words[rng.randint(n_words)] = CLASS_WORDS[label][rng.randint(len(CLASS_WORDS[label]))]
    words[0] = words[0].capitalize()
    return " ".join(words)


def make_corpus(n_per_class: int, seed: int = 0) -> list[tuple[int, str, str]]:
    """``n_per_class`` rows per class as ``(label, title, description)``, labels 1..4, shuffled.

    Titles have 3-5 words, descriptions 5-14 words; about a third of the words are class words.
    The same ``(n_per_class, seed)`` always gives the same rows.
    """
    rng = np.random.RandomState(seed)
    rows = []
    for label in range(len(CLASS_WORDS)):
        for _ in range(n_per_class):
            title = _sentence(rng, label, rng.randint(3, 6), 0.35)
            description = _sentence(rng, label, rng.randint(5, 15), 0.3) + "."
            rows.append((label + 1, title, description))
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def csv_field(value) -> str:
    """One canonical AG News CSV field: always double-quoted, inner quotes doubled."""
    return '"' + str(value).replace('"', '""') + '"'


def agnews_csv_text(rows, newline: str = "\n") -> str:
    """The text of an AG News CSV file holding ``rows`` (no header)."""
    return "".join(",".join(csv_field(v) for v in row) + newline for row in rows)
