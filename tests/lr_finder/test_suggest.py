"""Suggestion rules on curves whose answer is known in closed form or by scipy: a sigmoid descent into an
exponential blow-up (steepest point, minimum, edge), with and without noise; the trend has no lag."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from ravine.lr_finder import Sweep, suggest
from ravine.lr_finder.result import LRFinderResult

XC, W, XE, V = -2.0, 0.25, 0.0, 0.12  # descent centred at lr 1e-2 (width 0.25 decade), blow-up from lr ~1


def curve(x: np.ndarray) -> np.ndarray:
    """Loss against x = log10(lr): 2 - 1/(1 + exp(-(x - XC)/W)) + exp((x - XE)/V)."""
    return 2.0 - 1.0 / (1.0 + np.exp(-(x - XC) / W)) + np.exp((x - XE) / V)


def result(losses: np.ndarray, sweep: Sweep) -> LRFinderResult:
    return LRFinderResult.build(sweep, sweep.lrs()[: len(losses)], list(losses), list(losses), "completed")


SWEEP = Sweep(start=1e-5, end=10.0, steps=200)
RATIO = (SWEEP.end / SWEEP.start) ** (1 / (SWEEP.steps - 1))  # one step of the sweep


def _x() -> np.ndarray:
    return np.log10(np.array(SWEEP.lrs()))


def test_steepest_is_the_inflection_of_the_descent() -> None:
    r = result(curve(_x()), SWEEP)
    # d/dx of the sigmoid term is largest at x = XC; the blow-up term is e^-17 there
    assert abs(math.log(r.suggestions["steepest"].lr / 10**XC)) <= math.log(RATIO) * 1.01


def test_minimum_and_edge_match_scipy() -> None:
    r = result(curve(_x()), SWEEP)
    xmin = optimize.minimize_scalar(lambda x: float(curve(np.array([x]))[0]), bounds=(-2, 1), method="bounded").x
    lmin = float(curve(np.array([xmin]))[0])
    bar = lmin + suggest.RISE * (float(curve(_x()[SWEEP.first_kept : SWEEP.first_kept + 1])[0]) - lmin)
    xedge = optimize.brentq(lambda x: float(curve(np.array([x]))[0]) - bar, xmin, 1.0)
    assert abs(math.log(r.suggestions["minimum/10"].lr * 10 / 10**xmin)) <= 2 * math.log(RATIO)
    assert abs(math.log(r.suggestions["edge"].lr / 10**xedge)) <= 2 * math.log(RATIO)


def test_valley_lies_halfway_down_the_longest_descent() -> None:
    r = result(curve(_x()), SWEEP)
    x = _x()[SWEEP.first_kept : SWEEP.steps - SWEEP.skip_end]
    t = np.array(r.trend[SWEEP.first_kept : SWEEP.steps - SWEEP.skip_end])
    last = int(np.argmin(t))  # the trend falls strictly from the first kept point to its minimum
    assert np.all(np.diff(t[: last + 1]) < 0)
    span = last
    expect = x[span // 3 + int(span / 3 / 2)]
    assert abs(math.log10(r.suggestions["valley"].lr) - expect) <= 1.01 * math.log10(RATIO)


@pytest.mark.parametrize("seed", range(5))
def test_noise_moves_the_edge_least(seed: int) -> None:
    """Multiplicative noise of 10 % and six 3x spikes: on the flat bottom the minimum wanders (up to 0.4 decade in
    these seeds), while the edge, where the blow-up crosses a bar, stays within 0.15 decade of the clean one."""
    rng = np.random.default_rng(seed)
    clean = result(curve(_x()), SWEEP)
    noisy = curve(_x()) * (1 + 0.1 * rng.standard_normal(SWEEP.steps))
    spikes = rng.choice(SWEEP.steps, 6, replace=False)
    noisy[spikes] *= 3.0
    r = result(noisy, SWEEP)
    assert abs(math.log10(r.suggestions["edge"].lr / clean.suggestions["edge"].lr)) <= 0.15
    assert abs(math.log10(r.suggestions["minimum/10"].lr / clean.suggestions["minimum/10"].lr)) <= 0.5


def test_the_debiased_average_lags_and_the_trend_does_not() -> None:
    """The reason the rules read the trend: on the synthetic curve, the minimum of fastai's beta = 0.98 average
    lies far to the right of the true minimum, the trend's within two steps."""
    from ravine.lr_finder import smoothing

    y = curve(_x())
    lrs = np.array(SWEEP.lrs())
    ema = np.array(smoothing.debiased(y, 0.98))
    trend = np.array(suggest.trend(y, suggest.half_width(SWEEP.steps)))
    true = int(np.argmin(y))
    assert abs(int(np.argmin(trend)) - true) <= 2
    assert lrs[int(np.argmin(ema))] / lrs[true] > 3.0


