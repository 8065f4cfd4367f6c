"""Does the calibrated suggestion follow the batch size as the grid does? Development tasks only.

The calibrated rule sees the batch size only through the budget: at a fixed number of epochs, ``T = epochs x
ceil(n / B)``, so its ``sqrt(1000 / T)`` grows as ``sqrt(B)``, and the sweep's own anchor (the half-descent rate)
may move with the noise of ``B``-example batches too. Theory offers two other exponents at fixed epochs: a
linear rule (``lr ~ B`` while the gradient noise dominates; Goyal et al. 2017, Smith & Le 2018) and none at all
(the deterministic regime). This script measures which one the grid follows, on development tasks only (the
held-out cases of ``benchmarks/lr_finder.py`` are not read), so that a batch-size correction -- if one is
needed -- is chosen without them.

Per task, batch size and optimiser: the lab's grid protocol on a quarter-decade grid (17 rates from 1e-4 to 1,
tuning seed 0, the winner rerun with seed 1) and three range tests (sweep seeds 0-2) at the protocol's budget;
printed: the grid's rate, the half-descent rate, the edge and the calibrated suggestion (geometric mean over the
sweep seeds), their ratios, and the slope d log(lr) / d log(B) of each between the smallest and largest batch.

Run:  PYTHONPATH=src RAVINE_DATA=../shared/data nice -n 10 python benchmarks/lr_finder_batch.py
      [--out ravine-out/lr_finder_batch] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import _lr_finder_select as select
from ravine.lab.tasks import TASKS, Protocol, RunStore, compare
from ravine.lr_finder import lab as finder_lab

GRID = tuple(10 ** (-4 + k / 4) for k in range(17))  # a quarter decade: the default grid's half decade is 3.2x
SWEEP_SEEDS = 3
# (name, task, epochs, subset): development tasks of benchmarks/lr_finder.py at a budget where the smallest
# batch's runs stay short on a shared CPU
SETTINGS: tuple[tuple[str, str, int | None, int | None], ...] = (
    ("mnist-logreg-1ep", "mnist-logreg", 1, None),
    ("quadratic-deep", "quadratic-deep", None, None),
)
BATCHES = (32, 128, 512)
OPTIMIZERS = ("nesterov", "adam")


def geomean(xs: list[float]) -> float:
    return math.exp(sum(map(math.log, xs)) / len(xs))


def measure(name: str, task_name: str, epochs: int | None, subset: int | None, out: Path) -> list[dict[str, Any]]:
    task = TASKS[task_name]
    data = task.load(None).subset(subset)
    rows = []
    for batch in BATCHES:
        kw: dict[str, Any] = {"epochs": epochs, "batch_size": batch, "subset": subset, "defaults": False}
        grid = Protocol(OPTIMIZERS, lr_grid=GRID, seeds=1, **kw)
        res = compare(task, grid, RunStore(out / f"{name}-b{batch}.jsonl"), workers=1)
        tuned = {r["optimizer"]: r["chosen_lr"] for r in res["summary"]}
        find = Protocol(OPTIMIZERS, seeds=1, tuning="find", **kw).resolve(task)
        store = finder_lab.SweepStore(out / f"{name}-b{batch}-sweeps.jsonl")
        for opt in OPTIMIZERS:
            spec = finder_lab.protocol_spec(task, find, opt, len(data.train))
            found = [finder_lab.cached_sweep(task, data, replace(spec, seed=s), store)[0] for s in range(SWEEP_SEEDS)]
            feats = [select.features(r) for r in found]
            rows.append({
                "case": name, "batch": batch, "optimizer": opt, "budget": spec.sweep.budget, "tuned": tuned[opt],
                "half_descent": geomean([f["half-descent"] for f in feats]),
                "edge": geomean([f["edge"] for f in feats]),
                "calibrated": geomean([r.suggestions["calibrated"].lr for r in found if "calibrated" in r.suggestions]),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    lines = ["| case | optimizer | batch | steps | grid lr | half-descent | edge | calibrated | calibrated / grid |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['case']} | {r['optimizer']} | {r['batch']} | {r['budget']} | {r['tuned']:.3g} | "
                     f"{r['half_descent']:.3g} | {r['edge']:.3g} | {r['calibrated']:.3g} | "
                     f"{r['calibrated'] / r['tuned']:.2f} |")  # fmt: skip
    lines += ["", "slope d log(lr) / d log(B), smallest to largest batch:", ""]
    lines += ["| case | optimizer | grid | half-descent | calibrated |", "|---|---|---|---|---|"]
    for case in dict.fromkeys(r["case"] for r in rows):
        for opt in OPTIMIZERS:
            sel = sorted((r for r in rows if r["case"] == case and r["optimizer"] == opt), key=lambda r: r["batch"])
            lo, hi = sel[0], sel[-1]
            span = math.log(hi["batch"] / lo["batch"])
            slope = {k: math.log(hi[k] / lo[k]) / span for k in ("tuned", "half_descent", "calibrated")}
            lines.append(f"| {case} | {opt} | {slope['tuned']:.2f} | {slope['half_descent']:.2f} | "
                         f"{slope['calibrated']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("ravine-out/lr_finder_batch"))
    ap.add_argument("--json", type=Path, help="write every row as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [row for s in SETTINGS for row in measure(*s, args.out)]
    print()
    print(report(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
