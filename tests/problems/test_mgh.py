"""The Moré-Garbow-Hillstrom problems against outside references.

- the paper's f* at the stored minimisers (and its values at the known non-global stationary points);
- the authors' own code (TOMS Algorithm 566, OBJFCN), re-expressed in numpy in toms566.py, at two points each;
- minimisers printed by later literature (gonum's optimize/functions, funconstrain's documentation);
- numpy's least squares for the closed-form minima of the linear problems 32-34;
- central differences for every autograd gradient (float64).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import torch

from ravine.problems import mgh
from ravine.problems.base import Problem

PROBLEMS = list(mgh.PROBLEMS.values())
EPS = torch.finfo(torch.float64).eps


def _reference_module():
    spec = importlib.util.spec_from_file_location("toms566", Path(__file__).with_name("toms566.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOMS566 = _reference_module()


def value_and_grad(p: Problem, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    x = x.detach().clone().requires_grad_()
    f = p(x)
    (g,) = torch.autograd.grad(f, x)
    return float(f.detach()), g


def sample_points(p: Problem) -> list[torch.Tensor]:
    """The standard start and a seeded random point near it (so terms that vanish at x0 are exercised too)."""
    x0 = p.start()
    gen = torch.Generator().manual_seed(p.dim)
    near = x0 + 0.1 * torch.randn(p.dim, generator=gen, dtype=torch.float64) * (x0.abs() + 0.1)
    return [x0, near]


def paper_tolerance(value: float) -> float:
    """One unit in the sixth significant digit, as the paper prints its values (some are truncated, e.g. Meyer's
    87.9458 for 87.945855); for f* = 0, what float64 rounding leaves of a sum of squares."""
    if value == 0:
        return 1e-20
    return 10.0 ** (math.floor(math.log10(abs(value))) - 5)


# -- the paper's values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [p for p in PROBLEMS if p.minimizers], ids=lambda p: p.name)
def test_f_at_minimiser_is_the_papers_f_star(p: Problem) -> None:
    for m in p.minimizers:
        f = float(p(torch.tensor(m, dtype=torch.float64)))
        assert abs(f - p.f_star) <= paper_tolerance(p.f_star), (m, f, p.f_star)


@pytest.mark.parametrize("p", [p for p in PROBLEMS if p.local_minima], ids=lambda p: p.name)
def test_f_at_known_stationary_points(p: Problem) -> None:
    for value, x in p.local_minima:
        f = float(p(torch.tensor(x, dtype=torch.float64)))
        assert abs(f - value) <= paper_tolerance(value), (x, f, value)
        assert f > p.f_star  # a trap, not another global minimum


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.name)
def test_minimisers_are_stationary(p: Problem) -> None:
    """Each stored point is a stationary point to float64 accuracy: max_j |g_j| max(|x_j|, 1) <= 1e-6 max(1, f)
    (the scaling accounts for Meyer, where x1 = 0.0056 sits under a Hessian eigenvalue of 2.5e14)."""
    points = [*p.minimizers, *(x for _, x in p.local_minima)]
    for x in points:
        xt = torch.tensor(x, dtype=torch.float64)
        f, g = value_and_grad(p, xt)
        scaled = float((g * xt.abs().clamp(min=1.0)).abs().max())
        assert scaled <= 1e-6 * max(1.0, abs(f)), (x, scaled)


def test_f_star_values_are_the_papers() -> None:
    """The values where the paper's f* depends on n (section 3, problems 6, 16, 20, 23, 24, 35)."""
    expected = {
        "jennrich_sampson": 124.362,
        "brown_dennis": 85822.2,
        "watson-n6": 2.28767e-3,
        "watson-n9": 1.39976e-6,
        "watson-n12": 4.72238e-10,
        "penalty_1-n4": 2.24997e-5,
        "penalty_1-n10": 7.08765e-5,
        "penalty_2-n4": 9.37629e-6,
        "penalty_2-n10": 2.93660e-4,
        "chebyquad-n8": 3.51687e-3,
        "chebyquad-n9": 0.0,
        "chebyquad-n10": 6.50395e-3,
    }
    assert {name: mgh.get(name).f_star for name in expected} == expected


