"""How long ``ravine compare`` takes, and what batching the runs buys.

1. The README's first command, ``ravine compare`` with no argument, end to end in a fresh process (its budget: under
   a minute on a 2-core machine), split into the runs and the figures.
2. The lab's batched execution (one optimiser instance for a whole learning-rate grid x starts) against the same
   runs one at a time, side by side in this process; both give the same bits (tests/lab/test_landscape_runs.py).

Run: ``PYTHONPATH=src python benchmarks/landscape_compare.py [--quick]``. Numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ravine.lab import landscapes as L
from ravine.lab import runs, suite, tuning
from ravine.report import landscape_report


def end_to_end() -> float:
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ravine", "compare", "--out", out], check=True, capture_output=True)
        return time.perf_counter() - t


def split() -> tuple[float, float]:
    t = time.perf_counter()
    results = [suite.compare(L.get(n)) for n in L.DEFAULT_SUITE]
    t_runs = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        landscape_report.write_figures(results, Path(out))
        return t_runs, time.perf_counter() - t


def batched_vs_alone(name: str, optimizer: str, steps: int) -> tuple[float, float]:
    land = L.get(name)
    grid = tuning.DEFAULT_GRID
    times = []
    for layout in ("rows", "single"):
        t = time.perf_counter()
        runs.run(land, optimizer, grid, land.x0, steps, force_layout=layout)
        times.append(time.perf_counter() - t)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the end-to-end run")
    args = parser.parse_args()
    if not args.quick:
        wall = end_to_end()
        print(f"ravine compare (default suite, fresh process): {wall:5.1f} s   budget 60 s   ratio {wall / 60:.2f}")
    t_runs, t_figs = split()
    print(f"  of which runs {t_runs:5.1f} s, figures {t_figs:5.1f} s (in-process, imports excluded)")
    print(f"\nbatched vs one run at a time ({len(tuning.DEFAULT_GRID)} learning rates x 2 starts):")
    for name, opt, steps in (("ravine", "sgd", 300), ("ravine", "adam", 300), ("rosenbrock", "torch.Adam", 300)):
        b, a = batched_vs_alone(name, opt, steps)
        print(f"  {name:<11} {opt:<11} {steps} steps: batched {b:5.2f} s, alone {a:5.2f} s, speed-up x{a / b:4.1f}")


if __name__ == "__main__":
    main()
