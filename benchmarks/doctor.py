"""The doctor's benchmarks: the family benchmark (``families``, ``verify``, ``score``) and the legacy scenarios.

The family benchmark (``benchmarks/doctor_families``) generates fault families -- one mechanism on one
architecture / data pair -- and expands each over severity x seed x optimiser; every label and every forbidden
pair is verified by a measurement that does not use the doctor, and runs that fail verification are dropped and
counted. Families are split into ``dev`` and ``heldout`` by a hash of their names (``families`` prints it).
Choose thresholds on ``dev``; quote ``heldout``.

Run:  PYTHONPATH=src nice -n 10 python benchmarks/doctor.py families
      PYTHONPATH=src nice -n 10 python benchmarks/doctor.py verify [--family NAME ...]   (no doctor: safe on heldout)
      PYTHONPATH=src nice -n 10 python benchmarks/doctor.py score --split dev|heldout [--view live|csv] [--json OUT]
      PYTHONPATH=src nice -n 10 python benchmarks/doctor.py summary OUT        (the tables of a saved --json)
      PYTHONPATH=src nice -n 10 python benchmarks/doctor.py legacy [--only NAME ...] [--json OUT]

``legacy`` (also the default with no command) runs the 43 hand-listed scenarios of ``_doctor_scenarios.py`` and
``_doctor_healthy.py``, on which the doctor's thresholds were checked while it was written (a tuning set).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from doctor_families import FAMILIES, SPLITS
from doctor_families import score as S
from doctor_families.core import draw
from ravine.diagnose import KINDS, diagnose
from ravine.diagnose.errors import NoActivationsWarning

bare_log = S.bare_log


def cmd_families() -> None:
    """Print every family with its split, draw, labels and run count, then the totals per split and kind."""
    count: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    for f in sorted(FAMILIES.values(), key=lambda f: (f.split, f.name)):
        print(
            f"{f.split:8s} u={draw(f.name):.3f} {f.name:32s} {','.join(f.labels) or 'healthy':32s} "
            f"{len(f.runs()):3d} runs  {f.arch} / {f.data}: {f.about}"
        )
        count[f.split]["families"] += 1
        count[f.split]["runs"] += len(f.runs())
    for s in SPLITS:
        print(f"{s}: {count[s]['families']} families, {count[s]['runs']} runs")


def cmd_verify(families: list[str] | None) -> None:
    """Train and verify without the doctor (labels and forbidden pairs only): safe on held-out families."""
    dropped = total = 0
    for f in FAMILIES.values():
        if families and f.name not in families:
            continue
        for spec in f.runs():
            t0 = time.perf_counter()
            v = f.build(spec, False)
            total += 1
            dropped += bool(v.failed)
            mark = "DROP" if v.failed else "ok  "
            print(f"{mark} {spec.name:58s} {v.failed or v.labels} ({time.perf_counter() - t0:.1f}s)", flush=True)
    print(f"{total} runs, {dropped} would be dropped")


def cmd_score(split: str, view: str | None, families: list[str] | None, limit: int | None, out: Path | None) -> None:
    """Run a split under the doctor and print the per-kind tables of the requested views."""
    t0, c0 = time.perf_counter(), time.process_time()
    results = S.run_split(split, families, limit)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"\nsplit {split}: {len({r.family for r in results})} families, {len(results)} runs, "
        f"{wall:.0f} s wall, {cpu:.0f} s CPU (one thread)"
    )
    for r in results:
        if r.dropped:
            print(f"  dropped {r.name}: {r.dropped}")
        if r.crash:
            print(f"  crash   {r.name}: {r.crash}")
    for v in [view] if view else list(S.VIEWS):
        print()
        print(S.render(S.summarise(results, v)))
    if out:
        out.write_text(
            json.dumps({"split": split, "seconds": wall, "cpu_seconds": cpu, "runs": S.to_json(results)}, indent=1)
        )


def cmd_summary(path: Path, md: bool, rediagnose: bool) -> None:
    """Print the tables of a saved ``score --json`` file again (no training); ``md``: as Markdown too;
    ``rediagnose``: the CSV view recomputed from the saved logs by the doctor now imported."""
    data = json.loads(path.read_text())
    results = [S.Result(**r) for r in data["runs"]]
    if rediagnose:
        S.rediagnose_csv(results)
    print(f"split {data['split']}: {len(results)} runs, {data['seconds']:.0f} s wall when scored")
    for v in S.VIEWS:
        print()
        print(S.render(S.summarise(results, v)))
        if md:
            print()
            print(S.markdown(S.summarise(results, v)))


def cmd_legacy(only: list[str] | None, out: Path | None) -> None:
    """The 43 hand-listed scenarios (the set the thresholds were checked on while the doctor was written)."""
    import _doctor_healthy  # noqa: F401  (registers the healthy scenarios)
    from _doctor_scenarios import SCENARIOS

    torch.set_num_threads(1)
    warnings.simplefilter("ignore", NoActivationsWarning)
    rows = []
    for sc in SCENARIOS:
        if only and sc.name not in only:
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
    if out:
        out.write_text(json.dumps(rows, indent=1))


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command")
    sub.add_parser("families", help="list the families and their split")
    p = sub.add_parser("verify", help="train and verify without the doctor")
    p.add_argument("--family", nargs="*", help="family names (default: all)")
    p = sub.add_parser("score", help="score one split under the doctor")
    p.add_argument("--split", choices=SPLITS, required=True)
    p.add_argument("--view", choices=S.VIEWS, help="print one view only (default: live and csv)")
    p.add_argument("--family", nargs="*", help="only these families (of the split)")
    p.add_argument("--limit", type=int, help="at most this many runs per family (a smoke test)")
    p.add_argument("--json", type=Path, help="write every run's labels, forbidden kinds and findings as JSON")
    p = sub.add_parser("summary", help="print the tables of a saved score --json file")
    p.add_argument("path", type=Path)
    p.add_argument("--markdown", action="store_true", help="also print the README's Markdown tables")
    p.add_argument("--rediagnose-csv", action="store_true", help="recompute the CSV view from the saved logs")
    p = sub.add_parser("legacy", help="the 43 hand-listed scenarios")
    p.add_argument("--only", nargs="*", help="scenario names to run")
    p.add_argument("--json", type=Path, help="write per-scenario results as JSON")
    args = ap.parse_args()
    if getattr(args, "limit", None) is not None and args.limit < 1:
        ap.error(f"--limit must be >= 1, got {args.limit}")
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", NoActivationsWarning)
    if args.command == "families":
        cmd_families()
    elif args.command == "verify":
        cmd_verify(args.family)
    elif args.command == "score":
        cmd_score(args.split, args.view, args.family, args.limit, args.json)
    elif args.command == "summary":
        cmd_summary(args.path, args.markdown, args.rediagnose_csv)
    else:
        cmd_legacy(getattr(args, "only", None), getattr(args, "json", None))


if __name__ == "__main__":
    main()
