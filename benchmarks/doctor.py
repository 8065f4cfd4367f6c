"""The doctor's fault-injection benchmark: per-kind recall and precision, and false alarms on hard healthy runs.

Every scenario injects one fault into a real training run (MNIST, Fashion-MNIST from ``../shared/data``, or a
synthetic task) or none (the hard healthy runs: noisy, spiky, converged-flat, sparse, clipped, scheduled), and
verifies its label by a measurement that does not use the doctor (``_doctor_scenarios.py``). The doctor runs at
its defaults. A finding counts at warning or error severity; info findings never count.

Run:  PYTHONPATH=src nice -n 10 python benchmarks/doctor.py [--only NAME ...] [--json OUT]

Besides the live doctor, each run's trace is also diagnosed post hoc from what a typical CSV log holds (loss,
lr, validation metrics) to show what a bare log can reveal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _doctor_healthy  # noqa: F401  (registers the healthy scenarios)
from _doctor_scenarios import SCENARIOS
from ravine.diagnose import KINDS, Trace, diagnose
from ravine.diagnose.errors import NoActivationsWarning

LOG_COLUMNS = ("loss", "lr", "val_loss", "val_acc", "train_loss", "train_acc")


def bare_log(trace: Trace) -> Trace:
    """The part of a trace that a typical CSV log holds."""
    t = Trace(meta={"source": "csv"})
    for name in LOG_COLUMNS:
        if trace.has(name):
            s, v = trace.get(name)
            t.extend(name, s.tolist(), v.tolist())
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="scenario names to run")
    ap.add_argument("--json", type=Path, help="write per-scenario results as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", NoActivationsWarning)
    rows = []
    for sc in SCENARIOS:
        if args.only and sc.name not in args.only:
            continue
        t0 = time.perf_counter()
        run, verified, measured = sc.fn()
        assert run.report is not None and run.trace is not None
        live = run.report.kinds("warning")
        post = diagnose(bare_log(run.trace)).report.kinds("warning")
        first, final = run.first(), run.final()
        rows.append(
            {
                "name": sc.name,
                "first_loss": first,
                "final_loss": final,
                "label": sc.label,
                "data": sc.data,
                "about": sc.about,
                "verified": verified,
                "measured": measured,
                "live": live,
                "posthoc": post,
                "seconds": time.perf_counter() - t0,
                "report": run.report.to_json(),
            }
        )
        mark = "ok " if (sc.label in live if sc.label else not live) else "MISS" if sc.label else "FALSE"
        print(
            f"{mark:5s} {sc.name:28s} label={sc.label or 'healthy':20s} live={','.join(live) or '-':34s} "
            f"posthoc={','.join(post) or '-':26s} verified={'yes' if verified else 'NO'} loss {first:.3g}->{final:.3g} "
            f"({time.perf_counter() - t0:.0f}s)  {measured}",
            flush=True,
        )
    summarise(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def summarise(rows: list[dict]) -> None:
    used = [r for r in rows if r["verified"]]
    dropped = [r["name"] for r in rows if not r["verified"]]
    if dropped:
        print(f"\nnot counted (label not verified by measurement): {', '.join(dropped)}")
    for key, title in (("live", "live doctor"), ("posthoc", "post hoc, from loss / lr / validation columns only")):
        print(f"\n{title}:")
        print(f"  {'kind':20s} {'scenarios':>9s} {'recall':>7s} {'precision':>9s}")
        for kind in KINDS:
            labelled = [r for r in used if r["label"] == kind]
            flagged = [r for r in used if kind in r[key]]
            rec = sum(kind in r[key] for r in labelled) / len(labelled) if labelled else float("nan")
            prec = sum(r["label"] == kind for r in flagged) / len(flagged) if flagged else float("nan")
            print(f"  {kind:20s} {len(labelled):9d} {rec:7.0%} {prec:9.0%}")
        faulty = [r for r in used if r["label"]]
        healthy = [r for r in used if not r["label"]]
        recall = sum(r["label"] in r[key] for r in faulty) / max(len(faulty), 1)
        exact = sum(r[key] == [r["label"]] for r in faulty) / max(len(faulty), 1)
        alarms = sum(bool(r[key]) for r in healthy) / max(len(healthy), 1)
        print(
            f"  overall recall {recall:.0%} on {len(faulty)} faulty runs (exactly the label: {exact:.0%}); "
            f"false alarms on {len(healthy)} healthy runs: {alarms:.0%}"
        )


if __name__ == "__main__":
    main()
