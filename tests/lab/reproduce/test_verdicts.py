"""The verdicts' tests and margins on numbers worked out by hand, and the choice of alpha."""

from __future__ import annotations

import math

import pytest

from ravine.lab.reproduce import analysis, verdicts
from ravine.lab.reproduce.runner import choose_alpha


@pytest.mark.parametrize(
    "test,values,holds,distance",
    [
        (verdicts.ratio_at_least("a", "b", 1.05), {"a": 0.43, "b": 0.40}, True, 0.43 - 0.42),
        (verdicts.ratio_at_least("a", "b", 1.05), {"a": 0.41, "b": 0.40}, False, 0.41 - 0.42),
        (verdicts.within("a", "b", 0.01), {"a": 0.2510, "b": 0.2500}, True, 0.0025 - 0.0010),
        (verdicts.within("a", "b", 0.01), {"a": 0.2400, "b": 0.2500}, False, 0.0025 - 0.0100),
        (verdicts.worst("a", ("b", "c")), {"a": 0.30, "b": 0.28, "c": 0.29}, True, 0.01),
        (verdicts.best("a", ("b", "c")), {"a": 0.30, "b": 0.28, "c": 0.29}, False, -0.02),
    ],
)
def test_tests_by_hand(test: verdicts.Test, values: dict[str, float], holds: bool, distance: float) -> None:
    got, d = test(values)
    assert got is holds
    assert d == pytest.approx(distance, abs=1e-12)


def _opt(alpha: float, mean: float, sd: float, grid: list[tuple[float, float]]) -> dict:
    stats = {"mean": mean, "sd": sd, "n": 3, "missing": 0}
    return {
        "alpha": alpha,
        "seeds": 3,
        "final": stats,
        "after_epoch_1": stats,
        "grid": [{"alpha": a, "final": f, "after_epoch_1": f, "diverged": False} for a, f in grid],
    }


def test_comparison_margin_in_pooled_sd_and_robustness() -> None:
    grid = [1e-3, 1e-2, 1e-1]
    numbers = {
        "epochs": 10,
        "tune_epochs": 2,
        "optimizers": {
            # Adam 0.250 +- 0.003, SGD-N 0.252 +- 0.004: |diff| = 0.002, tolerance 0.00252, pooled sd sqrt(12.5e-6)
            "adam": _opt(1e-2, 0.250, 0.003, list(zip(grid, [0.30, 0.25, 0.27], strict=True))),
            "nesterov": _opt(1e-1, 0.252, 0.004, list(zip(grid, [0.40, 0.32, 0.252], strict=True))),
        },
    }
    claim = next(c for c in verdicts.COMPARISONS if c.experiment == "mnist-logreg" and "like SGD" in c.claim)
    v = verdicts.judge_comparison(claim, numbers)
    assert v.holds is True
    assert v.margin_sd == pytest.approx((0.00252 - 0.002) / math.sqrt((0.003**2 + 0.004**2) / 2))
    # Neighbours: Adam {1e-3, 1e-2, 1e-1}, SGD-N {1e-2, 1e-1}; |Adam - SGD-N| <= 1 % only for (0.25, 0.252).
    assert v.robust.startswith("1/6 ")
    assert v.measured == "Adam / SGD-N = 0.9921"
    assert v.second_measure is None  # no eval NLL in these numbers: not judged on it


def test_the_second_measure_is_judged_apart() -> None:
    # objective: Adam 0.274 vs SGD-N 0.276 (within 1 %); eval NLL: 0.251 vs 0.257 (2.3 % apart: the test fails)
    numbers = {"epochs": 10, "tune_epochs": 10, "optimizers": {}}
    for name, obj, nll in (("adam", 0.274, 0.251), ("nesterov", 0.276, 0.257)):
        o = _opt(1e-2, obj, 0.001, [(1e-2, obj)])
        o["nll_final"] = {"mean": nll, "sd": 0.001, "n": 3, "missing": 0}
        numbers["optimizers"][name] = o
    claim = next(c for c in verdicts.COMPARISONS if c.experiment == "mnist-logreg" and "like SGD" in c.claim)
    v = verdicts.judge_comparison(claim, numbers)
    assert (v.holds, v.second_measure) == (True, False)
    assert v.row()[-1] == "fails" and v.row()[4] == "holds"


