"""Runs: batching is exact, records are what they claim, and gradient descent follows its closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ravine.lab import landscapes as L
from ravine.lab import runs
from ravine.optim import registry

# every registry optimiser that runs batched (Muon takes no landscape), and torch.optim classes with their layouts
BATCHED = [n for n in registry.names() if n not in ("lbfgs", "muon", "sam")] + [
    "torch.SGD",
    "torch.Adam",
    "torch.Adamax",
    "torch.Rprop",
    "torch.Adafactor",
]
LAYOUTS = {
    "sgd": "rows",
    "adam": "rows",
    "lbfgs": "single",
    "torch.Adam": "rows",
    "torch.Adafactor": "leaves",
    "adafactor": "leaves",  # its second moment is factored over a tensor's rows and columns
    "asgd": "rows",
    "rprop": "rows",
    "lion": "rows",
    "schedulefree_adamw": "rows",
    "lamb": "leaves",  # the trust ratio is a norm over each tensor
    "shampoo": "leaves",
    "sam": "single",  # one step evaluates the loss twice, and its norm spans every parameter
}


def same(a: runs.Trajectory, b: runs.Trajectory) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True) for k in ("path", "values", "grad_norms"))


@pytest.mark.parametrize("name", BATCHED)
@pytest.mark.parametrize(("landscape", "noise"), [("rosenbrock", 0.0), ("rosenbrock", 0.3), ("saddle", 0.1)])
def test_batched_runs_equal_runs_alone_bit_for_bit(name: str, landscape: str, noise: float) -> None:
    """One optimiser instance for all (lr, start) pairs gives exactly what one instance per run gives, including
    runs that diverge (lr 0.5 on Rosenbrock) or end early by escaping the saddle."""
    land = L.get(landscape)
    lrs = [1e-3, 1e-2, 0.5]
    # "rows" shares one tensor between runs: only for optimisers that update each element on its own
    probe = registry.build(name, [torch.zeros(land.dim, dtype=torch.float64, requires_grad=True)])
    layouts = ["rows", "leaves"] if runs.layout(probe) == "rows" else ["leaves"]
    batched = [runs.run(land, name, lrs, land.x0, 25, noise=noise, seed=3, force_layout=k) for k in layouts]
    alone = runs.run(land, name, lrs, land.x0, 25, noise=noise, seed=3, force_layout="single")
    for b in batched:
        for i in range(len(lrs)):
            for j in range(len(land.x0)):
                assert same(b.runs[i][j], alone.runs[i][j]), (name, b.layout, lrs[i], j)
                assert b.runs[i][j].evaluations == alone.runs[i][j].evaluations
        assert b.hyperparameters == alone.hyperparameters


def test_muon_is_refused_with_the_reason() -> None:
    """A landscape's point is a vector: Muon (2-D weight matrices only) says so instead of failing deep inside."""
    for name in ("muon", "torch.Muon"):
        with pytest.raises(ValueError, match=r"2-D parameters only.*AdamW"):
            runs.run(L.rosenbrock(), name, [0.01], L.rosenbrock().x0, 5)


def test_runs_end_at_divergence_and_at_an_escape() -> None:
    """After the end entries are NaN: SGD at lr 0.5 on Rosenbrock overflows; on the saddle SGD escapes."""
    land = L.rosenbrock()
    t = runs.run(land, "sgd", [0.5], land.x0[:1], 40).runs[0][0]
    end = int(np.flatnonzero(~np.isfinite(t.values))[0])
    assert np.all(np.isnan(t.values[end + 1 :])) and t.evaluations == end + 1 and end < 40
    sad = L.saddle()
    t = runs.run(sad, "sgd", [0.2], sad.x0[:1], 60).runs[0][0]
    escape = int(np.flatnonzero(sad.escaped(t.values, t.path))[0])
    assert np.all(np.isnan(t.path[escape + 1 :])) and np.all(np.isfinite(t.path[: escape + 1]))


@pytest.mark.parametrize(("name", "expected"), sorted(LAYOUTS.items()))
def test_layout_follows_how_the_optimiser_couples_parameters(name: str, expected: str) -> None:
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    assert runs.layout(registry.build(name, [p])) == expected


def test_lbfgs_stops_early_only_where_the_rest_is_a_repetition() -> None:
    """Skipping the steps of an L-BFGS run at rest changes no bit of the record, evaluation count included."""
    for land in (L.rosenbrock(), L.himmelblau(), L.beale()):
        x0 = torch.tensor([list(s) for s in land.x0], dtype=torch.float64)
        fast, _ = runs._run_single(land, "lbfgs", [0.1, 1.0], x0, 300, 0.0, 0, {}, True)
        full, _ = runs._run_single(land, "lbfgs", [0.1, 1.0], x0, 300, 0.0, 0, {}, False)
        for rf, rs in zip(fast, full, strict=True):
            for a, b in zip(rf, rs, strict=True):
                assert same(a, b) and a.evaluations == b.evaluations


