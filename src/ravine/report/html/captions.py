"""The "what this shows" line under each figure, written from the numbers of the result file.

Each function reads a results document (or part of one) and returns one or two sentences. They compare recorded
numbers (differences, ratios, counts) and never measure anything new. Definitions used throughout:

* **tie within seed noise**: two optimisers' mean results differ by no more than ``sqrt(sd_a**2 + sd_b**2)``,
  the standard deviation of the difference of two single runs (sample sds over the seeds, as results.json
  stores them). With one seed there is no sd, and the sentence says the noise is not measured.
* **N x larger rate**: the ratio of two chosen learning rates, written ``3x`` and above as a whole number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ravine.report.html.markup import join, lr, num, sci, times

Doc = Mapping[str, Any]

METRIC_NAMES = {
    "val_acc": "validation accuracy",
    "val_loss": "validation loss",
    "test_acc": "test accuracy",
    "test_loss": "test loss",
    "train_loss": "train loss",
}


# -- tasks ------------------------------------------------------------------------------------------------------
def accuracy_task(results: Doc) -> bool:
    """Whether the task is judged by accuracy (its target metric is ``val_acc``), as the terminal table decides."""
    return results["task"]["target"]["metric"] == "val_acc"


def rank_metric(results: Doc) -> tuple[str, float]:
    """The metric the ranking uses and its display scale: (``test_acc``, 100) in % or (``test_loss``, 1)."""
    return ("test_acc", 100.0) if accuracy_task(results) else ("test_loss", 1.0)


def _final(agg: Doc | None, metric: str) -> tuple[float | None, float | None]:
    if not agg:
        return None, None
    s = agg["final"][metric]
    return s["mean"], s["sd"]


def _value(mean: float, sd: float | None, results: Doc) -> str:
    scale = rank_metric(results)[1]
    if accuracy_task(results):
        text = f"{mean * scale:.2f}" + ("" if sd is None else f" ± {sd * scale:.2f}") + " % test accuracy"
    else:
        text = f"test loss {mean:.4g}" + ("" if sd is None else f" ± {sd:.2g}")
    return text


def task_ranking(results: Doc) -> str:
    """Who ranks first on the tuned runs, who ties with it within seed noise, and by how much the rest trail."""
    metric, scale = rank_metric(results)
    rows = [r for r in results["summary"] if _final(r["tuned"], metric)[0] is not None]
    if not rows:
        return "No optimiser has a tuned result: every grid run diverged or none finished."
    lead = rows[0]
    m0, s0 = _final(lead["tuned"], metric)
    first = f"Tuned, {lead['optimizer']} ranks first ({_value(m0, s0, results)})"  # type: ignore[arg-type]
    if len(rows) == 1:
        return first + "; it is the only optimiser with a tuned result."
    ties, behind = [], []
    unmeasured = False
    for r in rows[1:]:
        m, s = _final(r["tuned"], metric)
        diff = abs(m - m0) * scale  # type: ignore[operator]
        size = f"{diff:.2f} points behind" if accuracy_task(results) else f"{diff:.3g} higher"
        if s is None or s0 is None:
            unmeasured = True
            behind.append(f"{r['optimizer']} {size}")
            continue
        noise = math.hypot(s, s0) * scale
        if diff <= noise:
            ties.append(r["optimizer"])
        else:
            behind.append(f"{r['optimizer']} {size} ({diff / noise:.1f}x the seed noise)")
    parts = [first]
    if ties:
        parts.append(f"{join(ties)} tie{'s' if len(ties) == 1 else ''} with it within seed noise")
    if behind:
        parts.append(join(behind))
    text = "; ".join(parts) + "."
    if unmeasured:
        n = results["protocol"]["seeds"]
        text += (
            f" With {n} seed{'s' * (n != 1)} per optimiser the seed noise is not measured, so small gaps may be luck."
        )
    return text


def task_rates(results: Doc) -> str:
    """How far apart the chosen learning rates are, which choices sit at the grid's edge, and what diverged."""
    rows = [r for r in results["summary"] if r["chosen_lr"] is not None]
    if not rows:
        return "No learning rate of the grid gave a finite result for any optimiser."
    rates = sorted({r["chosen_lr"] for r in rows})
    lo, hi = rates[0], rates[-1]
    at = {v: [r["optimizer"] for r in rows if r["chosen_lr"] == v] for v in (lo, hi)}
    if lo == hi:
        text = f"Every optimiser chose lr {lr(lo)}."
    else:
        many = len(at[hi]) > 1
        text = (
            f"{join(at[hi])} need{'' if many else 's'} a {times(hi / lo)} larger rate than {join(at[lo])} "
            f"(lr {lr(hi)} against {lr(lo)})."
        )
    edge = [r["optimizer"] for r in rows if r["chosen_at_edge"]]
    if edge:
        text += f" {join(edge)} chose a rate at the edge of the grid, so the best rate may lie outside it."
    bad = [f"{r['optimizer']} at lr {lr(g['lr'])}" for r in results["summary"] for g in r["grid"] if g["diverged"]]
    if any(r["grid"] for r in results["summary"]):
        text += f" Diverged on the grid: {join(bad)}." if bad else " No grid run diverged."
    return text


