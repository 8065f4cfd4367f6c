"""The Moré-Garbow-Hillstrom problems that fit a model to data: exponentials, rational functions, Gaussians.

Problems 6, 8-12 and 15-19 of Moré, Garbow & Hillstrom (ACM TOMS 7(1), 1981, section 3), with the data tables
printed there. Most minima are not zero (the model cannot fit the data exactly), and several are hard to reach:
the residuals are exponentials of the parameters, so f changes by orders of magnitude across the space.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ravine.problems import _mgh
from ravine.problems.base import Problem
from ravine.problems.mgh_minima import MINIMA

# The data tables of the paper (problems 8, 9, 10, 15, 17, 19).
BARD_Y = (0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39)
GAUSSIAN_Y = (0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989)  # y_1..y_8; y_{16-i} = y_i
MEYER_Y = (34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005, 5147, 4427, 3820, 3307, 2872)
KOWALIK_OSBORNE_Y = (0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246)
KOWALIK_OSBORNE_U = (4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625)
OSBORNE_1_Y = (
    *(0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751, 0.718, 0.685, 0.658, 0.628),
    *(0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420),
    *(0.414, 0.411, 0.406),
)
OSBORNE_2_Y = (
    *(1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679, 0.608, 0.655, 0.616),
    *(0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495),
    *(0.500, 0.423, 0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653, 0.672),
    *(0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581),
    *(0.428, 0.292, 0.162, 0.098, 0.054),
)

REFINED = "minimiser refined in float64 by ravine from the published approximation"


def jennrich_sampson(m: int = 10) -> Problem:
    """Problem 6, Jennrich & Sampson (1968): ``r_i = 2 + 2i - (e^{i x1} + e^{i x2})``; f* = 124.362 for m = 10."""

    def residuals(x: Tensor) -> Tensor:
        i = _mgh.index(x, m)
        return 2 + 2 * i - (torch.exp(i * x[0]) + torch.exp(i * x[1]))

    return _mgh.problem(
        6,
        "jennrich_sampson",
        residuals,
        (0.3, 0.4),
        124.362 if m == 10 else None,
        minimizers=[MINIMA["jennrich_sampson"]] if m == 10 else (),
        domain=[(-0.5, 0.6), (-0.5, 0.6)],
        illustrates="exponential growth: f rises by orders of magnitude a short way past the minimiser",
        note=f"m = {m}; {REFINED} (0.2578, 0.2578)",
    )


def _bard(x: Tensor) -> Tensor:
    u = _mgh.index(x, 15)
    v = 16 - u
    w = torch.minimum(u, v)
    return x.new_tensor(BARD_Y) - (x[0] + u / (v * x[1] + w * x[2]))


def bard() -> Problem:
    """Problem 8, Bard (1970): a rational model, 15 points; f* = 8.21487e-3.

    The paper also lists f = 17.4286 in the limit (0.8406, -inf, -inf), where a method can drift away.
    """
    return _mgh.problem(
        8,
        "bard",
        _bard,
        (1.0, 1.0, 1.0),
        8.21487e-3,
        minimizers=[MINIMA["bard"]],
        illustrates="a rational model with a second, infinitely distant minimum (f = 17.4286)",
        note=f"{REFINED} (0.0824106, 1.13304, 2.34370)",
    )


def _gaussian(x: Tensor) -> Tensor:
    i = _mgh.index(x, 15)
    t = (8 - i) / 2
    y = x.new_tensor(GAUSSIAN_Y + GAUSSIAN_Y[-2::-1])
    return x[0] * torch.exp(-x[1] * (t - x[2]) ** 2 / 2) - y


def gaussian() -> Problem:
    """Problem 9, a Gaussian bell fitted to 15 points; f* = 1.12793e-8 near (0.3990, 1.0000, 0)."""
    return _mgh.problem(
        9,
        "gaussian",
        _gaussian,
        (0.4, 1.0, 0.0),
        1.12793e-8,
        minimizers=[MINIMA["gaussian"]],
        illustrates="a start close to the minimiser with a tiny f*: a test of the final digits",
        note=f"{REFINED} (0.398956, 1.00002, 0)",
    )


def _meyer(x: Tensor) -> Tensor:
    t = 45 + 5 * _mgh.index(x, 16)
    return x[0] * torch.exp(x[1] / (t + x[2])) - x.new_tensor(MEYER_Y)


def meyer() -> Problem:
    """Problem 10, Meyer (1970): a thermistor resistance model; f* = 87.9458 near (0.0056, 6181, 345).

    Notoriously ill-conditioned: the parameters differ by six orders of magnitude and f by twelve across the
    path from the standard start.
    """
    return _mgh.problem(
        10,
        "meyer",
        _meyer,
        (0.02, 4000.0, 250.0),
        87.9458,
        minimizers=[MINIMA["meyer"]],
        illustrates="severe ill-conditioning: parameters six orders of magnitude apart",
        note=f"{REFINED} (0.00560964, 6181.35, 345.224)",
    )


def gulf(m: int = 99) -> Problem:
    """Problem 11, Gulf research and development: ``r_i = exp(-|y_i - x2|^x3 / x1) - t_i``; f* = 0 at (50, 25, 1.5).

    ``t_i = i/100``, ``y_i = 25 + (-50 ln t_i)^(2/3)``. The printed paper has a misprint where the minus sign of
    ``y_i - x2`` should be; the form here is the authors' own code (TOMS Algorithm 566), with its m = 99. Far
    from the minimiser the exponentials vanish and f is flat near sum t_i^2 = 32.835.
    """
    if not 3 <= m <= 99:
        raise ValueError(f"m must be in [3, 99] for gulf (y_100 - 25 = 0 makes |y - x2|^x3 singular), got {m}")

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, m) / 100
        y = 25 + (-50 * torch.log(t)) ** (2 / 3)
        return torch.exp(-(torch.abs(y - x[1]) ** x[2]) / x[0]) - t

    return _mgh.problem(
        11,
        "gulf",
        residuals,
        (5.0, 2.5, 0.15),
        0.0,
        minimizers=[(50.0, 25.0, 1.5)],
        illustrates="a flat plateau (f near 32.8) far from the minimiser, where the gradient vanishes",
        note=f"m = {m}; the misprinted 'y_i mi x_2' read as y_i - x_2, as in TOMS Algorithm 566",
    )


def box_3d(m: int = 10) -> Problem:
    """Problem 12, Box (1966): ``r_i = e^{-t_i x1} - e^{-t_i x2} - x3 (e^{-t_i} - e^{-10 t_i})``, t_i = i/10.

    f* = 0 at (1, 10, 1), at (10, 1, -1), and along the whole line x1 = x2, x3 = 0. m = 10 as in the authors'
    code (TOMS Algorithm 566).
    """

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, m) / 10
        return torch.exp(-t * x[0]) - torch.exp(-t * x[1]) - x[2] * (torch.exp(-t) - torch.exp(-10 * t))

    return _mgh.problem(
        12,
        "box_3d",
        residuals,
        (0.0, 10.0, 20.0),
        0.0,
        minimizers=[(1.0, 10.0, 1.0), (10.0, 1.0, -1.0)],
        illustrates="non-isolated minima: f* = 0 on a whole line as well as at two points",
        note=f"m = {m}",
    )


def _kowalik_osborne(x: Tensor) -> Tensor:
    u = x.new_tensor(KOWALIK_OSBORNE_U)
    return x.new_tensor(KOWALIK_OSBORNE_Y) - x[0] * (u**2 + u * x[1]) / (u**2 + u * x[2] + x[3])


def kowalik_osborne() -> Problem:
    """Problem 15, Kowalik & Osborne (1968): an enzyme-kinetics rational model; f* = 3.07505e-4.

    The paper also lists f = 1.02734e-3 in the limit (+inf, -14.07, -inf, -inf).
    """
    return _mgh.problem(
        15,
        "kowalik_osborne",
        _kowalik_osborne,
        (0.25, 0.39, 0.415, 0.39),
        3.07505e-4,
        minimizers=[MINIMA["kowalik_osborne"]],
        illustrates="a rational model with a competing minimum at infinity (f = 1.02734e-3)",
        note=f"{REFINED} (0.192807, 0.191282, 0.123057, 0.136062)",
    )


def brown_dennis(m: int = 20) -> Problem:
    """Problem 16, Brown & Dennis (1971): squared residuals of residuals; f* = 85822.2 for m = 20.

    ``r_i = (x1 + t_i x2 - e^{t_i})^2 + (x3 + x4 sin t_i - cos t_i)^2``, t_i = i/5. A large-residual problem. The
    start is (25, 5, -5, -1) as in the paper and TOMS Algorithm 566 (some later copies print x4 = 1).
    """

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, m) / 5
        return (x[0] + t * x[1] - torch.exp(t)) ** 2 + (x[2] + x[3] * torch.sin(t) - torch.cos(t)) ** 2

    return _mgh.problem(
        16,
        "brown_dennis",
        residuals,
        (25.0, 5.0, -5.0, -1.0),
        85822.2 if m == 20 else None,
        minimizers=[MINIMA["brown_dennis"]] if m == 20 else (),
        illustrates="a large-residual problem: f* = 85822 is far from zero",
        note=f"m = {m}; {REFINED} (-11.5944, 13.2036, -0.403439, 0.236779)",
    )


def _osborne_1(x: Tensor) -> Tensor:
    t = 10 * (_mgh.index(x, 33) - 1)
    return x.new_tensor(OSBORNE_1_Y) - (x[0] + x[1] * torch.exp(-t * x[3]) + x[2] * torch.exp(-t * x[4]))


def osborne_1() -> Problem:
    """Problem 17, Osborne (1972): a sum of two exponentials fitted to 33 points; f* = 5.46489e-5."""
    return _mgh.problem(
        17,
        "osborne_1",
        _osborne_1,
        (0.5, 1.5, -1.0, 0.01, 0.02),
        5.46489e-5,
        minimizers=[MINIMA["osborne_1"]],
        illustrates="two decay rates two orders of magnitude smaller than the amplitudes",
        note=f"{REFINED} (0.3754, 1.9358, -1.4647, 0.01287, 0.02212)",
    )


def biggs_exp6(m: int = 13) -> Problem:
    """Problem 18, Biggs (1971): three exponentials; f* = 0 at (1, 10, 1, 5, 4, 3) for every m >= 6.

    For m = 13 the paper also lists f = 5.65565e-3. That point has x1 = x5 (two equal exponentials, so only
    x3 + x6 matters) and is a saddle, not a minimum: its Hessian has a negative eigenvalue (about -9.8e-3), so a
    method that stalls there has stopped early. It is in ``local_minima`` as a stationary point to report.
    """

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, m) / 10
        y = torch.exp(-t) - 5 * torch.exp(-10 * t) + 3 * torch.exp(-4 * t)
        return x[2] * torch.exp(-t * x[0]) - x[3] * torch.exp(-t * x[1]) + x[5] * torch.exp(-t * x[4]) - y

    return _mgh.problem(
        18,
        "biggs_exp6",
        residuals,
        (1.0, 2.0, 1.0, 1.0, 1.0, 1.0),
        0.0,
        minimizers=[(1.0, 10.0, 1.0, 5.0, 4.0, 3.0)],
        local_minima=[(5.65565e-3, MINIMA["biggs_exp6_local"])] if m == 13 else (),
        illustrates="a saddle point (the paper's f = 5.66e-3) beside the global f* = 0",
        note=f"m = {m}; the 5.65565e-3 stationary point from gonum's optimize/functions, refined in float64 by ravine",
    )


def _osborne_2(x: Tensor) -> Tensor:
    t = (_mgh.index(x, 65) - 1) / 10
    model = (
        x[0] * torch.exp(-t * x[4])
        + x[1] * torch.exp(-((t - x[8]) ** 2) * x[5])
        + x[2] * torch.exp(-((t - x[9]) ** 2) * x[6])
        + x[3] * torch.exp(-((t - x[10]) ** 2) * x[7])
    )
    return x.new_tensor(OSBORNE_2_Y) - model


def osborne_2() -> Problem:
    """Problem 19, Osborne (1972): an exponential plus three Gaussians fitted to 65 points; f* = 4.01377e-2."""
    return _mgh.problem(
        19,
        "osborne_2",
        _osborne_2,
        (1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5),
        4.01377e-2,
        minimizers=[MINIMA["osborne_2"]],
        illustrates="eleven parameters of a peak-fitting model",
        note=f"{REFINED} (1.30998, 0.431554, 0.633662, 0.599431, 0.754183, 0.904289, 1.36581, 4.82370, ...)",
    )
