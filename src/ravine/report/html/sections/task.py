"""The page of a task comparison (``ravine.task-comparison/1``): ranked table, learning curves with seed bands,
learning-rate sensitivity, steps to the target, the doctor's findings beside the runs they concern, the protocol
and the environment. Every number is read from results.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ravine.report import style
from ravine.report.html import captions, charts, svg
from ravine.report.html.markup import definition_list, details, esc, figure, image, items, lr, num, slug, table
from ravine.report.html.results import ResultDir
from ravine.report.html.sections import Section
from ravine.report.html.sections.findings import task_findings

Doc = Mapping[str, Any]

LABELS = {
    "train_loss": "train loss",
    "val_loss": "validation loss",
    "test_loss": "test loss",
    "val_acc": "validation accuracy",
    "test_acc": "test accuracy",
}


def panels(results: Doc) -> list[str]:
    """The metrics of the learning-curve panels, as the PNG draws them."""
    if captions.accuracy_task(results):
        return ["train_loss", "val_acc", "test_acc"]
    return ["train_loss", "val_loss", "test_loss"]


def colors(results: Doc) -> dict[str, str]:
    """Each optimiser's colour, the same as in the PNG figures."""
    return {row["optimizer"]: style.color(row["optimizer"], i) for i, row in enumerate(results["summary"])}


def sections(result: ResultDir, *, max_points: int) -> list[Section]:
    """The sections of one task comparison."""
    r = result.data
    name = r["task"]["name"]
    base = slug(name)
    out = [
        Section(f"{base}-ranking", f"{name}: ranking", _ranking(r), "task"),
        Section(f"{base}-curves", f"{name}: learning curves", _curves(r, base), "task"),
        Section(f"{base}-lr", f"{name}: learning-rate sensitivity", _sensitivity(r, base), "task"),
        Section(f"{base}-speed", f"{name}: steps to target", _speed(r), "task"),
        Section(f"{base}-doctor", f"{name}: the doctor's findings", task_findings(r, base), "task"),
        Section(f"{base}-protocol", f"{name}: protocol and environment", _protocol(r), "task"),
    ]
    listed = r.get("outputs") or ["learning_curves.png", "lr_sensitivity.png"]
    written = [f for f in listed if f.endswith(".png") and (result.path / f).is_file()]
    if written:
        imgs = "".join(figure(image(result.file(f), f"{name}: {f}"), f, _png_caption(r, f), cls="png") for f in written)
        out.append(
            Section(
                f"{base}-png",
                f"{name}: the PNG figures",
                details(f"The PNG figures ravine compare wrote ({', '.join(written)})", imgs),
                "task",
            )
        )
    return out


def _png_caption(r: Doc, file: str) -> str:
    if file == "learning_curves.png":
        return captions.task_defaults(r)
    if file == "lr_sensitivity.png":
        return captions.task_rates(r)
    return captions.task_rates(r) if any(row["grid"] for row in r["summary"]) else "The figure as written."


# -- ranking ----------------------------------------------------------------------------------------------------
def _pm(s: Doc, scale: float) -> str:
    if s["mean"] is None:
        return "-"
    mean = s["mean"] * scale
    digits = 2 if scale != 1.0 or abs(mean) >= 10 else 4
    return f"{mean:.{digits}f}" + ("" if s["sd"] is None else f"±{s['sd'] * scale:.{digits}f}")


def _kinds(findings: Sequence[Doc] | None) -> str:
    if findings is None:
        return "n/a"
    if not findings:
        return "none"
    counts: dict[str, int] = {}
    for f in findings:
        counts[str(f.get("kind"))] = counts.get(str(f.get("kind")), 0) + 1
    return ", ".join(f"{k}×{n}" if n > 1 else k for k, n in counts.items())


