from __future__ import annotations

import math

import pytest

from lockswap.base import stats


def test_quantiles_match_numpy_linear():
    xs = [7.0, 1.0, 3.0, 5.0]
    assert stats.median(xs) == 4.0
    assert stats.quantile(xs, 0.25) == 2.5 and stats.quantile(xs, 0.75) == 5.5
    xs = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert (stats.median(xs), stats.quantile(xs, 0.25), stats.quantile(xs, 0.75)) == (3.0, 2.0, 4.0)


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


def test_bootstrap_median_interval_is_seeded_and_covers_the_median():
    xs = [0.80, 0.82, 0.85, 0.86, 0.87, 0.88, 0.90, 0.91, 0.93, 0.95, 0.99, 0.60]
    ci = stats.bootstrap_median(xs)
    assert ci == stats.bootstrap_median(xs)  # reproducible: fixed seed
    assert ci.low <= ci.estimate == stats.median(xs) <= ci.high
    assert ci.low >= min(xs) and ci.high <= max(xs) and ci.high - ci.low < max(xs) - min(xs)
    assert stats.bootstrap_median([0.5] * 5) == stats.Interval(0.5, 0.5, 0.5)


def test_bootstrap_ratio_separates_two_clearly_different_samples():
    fast, slow = [2.0, 2.1, 1.9, 2.05, 1.95, 2.02], [1.0, 1.05, 0.95, 1.02, 0.98, 1.01]
    ci = stats.bootstrap_ratio(fast, slow)
    assert ci.estimate == pytest.approx(2.0, rel=0.02) and 1.8 < ci.low <= ci.high < 2.2
    r = stats.compare(fast, slow)
    assert (r.low, r.high, r.n) == (ci.low, ci.high, (6, 6)) and r.p < stats.ALPHA


def test_holm_matches_the_textbook_example():
    # Holm (1979) step-down: sorted p 0.01, 0.02, 0.03, 0.04 with m = 4 -> 0.04, 0.06, 0.06, 0.06
    assert stats.holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0] and stats.holm([]) == []


def test_a_family_corrects_what_one_comparison_alone_calls_significant():
    fam = stats.Family()
    separated = fam.compare([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], group="run", headline=True)  # p = 0.0079
    for i in range(9):  # nine comparisons of equal samples
        fam.compare([1, 3, 5, 7, 9 + i], [2, 4, 6, 8, 10 + i], group="run", headline=True)
    fam.adjust()
    assert fam.ratios[separated].p < stats.ALPHA  # uncorrected
    assert fam.p_adjusted(separated) == pytest.approx(10 * 2 / 252) and not fam.significant(separated)
    assert fam.ratios[separated].level == pytest.approx(1 - stats.ALPHA / 10)  # Bonferroni-adjusted CI


def test_each_run_is_its_own_family_and_exploratory_comparisons_stay_out():
    fam = stats.Family()
    a = fam.compare([6, 7, 8, 9, 10, 11], [1, 2, 3, 4, 5, 6], group="run A", headline=True)
    b = fam.compare([1, 3, 5, 7, 9, 11], [2, 4, 6, 8, 10, 12], group="run B", headline=True)
    extra = fam.compare([6, 7, 8, 9, 10, 11], [1, 2, 3, 4, 5, 6], key="x", group="run A")  # exploratory
    fam.adjust()
    assert fam.size("run A") == 1 and fam.size("run B") == 1
    assert fam.p_adjusted(a) == fam.ratios[a].p and fam.significant(a)  # run B's test does not count
    assert not fam.significant(b)
    assert fam.p_adjusted(extra) == fam.ratios[extra].p and not fam.significant(extra)  # raw, never bold
    assert fam.ratios[extra].level == stats.LEVEL


def test_small_n_gets_an_order_statistic_interval_with_its_real_coverage():
    assert stats.median_interval([1.0, 2.0, 3.0]) is None  # n too small
    ci = stats.median_interval([1.0, 2.0, 3.0, 4.0])
    assert ci is not None and (ci.low, ci.high, ci.level) == (1.0, 4.0, 0.875)
    ci5 = stats.median_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci5 is not None and ci5.level == pytest.approx(0.9375)
    ci6 = stats.median_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert ci6 is not None and ci6.level == stats.LEVEL  # bootstrap from 6 on
    assert stats.format_p(0.0004) == "p<0.001" and stats.format_p(0.0123) == "p=0.012"


def test_empty_samples_are_an_error():
    with pytest.raises(ValueError):
        stats.mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        stats.median([])


def test_a_family_counts_a_repeated_comparison_once_but_two_cells_twice():
    fam = stats.Family()
    assert fam.compare([1, 2, 3], [4, 5, 6]) == fam.compare([1, 2, 3], [4, 5, 6]) == 0
    assert fam.compare([1, 2, 3], [4, 5, 6], key="cell a") != fam.compare([1, 2, 3], [4, 5, 6], key="cell b")
    assert len(fam) == 3
