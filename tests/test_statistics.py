"""pipeline.statistics: Wilson intervals, the exact McNemar test and Holm's correction, against hand values."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.statistics import holm, mcnemar, wilson_interval


def test_wilson_interval_matches_the_textbook_formula():
    # 81 of 263: the closed form (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.96.
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    # At the edges it stays inside [0, 1] and is not degenerate (mean ± 1.96 se would be [1, 1]).
    low, high = wilson_interval(50, 50)
    assert high == 1.0 and 0.92 < low < 0.93


def test_wilson_interval_narrows_with_more_documents():
    small, large = wilson_interval(90, 100), wilson_interval(9000, 10000)
    assert (large[1] - large[0]) < (small[1] - small[0]) / 9
    with pytest.raises(ValueError, match="at least one document"):
        wilson_interval(0, 0)


def test_mcnemar_counts_discordant_documents_and_gives_the_exact_p():
    a = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1], bool)
    b = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1], bool)
    test = mcnemar(a, b)
    assert (test["a_only"], test["b_only"]) == (7, 1)
    assert test["difference"] == pytest.approx(6 / 12)
    # Exact two-sided binomial: 2 * P(X <= 1 | n=8, p=1/2) = 2 * 9/256.
    assert test["p_value"] == pytest.approx(18 / 256)
    low, high = test["difference_ci95"]
    assert low < test["difference"] < high


def test_mcnemar_is_symmetric_and_neutral_on_identical_classifiers():
    rng = np.random.RandomState(0)
    a, b = rng.rand(500) < 0.9, rng.rand(500) < 0.8
    ab, ba = mcnemar(a, b), mcnemar(b, a)
    assert ab["p_value"] == pytest.approx(ba["p_value"]) and ab["difference"] == -ba["difference"]
    same = mcnemar(a, a)
    assert same["p_value"] == 1.0 and same["difference"] == 0.0
    with pytest.raises(ValueError, match="equal-length"):
        mcnemar(a, b[:10])


def test_holm_adjusts_in_order_and_stays_monotone():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