def test_wood_trap_is_a_saddle_and_biggs_point_is_not_a_minimum() -> None:
    """Reported traps are what they are said to be: the Hessian at Wood's 7.877 point and at the paper's Biggs
    5.65565e-3 point has a negative eigenvalue; Freudenstein-Roth's 48.98 point is a true local minimum."""
    for name, minimum in (("wood", False), ("biggs_exp6", False), ("freudenstein_roth", True)):
        p = mgh.get(name)
        x = torch.tensor(p.local_minima[0][1], dtype=torch.float64)
        eigenvalues = torch.linalg.eigvalsh(torch.autograd.functional.hessian(p.f, x))
        assert (eigenvalues.min() > 0) == minimum, (name, eigenvalues)


# -- the authors' code, later literature, numpy ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TOMS566.OBJFCN), ids=str)
def test_matches_toms_566_objfcn(name: str) -> None:
    p, reference = mgh.get(name), TOMS566.OBJFCN[name]
    for x in sample_points(p):
        assert float(p(x)) == pytest.approx(reference(x.numpy()), rel=1e-12, abs=1e-300)


def test_rosenbrock_matches_scipy() -> None:
    p = mgh.get("rosenbrock")
    for x in sample_points(p):
        assert float(p(x)) == pytest.approx(scipy.optimize.rosen(x.numpy()), rel=1e-14)


PUBLISHED_MINIMISERS = {
    # gonum optimize/functions (functions.go, Minima()): printed to full float64 precision
    "powell_badly_scaled": ((1.0981593296997149e-05, 9.106146739867375), 1e-10),
    "gaussian": ((0.398956137837997, 1.0000190844805048, 0.0), 1e-10),
    "brown_dennis": ((-11.594439904762162, 13.203630051207202, -0.4034394881768612, 0.2367787744557347), 1e-10),
    "penalty_1-n4": ((0.2500074995875379,) * 4, 1e-10),
    "penalty_2-n4": ((0.19999933335, 0.19131670128566283, 0.4801014860897, 0.5188454026659), 1e-8),
    "watson-n6": (
        (
            *(-0.01572508644590686, 1.012434869244884, -0.23299162372002916),
            *(1.2604300800978554, -1.51372891341701, 0.9929964286340117),
        ),
        1e-8,
    ),
    # funconstrain, man/bard.Rd: "f = 8.214877e-3 at c(0.08241056, 1.133036, 2.343695)"
    "bard": ((0.08241056, 1.133036, 2.343695), 1e-6),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_MINIMISERS), ids=str)