def test_missing_runs_give_no_verdict() -> None:
    numbers = {"epochs": 10, "tune_epochs": 2, "optimizers": {"adam": _opt(1e-3, 0.2, 0.01, [(1e-3, 0.2)])}}
    numbers["optimizers"]["nesterov"] = {**_opt(1e-3, 0.2, 0.01, [(1e-3, 0.2)]), "final": analysis.mean_sd([None])}
    claim = next(c for c in verdicts.COMPARISONS if c.experiment == "mnist-logreg" and "like SGD" in c.claim)
    assert verdicts.judge_comparison(claim, numbers).holds is None


def test_unfinished_seed_runs_give_no_verdict() -> None:
    numbers = {"epochs": 10, "tune_epochs": 2, "seeds": 3, "optimizers": {}}
    numbers["optimizers"]["adam"] = _opt(1e-3, 0.2, 0.01, [(1e-3, 0.2)])
    numbers["optimizers"]["nesterov"] = {**_opt(1e-3, 0.2, 0.01, [(1e-3, 0.2)]), "seeds": 2}
    claim = next(c for c in verdicts.COMPARISONS if c.experiment == "mnist-logreg" and "like SGD" in c.claim)
    v = verdicts.judge_comparison(claim, numbers)
    assert v.holds is None and v.measured == "seed runs not finished"


def _study(off_3e3: list[float | None], off_1e3: list[float | None], on_1e3: list[float | None]) -> dict:
    cells = []
    for b2 in (0.99, 0.999, 0.9999):
        for bc in (True, False):
            for a in (1e-3, 3e-3):
                vals: list[float | None] = [0.3, 0.31]
                if b2 == 0.9999 and not bc:
                    vals = off_3e3 if a == 3e-3 else off_1e3
                elif b2 == 0.9999 and a == 1e-3:
                    vals = on_1e3
                s = analysis.mean_sd(vals)
                cells.append(
                    {
                        "beta2": b2, "bias_correction": bc, "alpha": a, "n": len(vals), "after_epoch_1": s,
                        "final": s, "values_after_epoch_1": vals, "values_final": vals,
                        "collapsed_after_epoch_1": sum(analysis.collapsed(x) for x in vals),
                    }
                )  # fmt: skip
    return {"cells": cells, "beta2s": [0.99, 0.999, 0.9999], "collapse_loss": math.log(10) / 2}


def test_bias_correction_verdicts() -> None:
    st = _study(off_3e3=[2.31, None], off_1e3=[0.6, 0.7], on_1e3=[0.3, 0.31])
    collapse = verdicts.collapse_verdict(st)
    assert collapse.holds is True and collapse.robust.startswith("2/2 ")
    worse = verdicts.worse_verdict(st)
    assert worse.holds is True
    assert worse.margin_sd == pytest.approx((0.65 - 0.305) / math.sqrt((0.5e-2 + 0.5e-4) / 2))
    assert verdicts.trend_verdict(st).holds is True
    # One seed that trains fine at alpha = 3e-3 makes the collapse claim fail, as it should.
    assert verdicts.collapse_verdict(_study([2.31, 0.4], [0.6, 0.7], [0.3, 0.31])).holds is False
    assert verdicts.worse_verdict(_study([2.31, None], [0.3, 0.3], [0.31, 0.32])).holds is False


def _rec(alpha: float, final: float | None, diverged: bool = False) -> dict:
    # the eval NLL ("final") ranks the other way: the choice must read the objective
    nll = None if final is None else 1.0 - final
    return {"run": {"alpha": alpha}, "objective_final": final, "final": nll, "diverged": diverged}


def test_choose_alpha_on_the_training_objective() -> None:
    assert choose_alpha([_rec(1e-3, 0.3), _rec(1e-2, 0.2), _rec(1e-1, 0.1, diverged=True)]) == 1e-2
    assert choose_alpha([_rec(1e-2, 0.2), _rec(1e-3, 0.2)]) == 1e-3  # a tie goes to the smaller alpha
    assert choose_alpha([_rec(1e-1, None, diverged=True)]) is None
