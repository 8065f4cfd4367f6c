"""ravine.optim.LBFGS vs torch.optim.LBFGS vs scipy's L-BFGS-B on the Moré-Garbow-Hillstrom problems.

All three keep 10 correction pairs and use a strong-Wolfe line search (scipy's is Moré-Thuente's, c1 = 1e-3,
c2 = 0.9; torch's and ravine's use c1 = 1e-4, c2 = 0.9), start from each problem's standard point in float64,
stop when max|g| <= 1e-5, and share one budget (2000 iterations, 5000 evaluations). The change tolerances are set
to 1e-15 so that the gradient test, not a stall test, ends a run wherever possible. Every solver calls the same
torch objective with autograd gradients, so evaluations cost the same for all three.

A run has *converged* when max|g| <= 1e-5 or f is within 1e-8 of f*. f* is the value at the problem's stored
minimiser (the paper's value, refined to full precision) where there is one, else the paper's f*. The note
column says where a run ended: "f*" (within max(1e-8, 1e-6 |f*|) of it); "trap v" at a known non-global
stationary point of value v (Freudenstein-Roth's local minimum 48.98, Wood's saddle at 7.877, Biggs' saddle,
...); "gtol" where max|g| <= 1e-5 was reached away from f* (the tolerance is loose for problems whose f* is
tiny, such as the penalty functions); "stalled" where the solver stopped without meeting either test.

Timing: each run is repeated (--repeat, default 3) and the fastest kept; evaluations and iterations are the
same in every repeat (the runs are deterministic).

A second table reruns the problems with known traps with each library's *default* stopping tests (only
max|g| <= 1e-5 set): scipy's relative-reduction test (ftol = 2.2e-9) then stops at Wood's saddle, f = 7.877.

Run:  PYTHONPATH=src python benchmarks/lbfgs.py [--only NAME ...] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import os

# scipy's L-BFGS-B calls BLAS on tiny matrices; OpenBLAS's worker threads spin and, on a loaded machine, make it
# tens of times slower. One thread for every library keeps the timing comparison about the algorithms.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import scipy.optimize
import torch

import ravine
from ravine.problems import mgh
from ravine.problems.base import Problem

HISTORY = 10
GTOL = 1e-5
FTOL = 1e-8
CHANGE_TOL = 1e-15
MAX_ITER = 2000
MAX_EVAL = 5000
SOLVERS = ("ravine", "torch", "scipy")


@dataclass
class Run:
    """One solver on one problem (plain data, JSON-able)."""

    problem: str
    solver: str
    f: float
    grad_max: float
    iterations: int
    evaluations: int
    seconds: float
    converged: bool
    ended_at: str


def reference_value(p: Problem) -> float | None:
    """f at the stored minimiser (full precision) where there is one, else the paper's f*."""
    if p.minimizers:
        return min(float(p(torch.tensor(m, dtype=torch.float64))) for m in p.minimizers)
    return p.f_star


