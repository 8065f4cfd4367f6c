"""The LR range test against the grid-tuned protocol, per task and optimiser, on development and held-out cases.

For every case (a task at a stated budget) and optimiser this runs

1. the lab's grid protocol (:mod:`ravine.lab.tasks.protocol`: 9 rates from 1e-4 to 1, tuning seed 0, the winner
   rerun with seeds 1-3) through the lab's runner and its run store (interrupt and rerun to resume);
2. the range test (:mod:`ravine.lr_finder.lab`: the tuning seed's model and batches, default sweep settings),
   cached in the case's ``lr_finder.jsonl``, and ``--sweep-seeds`` more sweeps to show how much it varies;
3. the protocol with ``tuning="find"``: seeds 1-3 at the default rule's suggestion (the same runner and store);
4. torch-lr-finder on the same model, batches and objective with the same settings (start, end, steps, exp,
   its smoothing ``smooth_f = 1 - 0.98``, ``diverge_th = 4``), and its suggestion (steepest slope of its curve,
   ``skip_start=10, skip_end=5``, its ``plot(suggest_lr=True)``);

and reports per pair the ratio suggested / grid-tuned rate and the final test metric at the suggested rate
against the tuned one (mean ± sd over seeds 1-3).

Held-out discipline: the default rule and its constants are chosen by ``benchmarks/_lr_finder_select.py`` on
the DEV cases only (``--select`` prints that choice); the README quotes the HELD-OUT cases, which differ from the
development ones in data, architecture, budget and optimiser.

Run:  PYTHONPATH=src RAVINE_DATA=../shared/data nice -n 10 python benchmarks/lr_finder.py
      [--split dev|held-out|all] [--cases NAME ...] [--select] [--workers 2] [--sweep-seeds 4]
      [--out ravine-out/lr_finder_benchmark] [--json FILE] [--figure FILE]
      python benchmarks/lr_finder.py --rescore FILE   (no training: re-select from a --json file's stored curves)

The stores (``--out``) are not committed; the ``--json`` rows carry every sweep's curve with the grid's tuned
rate, so a candidate rule can be re-scored on them (``--rescore``) without rerunning the grid.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import _lr_finder_select as select
from _lr_finder_tasks import HELD_OUT_TASKS
from ravine.lab.tasks import TASKS, Protocol, RunStore, Task, compare, results
from ravine.lab.tasks.base import l2_penalty
from ravine.lab.tasks.train import stream_seed, torch_threads
from ravine.lr_finder import Sweep, suggest
from ravine.lr_finder import lab as finder_lab
from ravine.lr_finder.result import LRFinderResult
from ravine.optim import registry

DEFAULTS = ("nesterov", "adagrad", "rmsprop", "adam")
JUDGED = ("nesterov", "momentum", "adam")  # SGD-momentum and Adam: what the issue judges


@dataclass(frozen=True)
class Case:
    """A task at a budget, the optimisers run on it, and which side of the split it is on."""

    name: str
    task: str
    split: str  # "dev" or "held-out"
    optimizers: tuple[str, ...] = DEFAULTS
    epochs: int | None = None
    subset: int | None = None
    evals: int | None = None  # fewer evaluation points (cheaper; training and final metrics are unchanged)
    batch_size: int | None = None
    why: str = ""

    def get_task(self) -> Task:
        task = TASKS[self.task] if self.task in TASKS else HELD_OUT_TASKS[self.task]
        if self.evals is not None and self.evals != task.evals:
            task = replace(task, name=f"{task.name}-e{self.evals}", evals=self.evals)
        return task

    def protocol(self, tuning: str = "grid") -> Protocol:
        return Protocol(
            self.optimizers, seeds=3, epochs=self.epochs, batch_size=self.batch_size, subset=self.subset,
            defaults=False, tuning=tuning,
        ).resolve(self.get_task())  # fmt: skip

    def budget(self) -> str:
        t = self.get_task()
        size = "full data" if self.subset is None else f"{self.subset} per split"
        batch = "" if self.batch_size is None else f", batch {self.batch_size}"
        return f"{self.epochs or t.epochs} epochs, {size}{batch}"


# Round 1 chose the rule on the first five cases and judged it on imdb-logreg, quadratic-deep, fmnist-mlp-bn and
# fmnist-tanh (4/10 SGD-momentum and Adam pairs within 3x: see docs/lr_finder.md). Those four were then moved to
# the development set and the rule chosen again; the held-out cases below were read only after that.
CASES: tuple[Case, ...] = (
    Case("mnist-logreg", "mnist-logreg", "dev", why="catalogue task, default protocol"),
    Case("mnist-mlp", "mnist-mlp", "dev", evals=4, why="catalogue task, default protocol"),
    Case("mnist-logreg-1ep", "mnist-logreg", "dev", epochs=1, evals=4, why="a tenth of the budget"),
    Case("mnist-logreg-short", "mnist-logreg", "dev", epochs=2, subset=5000, evals=4, why="80 steps"),
    Case("mnist-mlp-1ep", "mnist-mlp", "dev", epochs=1, evals=4, why="a tenth of the budget"),
    Case("imdb-logreg", "imdb-logreg", "dev", (*DEFAULTS, "momentum", "adamw"), evals=4,
         why="sparse text, sigmoid loss; two more optimisers"),
    Case("quadratic-deep", "quadratic-deep", "dev", (*DEFAULTS, "momentum"), why="no accuracy; noisy quadratic"),
    Case("fmnist-mlp-bn", "fmnist-mlp-bn", "dev", epochs=3, subset=10000, evals=4,
         why="BatchNorm, Fashion-MNIST, 3 epochs"),
    Case("fmnist-tanh", "fmnist-tanh", "dev", epochs=5, subset=10000, evals=4,
         why="saturating tanh units, Glorot init"),
    Case("mnist-cnn", "mnist-cnn", "held-out", ("nesterov", "adam"), epochs=3, subset=3000, evals=3,
         why="convolutions; 3000 examples"),
    Case("fmnist-cnn", "fmnist-cnn-5", "held-out", ("nesterov", "adam"), epochs=3, subset=3000, evals=3,
         why="convolutions, Fashion-MNIST; 3000 examples"),
    Case("mnist-mlp-1000", "mnist-mlp-1000", "held-out", ("nesterov", "adam"), epochs=3, subset=5000, evals=3,
         why="wide, dropout 0.5; 5000 examples"),
    # added with round 2, before any of their runs
    Case("fmnist-logreg", "fmnist-logreg", "held-out", ("nesterov", "adam", "momentum"), epochs=5, evals=4,
         why="Fashion-MNIST, linear"),
    Case("mnist-logreg-b32", "mnist-logreg", "held-out", ("nesterov", "adam"), epochs=2, evals=4, batch_size=32,
         why="batch 32 (4x the steps, more noise)"),
    Case("imdb-mlp", "imdb-mlp", "held-out", ("nesterov", "adam"), epochs=3, evals=4,
         why="a hidden layer on sparse text"),
)  # fmt: skip


# -- phases ---------------------------------------------------------------------------------------------------------
def grid(case: Case, out: Path, data_dir: str | None, workers: int, cached: bool = False) -> dict[str, Any]:
    store = RunStore(out / case.name / "runs.jsonl")
    if cached:  # report what the store holds, run nothing
        return results(case.get_task(), case.protocol(), store)
    return compare(case.get_task(), case.protocol(), store, data_dir=data_dir, workers=workers)


def sweeps(case: Case, out: Path, data: Any, extra_seeds: int) -> dict[str, list]:
    """Per optimiser: the protocol's sweep (seed 0) first, then ``extra_seeds`` more."""
    task, protocol = case.get_task(), case.protocol("find")
    store = finder_lab.SweepStore(out / case.name / "lr_finder.jsonl")
    found: dict[str, list] = {}
    for opt in case.optimizers:
        spec = finder_lab.protocol_spec(task, protocol, opt, len(data.train))
        found[opt] = [
            finder_lab.cached_sweep(task, data, replace(spec, seed=s), store)[0] for s in range(1 + extra_seeds)
        ]
    return found