def task_defaults(results: Doc) -> str:
    """What each optimiser loses at its default learning rate against its tuned one (the dashed lines)."""
    metric, scale = rank_metric(results)
    if not results["protocol"].get("defaults", True):
        return task_ranking(results)
    same, gaps = [], []
    for r in results["summary"]:
        tuned, dflt = _final(r["tuned"], metric)[0], _final(r["default"], metric)[0]
        if r["chosen_lr"] is not None and r["chosen_lr"] == r["default_lr"]:
            same.append(r["optimizer"])
        elif tuned is not None and dflt is not None:
            loss = (tuned - dflt) * scale if accuracy_task(results) else dflt / tuned if tuned > 0 else None
            if loss is not None:
                gaps.append((loss, r))
        elif tuned is not None:
            gaps.append((math.inf, r))
    if not gaps and not same:
        return "No optimiser has both a tuned and a default result."
    gaps.sort(key=lambda g: -g[0])
    said = []
    for loss, r in gaps:
        rates = f"lr {lr(r['default_lr'])} against {lr(r['chosen_lr'])}"
        if math.isinf(loss):
            said.append(f"{r['optimizer']} gives no result at its default ({rates})")
        elif accuracy_task(results):
            word = "below" if loss >= 0 else "above"
            said.append(f"{r['optimizer']} ends {abs(loss):.2f} points {word} its tuned rate ({rates})")
        else:
            said.append(f"{r['optimizer']} ends at {loss:.2g}x its tuned test loss ({rates})")
    text = "At the default learning rates (dashed), " + join(said) if said else ""
    if same:
        clause = f"{join(same)}'s default {'is' if len(same) == 1 else 'are'} also the tuned rate"
        text = f"{text}; {clause}" if text else clause[0].upper() + clause[1:]
    return text + "."


def target_goal(results: Doc) -> str:
    """The task's speed target in words: ``validation accuracy ≥ 0.92``."""
    target = results["task"]["target"]
    name = METRIC_NAMES.get(target["metric"], target["metric"])
    return f"{name} {'≥' if accuracy_task(results) else '≤'} {target['value']:g}"


def task_speed(results: Doc) -> str:
    """Steps to the task's target: who gets there first, how many times longer the others take, who never does."""
    goal = target_goal(results)
    done, never = [], []
    for r in results["summary"]:
        reach = (r["tuned"] or {}).get("target")
        if reach and reach["steps"]["mean"] is not None:
            done.append((reach["steps"]["mean"], r["optimizer"], reach))
        elif r["tuned"]:
            never.append(r["optimizer"])
    epochs = results["protocol"]["epochs"]
    if not done:
        return f"No tuned run reaches {goal} within {epochs} epoch{'s' * (epochs != 1)}."
    done.sort(key=lambda d: d[0])
    steps, name, reach = done[0]
    text = f"{name} reaches {goal} first, at step {steps:.0f} ({reach['reached']}/{reach['of']} seeds)"
    more = [f"{n} needs {times(s / steps)} as many steps" for s, n, _ in done[1:] if steps > 0]
    if more:
        text += "; " + join(more)
    partial = [f"{n} ({r['reached']}/{r['of']})" for _, n, r in done[1:] if r["reached"] < r["of"]]
    if partial:
        text += f"; some seeds fall short: {join(partial)}"
    if never:
        text += f"; {join(never)} never reach{'es' if len(never) == 1 else ''} it"
    return text + "."


