"""Outcomes and the tuning criterion, on trajectories whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ravine.lab import landscapes as L
from ravine.lab import tuning
from ravine.lab.outcomes import EFFECTS, judge
from ravine.lab.runs import Trajectory


def traj(land: L.Landscape, points: list) -> Trajectory:
    """A trajectory through ``points`` with the landscape's true values (gradient norms unused here)."""
    import torch

    p = np.asarray(points, dtype=float)
    with np.errstate(invalid="ignore"):
        v = land.values(torch.tensor(p)).numpy()
    return Trajectory(p, v, np.zeros(len(p)), len(p))


BOWL = L.bowl()


def geometric(factor: float, n: int = 40, x0=(1.5, 1.0)) -> list:
    return [tuple(factor**t * np.asarray(x0)) for t in range(n + 1)]


@pytest.mark.parametrize(
    ("factor", "effect", "reached", "diverged"),
    [(0.99, "too small", False, False),  # 1/2 |x|^2 = 1.6 * 0.98^40 > 1e-6
     (0.5, "right", True, False),
     (-0.5, "oscillating", True, False),  # overshoots: every step turns back, and still converges
     (-1.0, "oscillating", False, False),  # bounces forever between two points
     (1.5, "diverging", False, True)],  # 1.5^40 |x0| is far beyond 10 box widths
)  # fmt: skip
def test_learning_rate_effects_are_read_from_the_path(factor, effect, reached, diverged) -> None:
    o = judge(BOWL, traj(BOWL, geometric(factor)))
    assert (o.effect, o.reached, o.diverged) == (effect, reached, diverged)
    assert o.effect in EFFECTS


def test_target_is_reached_where_it_holds_to_the_end() -> None:
    pts = [*geometric(0.5, 20), (0.5, 0.5), *geometric(0.5, 25, (0.5, 0.5))[1:]]  # gets there, leaves, returns
    o = judge(BOWL, traj(BOWL, pts))
    below = [i for i, p in enumerate(pts) if 0.5 * np.dot(p, p) <= 1e-6]
    assert o.steps_to_target == next(i for i in below if all(j in below for j in range(i, len(pts))))
    assert o.steps_to_target > 21


def test_non_finite_values_and_far_points_are_divergence() -> None:
    assert judge(BOWL, traj(BOWL, [(1.0, 1.0), (math.nan, 0.0)])).diverged
    assert judge(BOWL, traj(BOWL, [(1.0, 1.0), (0.0, -43.0)])).diverged  # box [-2, 2]: 10 widths end at +-42
    near = judge(BOWL, traj(BOWL, [(1.0, 1.0), (41.0, 0.0)]))
    assert not near.diverged and near.final_value == pytest.approx(0.5 * 41**2)


def test_which_minimum_was_reached() -> None:
    land = L.himmelblau()
    for m in land.minimizers:
        o = judge(land, traj(land, [(0.0, 0.0), tuple(np.asarray(m) + 1e-3)]))
        assert o.minimum == f"global minimum ({m[0]:.3g}, {m[1]:.3g})" and o.distance == pytest.approx(math.sqrt(2e-6))
    o = judge(land, traj(land, [(0.0, 0.0), (1.0, 1.0)]))
    assert o.minimum is None and o.effect == "too small"
    camel = L.six_hump_camel()
    v, p = camel.local_minima[0]
    o = judge(camel, traj(camel, [(0.0, 0.0), p]))
    assert o.minimum.startswith("local minimum") and o.effect == "stuck" and o.gap == pytest.approx(v - camel.f_star)


def test_saddle_runs_are_judged_until_they_escape_inside_the_box() -> None:
    land = L.saddle()
    stall = judge(land, traj(land, [(1.5 * 0.8**t, 0.0) for t in range(60)]))
    assert not stall.reached and stall.minimum == "saddle (0, 0)" and stall.effect == "stuck" and stall.gap is None
    escape = [(1.5 * 0.8**t, 0.05 * 1.2**t) for t in range(60)]  # f <= -1 first at the step where 1.2^t y0 ~ 1
    o = judge(land, traj(land, escape))
    first = next(t for t, (x, y) in enumerate(escape) if x * x - y * y <= -1)
    assert (o.steps_to_target, o.judged_steps, o.diverged, o.reached) == (first, first, False, True)
    jump = judge(land, traj(land, [(1.5, 0.05), (0.0, 30.0)] + [(0.0, 30.0 * 3**t) for t in range(1, 40)]))
    assert not jump.reached and jump.diverged  # f <= -1 only far outside the box: no escape


def test_scores_order_by_the_stated_criterion() -> None:
    def outcome(steps, diverged=False, final=0.0):
        land = BOWL
        pts = geometric(0.5, 30) if steps is not None else geometric(0.999, 30)
        o = judge(land, traj(land, pts))
        return o.__class__(**{**o.__dict__, "steps_to_target": steps, "diverged": diverged,
                              "final_value": None if diverged else final})  # fmt: skip

    lrs = [0.1, 0.2, 0.3, 0.4, 0.5]
    scores = [
        tuning.score([outcome(10), outcome(None, final=0.1)]),  # 1 reached
        tuning.score([outcome(30), outcome(20)]),  # 2 reached, 50 steps
        tuning.score([outcome(15), outcome(15)]),  # 2 reached, 30 steps  <- best
        tuning.score([outcome(15), outcome(15)]),  # tie: the smaller lr (0.3) wins
        tuning.score([outcome(None, diverged=True), outcome(5)]),
    ]
    assert tuning.choose(lrs, scores) == 2
    assert scores[4].diverged == 1 and scores[4].mean_final == math.inf
    assert (
        tuning.choose([1.0, 2.0], [tuning.score([outcome(None, final=0.5)]), tuning.score([outcome(None, final=0.2)])])
        == 1
    )


def test_log_grid_is_1_2_5_per_decade() -> None:
    assert tuning.DEFAULT_GRID == (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
    g = tuning.log_grid(1e-3, 1.0, 4)
    assert len(g) == 13 and g[0] == 1e-3 and g[-1] == 1.0
    np.testing.assert_allclose(np.diff(np.log10(g)), 0.25, atol=1e-6)
    with pytest.raises(ValueError, match="0 < low <= high"):
        tuning.log_grid(1.0, 0.1)