def value_and_grad(p: Problem, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    x = x.detach().requires_grad_()
    f = p(x)
    (g,) = torch.autograd.grad(f, x)
    return float(f.detach()), g


def classify(p: Problem, f: float, g_max: float) -> tuple[bool, str]:
    f_ref = reference_value(p)
    at_star = f_ref is not None and abs(f - f_ref) <= max(FTOL, 1e-6 * abs(f_ref))
    converged = g_max <= GTOL or (f_ref is not None and abs(f - f_ref) <= FTOL)
    if at_star:
        return converged, "f*"
    for value, _ in p.local_minima:
        if abs(f - value) <= 1e-4 * max(1.0, abs(value)):
            return converged, f"trap {value:.6g}"
    if not math.isfinite(f):
        return converged, "diverged"
    return converged, "gtol" if g_max <= GTOL else "stalled"


def run_torch_style(p: Problem, cls: type[torch.optim.Optimizer], solver: str, defaults: bool = False) -> Run:
    x = p.start(dtype=torch.float64).requires_grad_()
    change = {} if defaults else {"tolerance_change": CHANGE_TOL}
    opt = cls(
        [x], lr=1, max_iter=MAX_ITER, max_eval=MAX_EVAL, tolerance_grad=GTOL, history_size=HISTORY,
        line_search_fn="strong_wolfe", **change,
    )  # fmt: skip

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = p(x)
        loss.backward()
        return loss

    start = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - start
    state = opt.state[x]
    f, g = value_and_grad(p, x)
    converged, ended = classify(p, f, float(g.abs().max()))
    return Run(p.name, solver, f, float(g.abs().max()), state["n_iter"], state["func_evals"], seconds, converged, ended)


def run_scipy(p: Problem, defaults: bool = False) -> Run:
    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = value_and_grad(p, torch.from_numpy(x))
        return f, g.numpy()

    options = {"maxcor": HISTORY, "gtol": GTOL, "maxiter": MAX_ITER, "maxfun": MAX_EVAL}
    if not defaults:
        options["ftol"] = CHANGE_TOL
    start = time.perf_counter()
    res = scipy.optimize.minimize(fun, np.array(p.x0[0]), jac=True, method="L-BFGS-B", options=options)
    seconds = time.perf_counter() - start
    f, g = value_and_grad(p, torch.from_numpy(res.x))
    converged, ended = classify(p, f, float(g.abs().max()))
    return Run(p.name, "scipy", f, float(g.abs().max()), int(res.nit), int(res.nfev), seconds, converged, ended)


def run(p: Problem, solver: str, repeat: int = 1, defaults: bool = False) -> Run:
    """The solver's run on ``p``; with ``repeat > 1`` the fastest of that many identical runs.

    ``defaults``: leave the change tolerances at each library's default instead of 1e-15."""
    runs = []
    for _ in range(repeat):
        if solver == "ravine":
            runs.append(run_torch_style(p, ravine.optim.LBFGS, "ravine", defaults))
        elif solver == "torch":
            runs.append(run_torch_style(p, torch.optim.LBFGS, "torch", defaults))
        else:
            runs.append(run_scipy(p, defaults))
    return min(runs, key=lambda r: r.seconds)


def table(problems: list[Problem], runs: dict[tuple[str, str], Run]) -> str:
    head = f"{'problem':31s} {'n':>2s}"
    for s in SOLVERS:
        head += f" | {s + ': ok':>10s} {'f':>10s} {'evals':>5s} {'iter':>4s} {'ms':>6s} {'ended':>11s}"
    lines = [head, "-" * len(head)]
    for p in problems:
        line = f"{p.name:31s} {p.dim:2d}"
        for s in SOLVERS:
            r = runs[p.name, s]
            ok = "yes" if r.converged else "NO"
            line += (
                f" | {ok:>10s} {r.f:10.4g} {r.evaluations:5d} {r.iterations:4d} {1e3 * r.seconds:6.1f} "
                f"{r.ended_at:>11s}"
            )
        lines.append(line)
    return "\n".join(lines)


def summary(problems: list[Problem], runs: dict[tuple[str, str], Run]) -> str:
    lines = []
    for s in SOLVERS:
        solved = [p for p in problems if runs[p.name, s].converged]
        at_star = [p for p in problems if runs[p.name, s].ended_at == "f*"]
        line = f"{s:7s} converged {len(solved):2d}/{len(problems)}, at f* {len(at_star):2d}/{len(problems)}"
        if s != "scipy":
            both = [p for p in solved if runs[p.name, "scipy"].converged]
            ratios = [runs[p.name, s].evaluations / runs[p.name, "scipy"].evaluations for p in both]
            seconds = [runs[p.name, s].seconds / runs[p.name, "scipy"].seconds for p in both]
            if ratios:
                line += (
                    f"; on the {len(both)} both converged on: median evaluations / scipy's "
                    f"{statistics.median(ratios):.2f}, median time / scipy's {statistics.median(seconds):.2f}"
                )
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="problem names (default: all of ravine.problems.mgh)")
    parser.add_argument("--repeat", type=int, default=3, help="time the fastest of this many runs (default 3)")
    parser.add_argument("--json", help="also write the runs to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)  # small problems: threads only add overhead (and the machine is shared)
    problems = [mgh.get(n) for n in args.only] if args.only else list(mgh.PROBLEMS.values())
    runs = {(p.name, s): run(p, s, args.repeat) for p in problems for s in SOLVERS}
    print(table(problems, runs))
    print()
    print(summary(problems, runs))
    trapped = [p for p in problems if p.local_minima]
    default_runs = {(p.name, s): run(p, s, 1, defaults=True) for p in trapped for s in SOLVERS}
    if trapped:
        print("\nThe problems with known traps, with each library's default change tolerances:")
        print(table(trapped, default_runs))
    if args.json:
        records = [{**asdict(r), "defaults": False} for r in runs.values()]
        records += [{**asdict(r), "defaults": True} for r in default_runs.values()]
        with open(args.json, "w") as fh:
            json.dump(records, fh, indent=1)


if __name__ == "__main__":
    main()