def task_findings(results: Doc) -> str:
    """What the doctor said about the reported runs (tuned and default rates)."""
    found, examined, unexamined = [], 0, 0
    for r in results["summary"]:
        for part in ("tuned", "default"):
            agg = r.get(part)
            if not agg:
                continue
            if agg["findings"] is None:
                unexamined += agg["n"]
                continue
            examined += agg["n"]
            for f in agg["findings"]:
                found.append(f"{f['kind']} ({r['optimizer']} at its {part} rate, seed {f['seed']})")
    if examined == 0:
        return "The doctor was not installed when these runs were made, so no run was examined."
    if not found:
        return f"The doctor examined the {examined} reported runs and found nothing to report."
    n = len(found)
    return f"The doctor examined the {examined} reported runs and raised {n} finding{'s' * (n != 1)}: {join(found)}."


# -- landscapes -------------------------------------------------------------------------------------------------
def _goal(land: Doc) -> str:
    if land["unbounded_below"]:
        return f"an escape to f ≤ {land['target']:g} inside the box"
    return f"f − f* ≤ {land.get('tol', land['target'] - (land['f_star'] or 0.0)):g}"


def _source(records: Sequence[Doc]) -> str:
    return "tuned" if any(r["lr_source"] == "tuned" for r in records) else "given"


def landscape_paths(land: Doc, records: Sequence[Doc]) -> str:
    """Which optimisers reach the target from every start, the fastest of them, and how the defaults fare."""
    n = len(land["starts"])
    ranking = land["ranking"]
    every = [s for s in ranking if s["reached"] == n]
    some = [s for s in ranking if 0 < s["reached"] < n]
    where = "both starts" if n == 2 else "the start" if n == 1 else f"all {n} starts"
    rate = "tuned rate" if _source(records) == "tuned" else "best given rate"
    if every:
        names = [f"{s['optimizer']} (lr {lr(s['lr'])})" for s in every]
        verb = "reaches" if len(every) == 1 else "reach"
        text = f"On {land['title']}, {join(names)} {verb} {_goal(land)} from {where} at the {rate}"
        if len(every) > 1:
            text += f"; {every[0]['optimizer']} is fastest ({every[0]['steps']} steps summed over the starts)"
    else:
        text = f"On {land['title']}, no optimiser reaches {_goal(land)} from {where} in {land['steps']} steps"
    if some:
        text += f"; {join([s['optimizer'] for s in some])} only from some"
    text += "."
    defaults = [r for r in records if r["lr_source"] == "default"]
    if defaults:
        by_opt: dict[str, list[Doc]] = {}
        for r in defaults:
            by_opt.setdefault(r["optimizer"], []).append(r)
        ok = [o for o, rs in by_opt.items() if all(r["reached"] for r in rs)]
        if not ok:
            text += " At their default rates none does."
        elif len(ok) == len(by_opt):
            text += " At their default rates all of them do."
        else:
            text += (
                f" At its default rate only {join(ok)} does."
                if len(ok) == 1
                else (f" At their default rates only {join(ok)} do.")
            )
    return text


def landscape_animation(land: Doc, records: Sequence[Doc]) -> str:
    """Order of arrival in the animation (the first start, tuned or given rates)."""
    source = _source(records)
    shown = [r for r in records if r["start_index"] == 0 and r["lr_source"] == source]
    if source == "given":  # the animation shows each optimiser's best given rate
        best = {s["optimizer"]: s["lr"] for s in land["ranking"]}
        shown = [r for r in shown if r["lr"] == best.get(r["optimizer"])]
    start = ", ".join(f"{v:g}" for v in land["starts"][0])
    arrived = sorted((r["steps_to_target"], r["optimizer"]) for r in shown if r["reached"])
    late = [r["optimizer"] for r in shown if not r["reached"]]
    text = f"The paths from ({start}) grow step by step"
    if arrived:
        text += f": {arrived[0][1]} arrives first (step {arrived[0][0]})"
        if len(arrived) > 1:
            text += f", {arrived[-1][1]} last (step {arrived[-1][0]})"
    if late:
        text += f"; {join(late)} {'does' if len(late) == 1 else 'do'} not arrive within {land['steps']} steps"
    return text + "."