def test_records_are_f_and_gradient_norm_at_each_point() -> None:
    land = L.himmelblau()
    t = runs.run(land, "adam", [0.1], land.x0, 40).runs[0][1]
    pts = torch.tensor(t.path)
    np.testing.assert_array_equal(t.values, land.values(pts).numpy())
    norms = [float(torch.linalg.vector_norm(torch.func.grad(land.f)(p))) for p in pts]
    np.testing.assert_allclose(t.grad_norms, norms, rtol=1e-15, atol=0)
    assert t.path[0].tolist() == list(land.x0[1]) and t.steps == 40 and t.evaluations == 41


@pytest.mark.parametrize("lr", [0.1, 0.5, 1.3])
def test_gradient_descent_on_the_bowl_is_the_geometric_sequence(lr: float) -> None:
    """On 1/2 ||x||^2, x_t = (1 - lr)^t x_0 (Nesterov 2018, 2.1.5)."""
    land = L.bowl()
    t = runs.run(land, "sgd", [lr], land.x0[:1], 30).runs[0][0]
    expected = np.outer((1 - lr) ** np.arange(31), land.x0[0])
    np.testing.assert_allclose(t.path, expected, rtol=1e-12, atol=1e-300)


def test_gradient_descent_and_heavy_ball_on_the_ravine_follow_their_linear_recurrences() -> None:
    """On 1/2 x^T A x: GD is x_{t+1} = (I - lr A) x_t; torch's momentum SGD is Polyak's heavy ball
    x_{t+1} = x_t - lr A x_t + beta (x_t - x_{t-1}) (Polyak 1964)."""
    land = L.ravine()
    a = L.quadratic.ravine_matrix(100.0, 2, 30.0).numpy()
    x0 = np.asarray(land.x0[0])
    lr, beta = 0.015, 0.9
    gd = runs.run(land, "sgd", [lr], [x0], 60).runs[0][0]
    hb = runs.run(land, "momentum", [lr], [x0], 60).runs[0][0]
    x, prev, y = x0.copy(), x0.copy(), x0.copy()
    for t in range(60):
        np.testing.assert_allclose(gd.path[t], x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hb.path[t], y, rtol=1e-10, atol=1e-12)
        x = x - lr * a @ x
        y, prev = y - lr * a @ y + beta * (y - prev), y


def test_noise_is_seeded_and_common_to_every_learning_rate() -> None:
    """SGD on the bowl with noise: x_{t+1} = x_t - lr (x_t + sigma xi_t); recovering xi_t from two learning
    rates gives the same draws (common random numbers), and the seed fixes them."""
    land, sigma = L.bowl(), 0.2
    b = runs.run(land, "sgd", [0.05, 0.3], land.x0, 20, noise=sigma, seed=7)
    again = runs.run(land, "sgd", [0.05, 0.3], land.x0, 20, noise=sigma, seed=7)
    other = runs.run(land, "sgd", [0.05, 0.3], land.x0, 20, noise=sigma, seed=8)
    xis = []
    for i, lr in enumerate(b.lrs):
        p = b.runs[i][0].path
        xis.append(((p[:-1] - p[1:]) / lr - p[:-1]) / sigma)
        assert same(b.runs[i][0], again.runs[i][0]) and not same(b.runs[i][0], other.runs[i][0])
    np.testing.assert_allclose(xis[0], xis[1], rtol=1e-6, atol=1e-8)
    assert abs(xis[0].mean()) < 0.5 and 0.5 < xis[0].std() < 1.5  # standard normal draws


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"steps": 0}, "steps must be > 0"), ({"lrs": [0.1, -1.0]}, "learning rates must be > 0"),
     ({"noise": -0.1}, "noise must be >= 0"), ({"starts": [(9.0, 0.0)]}, "outside the domain of bowl"),
     ({"overrides": {"betaz": 1}}, "has no hyperparameter 'betaz'"), ({"overrides": {"lr": 1}}, "--lr"),
     ({"optimizer": "nope"}, "unknown optimizer 'nope'"), ({"force_layout": "x"}, "force_layout")],
)  # fmt: skip
def test_bad_arguments_raise_value_errors(kwargs: dict, message: str) -> None:
    args = {"optimizer": "adam", "lrs": [0.1], "starts": [(1.0, 1.0)], "steps": 5} | kwargs
    with pytest.raises(ValueError, match=message):
        runs.run(L.bowl(), args.pop("optimizer"), args.pop("lrs"), args.pop("starts"), args.pop("steps"), **args)


def test_a_run_is_reproducible_bit_for_bit() -> None:
    land = L.rastrigin()
    a = runs.run(land, "nadam", [0.3], land.x0, 50, noise=0.5, seed=1)
    b = runs.run(land, "nadam", [0.3], land.x0, 50, noise=0.5, seed=1)
    assert all(same(x, y) for x, y in zip(a.runs[0], b.runs[0], strict=True))