def test_minimisers_agree_with_later_literature(name: str) -> None:
    published, rtol = PUBLISHED_MINIMISERS[name]
    ours = mgh.get(name).minimizers[0]
    np.testing.assert_allclose(ours, published, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", ["linear_full_rank-n5-m10", "linear_rank_1-n5-m10", "linear_rank_1_zero-n5-m10"])
def test_linear_problems_closed_form_minimum_matches_numpy_lstsq(name: str) -> None:
    p = mgh.get(name)
    x0 = torch.zeros(p.dim, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(p.residuals, x0).numpy()
    b = -p.residuals(x0).numpy()  # r(x) = J x - b exactly, the problems being linear
    x, *_ = np.linalg.lstsq(jacobian, b, rcond=None)
    assert float(np.sum((jacobian @ x - b) ** 2)) == pytest.approx(p.f_star, rel=1e-12)


def test_discrete_boundary_value_and_integral_equation_share_their_solution() -> None:
    """Problem 29 is the integral-equation form of the boundary value problem 28 (the paper, section 3): the two
    discretisations have the same solution, so the minimiser of one zeroes the residuals of the other."""
    bv, ie = mgh.get("discrete_boundary_value-n10"), mgh.get("discrete_integral_equation-n10")
    x = torch.tensor(bv.minimizers[0], dtype=torch.float64)
    assert float(ie.residuals(x).abs().max()) < 1e-14


def test_broyden_values_at_the_start_by_hand() -> None:
    """At x0 = -1: tridiagonal r = (-2, -1, ..., -1, -3), f = 4 + 8 + 9 = 21; banded r_i = -7 + 1 = -6, f = 360."""
    assert float(mgh.get("broyden_tridiagonal-n10")(torch.full((10,), -1.0, dtype=torch.float64))) == 21.0
    assert float(mgh.get("broyden_banded-n10")(torch.full((10,), -1.0, dtype=torch.float64))) == 360.0


# -- autograd ------------------------------------------------------------------------------------------------------


def central_differences(p: Problem, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Fourth-order central differences, ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` per coordinate."""
    g = torch.empty_like(x)
    for j in range(len(x)):
        e = torch.zeros_like(x)
        e[j] = h[j]
        g[j] = (-p.f(x + 2 * e) + 8 * p.f(x + e) - 8 * p.f(x - e) + p.f(x - 2 * e)) / (12 * h[j])
    return g


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.name)
def test_autograd_gradient_matches_central_differences(p: Problem) -> None:
    for x in sample_points(p):
        f, g = value_and_grad(p, x)
        h = 1e-4 * x.abs().clamp(min=1e-2)  # relative steps: the coordinates' scales differ by up to 1e8
        fd = central_differences(p, x, h)
        # truncation (h^4) is far below 1e-7 |g|; rounding of f contributes about eps |f| / h
        tolerance = 1e-7 * float(g.abs().max()) + 100 * EPS * abs(f) / h
        assert ((g - fd).abs() <= tolerance).all(), (x, g, fd)


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.name)
def test_float32_agrees_with_float64_at_the_start(p: Problem) -> None:
    x = p.start(dtype=torch.float32).requires_grad_()
    f = p(x)
    f.backward()
    assert f.dtype == torch.float32 and torch.isfinite(x.grad).all()
    assert float(f.detach()) == pytest.approx(float(p(p.start())), rel=1e-4)


# -- the registry --------------------------------------------------------------------------------------------------


def test_registry_covers_all_35_problems_in_order() -> None:
    numbers = [mgh.NUMBER[name] for name in mgh.names()]
    assert numbers == sorted(numbers) and set(numbers) == set(range(1, 36))
    assert len(set(mgh.names())) == len(mgh.PROBLEMS) == 41
    assert [p.name for p in mgh.by_number(20)] == ["watson-n6", "watson-n9", "watson-n12"]
    assert all("problem" in p.source and "ACM TOMS 7(1)" in p.source for p in PROBLEMS)


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.name)
def test_problem_is_well_formed(p: Problem) -> None:
    x0 = p.start()
    assert x0.shape == (p.dim,) and p.residuals is not None
    assert float(p(x0)) == pytest.approx(float((p.residuals(x0) ** 2).sum()), rel=1e-15)
    assert p.f_star is not None and float(p(x0)) > p.f_star
    assert all(len(m) == p.dim for m in p.minimizers) and all(len(x) == p.dim for _, x in p.local_minima)


@pytest.mark.parametrize("p", [p for p in PROBLEMS if p.dim == 2], ids=lambda p: p.name)
def test_two_dimensional_problems_have_a_plot_domain_around_start_and_minimiser(p: Problem) -> None:
    assert p.domain is not None and len(p.domain) == 2
    for point in (p.x0[0], *p.minimizers):
        assert all(low <= v <= high for v, (low, high) in zip(point, p.domain, strict=True)), (point, p.domain)


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.name)
def test_vmap_evaluates_many_points_as_the_loop_does(p: Problem) -> None:
    """The landscape lab evaluates 2-D problems on grids with torch.vmap(p.f); every problem supports it."""
    gen = torch.Generator().manual_seed(0)
    points = p.start() + 0.01 * torch.randn(6, p.dim, generator=gen, dtype=torch.float64)
    expected = torch.stack([p.f(x) for x in points])
    torch.testing.assert_close(torch.vmap(p.f)(points), expected, rtol=1e-13, atol=0.0)


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [
        (mgh.watson, {"n": 1}, "n must be an integer >= 2 for watson"),
        (mgh.watson, {"n": 32}, r"n must be in \[2, 31\]"),
        (mgh.extended_rosenbrock, {"n": 5}, "multiple of 2"),
        (mgh.extended_powell, {"n": 6}, "multiple of 4"),
        (mgh.penalty_1, {"n": 2.0}, "n must be an integer"),
        (mgh.linear_full_rank, {"n": 5, "m": 4}, "m must be an integer >= n = 5"),
        (mgh.linear_rank_1_zero, {"n": 2}, "n must be an integer >= 3"),
        (mgh.gulf, {"m": 100}, r"m must be in \[3, 99\]"),
    ],
)
def test_bad_sizes_are_refused(factory, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


def test_lookup_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="unknown MGH problem 'rosenbrok'"):
        mgh.get("rosenbrok")
    with pytest.raises(ValueError, match=r"number must be an integer in \[1, 35\]"):
        mgh.by_number(36)
    with pytest.raises(ValueError, match="takes a vector of length 2"):
        mgh.get("rosenbrock")(torch.zeros(3))


def test_other_sizes_from_the_factories() -> None:
    p = mgh.watson(n=20)
    assert p.name == "watson-n20" and p.dim == 20 and p.f_star is None
    assert mgh.chebyquad(n=7).f_star == 0.0 and mgh.penalty_2(n=5).f_star is None