def landscape_loss(land: Doc, records: Sequence[Doc]) -> str:
    """The spread of final values at the reported rates (worst over the starts), and the runs that diverged."""
    source = _source(records)
    worst: dict[str, float] = {}
    diverged = []
    key = "final_value" if land["unbounded_below"] else "gap"
    for r in records:
        if r["lr_source"] != source:
            continue
        if r["diverged"] or r[key] is None:
            diverged.append(r["optimizer"])
            continue
        worst[r["optimizer"]] = max(worst.get(r["optimizer"], -math.inf), r[key])
    for name in set(diverged):
        worst.pop(name, None)
    what = "final f" if land["unbounded_below"] else "final f − f*"
    show = (lambda v: num(v, 3)) if land["unbounded_below"] else sci
    text = ""
    if worst:
        best_o, best_v = min(worst.items(), key=lambda kv: kv[1])
        bad_o, bad_v = max(worst.items(), key=lambda kv: kv[1])
        if best_o == bad_o:
            text = f"{what.capitalize()} at the {source} rate, worst over the starts: {show(best_v)} ({best_o})"
        else:
            text = (
                f"{what.capitalize()} at the {source} rates, worst over the starts, ranges from {show(best_v)} "
                f"({best_o}) to {show(bad_v)} ({bad_o})"
            )
    names = sorted(set(diverged))
    if names:
        text += ("; " if text else "") + f"{join(names)} diverged"
    return (text or "No run has a final value") + "."


def overall(overall_rows: Sequence[Doc], landscapes: int) -> str:
    """The best mean rank over the landscapes, how the wins spread, and who reaches the target most often."""
    if not overall_rows:
        return "No optimiser was ranked."
    lead = overall_rows[0]
    text = (
        f"{lead['optimizer']} has the best mean rank ({lead['mean_rank']:.2f} over {landscapes} landscapes) "
        f"and wins {lead['wins']} of them"
    )
    winners = [r["optimizer"] for r in overall_rows if r["wins"]]
    if lead["wins"] < landscapes and len(winners) > 1:
        text += f"; the wins are spread over {len(winners)} optimisers"
    most = max(r["all_starts_reached"] for r in overall_rows)
    best = [r["optimizer"] for r in overall_rows if r["all_starts_reached"] == most]
    text += (
        f"; {join(best)} reach{'es' if len(best) == 1 else ''} the target from every start on {most} of {landscapes}."
    )
    return text


def overview(landscapes: Sequence[Doc]) -> str:
    """The first-ranked optimiser of each landscape (the overview's panel titles), grouped by optimiser."""
    best: dict[str, list[str]] = {}
    for land in landscapes:
        if land["ranking"]:
            best.setdefault(land["ranking"][0]["optimizer"], []).append(land["title"])
    parts = [f"{name} on {join(titles)}" for name, titles in sorted(best.items(), key=lambda kv: -len(kv[1]))]
    return f"Each panel is one landscape with every optimiser's tuned path; the best: {'; '.join(parts)}."


def lr_effects(land: Doc, records: Sequence[Doc], optimizer: str) -> str:
    """The learning-rate effect of each given rate, as measured (first start)."""
    recs = sorted((r for r in records if r["optimizer"] == optimizer and r["start_index"] == 0), key=lambda r: r["lr"])
    effects = [f"lr {lr(r['lr'])} {r['effect']}" for r in recs]
    return f"{optimizer} on {land['title']} from the first start: {join(effects)}."


# -- the doctor -------------------------------------------------------------------------------------------------
def doctor_summary(report: Doc) -> str:
    """What the doctor found in one run, worst first, and what it could not check."""
    findings = report.get("findings", [])
    skipped = [s["check"] for s in report.get("skipped", [])]
    steps = report.get("steps", 0)
    if findings:
        counts: dict[str, int] = {}
        for f in findings:
            counts[f["severity"]] = counts.get(f["severity"], 0) + 1
        sev = join([f"{n} {s}{'s' * (n != 1)}" for s, n in counts.items()])
        f = findings[0]
        text = (
            f"The doctor found {sev} in {steps} steps; the worst is {f['kind']} from step {f['first_step']} "
            f"({f['message'] or f['kind']})"
        )
    else:
        text = f"The doctor found no problem in {steps} steps"
    if skipped:
        text += f"; {len(skipped)} check{'s' * (len(skipped) != 1)} could not run ({join(skipped)})"
    return text + "."