def ranking_rows(r: Doc) -> tuple[list[list[str]], list[str]]:
    """The terminal's ranked table: per optimiser its tuned line and, below, its default line."""
    metric, scale = captions.rank_metric(r)
    rows, keys = [], []
    for row in r["summary"]:
        grid = f"{sum(g['diverged'] for g in row['grid'])}/{len(row['grid'])}"
        lines = [("tuned", row["tuned"], row["chosen_lr"])]
        if r["protocol"].get("defaults", True):
            lines.append(("default", row["default"], row["default_lr"]))
        for i, (what, agg, rate) in enumerate(lines):
            reach = agg["target"] if agg else None
            steps = reach["steps"]["mean"] if reach else None
            secs = (reach.get("seconds") or {}).get("mean") if reach else None
            rows.append(
                [
                    str(row["rank"]) if i == 0 else "",
                    row["optimizer"] if i == 0 else f"  {what}",
                    "-" if rate is None else lr(rate) + ("*" if what == "tuned" and row["chosen_at_edge"] else ""),
                    _pm(agg["final"][metric], scale) if agg else "diverged" if what == "tuned" else "-",
                    (f"{'-' if steps is None else f'{steps:.0f}'} ({reach['reached']}/{reach['of']})")
                    if reach
                    else "-",
                    "-" if secs is None else f"{secs:.1f}",
                    grid if i == 0 else "",
                    _kinds(agg["findings"] if agg else None),
                ]
            )
            keys.append(row["optimizer"])
    return rows, keys


def _ranking(r: Doc) -> str:
    acc = captions.accuracy_task(r)
    target = r["task"]["target"]
    rows, keys = ranking_rows(r)
    cols = ["#", "optimizer", "lr", "test acc %" if acc else "test loss", "to target", "s", "div.", "doctor"]
    note = (
        f"mean±sd over {r['protocol']['seeds']} seeds · to target: mean steps until {target['metric']} "
        f"{'>=' if acc else '<='} {target['value']:g} (runs that got there), and seconds · div.: diverged grid "
        "runs · *: best rate at the edge of the grid"
    ) + (" · doctor n/a: it did not run on every seed" if any(row[-1] == "n/a" for row in rows) else "")
    numeric = [True, False, True, True, True, True, True, False]
    incomplete = (
        ""
        if r.get("complete", True)
        else (
            '<p class="warn">This comparison is incomplete (interrupted?): some runs of the protocol are missing. '
            "Run the same command again to finish it.</p>"
        )
    )
    return (
        f'<p class="lede">{esc(r["task"]["summary"])} · {esc(r["task"].get("source", ""))}</p>{incomplete}'
        + table(cols, rows, caption=note, numeric=numeric, row_keys=keys, cls="ranked")
        + f'<p class="shows"><strong>What this shows:</strong> {esc(captions.task_ranking(r))}</p>'
    )


