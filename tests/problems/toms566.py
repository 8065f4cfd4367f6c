"""An independent reference: the objective functions as the authors' own code writes them (numpy, float64).

TOMS Algorithm 566 (Moré, Garbow & Hillstrom, ACM TOMS 7(1):136-140, 1981), subroutine OBJFCN, defines 18 of
the problems for unconstrained minimisation directly as f (not as residuals), often expanded -- Wood as
``100 s1^2 + s2^2 + 90 t1^2 + t2^2 + 10 (s3 + t3)^2 + (s3 - t3)^2 / 10``, the extended Powell function with cubes,
the Box and Gaussian data indexed differently. Agreement with ravine's residual forms checks every constant.
Written here in numpy from the formulas; nothing is shared with ravine.problems.
"""

from __future__ import annotations

import math

import numpy as np

GAUSSIAN_Y = [0.0009, 0.0044, 0.0175, 0.054, 0.1295, 0.242, 0.3521, 0.3989, 0.3521, 0.242, 0.1295, 0.054, 0.0175]
GAUSSIAN_Y += [0.0044, 0.0009]


def helical_valley(x):
    th = math.copysign(0.25, x[1]) if x[0] == 0 else math.atan(x[1] / x[0]) / (2 * math.pi)
    if x[0] < 0:
        th += 0.5
    r = math.hypot(x[0], x[1])
    return 100 * ((x[2] - 10 * th) ** 2 + (r - 1) ** 2) + x[2] ** 2


def biggs_exp6(x):
    d1 = np.arange(1, 14) / 10
    d2 = np.exp(-d1) - 5 * np.exp(-10 * d1) + 3 * np.exp(-4 * d1)
    t = x[2] * np.exp(-d1 * x[0]) - x[3] * np.exp(-d1 * x[1]) + x[5] * np.exp(-d1 * x[4]) - d2
    return float(np.sum(t**2))


def gaussian(x):
    d2 = 3.5 - 0.5 * np.arange(15) - x[2]
    return float(np.sum((x[0] * np.exp(-0.5 * x[1] * d2**2) - np.array(GAUSSIAN_Y)) ** 2))


def powell_badly_scaled(x):
    return (1e4 * x[0] * x[1] - 1) ** 2 + (math.exp(-x[0]) + math.exp(-x[1]) - 1 - 1e-4) ** 2


def box_3d(x):
    d1 = np.arange(1, 11, dtype=float)
    d2 = d1 / 10
    t = np.exp(-d2 * x[0]) - np.exp(-d2 * x[1]) - (np.exp(-d2) - np.exp(-d1)) * x[2]
    return float(np.sum(t**2))


def variably_dimensioned(x):
    t1 = np.sum(np.arange(1, len(x) + 1) * (x - 1))
    t2 = np.sum((x - 1) ** 2)
    return float(t2 + t1**2 * (1 + t1**2))


def watson(x):
    n, f = len(x), 0.0
    for i in range(1, 30):
        d1 = i / 29
        s1 = sum((j - 1) * d1 ** (j - 2) * x[j - 1] for j in range(2, n + 1))
        s2 = sum(d1 ** (j - 1) * x[j - 1] for j in range(1, n + 1))
        f += (s1 - s2**2 - 1) ** 2
    return f + x[0] ** 2 + (x[1] - x[0] ** 2 - 1) ** 2


def penalty_1(x):
    return float(1e-5 * np.sum((x - 1) ** 2) + (np.sum(x**2) - 0.25) ** 2)


def penalty_2(x):
    n = len(x)
    t1 = -1 + sum((n - j) * x[j] ** 2 for j in range(n))
    d1, t2, t3 = math.exp(0.1), 0.0, 0.0
    for j in range(1, n):  # 0-based j; the paper's j + 1
        s1, s2 = math.exp(x[j] / 10), math.exp(x[j - 1] / 10)
        t2 += (s1 + s2 - d1**j * (d1 + 1)) ** 2
        t3 += (s1 - 1 / d1) ** 2
    return 1e-5 * (t2 + t3) + t1**2 + (x[0] - 0.2) ** 2


def brown_badly_scaled(x):
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2


def brown_dennis(x):
    d1 = np.arange(1, 21) / 5
    t = (x[0] + d1 * x[1] - np.exp(d1)) ** 2 + (x[2] + np.sin(d1) * x[3] - np.cos(d1)) ** 2
    return float(np.sum(t**2))


def gulf(x):
    arg = np.arange(1, 100) / 100
    r = np.abs((-50 * np.log(arg)) ** (2 / 3) + 25 - x[1])
    return float(np.sum((np.exp(-(r ** x[2]) / x[0]) - arg) ** 2))


def trigonometric(x):
    n, j = len(x), np.arange(1, len(x) + 1)
    return float(np.sum((n + j - np.sin(x) - np.sum(np.cos(x)) - j * np.cos(x)) ** 2))


def extended_rosenbrock(x):
    return float(np.sum((1 - x[0::2]) ** 2 + (10 * (x[1::2] - x[0::2] ** 2)) ** 2))


def extended_powell(x):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    t, t1, t2, t3 = a + 10 * b, c - d, b - 2 * c, a - d
    return float(np.sum(t**2 + 5 * t1 * t1 + t2**3 * t2 + 10 * t3**3 * t3))


def beale(x):
    return sum((c - x[0] * (1 - x[1] ** i)) ** 2 for i, c in ((1, 1.5), (2, 2.25), (3, 2.625)))


def wood(x):
    s1, s2, s3 = x[1] - x[0] ** 2, 1 - x[0], x[1] - 1
    t1, t2, t3 = x[3] - x[2] ** 2, 1 - x[2], x[3] - 1
    return 100 * s1**2 + s2**2 + 90 * t1**2 + t2**2 + 10 * (s3 + t3) ** 2 + (s3 - t3) ** 2 / 10


def chebyquad(x):
    n = len(x)
    fvec = np.zeros(n)
    for xj in x:
        t1, t2 = 1.0, 2 * xj - 1
        for i in range(n):
            fvec[i] += t2
            t1, t2 = t2, 2 * (2 * xj - 1) * t2 - t1
    odd_even = np.array([0.0 if (i + 1) % 2 else 1 / ((i + 1) ** 2 - 1) for i in range(n)])
    return float(np.sum((fvec / n + odd_even) ** 2))


# ravine registry name -> the reference f (the 18 functions of OBJFCN, at the registry's sizes)
OBJFCN = {
    "helical_valley": helical_valley,
    "biggs_exp6": biggs_exp6,
    "gaussian": gaussian,
    "powell_badly_scaled": powell_badly_scaled,
    "box_3d": box_3d,
    "variably_dimensioned-n10": variably_dimensioned,
    "watson-n6": watson,
    "watson-n9": watson,
    "watson-n12": watson,
    "penalty_1-n4": penalty_1,
    "penalty_1-n10": penalty_1,
    "penalty_2-n4": penalty_2,
    "penalty_2-n10": penalty_2,
    "brown_badly_scaled": brown_badly_scaled,
    "brown_dennis": brown_dennis,
    "gulf": gulf,
    "trigonometric-n10": trigonometric,
    "extended_rosenbrock-n10": extended_rosenbrock,
    "extended_powell-n12": extended_powell,
    "beale": beale,
    "wood": wood,
    "chebyquad-n8": chebyquad,
    "chebyquad-n9": chebyquad,
    "chebyquad-n10": chebyquad,
}
