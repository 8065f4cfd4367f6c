"""Robust statistics against scipy and numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from ravine.diagnose import stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isotonic_decreasing_matches_scipy(seed: int) -> None:
    y = np.random.default_rng(seed).normal(size=200).cumsum()
    ref = optimize.isotonic_regression(y, increasing=False).x
    np.testing.assert_allclose(stats.isotonic_decreasing(y), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("dof", "p"), [(14, 1e-3), (5, 0.01), (40, 1e-3)])
def test_chi2_upper_matches_scipy_within_the_wilson_hilferty_error(dof: int, p: float) -> None:
    assert stats.chi2_upper(dof, p) == pytest.approx(sps.chi2.ppf(1 - p, dof) / dof, rel=0.02)


def test_noise_sigma_recovers_the_noise_of_a_trending_series() -> None:
    rng = np.random.default_rng(3)
    y = np.linspace(5, 1, 4000) + rng.normal(scale=0.3, size=4000)  # the trend cancels in differences
    assert stats.noise_sigma(y) == pytest.approx(0.3, rel=0.05)


def test_variance_ratio_of_iid_noise_is_about_one_and_of_a_random_walk_large() -> None:
    rng = np.random.default_rng(4)
    vr, m = stats.variance_ratio(rng.normal(size=3000), 20)
    assert m == 150 and vr == pytest.approx(1.0, abs=0.3)
    assert stats.variance_ratio(rng.normal(size=3000).cumsum(), 20)[0] > 5


def test_lag1_autocorrelation_matches_numpy() -> None:
    y = np.random.default_rng(5).normal(size=500)
    r = y - y.mean()
    assert stats.lag1_autocorrelation(y) == pytest.approx(np.corrcoef(r[1:], r[:-1])[0, 1], abs=0.01)
    assert stats.lag1_autocorrelation(np.array([1.0, -1.0] * 50)) == pytest.approx(-1.0, abs=0.03)


def test_window_levels_are_medians_and_value_at_is_a_step_function() -> None:
    s = np.arange(10)
    v = np.array([1, 5, 2, 9, 9, 8, 3, 3, 4, 7], dtype=float)
    ends, levels = stats.window_levels(s, v, 3)
    assert ends.tolist() == [2, 5, 8] and levels.tolist() == [2.0, 9.0, 3.0]
    assert stats.value_at(s, v, 4) == 9 and np.isnan(stats.value_at(s, v, -1))