def test_window_trims_like_fastai_and_falls_back_on_short_sweeps() -> None:
    assert suggest.window([1.0] * 100, 10, 5) == (10, 95)
    assert suggest.window([1.0] * 12, 10, 5) == (0, 12)  # 12 - 15 < 5 points: keep everything
    assert suggest.window([1.0, 2.0, math.nan, 1.0], 0, 0) is None  # 2 finite points
    assert suggest.window([1.0, 2.0, 1.5, math.nan], 0, 0) == (0, 3)


def test_a_flat_curve_has_no_steepest_or_valley() -> None:
    flat = Sweep(rule="steepest", start=1e-5, end=10.0, steps=200)
    r = result(np.full(SWEEP.steps, 2.0), flat)
    assert "steepest" not in r.suggestions and "valley" not in r.suggestions
    with pytest.raises(ValueError, match=r"no 'steepest' suggestion: the loss never decreased"):
        _ = r.lr


def test_trend_is_the_median_then_the_mean() -> None:
    x = [1.0, 9.0, 1.0, 1.0, 1.0, 1.0, 5.0]
    # median of 5 (shortened at the ends): 1, 1, 1, 1, 1, 1, 1 -> a spike never moves the trend
    assert suggest.trend(x, 2) == [1.0] * 7
    # away from the ends a ramp is its own trend (no lag): medians 2..6, then means of three of them
    assert suggest.trend([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 1)[2:-2] == [3.0, 4.0, 5.0]
    t = suggest.trend([1.0, 2.0, math.inf, 4.0], 1)
    assert t[:2] == [1.5, 1.5] and all(math.isnan(v) for v in t[2:])


# -- the calibrated rule: its formula, with the library's constants ------------------------------------------------
def _calibrated(family: str, budget: int | None, batch: int | None = None) -> float:
    s = Sweep(start=1e-5, end=10.0, steps=200, budget=budget, batch_size=batch)
    r = LRFinderResult.build(s, s.lrs(), list(curve(_x())), list(curve(_x())), "completed", family=family)
    return r.suggestions["calibrated"].lr, r


@pytest.mark.parametrize("family", ["sgd", "rms", "adagrad"])
def test_calibrated_is_the_half_descent_times_the_family_factor(family: str) -> None:
    """On the synthetic curve the loss has made half its descent at the sigmoid's centre, lr = 10**XC (the
    descent runs from 2 to the minimum near 1, the blow-up term is negligible there)."""
    lr, r = _calibrated(family, suggest.REFERENCE_STEPS)
    t = np.array(r.trend[r.sweep.first_kept : r.sweep.steps - r.sweep.skip_end])
    assert t[0] - t.min() == pytest.approx(1.0, abs=0.02)
    expect = min(10**XC * suggest.CALIBRATION["factor"][family], r.suggestions["edge"].lr / suggest.CALIBRATION["cap"])
    assert abs(math.log(lr / expect)) <= 1.01 * math.log(RATIO)
    assert r.suggestions["calibrated"].rule.startswith("half the descent is made by lr")


def test_calibrated_scales_with_the_budget_as_theory_says() -> None:
    """A 4x longer run: half the rate for SGD and RMS-normalised methods (1/sqrt(T)), the same for Adagrad; a
    very short run is capped below the edge."""
    for family, factor in (("sgd", 0.5), ("rms", 0.5), ("adagrad", 1.0)):
        base, _ = _calibrated(family, 4000)
        longer, _ = _calibrated(family, 16000)
        assert longer == pytest.approx(base * factor, rel=1e-2)
    short, r = _calibrated("sgd", 1)
    assert short == pytest.approx(r.suggestions["edge"].lr / suggest.CALIBRATION["cap"], rel=5e-3)
    assert "capped at the edge" in r.suggestions["calibrated"].rule
    none, r = _calibrated("sgd", None)
    assert none == _calibrated("sgd", suggest.REFERENCE_STEPS)[0] and "pass budget=" in r.suggestions["calibrated"].rule


def test_family_from_state_keys() -> None:
    assert suggest.family({"exp_avg", "exp_avg_sq", "step"}) == "rms"
    assert suggest.family({"square_avg", "momentum_buffer"}) == "rms"
    assert suggest.family({"sum", "step"}) == "adagrad"
    assert suggest.family({"momentum_buffer"}) == "sgd" and suggest.family(set()) == "sgd"


def test_calibrated_scales_sgd_linearly_with_the_batch_at_fixed_epochs() -> None:
    """At a fixed number of epochs, 4x smaller batches mean 4x the steps: SGD's rate falls 4x (the linear scaling
    rule: 1/2 from the budget, 1/2 from the batch), Adam's 2x (the square-root rule: the budget only), Adagrad's
    not at all; batches of REFERENCE_BATCH, or none given, change nothing."""
    ref = suggest.REFERENCE_BATCH
    for family, factor in (("sgd", 0.25), ("rms", 0.5), ("adagrad", 1.0)):
        base, _ = _calibrated(family, 4000, ref)
        small, r = _calibrated(family, 16000, ref // 4)
        assert small == pytest.approx(base * factor, rel=1e-2)
        assert base == _calibrated(family, 4000)[0]
        assert ("for batches of 32" in r.suggestions["calibrated"].rule) == (family == "sgd")