# -- learning curves ----------------------------------------------------------------------------------------------
def zoom(r: Doc, metric: str, log: bool) -> tuple[float, float] | None:
    """The y range the PNG shows: the curves after the first quarter of the run (earlier points may leave it)."""
    later = [
        v
        for row in r["summary"]
        for part in ("tuned", "default")
        if row[part] is not None
        for v in row[part]["curve"][metric]["mean"][len(row[part]["curve"][metric]["mean"]) // 4 :]
        if v is not None
    ]
    if log:
        later = [v for v in later if v > 0]
    if not later:
        return None
    lo, hi = min(later), max(later)
    if log:
        pad = (hi / lo) ** 0.08 if hi > lo else 1.05
        return lo / pad, hi * pad
    pad = 0.08 * (hi - lo) or 0.01
    return lo - pad, (min(1.0, hi + pad) if metric.endswith("acc") else hi + pad)


def _curves(r: Doc, base: str) -> str:
    col = colors(r)
    seeds = r["protocol"]["seeds"]
    out = []
    for m in panels(r):
        log = m.endswith("loss")
        series = []
        for row in r["summary"]:
            for part in ("tuned", "default"):
                agg = row[part]
                if agg is None:
                    continue
                band = agg["curve"][m]
                x = agg["curve"]["epoch"][: len(band["mean"])]
                tuned = part == "tuned"
                series.append(
                    svg.Series(
                        key=row["optimizer"],
                        label=f"{row['optimizer']} lr={lr(agg['lr'])}" + ("" if tuned else " (default)"),
                        color=col[row["optimizer"]],
                        x=x,
                        y=band["mean"],
                        lo=band["min"] if tuned and agg["n"] > 1 else None,
                        hi=band["max"] if tuned and agg["n"] > 1 else None,
                        dash=not tuned,
                        width=1.8 if tuned else 1.1,
                    )
                )
        chart = svg.Chart(
            title=f"{r['task']['name']}: {LABELS[m]} against epochs",
            x=svg.Axis("epoch"),
            y=svg.Axis(LABELS[m] + " (zoomed)", log=log, lim=zoom(r, m, log), fmt=lambda v: num(v, 4)),
            series=series,
        )
        out.append(charts.box(svg.render(chart, f"{base}-curve-{m}")))
    keys = [(row["optimizer"], row["optimizer"], col[row["optimizer"]]) for row in r["summary"]]
    legend = (
        "Solid: the tuned rate, mean over seeds"
        + (f" with its min–max band over {seeds} seeds" if seeds > 1 else " (one seed, so no band)")
        + "; dashed: the optimiser's default rate. Hover or touch a panel for the values; the buttons hide and "
        "show an optimiser. The y axes show the range after the first quarter of the run, where optimisers differ."
    )
    body = charts.group(out, legend, keys)
    what = ", ".join(LABELS[m] for m in panels(r))
    return figure(
        body, f"{what[0].upper()}{what[1:]} against epochs", captions.task_defaults(r), fig_id=f"{base}-curves-fig"
    )


# -- learning-rate sensitivity -------------------------------------------------------------------------------------
def _sensitivity(r: Doc, base: str) -> str:
    if not any(row["grid"] for row in r["summary"]):
        return (
            '<p class="note">No grid was run: the rates were chosen without one (an LR range test writes its own '
            "figure, among the PNG figures below).</p>"
            f'<p class="shows"><strong>What this shows:</strong> {esc(captions.task_rates(r))}</p>'
        )
    acc = captions.accuracy_task(r)
    metric = "val_acc" if acc else "val_loss"
    col = colors(r)
    series, marks = [], []
    for row in r["summary"]:
        c, name = col[row["optimizer"]], row["optimizer"]
        grid = sorted(row["grid"], key=lambda g: g["lr"])
        ok = [g for g in grid if not g["diverged"] and g["select"] is not None]
        series.append(svg.Series(name, name, c, [g["lr"] for g in ok], [g["select"] for g in ok], markers=True))
        for g in grid:
            if g not in ok:
                marks.append(svg.Mark(name, g["lr"], None, "cross", c, f"{name} lr {lr(g['lr'])}: diverged"))
        chosen = [g for g in ok if g["lr"] == row["chosen_lr"]]
        if chosen:
            marks.append(
                svg.Mark(
                    name, chosen[0]["lr"], chosen[0]["select"], "ring", c, f"{name}: chosen lr {lr(row['chosen_lr'])}"
                )
            )
        dflt = row["default"]
        if dflt and dflt["final"][metric]["mean"] is not None:
            v = dflt["final"][metric]["mean"]
            marks.append(
                svg.Mark(
                    name,
                    dflt["lr"],
                    v,
                    "triangle",
                    c,
                    f"{name}: default lr {lr(dflt['lr'])}, {LABELS[metric]} {num(v, 4)} (mean over seeds)",
                )
            )
    chart = svg.Chart(
        title=f"{r['task']['name']}: final {LABELS[metric]} against the learning rate",
        x=svg.Axis("learning rate", log=True, fmt=lr),
        y=svg.Axis(f"final {LABELS[metric]} (tuning seed)", log=not acc, fmt=lambda v: num(v, 4)),
        series=series,
        marks=marks,
        width=480,
        height=300,
    )
    keys = [(row["optimizer"], row["optimizer"], col[row["optimizer"]]) for row in r["summary"]]
    legend = "Ring: the chosen rate; triangle: the default rate (mean over seeds); cross on the bottom edge: diverged."
    body = charts.group([charts.box(svg.render(chart, f"{base}-lr-chart"))], legend, keys)
    grid_rows = [
        [
            row["optimizer"],
            lr(g["lr"]),
            "diverged" if g["diverged"] else num(g["select"], 4),
            "chosen" if g["lr"] == row["chosen_lr"] else "",
        ]
        for row in r["summary"]
        for g in sorted(row["grid"], key=lambda g: g["lr"])
    ]
    grid = details(
        "Every grid run (tuning seed 0)",
        table(["optimizer", "lr", f"final {LABELS[metric]}", ""], grid_rows, numeric=[False, True, True, False]),
    )
    title = f"Final {LABELS[metric]} of every grid run against the learning rate"
    return figure(body, title, captions.task_rates(r)) + grid


# -- steps to target -------------------------------------------------------------------------------------------
def _speed(r: Doc) -> str:
    rows = []
    reached = [
        (row, row["tuned"]["target"])
        for row in r["summary"]
        if row["tuned"] and row["tuned"]["target"]["steps"]["mean"]
    ]
    most = max((t["steps"]["mean"] for _, t in reached), default=0) or 1
    for row in r["summary"]:
        agg = row["tuned"]
        t = agg["target"] if agg else None
        mean = t["steps"]["mean"] if t else None
        sd = t["steps"].get("sd") if t else None
        secs = (t.get("seconds") or {}).get("mean") if t else None
        bar = (
            f'<span class="bar" style="width:{100 * mean / most:.1f}%;background:{esc(colors(r)[row["optimizer"]])}">'
            "</span>"
            if mean
            else ""
        )
        rows.append(
            [
                esc(row["optimizer"]),
                esc(f"{t['reached']}/{t['of']}" if t else "-"),
                esc("-" if mean is None else f"{mean:.0f}" + ("" if sd is None else f" ± {sd:.0f}")),
                esc("-" if secs is None else f"{secs:.1f}"),
                f'<span class="bar-track">{bar}</span>',
            ]
        )
    goal = captions.target_goal(r)
    tbl = table(
        ["optimizer (tuned rate)", "seeds reaching it", "steps (mean ± sd)", "seconds", "steps, relative"],
        rows,
        raw=True,
        numeric=[False, True, True, True, False],
        row_keys=[row["optimizer"] for row in r["summary"]],
    )
    note = (
        f"Target: {goal}, judged at the evaluation points (so the step count has the resolution of the evaluation "
        "spacing); seconds count training steps only and depend on the machine's load."
    )
    return figure(tbl + f'<p class="note">{esc(note)}</p>', f"Steps to {goal}", captions.task_speed(r))


# -- protocol and environment -----------------------------------------------------------------------------------
def _protocol(r: Doc) -> str:
    t, p, env = r["task"], r["protocol"], r["environment"]
    seeds = sorted(
        {s for row in r["summary"] for part in ("tuned", "default") if row[part] for s in row[part].get("seeds", [])}
    )
    task_items = items(t, skip=("name", "summary"))
    proto_items = items(p)
    proto_items.append(
        ("seeds used", f"tuning seed 0 for the grid; {', '.join(map(str, seeds)) or '-'} for the reported runs")
    )
    env_items = items(env)
    if r.get("wall_s") is not None:
        env_items.append(("wall time", f"{r['wall_s']:.1f} s"))
    return (
        '<div class="cols">'
        f"<div><h3>Task (with its defaults)</h3>{definition_list(task_items)}</div>"
        f"<div><h3>Protocol</h3>{definition_list(proto_items)}</div>"
        f"<div><h3>Environment</h3>{definition_list(env_items)}</div>"
        "</div>"
    )
