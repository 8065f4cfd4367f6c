"""From finished runs to the numbers the verdicts and figures read: per optimiser the chosen alpha, the tuning grid
and the seeds' mean and standard deviation (sample sd, n - 1) of the training cost; per setting of the
bias-correction study the cost after the first epoch and at the end.

The comparisons' ``final`` and ``after_epoch_1`` are the training objective (the mean minibatch cost of the last,
and of the first, epoch: what the optimisers minimise and a training loop logs), their ``curve`` the objective
between evaluation points; ``nll_final`` and ``nll_after_epoch_1`` are the second measure, the eval-mode
negative log-likelihood of the evaluation sample (no dropout, no L2), reported beside it. The study is read on
the eval-mode cost: a collapse is the state of the network at the end of an epoch, not an average over it.

Everything here is a plain dict of JSON-able values (it is written to results.json as it is).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from ravine.lab.reproduce import paper
from ravine.lab.reproduce.runner import Plan, choose_alpha


def mean_sd(values: list[float | None]) -> dict[str, Any]:
    """``{"mean", "sd", "n", "missing"}`` of the finite values (None counts as missing: a diverged run)."""
    ok = [float(v) for v in values if v is not None and math.isfinite(v)]
    return {
        "mean": statistics.fmean(ok) if ok else None,
        "sd": statistics.stdev(ok) if len(ok) > 1 else None,
        "n": len(ok),
        "missing": len(values) - len(ok),
    }


def _curve(records: list[dict[str, Any]], series: str = "batch_loss") -> dict[str, list]:
    """Mean and sd of ``series`` at each evaluation point the runs share (the points of the longest run); the
    objective has no value at step 0 (no minibatch has been seen)."""
    longest = max(records, key=lambda r: len(r["curve"]["epoch"]))["curve"]
    out: dict[str, list] = {"epoch": list(longest["epoch"]), "step": list(longest["step"]), "mean": [], "sd": []}
    for i in range(len(longest["epoch"])):
        s = mean_sd([r["curve"][series][i] if i < len(r["curve"][series]) else None for r in records])
        out["mean"].append(s["mean"])
        out["sd"].append(s["sd"])
    return out


def comparison(plan: Plan, exp: paper.Experiment) -> dict[str, Any]:
    """The numbers of one comparison experiment (the part of it that has run)."""
    log = plan.log.records
    planned = plan.tuning(exp)
    coarse = len(plan.settings.grid())
    optimizers: dict[str, Any] = {}
    for o in exp.optimizers:
        mine = [r for r in planned if r.optimizer == o]
        grid = [log[r.key()] for r in mine if r.key() in log]
        # tuned: the grid and its refinement have run (no refinement when every rate of the grid diverged)
        tuned = len(grid) == len(mine) and (len(mine) > coarse or choose_alpha(grid) is None)
        alpha = choose_alpha(grid) if tuned else None
        seeds = (
            [] if alpha is None else [log[r.key()] for r in plan.settings.seed_runs(exp, o, alpha) if r.key() in log]
        )
        optimizers[o] = {
            "legend": paper.LEGEND[o],
            "tuned": tuned,
            "alpha": alpha,
            "alpha_at_edge": alpha is not None and not min(plan.settings.grid()) < alpha < max(plan.settings.grid()),
            "grid": [
                {
                    "alpha": r["run"]["alpha"],
                    "final": r["objective_final"],
                    "after_epoch_1": r["objective_after_epoch_1"],
                    "nll_final": r["final"],
                    "nll_after_epoch_1": r["after_epoch_1"],
                    "refined": r["run"]["alpha"] not in plan.settings.grid(),
                    "diverged": r["diverged"],
                }
                for r in sorted(grid, key=lambda r: r["run"]["alpha"])
            ],
            "seeds": len(seeds),
            "final": mean_sd([r["objective_final"] for r in seeds]),
            "after_epoch_1": mean_sd([r["objective_after_epoch_1"] for r in seeds]),
            "nll_final": mean_sd([r["final"] for r in seeds]),
            "nll_after_epoch_1": mean_sd([r["after_epoch_1"] for r in seeds]),
            "curve": _curve(seeds) if seeds else None,
            "nll_curve": _curve(seeds, "train_loss") if seeds else None,
            "wall_s": sum(r["wall_s"] for r in grid + seeds),
        }
    return {
        "name": exp.name,
        "title": exp.title,
        "figure": exp.figure,
        "source": exp.source,
        "epochs": plan.settings.horizon(exp),
        "paper_epochs": exp.paper_epochs,
        "tune_epochs": plan.settings.tune_horizon(exp),
        "seeds": plan.settings.seeds,
        "subset": plan.settings.subset(exp),
        "measure": "training objective: mean minibatch cost of the epoch (L2 term and dropout included)",
        "second_measure": "eval-mode negative log-likelihood of the evaluation sample (no dropout, no L2)",
        "l2": exp.l2,
        "anneal": exp.anneal,
        "log_y": exp.log_y,
        "optimizers": optimizers,
        "complete": all(v["seeds"] == plan.settings.seeds for v in optimizers.values()),
    }


def collapsed(loss: float | None) -> bool:
    """A diverged run (no cost) or a cost no better than :data:`paper.COLLAPSE_LOSS`."""
    return loss is None or not math.isfinite(loss) or loss >= paper.COLLAPSE_LOSS


def study(plan: Plan) -> dict[str, Any]:
    """The bias-correction study's numbers: one cell per (beta2, correction, alpha)."""
    log = plan.log.records
    runs = [r for r in plan.settings.study_runs(plan.study) if r.key() in log]
    cells = []
    for b2 in plan.study.beta2s:
        for bc in (True, False):
            for a in plan.settings.study_alphas():
                recs = [log[r.key()] for r in runs if (r.beta2, r.bias_correction, r.alpha) == (b2, bc, a)]
                cells.append(
                    {
                        "beta2": b2,
                        "bias_correction": bc,
                        "alpha": a,
                        "n": len(recs),
                        "after_epoch_1": mean_sd([r["after_epoch_1"] for r in recs]),
                        "final": mean_sd([r["final"] for r in recs]),
                        "collapsed_after_epoch_1": sum(collapsed(r["after_epoch_1"]) for r in recs),
                        "collapsed_final": sum(collapsed(r["final"]) for r in recs),
                        "values_after_epoch_1": [r["after_epoch_1"] for r in recs],
                        "values_final": [r["final"] for r in recs],
                    }
                )
    return {
        "name": plan.study.name,
        "title": plan.study.title,
        "figure": plan.study.figure,
        "source": plan.study.source,
        "beta1": plan.study.beta1,
        "beta2s": list(plan.study.beta2s),
        "alphas": list(plan.settings.study_alphas()),
        "epochs": plan.settings.horizon(plan.study),
        "paper_epochs": plan.study.paper_epochs,
        "subset": plan.settings.subset(plan.study),
        "seeds": plan.settings.study_seeds,
        "collapse_loss": paper.COLLAPSE_LOSS,
        "cells": cells,
        "complete": all(c["n"] == plan.settings.study_seeds for c in cells),
    }


def cell(study_numbers: dict[str, Any], beta2: float, bias_correction: bool, alpha: float) -> dict[str, Any] | None:
    """The study's cell for one setting, or None when that setting is not in the study."""
    for c in study_numbers["cells"]:
        if (c["beta2"], c["bias_correction"]) == (beta2, bias_correction) and math.isclose(c["alpha"], alpha):
            return c
    return None
