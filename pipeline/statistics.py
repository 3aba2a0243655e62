"""What a test accuracy can claim: its confidence interval, and paired tests between two classifiers.

Every classifier is evaluated on the same 7,600 test documents, so two of them are compared document
by document (McNemar's test on the documents exactly one of them gets right), not by their
accuracies alone: the paired test is far more sensitive and is the right one for one shared test set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest, norm

Z95 = float(norm.ppf(0.975))


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """95 % Wilson score interval of an accuracy (well-behaved near 0 and 1, unlike mean ± 1.96 se)."""
    if total <= 0:
        raise ValueError(f"an accuracy needs at least one document, got total = {total}")
    interval = binomtest(correct, total).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray, z: float = Z95) -> dict:
    """Exact McNemar test of classifier A against B on the same documents.

    ``a_only``/``b_only`` count the documents only A / only B classifies correctly; under the null
    hypothesis of equal accuracy each such document is a fair coin. ``difference`` is A's accuracy
    minus B's with a 95 % interval for paired proportions.
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1:
        raise ValueError(f"paired test needs two equal-length vectors, got {correct_a.shape} and {correct_b.shape}")
    n = len(correct_a)
    a_only, b_only = int((correct_a & ~correct_b).sum()), int((~correct_a & correct_b).sum())
    discordant = a_only + b_only
    p_value = binomtest(a_only, discordant, 0.5).pvalue if discordant else 1.0
    difference = (a_only - b_only) / n
    se = math.sqrt(max(discordant - (a_only - b_only) ** 2 / n, 0.0)) / n
    return {"a_only": a_only, "b_only": b_only, "difference": difference,
            "difference_ci95": (difference - z * se, difference + z * se), "p_value": float(p_value)}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: a family of tests keeps its 5 % error rate as a whole."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
