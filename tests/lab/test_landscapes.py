"""The test functions against outside references: scipy's Rosenbrock, scipy's minimiser, published minima."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch

from ravine.lab import landscapes as L
from ravine.problems import Problem

ALL = L.names()


def grad(land: L.Landscape, x: np.ndarray) -> np.ndarray:
    return torch.func.grad(land.f)(torch.tensor(x, dtype=torch.float64)).numpy()


def hessian(land: L.Landscape, x: np.ndarray) -> np.ndarray:
    return torch.func.hessian(land.f)(torch.tensor(x, dtype=torch.float64)).numpy()


def value(land: L.Landscape, x) -> float:
    return float(land.f(torch.tensor(x, dtype=torch.float64)))


@pytest.mark.parametrize("name", ALL)
def test_is_a_problem_with_starts_inside_its_domain(name: str) -> None:
    land = L.get(name)
    assert isinstance(land, Problem)
    assert land.name == name and land.illustrates and land.source and land.title
    assert len(land.x0) >= 1
    for x in land.x0:
        land.check_start(x)  # raises if outside
        assert value(land, x) > land.target  # a start that already reached the target shows nothing


@pytest.mark.parametrize("name", ALL)
def test_minima_are_stationary_with_the_stated_value_and_scipy_stays_there(name: str) -> None:
    """Every listed minimiser has zero gradient, a positive semidefinite Hessian and value f_star; scipy's BFGS
    started a little off it comes back to it. Local minima: the same with their own values."""
    land = L.get(name)
    points = [(land.f_star, m) for m in land.minimizers] + list(land.local_minima)
    for f_expected, m in points:
        m = np.asarray(m)
        assert value(land, m) == pytest.approx(f_expected, abs=1e-12)
        assert np.linalg.norm(grad(land, m)) < 1e-9
        assert np.linalg.eigvalsh(hessian(land, m)).min() > -1e-9
        res = scipy.optimize.minimize(
            lambda x: value(land, x), m + 1e-3, jac=lambda x: grad(land, x), method="BFGS", options={"gtol": 1e-10}
        )
        assert np.linalg.norm(res.x - m) < 1e-6, (name, m, res.x)


@pytest.mark.parametrize("name", ALL)
def test_batched_evaluation_equals_one_point_at_a_time(name: str) -> None:
    land = L.get(name)
    lows, highs = land.lows, land.highs
    pts = torch.tensor(lows + np.random.default_rng(0).random((17, land.dim)) * (highs - lows))
    batched = land.values(pts)
    single = torch.stack([land(p) for p in pts])
    assert torch.equal(batched, single)


def test_rosenbrock_matches_scipy() -> None:
    for n in (2, 5):
        land = L.rosenbrock(n)
        for x in np.random.default_rng(1).normal(size=(10, n)):
            assert value(land, x) == pytest.approx(scipy.optimize.rosen(x), rel=1e-14)
            np.testing.assert_allclose(grad(land, x), scipy.optimize.rosen_der(x), rtol=1e-12)
    assert L.rosenbrock().x0[0] == (-1.2, 1.0)  # Moré, Garbow & Hillstrom (1981), problem 1


# published values: Himmelblau (1972) as tabulated to 6 decimals; six-hump camel -1.0316 at (0.0898, -0.7126)
# (Dixon & Szegö 1978); Styblinski-Tang -39.16617 n < f* < -39.16616 n at x_i = -2.903534 (Wikipedia, "Test
# functions for optimization"); Beale 0 at (3, 0.5) and Booth 0 at (1, 3) exactly.
PUBLISHED = [
    ("himmelblau", [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)], 0.0, 1e-6),
    ("six-hump-camel", [(0.0898, -0.7126), (-0.0898, 0.7126)], -1.0316, 1e-4),
    ("styblinski-tang", [(-2.903534, -2.903534)], -39.166165 * 2, 1e-5),
    ("beale", [(3.0, 0.5)], 0.0, 0.0),
    ("booth", [(1.0, 3.0)], 0.0, 0.0),
    ("rastrigin", [(0.0, 0.0)], 0.0, 0.0),
]


@pytest.mark.parametrize(("name", "points", "f_star", "digits"), PUBLISHED)
def test_minima_agree_with_published_digits(name: str, points: list, f_star: float, digits: float) -> None:
    land = L.get(name)
    assert land.f_star == pytest.approx(f_star, abs=max(digits, 1e-12) * max(1, abs(f_star)))
    assert len(land.minimizers) == len(points)
    for p in points:
        nearest = min(land.minimizers, key=lambda m: np.linalg.norm(np.subtract(m, p)))
        np.testing.assert_allclose(nearest, p, atol=max(digits, 1e-15))


def test_minima_counts_match_the_literature() -> None:
    assert len(L.six_hump_camel().local_minima) == 4  # six humps: 2 global + 4 local (Dixon & Szegö 1978)
    assert len(L.styblinski_tang(3).local_minima) == 2**3 - 1
    assert len(L.rastrigin(2).local_minima) == 11**2 - 1  # one near each integer point of [-5.12, 5.12]^2
    for v, p in L.rastrigin(2).local_minima:  # the local minimum near integer k is at |x| < |k|, value < k^2
        k = np.round(p)
        assert np.all(np.abs(np.asarray(p)) <= np.abs(k)) and v < float(np.sum(k**2)) + 1e-12


@pytest.mark.parametrize(("kappa", "n", "angle"), [(100.0, 2, 30.0), (1000.0, 2, 0.0), (10.0, 5, 45.0)])
def test_ravine_has_the_requested_condition_number(kappa: float, n: int, angle: float) -> None:
    land = L.ravine(kappa=kappa, n=n, angle=angle)
    eig = np.linalg.eigvalsh(hessian(land, np.zeros(n)))
    assert eig.min() == pytest.approx(1.0) and eig.max() / eig.min() == pytest.approx(kappa, rel=1e-12)
    if n == 2:  # the flat direction (eigenvalue 1) points at `angle` degrees
        _, v = np.linalg.eigh(hessian(land, np.zeros(2)))
        flat = v[:, 0]
        assert abs(math.degrees(math.atan2(flat[1], flat[0])) % 180 - angle % 180) < 1e-9


def test_bowl_hessian_is_identity_and_saddle_has_one_negative_direction() -> None:
    np.testing.assert_allclose(hessian(L.bowl(3), np.ones(3)), np.eye(3), atol=0)
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian(L.saddle(), np.zeros(2))), [-2.0, 2.0])
    np.testing.assert_allclose(hessian(L.monkey_saddle(), np.zeros(2)), np.zeros((2, 2)))  # degenerate


def test_plateau_gradient_is_tiny_at_the_standard_start() -> None:
    land = L.plateau()
    g = np.linalg.norm(grad(land, np.asarray(land.x0[0])))
    assert g == pytest.approx(4.5 * math.exp(-(4.5**2) / 2), rel=1e-12)  # |x| e^{-|x|^2/2} at |x| = 4.5
    assert g < 1e-3


@pytest.mark.parametrize(
    ("spec", "dim", "name"),
    [("ravine:kappa=1000", 2, "ravine:kappa=1000,n=2,angle=30"), ("rastrigin:n=10", 10, "rastrigin:n=10,a=10"),
     ("rosenbrock:n=4", 4, "rosenbrock:n=4"), ("styblinski-tang:n=3", 3, "styblinski-tang:n=3"),
     ("plateau:width=2", 2, "plateau:n=2,width=2"), ("bowl:n=7", 7, "bowl:n=7")],
)  # fmt: skip
def test_n_dimensional_forms(spec: str, dim: int, name: str) -> None:
    land = L.get(spec)
    assert (land.dim, land.name) == (dim, name)
    assert value(land, land.minimizers[0]) == pytest.approx(land.f_star, abs=1e-9)
    assert np.linalg.norm(grad(land, np.asarray(land.minimizers[0]))) < 1e-8


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nowhere", "unknown landscape 'nowhere'; known: bowl, ravine"), ("ravine:kapa=3", "takes kappa=100.0"),
     ("ravine:kappa=x", "kappa must be a float"), ("ravine:kappa=1", "kappa must be > 1"),
     ("rastrigin:n=0", "n must be an integer >= 1"), ("saddle:n=3", "takes no parameters")],
)  # fmt: skip
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        L.get(spec)


def test_start_checks_name_the_coordinate_and_range() -> None:
    with pytest.raises(ValueError, match=r"x2=5 not in \[-2, 2\]"):
        L.bowl().check_start((0.0, 5.0))
    with pytest.raises(ValueError, match="must have 2 coordinates"):
        L.bowl().check_start((0.0,))


def test_surface_is_f_on_the_grid() -> None:
    land = L.himmelblau()
    xs, ys, z = land.surface(resolution=31)
    assert z.shape == (31, 31) and xs[0] == -5 and ys[-1] == 5
    assert z[7, 11] == value(land, (xs[11], ys[7]))
