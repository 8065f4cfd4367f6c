"""From run records to the comparison's summary: chosen rate, mean and spread over seeds, speed, ranking.

Spread is the sample standard deviation (``ddof=1``; None for a single run) and the min-max range; curves are
averaged point by point over the seeds that reached that point. Plots and tables read these numbers as they are.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ravine.lab.tasks.base import Task
from ravine.lab.tasks.protocol import Protocol, choose_lr, default_lr
from ravine.lab.tasks.train import METRICS

Record = dict[str, Any]


def stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """``mean``, ``sd`` (ddof=1), ``min``, ``max`` and ``n`` over the values that are not None."""
    v = [float(x) for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    return {
        "mean": statistics.fmean(v),
        "sd": statistics.stdev(v) if len(v) > 1 else None,
        "min": min(v),
        "max": max(v),
        "n": len(v),
    }


def curve_band(records: Sequence[Record], metric: str) -> dict[str, list[float | None]]:
    """Point-by-point mean, min and max of ``metric`` over ``records`` (runs that stopped early drop out)."""
    longest = max((len(r["curve"]["step"]) for r in records), default=0)
    out: dict[str, list[float | None]] = {"mean": [], "min": [], "max": []}
    for i in range(longest):
        s = stats([r["curve"][metric][i] for r in records if i < len(r["curve"][metric])])
        for k in out:
            out[k].append(s[k])  # type: ignore[arg-type]
    return out


def aggregate(records: Sequence[Record], lr: float) -> dict[str, Any] | None:
    """The seeds' summary at one learning rate, or None if there are no runs."""
    if not records:
        return None
    longest = max(records, key=lambda r: len(r["curve"]["step"]))
    reached = [r for r in records if r["target"]["reached_step"] is not None]
    findings = [r["findings"] for r in records]
    return {
        "lr": lr,
        "seeds": [r["spec"]["seed"] for r in records],
        "n": len(records),
        "diverged": sum(bool(r["diverged"]) for r in records),
        "final": {m: stats([r["final"][m] for r in records]) for m in METRICS},
        "target": {
            "reached": len(reached),
            "of": len(records),
            "steps": stats([r["target"]["reached_step"] for r in reached]),
            "seconds": stats([r["target"]["reached_s"] for r in reached]),
        },
        "wall_s": stats([r["wall_s"] for r in records]),
        "train_s": stats([r["train_s"] for r in records]),
        "curve": {
            "step": list(longest["curve"]["step"]),
            "epoch": list(longest["curve"]["epoch"]),
            **{m: curve_band(records, m) for m in (*METRICS, "batch_loss")},
        },
        "findings": None
        if any(f is None for f in findings)
        else [{"seed": r["spec"]["seed"], **f} for r in records for f in r["findings"]],
    }


def summarize(
    task: Task, protocol: Protocol, runs: dict[str, Record], chosen: Mapping[str, float | None] | None = None
) -> list[dict[str, Any]]:
    """Per optimiser, ranked best first: the grid, the chosen rate, and the tuned and default aggregates.

    Args:
        task: the task.
        protocol: the resolved protocol.
        runs: finished records by key (the run store's contents; records of other protocols are ignored).
        chosen: rates chosen otherwise than by the grid (``tuning="find"``: the range tests' suggestions).
    """
    rows = []
    for opt in protocol.optimizers:
        grid = [runs[s.key()] for s in protocol.grid_runs(task, opt) if s.key() in runs]
        lr = chosen.get(opt) if chosen is not None else choose_lr(task, grid)
        tuned = [] if lr is None else [runs[s.key()] for s in protocol.seed_runs(task, opt, lr) if s.key() in runs]
        dflt = [runs[s.key()] for s in protocol.default_runs(task, opt) if s.key() in runs]
        rows.append(
            {
                "optimizer": opt,
                "chosen_lr": lr,
                # A best rate at the end of the grid may not be the best rate at all: widen the grid.
                "chosen_at_edge": lr is not None
                and len(grid) > 1
                and lr in (min(protocol.lr_grid), max(protocol.lr_grid)),
                "default_lr": default_lr(opt),
                "grid": [
                    {
                        "lr": r["spec"]["lr"],
                        "select": r["final"].get(task.select_metric),
                        "diverged": r["diverged"],
                        "final": r["final"],
                    }
                    for r in grid
                ],
                "tuned": aggregate(tuned, lr) if lr is not None else None,
                "default": aggregate(dflt, default_lr(opt)) if protocol.defaults else None,
            }
        )
    return rank(task, rows)


def rank(task: Task, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by the tuned runs' mean test metric (accuracy up, loss down); optimisers with no result go last."""
    sign = -1.0 if task.rank_metric == "test_acc" else 1.0

    def key(row: dict[str, Any]) -> tuple[int, float]:
        mean = (row["tuned"] or {}).get("final", {}).get(task.rank_metric, {}).get("mean")
        return (1, 0.0) if mean is None else (0, sign * mean)

    ranked = sorted(rows, key=key)
    for i, row in enumerate(ranked, 1):
        row["rank"] = i
    return ranked
