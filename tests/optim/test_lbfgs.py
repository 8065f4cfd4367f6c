"""ravine.optim.LBFGS against torch.optim.LBFGS, scipy, Moré & Thuente's line-search problems and its own spec.

- without a line search the iterates are torch's bit for bit (dtypes x problems x options, several parameters,
  complex, sparse and missing gradients);
- the line search returns steps that satisfy the strong Wolfe conditions on the test functions of Moré & Thuente
  (ACM TOMS 20(3), 1994, section 5), checked here from the definitions;
- with the line search, L-BFGS reaches the minima scipy's L-BFGS-B reaches;
- max_eval bounds the closure calls of a step, line search included (pytorch#91581);
- state_dict round trips continue bit for bit, also into torch.optim.LBFGS.
"""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pytest
import scipy.optimize
import torch

import ravine
from ravine.optim import registry
from ravine.optim.line_search import strong_wolfe
from ravine.problems import mgh


def closure_for(opt: torch.optim.Optimizer, loss_fn, counter: list[int] | None = None):
    def closure() -> torch.Tensor:
        if counter is not None:
            counter[0] += 1
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    return closure


def run_problem(cls, name: str, dtype: torch.dtype, steps: int, **kwargs) -> tuple[list[torch.Tensor], list]:
    p = mgh.get(name)
    x = p.start(dtype=dtype).requires_grad_()
    opt = cls([x], **kwargs)
    closure = closure_for(opt, lambda: p(x))
    trace, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        trace.append(x.detach().clone())
    return trace, losses


# -- parity with torch.optim.LBFGS (no line search) ---------------------------------------------------------------

