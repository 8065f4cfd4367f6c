"""Robust statistics of noisy training curves (numpy only).

Mini-batch losses are noisy, skewed and spiky, so levels are medians of windows, noise scales come from the
median absolute deviation of first differences (which ignores a slow trend), and "is there structure beyond
batch noise?" is a variance-ratio test against the i.i.d. hypothesis (Lo & MacKinlay, Rev. Financial Studies
1988) after removing a monotone trend by isotonic regression (pool-adjacent-violators; Barlow et al. 1972).
"""

from __future__ import annotations

import math

import numpy as np

MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a normal sample times this estimates sigma
MEDIAN_SE = 1.2533141373155001  # sqrt(pi / 2): SE(median) / SE(mean) for normal samples


def level(values: np.ndarray) -> float:
    """The median of the finite values (NaN if there are none)."""
    v = values[np.isfinite(values)]
    return float(np.median(v)) if v.size else float("nan")


def noise_sigma(values: np.ndarray) -> float:
    """Per-step noise of a series: ``1.4826 * MAD(diff) / sqrt(2)`` (a linear trend cancels in the differences)."""
    v = values[np.isfinite(values)]
    if v.size < 3:
        return float("nan")
    d = np.diff(v)
    return float(MAD_TO_SIGMA * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def window_levels(steps: np.ndarray, values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Medians of consecutive windows of ``width`` points and the step at each window's end."""
    n = values.size // width
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    v = values[: n * width].reshape(n, width)
    s = steps[: n * width].reshape(n, width)[:, -1]
    if np.isfinite(v).all():
        return s, np.median(v, axis=1)
    return s, np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=1)


def isotonic_decreasing(y: np.ndarray) -> np.ndarray:
    """The least-squares non-increasing fit to ``y`` (pool adjacent violators)."""
    vals: list[float] = []
    counts: list[int] = []
    for x in -np.asarray(y, dtype=float):
        vals.append(float(x))
        counts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, c2 = vals.pop(), counts.pop()
            vals[-1] = (vals[-1] * counts[-1] + v2 * c2) / (counts[-1] + c2)
            counts[-1] += c2
    return -np.repeat(vals, counts)


def detrend_blocks(v: np.ndarray, k: int) -> np.ndarray:
    """``v`` minus a non-increasing trend fitted to its block means (blocks of ``k``; the last partial block
    takes the last fitted level): isotonic regression at the resolution the variance ratio looks at."""
    m = v.size // k
    if m < 2:
        return v - v.mean()
    means = v[: m * k].reshape(m, k).mean(axis=1)
    trend = np.repeat(isotonic_decreasing(means), k)
    trend = np.concatenate([trend, np.full(v.size - m * k, trend[-1])])
    return v - trend


def variance_ratio(residuals: np.ndarray, k: int) -> tuple[float, int]:
    """``VR(k) = k Var(block means of k) / Var(residuals)`` and the number of blocks.

    For i.i.d. residuals VR is about 1 and ``(m - 1) VR`` is roughly chi-square with ``m - 1`` degrees of
    freedom (m blocks); persistent excursions make it large, alternation (period 2) small.
    """
    r = residuals - residuals.mean()
    m = r.size // k
    var = r.var()
    if m < 3 or not var > 0:
        return float("nan"), m
    blocks = r[: m * k].reshape(m, k).mean(axis=1)
    return float(k * blocks.var(ddof=1) / var), m


def chi2_upper(dof: int, p: float) -> float:
    """Upper ``p`` quantile of chi-square(dof)/dof by the Wilson-Hilferty approximation (accurate to ~1%)."""
    z = _normal_upper(p)
    a = 2.0 / (9.0 * dof)
    return (1 - a + z * math.sqrt(a)) ** 3


def _normal_upper(p: float) -> float:
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(mid / math.sqrt(2)) > p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def lag1_autocorrelation(r: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (NaN for constant or too short series)."""
    r = r - r.mean()
    var = float((r * r).mean())
    if r.size < 3 or not var > 0:
        return float("nan")
    return float((r[1:] * r[:-1]).mean() / var)


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the finite values (NaN, inf if fewer than 2)."""
    v = values[np.isfinite(values)]
    if v.size < 2:
        return (float(v.mean()) if v.size else float("nan")), float("inf")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def value_at(steps: np.ndarray, values: np.ndarray, step: int) -> float:
    """The value of a step series at ``step`` (the last value at or before it; NaN before the first)."""
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return float(values[i]) if i >= 0 else float("nan")
