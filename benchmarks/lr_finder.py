"""The LR range test against the grid-tuned protocol, per task and optimiser, on development and held-out cases.

For every case (a task at a stated budget) and optimiser this runs

1. the lab's grid protocol (:mod:`ravine.lab.tasks.protocol`: 9 rates, tuning seed 0, the winner rerun with
   seeds 1-3), through the lab's runner and its run store (interrupt and rerun to resume);
2. one range test (:func:`ravine.lr_finder.find_lr` through :mod:`ravine.lr_finder.lab`, the tuning seed's model
   and batches, default sweep settings), cached in the case's ``lr_finder.jsonl``;
3. the protocol with ``tuning="find"``: seeds 1-3 at the default rule's suggestion,

and reports per pair the ratio suggested lr / grid-tuned lr for every rule, and the final test metric at the
suggested rate against the tuned one (mean ± sd over seeds 1-3).

Held-out discipline: the default rule and its constant were chosen on the DEV cases only (``--split dev``);
the README quotes the HELD-OUT cases, which differ in data, architecture, budget or optimiser.

Run:  PYTHONPATH=src RAVINE_DATA=../shared/data nice -n 10 python benchmarks/lr_finder.py [--split held-out]
      [--cases NAME ...] [--workers 2] [--out ravine-out/lr_finder_benchmark] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lr_finder_tasks import HELD_OUT_TASKS
from ravine.lab.tasks import TASKS, Protocol, RunStore, Task, compare

DEFAULTS = ("nesterov", "adagrad", "rmsprop", "adam")


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
    why: str = ""

    def get_task(self) -> Task:
        task = TASKS[self.task] if self.task in TASKS else HELD_OUT_TASKS[self.task]
        if self.evals is not None and self.evals != task.evals:
            task = replace(task, name=f"{task.name}-e{self.evals}", evals=self.evals)
        return task

    def protocol(self, **kw: Any) -> Protocol:
        return Protocol(self.optimizers, seeds=3, epochs=self.epochs, subset=self.subset, defaults=False, **kw)

    def budget(self) -> str:
        t = self.get_task()
        size = "full data" if self.subset is None else f"{self.subset} per split"
        return f"{self.epochs or t.epochs} epochs, {size}"


CASES: tuple[Case, ...] = (
    Case("mnist-logreg", "mnist-logreg", "dev", why="catalogue task, default protocol"),
    Case("mnist-mlp", "mnist-mlp", "dev", evals=4, why="catalogue task, default protocol"),
    Case("imdb-logreg", "imdb-logreg", "held-out", (*DEFAULTS, "momentum", "adamw"), why="other data (sparse text)"),
    Case("quadratic-deep", "quadratic-deep", "held-out", (*DEFAULTS, "momentum"), why="no accuracy; noisy quadratic"),
    Case("fmnist-cnn", "fmnist-cnn-5", "held-out", epochs=3, subset=5000, why="convolutions; shorter budget"),
    Case("fmnist-mlp-bn", "fmnist-mlp-bn", "held-out", epochs=3, why="BatchNorm; other data"),
    Case("fmnist-tanh", "fmnist-tanh", "held-out", epochs=5, subset=10000, why="saturating tanh units"),
    Case("mnist-cnn", "mnist-cnn", "held-out", ("nesterov", "adam"), epochs=3, subset=5000, why="CNN on MNIST"),
    Case(
        "mnist-mlp-1000",
        "mnist-mlp-1000",
        "held-out",
        ("nesterov", "adam"),
        epochs=5,
        subset=10000,
        why="wider, dropout 0.5",
    ),
)


def run_grid(case: Case, out: Path, data_dir: str | None, workers: int) -> dict[str, Any]:
    """Phase 1: the grid protocol (resumes from the case's run store)."""
    store = RunStore(out / case.name / "runs.jsonl")
    return compare(case.get_task(), case.protocol(), store, data_dir=data_dir, workers=workers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "held-out", "all"), default="all")
    ap.add_argument("--cases", nargs="*", help="case names (default: every case of --split)")
    ap.add_argument("--phase", choices=("grid", "all"), default="all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=Path("ravine-out/lr_finder_benchmark"))
    args = ap.parse_args()
    cases = [
        c for c in CASES if (args.split == "all" or c.split == args.split) and (not args.cases or c.name in args.cases)
    ]
    for case in cases:
        t0 = time.perf_counter()
        res = run_grid(case, args.out, args.data_dir, args.workers)
        print(
            f"{case.name}: grid done in {time.perf_counter() - t0:.0f} s; "
            + ", ".join(f"{r['optimizer']} {r['chosen_lr']}" for r in res["summary"]),
            flush=True,
        )


if __name__ == "__main__":
    main()
