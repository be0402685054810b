from __future__ import annotations

import math

import pytest

from lockswap.bench import stats


def test_quantiles_match_numpy_linear():
    xs = [7.0, 1.0, 3.0, 5.0]
    assert stats.median(xs) == 4.0
    assert stats.quantile(xs, 0.25) == 2.5 and stats.quantile(xs, 0.75) == 5.5
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.n, s.median, s.q1, s.q3, s.iqr) == (5, 3.0, 2.0, 4.0, 2.0)


def test_exact_mann_whitney_matches_scipy_docs_example():
    # scipy.stats.mannwhitneyu docs: U=17, exact p=0.1111, asymptotic p=0.1113
    male, female = [19, 22, 16, 29, 24], [20, 11, 17, 12]
    r = stats.mann_whitney_u(male, female)
    assert r.method == "exact" and r.u == 17
    assert r.p == pytest.approx(0.1111111, abs=1e-6)


def test_complete_separation_gives_the_smallest_p():
    r = stats.mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
    assert r.u == 25 and r.p == pytest.approx(2 / 252) == stats.min_p(5, 5)
    assert stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).u == 0
    assert stats.min_p(3, 3) == pytest.approx(0.1)  # three repeats can never reach p < 0.05


def test_ties_use_the_normal_approximation_with_tie_correction():
    r = stats.mann_whitney_u([1, 2, 2, 3, 4], [2, 3, 5, 6, 6])
    assert r.method == "normal"
    # by hand: ranks 1,3,3,5.5,7 -> R1=19.5, U1=4.5; tie term (3 twos, 2 threes, 2 sixes) = 24+6+6
    var = 25 / 12 * (11 - 36 / 90)
    assert r.u == 4.5
    assert r.p == pytest.approx(math.erfc((12.5 - 4.5 - 0.5) / math.sqrt(var) / math.sqrt(2)))
    assert stats.mann_whitney_u([1, 1, 1], [1, 1, 1]).p == 1.0


def test_identical_distributions_are_not_significant():
    assert stats.mann_whitney_u([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]).p > 0.5


def test_empty_samples_are_an_error():
    with pytest.raises(ValueError):
        stats.mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        stats.median([])