PARITY = [
    ("rosenbrock", {"lr": 0.1, "max_iter": 5}),
    ("osborne_2", {"lr": 0.01, "max_iter": 10, "history_size": 3}),  # the memory wraps around
    ("penalty_2-n10", {"lr": 0.05, "max_iter": 1}),  # one iteration per step: the stochastic-L-BFGS pattern
    ("watson-n6", {"lr": 0.02, "max_iter": 20, "max_eval": 7}),
    ("chebyquad-n8", {"lr": 0.3, "max_iter": 4, "tolerance_change": 1e-5}),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(("name", "options"), PARITY, ids=[p[0] for p in PARITY])
def test_fixed_step_is_torch_bit_for_bit(name: str, options: dict, dtype: torch.dtype) -> None:
    ours, our_losses = run_problem(ravine.optim.LBFGS, name, dtype, 6, **options)
    theirs, their_losses = run_problem(torch.optim.LBFGS, name, dtype, 6, **options)
    assert our_losses == their_losses
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def make_model(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    inputs = torch.randn(32, 4, generator=gen)
    targets = torch.sin(inputs.sum(1, keepdim=True))
    return model, inputs, targets


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_several_parameters_of_any_shape(line_search_fn: str | None) -> None:
    """On a model (weights, biases), no line search: torch's iterates exactly. With or without: the same as one
    flat parameter holding all of them, since the algorithm sees only the concatenated vector."""
    model, inputs, targets = make_model()
    torch_model = copy.deepcopy(model)
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).requires_grad_()

    def loss_of(m):
        return torch.nn.functional.mse_loss(m(inputs), targets)

    def loss_flat():
        pieces = torch.split(flat, [math.prod(s) for s in shapes])
        w1, b1, w2, b2 = (piece.view(s) for piece, s in zip(pieces, shapes, strict=True))
        return torch.nn.functional.mse_loss(torch.tanh(inputs @ w1.T + b1) @ w2.T + b2, targets)

    kwargs = {"lr": 1 if line_search_fn else 0.5, "max_iter": 8, "history_size": 5, "line_search_fn": line_search_fn}
    opt = ravine.optim.LBFGS(model.parameters(), **kwargs)
    opt_flat = ravine.optim.LBFGS([flat], **kwargs)
    opt_torch = torch.optim.LBFGS(torch_model.parameters(), **kwargs)
    for _ in range(3):
        opt.step(closure_for(opt, lambda: loss_of(model)))
        opt_flat.step(closure_for(opt_flat, loss_flat))
        opt_torch.step(closure_for(opt_torch, lambda: loss_of(torch_model)))
        ours = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        assert torch.equal(ours, flat.detach())
        if line_search_fn is None:
            assert torch.equal(ours, torch.cat([p.detach().reshape(-1) for p in torch_model.parameters()]))


def test_complex_sparse_and_missing_gradients_as_torch() -> None:
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(6, dtype=torch.complex64, generator=gen)

    def build():
        z = torch.zeros(6, dtype=torch.complex64, requires_grad=True)
        emb = torch.nn.Embedding(5, 2, sparse=True)
        with torch.no_grad():
            emb.weight.copy_(torch.arange(10.0).view(5, 2) / 10)
        unused = torch.ones(3, requires_grad=True)
        return z, emb, unused

    def loss(z, emb):
        return (z - target).abs().pow(2).sum() + emb(torch.tensor([0, 2, 2])).pow(2).sum()

    states = []
    for cls in (ravine.optim.LBFGS, torch.optim.LBFGS):
        z, emb, unused = build()
        opt = cls([z, *emb.parameters(), unused], lr=0.2, max_iter=6)
        for _ in range(3):
            opt.step(closure_for(opt, lambda z=z, emb=emb: loss(z, emb)))
        states.append((z.detach().clone(), emb.weight.detach().clone(), unused.detach().clone()))
    for a, b in zip(*states, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(states[0][2], torch.ones(3))  # no gradient: the parameter does not move


# -- the line search ------------------------------------------------------------------------------------------------


def more_thuente_functions():
    """Moré & Thuente (1994), eqs. 5.1-5.4, with the (c1, c2) = (mu, eta) of their tables."""

    def concave_right(a, beta=2.0):
        return -a / (a**2 + beta)

    def concave_left(a, beta=0.004):
        return (a + beta) ** 5 - 2 * (a + beta) ** 4

    def plassmann(a, beta=0.01, ell=39):
        if a <= 1 - beta:
            phi0 = 1 - a
        elif a >= 1 + beta:
            phi0 = a - 1
        else:
            phi0 = (a - 1) ** 2 / (2 * beta) + beta / 2
        return phi0 + 2 * (1 - beta) / (ell * math.pi) * torch.sin(ell * math.pi / 2 * a)

    def yanai(beta1, beta2):
        def gamma(b):
            return math.sqrt(1 + b * b) - b

        return lambda a: gamma(beta1) * torch.sqrt((1 - a) ** 2 + beta2**2) + gamma(beta2) * torch.sqrt(a**2 + beta1**2)

    return [
        ("5.1", concave_right, 1e-3, 0.1),
        ("5.2", concave_left, 1e-3, 0.1),
        ("5.3", plassmann, 1e-3, 0.1),
        ("5.4a", yanai(0.001, 0.001), 1e-3, 2e-3),
        ("5.4b", yanai(0.01, 0.001), 1e-3, 2e-3),
        ("5.4c", yanai(0.001, 0.01), 1e-3, 2e-3),
    ]


@pytest.mark.parametrize("initial_step", [1e-3, 1e-1, 1e1, 1e3])
@pytest.mark.parametrize(
    ("label", "phi", "c1", "c2"), more_thuente_functions(), ids=[f[0] for f in more_thuente_functions()]
)
def test_line_search_satisfies_strong_wolfe_on_more_thuente_problems(label, phi, c1, c2, initial_step) -> None:
    def phi_and_slope(a: float) -> tuple[float, torch.Tensor]:
        t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        value = phi(t)
        (slope,) = torch.autograd.grad(value, t)
        return float(value.detach()), slope.reshape(1)

    calls = [0]

    def evaluate(a: float) -> tuple[float, torch.Tensor]:
        calls[0] += 1
        return phi_and_slope(a)

    f0, g0 = phi_and_slope(0.0)
    d = torch.ones(1, dtype=torch.float64)
    found = strong_wolfe(evaluate, f0, g0, d, initial_step, c1=c1, c2=c2, max_evals=30, tolerance_change=0.0)
    f, g = phi_and_slope(found.step)
    assert found.wolfe and calls[0] == found.evals <= 30
    assert f == found.loss and f <= f0 + c1 * found.step * float(g0)  # sufficient decrease
    assert abs(float(g)) <= c2 * abs(float(g0))  # strong curvature condition


def test_line_search_never_exceeds_its_budget_and_keeps_the_best_point() -> None:
    """A direction along which f keeps decreasing (no Wolfe point within reach): the budget ends the search, and
    the step returned is the best one tried."""
    calls = []

    def evaluate(a: float) -> tuple[float, torch.Tensor]:
        calls.append(a)
        return -a, torch.tensor([-1.0], dtype=torch.float64)

    found = strong_wolfe(evaluate, 0.0, torch.tensor([-1.0]).double(), torch.ones(1).double(), 1.0, max_evals=4)
    assert len(calls) == found.evals == 4 and not found.wolfe
    assert found.step == max(calls) and found.loss == -max(calls)


def test_line_search_treats_non_finite_values_as_too_long_a_step() -> None:
    def evaluate(a: float) -> tuple[float, torch.Tensor]:
        if a > 1.5:
            return math.inf, torch.tensor([math.nan], dtype=torch.float64)
        return (a - 1) ** 2, torch.tensor([2 * (a - 1)], dtype=torch.float64)

    g0 = torch.tensor([-2.0], dtype=torch.float64)
    found = strong_wolfe(evaluate, 1.0, g0, torch.ones(1, dtype=torch.float64), 100.0, max_evals=20)
    assert found.wolfe and math.isfinite(found.loss) and 0 < found.step <= 1.5


def test_line_search_rejects_an_ascent_direction() -> None:
    with pytest.raises(ValueError, match="direction must be a descent direction"):
        strong_wolfe(lambda a: (0.0, torch.ones(1)), 0.0, torch.ones(1), torch.ones(1), 1.0)


# -- with the line search: the minima scipy finds, within max_eval ---------------------------------------------------

SCIPY_PROBLEMS = ["rosenbrock", "beale", "helical_valley", "bard", "kowalik_osborne", "brown_dennis", "osborne_1"]
SCIPY_PROBLEMS += ["watson-n6", "extended_rosenbrock-n10", "penalty_2-n4", "discrete_integral_equation-n10"]


@pytest.mark.parametrize("name", SCIPY_PROBLEMS)
def test_strong_wolfe_reaches_the_minimum_scipy_reaches(name: str) -> None:
    p = mgh.get(name)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        xt = torch.from_numpy(x).requires_grad_()
        f = p(xt)
        f.backward()
        return float(f.detach()), xt.grad.numpy()

    reference = scipy.optimize.minimize(
        fun, np.array(p.x0[0]), jac=True, method="L-BFGS-B", options={"maxcor": 10, "gtol": 1e-9, "ftol": 1e-15}
    )
    x = p.start().requires_grad_()
    opt = ravine.optim.LBFGS(
        [x], max_iter=2000, max_eval=4000, history_size=10, tolerance_grad=1e-9, tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )  # fmt: skip
    opt.step(closure_for(opt, lambda: p(x)))
    f = float(p(x.detach()))
    assert f <= reference.fun + 1e-10 * max(1.0, abs(reference.fun)) + 1e-14, (f, reference.fun)


@pytest.mark.parametrize("max_eval", [2, 3, 5, 8, 13])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_max_eval_bounds_every_closure_call(max_eval: int, line_search_fn: str | None) -> None:
    """pytorch#91581: torch < 2.5 let the line search run 25 evaluations whatever max_eval said."""
    p = mgh.get("rosenbrock")
    x = p.start().requires_grad_()
    opt = ravine.optim.LBFGS([x], lr=1 if line_search_fn else 1e-3, max_iter=100, max_eval=max_eval,
                             line_search_fn=line_search_fn)  # fmt: skip
    counter = [0]
    for step in range(1, 6):
        opt.step(closure_for(opt, lambda: p(x), counter))
        assert counter[0] <= step * max_eval
        assert opt.state[x]["func_evals"] == counter[0]


def test_defaults_are_torchs() -> None:
    x = torch.zeros(2, requires_grad=True)
    ours, theirs = ravine.optim.LBFGS([x]), torch.optim.LBFGS([x])
    assert ours.defaults == theirs.defaults
    # with the line search, torch's max_eval default (max_iter * 5 // 4) would leave no evaluation for it at 1-3
    assert ravine.optim.LBFGS([x], max_iter=1, line_search_fn="strong_wolfe").defaults["max_eval"] == 2
    assert ravine.optim.LBFGS([x], max_iter=20, line_search_fn="strong_wolfe").defaults["max_eval"] == 25


def test_converged_start_costs_one_evaluation_and_does_not_move() -> None:
    x = torch.zeros(3, requires_grad=True)
    opt = ravine.optim.LBFGS([x], line_search_fn="strong_wolfe")
    counter = [0]
    loss = opt.step(closure_for(opt, lambda: (x**2).sum(), counter))
    assert counter[0] == 1 and float(loss.detach()) == 0.0 and torch.equal(x, torch.zeros(3))


@pytest.mark.parametrize("cls", [ravine.optim.LBFGS, torch.optim.LBFGS], ids=["ravine", "torch"])
def test_quadratic_is_solved_to_the_accuracy_float64_allows(cls: type) -> None:
    """A convex quadratic f = 1/2 x'Ax - b'x (n = 12, cond(A) = 52): the minimiser is numpy's solve(A, b).

    A line search that compares values of f can only move while the decrease it looks for exceeds the rounding
    error of f. Computed in float64, f is off by at most delta = n eps (|x'Ax|/2 + |b'x|) (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., eq. 3.5, for any summation order, FMA or not), so the solve ends
    once f(x) - f* <= 2 delta, and for a quadratic f(x) - f* = 1/2 e'Ae with e = x - x*, so
    ||e|| <= sqrt(4 delta / lambda_min(A)). That bound, not one CPU's rounding, is the tolerance: on one x86-64
    CPU the answer was 2e-9 off (relative), on another 1.1e-8, the bound is 2.8e-7; torch.optim.LBFGS stops at
    the same floor. What must not happen is stopping above it, which the first assertion checks.
    """
    gen = torch.Generator().manual_seed(3)
    m = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    a, b = m @ m.T + 0.5 * torch.eye(12, dtype=torch.float64), torch.randn(12, generator=gen, dtype=torch.float64)
    x = torch.zeros(12, dtype=torch.float64, requires_grad=True)
    opt = cls([x], max_iter=200, tolerance_grad=1e-12, tolerance_change=0.0, line_search_fn="strong_wolfe")
    opt.step(closure_for(opt, lambda: 0.5 * x @ a @ x - b @ x))

    A, B, X = a.numpy(), b.numpy(), x.detach().numpy()
    solution = np.linalg.solve(A, B)
    eps, n = np.finfo(np.float64).eps, len(B)
    delta = n * eps * (abs(0.5 * X @ A @ X) + abs(B @ X))
    g = A @ X - B
    excess = 0.5 * g @ np.linalg.solve(A, g)  # f(x) - f*, computed without cancellation
    assert excess <= 2 * delta, f"stopped early: f - f* = {excess:.3g} > 2 delta = {2 * delta:.3g}"
    bound = math.sqrt(4 * delta / np.linalg.eigvalsh(A)[0])
    assert np.linalg.norm(X - solution) <= bound


def test_stalls_at_rounding_noise_without_exhausting_the_budget() -> None:
    """Brown-Dennis (f* = 85822) with tolerance_grad below what float64 can resolve there: once f stops changing
    above rounding noise, the step ends after a handful of evaluations instead of running to max_eval."""
    p = mgh.get("brown_dennis")
    x = p.start().requires_grad_()
    opt = ravine.optim.LBFGS([x], max_iter=1000, max_eval=1000, tolerance_grad=1e-12, tolerance_change=0.0,
                             history_size=10, line_search_fn="strong_wolfe")  # fmt: skip
    opt.step(closure_for(opt, lambda: p(x)))
    assert opt.state[x]["func_evals"] < 60
    assert float(p(x.detach())) == pytest.approx(mgh.get("brown_dennis").f_star, rel=1e-6)


# -- state -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_round_trip_continues_bit_for_bit(line_search_fn: str | None, dtype: torch.dtype) -> None:
    p = mgh.get("osborne_2")
    options = {"lr": 1 if line_search_fn else 0.01, "max_iter": 4, "history_size": 3, "line_search_fn": line_search_fn}
    x = p.start(dtype=dtype).requires_grad_()
    opt = ravine.optim.LBFGS([x], **options)
    for _ in range(3):
        opt.step(closure_for(opt, lambda: p(x)))
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    y = x.detach().clone().requires_grad_()
    resumed = ravine.optim.LBFGS([y], **options)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    for _ in range(3):
        opt.step(closure_for(opt, lambda: p(x)))
        resumed.step(closure_for(resumed, lambda: p(y)))
        assert torch.equal(x, y)
    assert opt.state[x]["n_iter"] == resumed.state[y]["n_iter"]
    assert opt.state[x]["func_evals"] == resumed.state[y]["func_evals"]


def test_state_has_torchs_layout_and_loads_into_torch() -> None:
    """A ravine checkpoint continues in torch.optim.LBFGS exactly as in ravine (fixed step)."""
    p = mgh.get("watson-n6")
    x = p.start().requires_grad_()
    opt = ravine.optim.LBFGS([x], lr=0.02, max_iter=5, history_size=4)
    for _ in range(2):
        opt.step(closure_for(opt, lambda: p(x)))
    keys = {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss", "n_iter", "func_evals"}
    assert set(opt.state_dict()["state"][0]) == keys
    y = x.detach().clone().requires_grad_()
    theirs = torch.optim.LBFGS([y], lr=0.02, max_iter=5, history_size=4)
    theirs.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(2):
        opt.step(closure_for(opt, lambda: p(x)))
        theirs.step(closure_for(theirs, lambda: p(y)))
        assert torch.equal(x, y)


# -- bad input -------------------------------------------------------------------------------------------------------

BAD = [
    ({"lr": -1.0}, r"lr must be in \[0, inf\)"),
    ({"lr": torch.ones(2)}, "Tensor lr must be 1-element"),
    ({"lr": 0.0, "line_search_fn": "strong_wolfe"}, r"lr must be in \(0, inf\), got 0.0"),
    ({"max_iter": 0}, r"max_iter must be an integer in \[1, inf\)"),
    ({"max_iter": 2.5}, "max_iter must be an integer"),
    ({"max_eval": 0}, r"max_eval must be an integer in \[1, inf\)"),
    ({"max_eval": 1, "line_search_fn": "strong_wolfe"}, "max_eval must be >= 2 with line_search_fn"),
    ({"tolerance_grad": -1e-7}, r"tolerance_grad must be in \[0, inf\)"),
    ({"tolerance_change": float("nan")}, "tolerance_change must be a number, got nan"),
    ({"history_size": 0}, r"history_size must be an integer in \[1, inf\)"),
    ({"line_search_fn": "armijo"}, "line_search_fn must be one of None, 'strong_wolfe'; got 'armijo'"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD, ids=[next(iter(k)) for k, _ in BAD])
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ravine.optim.LBFGS([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_parameters_and_closures() -> None:
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS takes one parameter group"):
        ravine.optim.LBFGS([{"params": [a]}, {"params": [b], "lr": 0.1}])
    with pytest.raises(ValueError, match=r"float or complex parameters, got dtype torch\.int64"):
        ravine.optim.LBFGS([torch.zeros(2, dtype=torch.int64)])
    with pytest.raises(ValueError, match=r"LBFGS\.step needs a closure"):
        ravine.optim.LBFGS([a]).step(None)


def test_registry_builds_lbfgs_one_iteration_per_step() -> None:
    p = mgh.get("rosenbrock")
    x = p.start().requires_grad_()
    opt = registry.build("lbfgs", [x])
    assert isinstance(opt, ravine.optim.LBFGS) and registry.entry("lbfgs").default_lr == 1.0
    assert opt.defaults["history_size"] == 10 and opt.defaults["line_search_fn"] == "strong_wolfe"
    for _ in range(60):
        opt.step(closure_for(opt, lambda: p(x)))
    assert opt.state[x]["n_iter"] <= 60 and float(p(x.detach())) < 1e-10
