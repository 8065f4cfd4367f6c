"""From finished runs to the numbers the verdicts and figures read: per optimiser the chosen alpha, the tuning grid
and the seeds' mean and standard deviation (sample sd, n - 1) of the training cost at every evaluation point; per
setting of the bias-correction study the cost after the first epoch and at the end.

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


def _curve(records: list[dict[str, Any]]) -> dict[str, list]:
    """Mean and sd at each evaluation point the runs share (the points of the longest run)."""
    longest = max(records, key=lambda r: len(r["curve"]["epoch"]))["curve"]
    out: dict[str, list] = {"epoch": list(longest["epoch"]), "step": list(longest["step"]), "mean": [], "sd": []}
    for i in range(len(longest["epoch"])):
        s = mean_sd([r["curve"]["train_loss"][i] if i < len(r["curve"]["train_loss"]) else None for r in records])
        out["mean"].append(s["mean"])
        out["sd"].append(s["sd"])
    return out


def comparison(plan: Plan, exp: paper.Experiment) -> dict[str, Any]:
    """The numbers of one comparison experiment (the part of it that has run)."""
    log = plan.log.records
    tuning = [r for r in plan.tuning(exp) if r.key() in log]
    optimizers: dict[str, Any] = {}
    for o in exp.optimizers:
        grid = [log[r.key()] for r in tuning if r.optimizer == o]
        tuned = len(grid) == len(plan.settings.grid())
        alpha = choose_alpha(grid) if tuned else None
        seeds = (
            [] if alpha is None else [log[r.key()] for r in plan.settings.seed_runs(exp, o, alpha) if r.key() in log]
        )
        optimizers[o] = {
            "legend": paper.LEGEND[o],
            "tuned": tuned,
            "alpha": alpha,
            "alpha_at_edge": alpha is not None and alpha in (min(plan.settings.grid()), max(plan.settings.grid())),
            "grid": [
                {
                    "alpha": r["run"]["alpha"],
                    "final": r["final"],
                    "after_epoch_1": r["after_epoch_1"],
                    "diverged": r["diverged"],
                }
                for r in sorted(grid, key=lambda r: r["run"]["alpha"])
            ],
            "seeds": len(seeds),
            "final": mean_sd([r["final"] for r in seeds]),
            "after_epoch_1": mean_sd([r["after_epoch_1"] for r in seeds]),
            "curve": _curve(seeds) if seeds else None,
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