def find(case: Case, out: Path, data_dir: str | None, workers: int, cached: bool = False) -> dict[str, Any]:
    store = RunStore(out / case.name / "runs.jsonl")
    if cached:
        return results(case.get_task(), case.protocol("find"), store)
    return compare(case.get_task(), case.protocol("find"), store, data_dir=data_dir, workers=workers)


def reference(case: Case, data: Any, opt: str, sweep: Sweep) -> dict[str, Any]:
    """torch-lr-finder on the protocol sweep's model, batches and objective, with the same settings."""
    import torch_lr_finder
    from matplotlib.figure import Figure

    task, protocol = case.get_task(), case.protocol("find")
    spec = finder_lab.protocol_spec(task, protocol, opt)
    with torch_threads(1):
        torch.manual_seed(stream_seed(spec.seed, 0))
        model = task.model()
        optimizer = registry.build(opt, model.parameters(), lr=sweep.start)
        order = torch.Generator().manual_seed(stream_seed(spec.seed, 1))
        n = len(data.train)
        size = min(spec.batch_size or n, n)
        idx: list[torch.Tensor] = []
        while len(idx) < sweep.steps:
            perm = torch.randperm(n, generator=order)
            idx += [perm[b * size : (b + 1) * size] for b in range(math.ceil(n / size))]

        class Batches(torch_lr_finder.TrainDataLoaderIter):
            def __init__(self) -> None:
                self.k = 0

            def __next__(self) -> tuple:
                x, y = data.train.batch(idx[self.k % len(idx)])
                self.k += 1
                return x, y

        def criterion(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            loss = task.head.loss(out, y) / out.shape[0]
            penalty = l2_penalty(model, task.l2)
            return loss if penalty is None else loss + penalty

        finder = torch_lr_finder.LRFinder(model, optimizer, criterion, device="cpu")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            settings = {"start_lr": sweep.start, "end_lr": sweep.end, "num_iter": sweep.steps, "step_mode": sweep.mode}
            finder.range_test(Batches(), **settings, smooth_f=1 - sweep.smooth, diverge_th=sweep.stop_factor)
            try:
                _, lr = finder.plot(skip_start=10, skip_end=5, ax=Figure().subplots(), suggest_lr=True)
            except RuntimeError:  # too few points to suggest
                lr = None
    return {"label": "torch-lr-finder", "lrs": finder.history["lr"], "losses": finder.history["loss"], "lr": lr}


# -- report -----------------------------------------------------------------------------------------------------------
def _metric(task: Task) -> tuple[str, float]:
    return (task.rank_metric, 100.0) if task.rank_metric == "test_acc" else (task.rank_metric, 1.0)


def _pm(s: dict[str, Any] | None, scale: float) -> str:
    if not s or s["mean"] is None:
        return "-"
    digits = 2 if scale != 1 else 4
    return f"{s['mean'] * scale:.{digits}f}" + ("" if s["sd"] is None else f" ± {s['sd'] * scale:.{digits}f}")


def rows_for(case: Case, grid_res: dict, find_res: dict | None, found: dict, refs: dict) -> list[dict[str, Any]]:
    task = case.get_task()
    metric, scale = _metric(task)
    tuned = {r["optimizer"]: r for r in grid_res["summary"]}
    chosen = {r["optimizer"]: r for r in find_res["summary"]} if find_res else {}
    out = []
    for opt in case.optimizers:
        t, results = tuned[opt], found[opt]
        r0 = results[0]
        default = r0.suggestions.get(r0.sweep.rule)
        f = chosen.get(opt)
        seeds_sugg = [r.suggestions[r.sweep.rule].lr for r in results if r.sweep.rule in r.suggestions]
        row = {
            "case": case.name,
            "split": case.split,
            "task": task.name,
            "budget": case.budget(),
            "optimizer": opt,
            "family": r0.family,
            "tuned_lr": t["chosen_lr"],
            "tuned_at_edge": t["chosen_at_edge"],
            "suggested_lr": None if default is None else default.lr,
            "rule": r0.sweep.rule,
            "ratio": None if default is None or t["chosen_lr"] is None else default.lr / t["chosen_lr"],
            "sweep_seed_spread": max(seeds_sugg) / min(seeds_sugg) if len(seeds_sugg) > 1 else None,
            "metric": metric,
            "tuned": None if t["tuned"] is None else t["tuned"]["final"][metric],
            "at_suggested": None if not f or f["tuned"] is None else f["tuned"]["final"][metric],
            "rules": {k: s.lr for k, s in r0.suggestions.items()},
            "features": select.features(r0),
            "seed_features": [select.features(r) for r in results],
            "curves": [curve(r) for r in results],  # what --rescore needs to try a rule without training
            "torch_lr_finder_lr": refs.get(opt, {}).get("lr"),
            "budget_steps": r0.sweep.budget,
            "batch": r0.sweep.batch_size,
            "sweep_steps": len(r0.lrs),
            "sweep_stop": r0.stop,
            "sweep_s": r0.wall_s,
            "scale": scale,
        }
        if (
            row["tuned"]
            and row["at_suggested"]
            and row["tuned"]["mean"] is not None
            and row["at_suggested"]["mean"] is not None
        ):
            row["gap"] = (
                (row["tuned"]["mean"] - row["at_suggested"]["mean"]) * scale * (1 if metric == "test_acc" else -1)
            )
        else:
            row["gap"] = None
        out.append(row)
    return out


CURVE = ("sweep", "family", "lrs", "losses", "smoothed", "stop")


def curve(r: LRFinderResult) -> dict[str, Any]:
    """The part of a sweep's record that its suggestions are computed from (the rest follows from it)."""
    return {k: v for k, v in r.to_dict().items() if k in CURVE}


def rescored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` of a ``--json`` file with features recomputed from their stored curves by the current code."""
    out = []
    for row in rows:
        found = [
            LRFinderResult.build(
                Sweep(**c["sweep"]), c["lrs"], [math.nan if x is None else x for x in c["losses"]],
                [math.nan if x is None else x for x in c["smoothed"]], c["stop"], family=c["family"],
            )
            for c in row["curves"]
        ]  # fmt: skip
        out.append({**row, "features": select.features(found[0]), "seed_features": [select.features(r) for r in found]})
    return out


def print_selection(rows: list[dict[str, Any]]) -> None:
    """The rule selection of :mod:`_lr_finder_select` on the development rows (held-out rows are not passed on)."""
    dev = [
        {"case": r["case"], "optimizer": r["optimizer"], "family": r["family"], "tuned": r["tuned_lr"],
         "features": r["features"], "seeds": r["seed_features"], "budget": r["budget_steps"], "batch": r.get("batch")}
        for r in rows if r["split"] == "dev" and r["tuned_lr"]
    ]  # fmt: skip
    (anchor, cap), chosen, cand = select.select(dev)
    print("\nRule selection on the development cases: |suggested / tuned| with each case left out of the fit,")
    print("over every sweep seed (divisors: fitted on all development cases):")
    print("| anchor | cap | divisors | SGD-momentum and Adam: mean | worst | all optimisers: mean |")
    print("|---|---|---|---|---|---|")
    for c in cand:
        print("| " + " | ".join(c) + " |")
    print(f"chosen: anchor {anchor}, cap {cap:g}, factors (1 / divisor) {chosen}")
    lib = suggest.CALIBRATION
    same = anchor == "half-descent" and cap == lib["cap"] and chosen == lib["factor"]
    print(f"the library's calibration: {lib} ({'the same' if same else 'DIFFERENT: update ravine.lr_finder.suggest'})")


def table(rows: list[dict[str, Any]], title: str) -> str:
    head = ["case", "optimizer", "tuned lr", "suggested", "ratio", "spread", "metric tuned", "at suggested", "gap",
            "torch-lr-finder"]  # fmt: skip
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        acc = r["metric"] == "test_acc"
        tlf = r["torch_lr_finder_lr"]
        lines.append("| " + " | ".join([
            r["case"], r["optimizer"],
            "-" if r["tuned_lr"] is None else f"{r['tuned_lr']:g}" + ("*" if r["tuned_at_edge"] else ""),
            "-" if r["suggested_lr"] is None else f"{r['suggested_lr']:.3g}",
            "-" if r["ratio"] is None else f"{r['ratio']:.2f}",
            "-" if r["sweep_seed_spread"] is None else f"{r['sweep_seed_spread']:.1f}x",
            _pm(r["tuned"], r["scale"]) + (" %" if acc else ""),
            _pm(r["at_suggested"], r["scale"]),
            "-" if r["gap"] is None else f"{r['gap']:+.2f}" + ("" if acc else " (loss)"),
            "-" if tlf is None or r["tuned_lr"] is None else f"{tlf:.3g} ({tlf / r['tuned_lr']:.2f})",
        ]) + " |")  # fmt: skip
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> str:
    def share(sel: list[dict], test: Any) -> str:
        ok = [r for r in sel if test(r) is not None]
        hit = sum(bool(test(r)) for r in ok)
        return f"{hit}/{len(ok)}"

    out = []
    for label, sel in (("SGD-momentum and Adam", [r for r in rows if r["optimizer"] in JUDGED]), ("all", rows)):
        within3 = share(sel, lambda r: None if r["ratio"] is None else 1 / 3 <= r["ratio"] <= 3)
        within1 = share(sel, lambda r: None if r["gap"] is None or r["metric"] != "test_acc" else r["gap"] <= 1.0)
        tlf = share(sel, lambda r: None if not r["torch_lr_finder_lr"] or not r["tuned_lr"]
                    else 1 / 3 <= r["torch_lr_finder_lr"] / r["tuned_lr"] <= 3)  # fmt: skip
        logs = [abs(math.log10(r["ratio"])) for r in sel if r["ratio"]]
        out.append(f"{label}: within 3x of the grid {within3}; test accuracy within 1 point {within1}; "
                   f"median |ratio| {10 ** statistics.median(logs):.2f}x; torch-lr-finder within 3x {tlf}")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "held-out", "all"), default="all")
    ap.add_argument("--cases", nargs="*", help="case names (default: every case of --split)")
    ap.add_argument("--select", action="store_true", help="print the rule selection on the development cases")
    ap.add_argument("--no-find", action="store_true", help="skip phase 3 (seeds at the suggestion)")
    ap.add_argument("--no-reference", action="store_true", help="skip torch-lr-finder")
    ap.add_argument("--cached", action="store_true", help="report the finished runs only; run no training")
    ap.add_argument("--sweep-seeds", type=int, default=4, help="extra sweeps per pair, to show the spread")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=Path("ravine-out/lr_finder_benchmark"))
    ap.add_argument("--json", type=Path, help="write every row as JSON")
    ap.add_argument("--figure", type=Path, help="draw ravine's and torch-lr-finder's curves of a few pairs")
    ap.add_argument(
        "--rescore",
        type=Path,
        metavar="ROWS",
        help="run no training: the selection on the development rows of a --json file, from its curves",
    )
    args = ap.parse_args()
    if args.rescore:
        print_selection(rescored(json.loads(args.rescore.read_text())))
        return
    torch.set_num_threads(1)
    cases = [
        c for c in CASES if (args.split == "all" or c.split == args.split) and (not args.cases or c.name in args.cases)
    ]
    began = time.perf_counter()
    rows, curves = [], {}
    for case in cases:
        t0 = time.perf_counter()
        task = case.get_task()
        data = task.load(args.data_dir).subset(case.subset)
        grid_res = grid(case, args.out, args.data_dir, args.workers, args.cached)
        found = sweeps(case, args.out, data, args.sweep_seeds)
        find_res = None if args.no_find else find(case, args.out, args.data_dir, args.workers, args.cached)
        refs = (
            {}
            if args.no_reference
            else {opt: reference(case, data, opt, found[opt][0].sweep) for opt in case.optimizers}
        )
        rows += rows_for(case, grid_res, find_res, found, refs)
        for opt in case.optimizers:
            curves[f"{case.name}: {opt}"] = (found[opt][0], refs.get(opt))
        print(f"{case.name} ({case.split}, {case.budget()}): {time.perf_counter() - t0:.0f} s", flush=True)
    if args.select:
        print_selection(rows)
    for split in ("dev", "held-out"):
        sel = [r for r in rows if r["split"] == split]
        if sel:
            print()
            print(table(sel, f"{split} cases"))
            print()
            print(summary(sel))
    print(f"\nwall time {time.perf_counter() - began:.0f} s for {len(cases)} cases ({len(rows)} pairs)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    if args.figure and curves:
        from ravine.lr_finder import plot

        # SGD with Nesterov momentum and Adam on up to three cases of the split(s) run
        picks = [k for k in curves if curves[k][1] is not None and k.split(": ")[1] in ("nesterov", "adam")]
        chosen_cases = list(dict.fromkeys(k.split(": ")[0] for k in picks))[:3]
        picks = [k for k in picks if k.split(": ")[0] in chosen_cases]
        title = "ravine's range test and torch-lr-finder's: same model, batches and settings"
        fig = plot.figure({k: curves[k][0] for k in picks}, references={k: curves[k][1] for k in picks}, title=title)
        plot.save(fig, args.figure)


if __name__ == "__main__":
    main()
