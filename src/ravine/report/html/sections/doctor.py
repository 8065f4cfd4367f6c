"""The page of a doctor folder: per run, the loss (and validation loss, gradient norm, learning rate) per step
with each finding's steps shaded, the finding cards beside the curve, what could not be checked, and the run's
settings as the doctor recorded them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ravine.report.html import captions, charts, svg
from ravine.report.html.markup import definition_list, esc, figure, items, num, slug, table
from ravine.report.html.results import DoctorRun, ResultDir
from ravine.report.html.sections import Section
from ravine.report.html.sections.findings import finding_card, kind_color

SEVERITY_OPACITY = {"info": "0.10", "warning": "0.18", "error": "0.28"}


def sections(result: ResultDir, *, max_points: int) -> list[Section]:
    """One section per diagnosed run."""
    out = []
    for run in result.runs:
        ident = "doctor-" + slug(run.name)
        out.append(Section(ident, f"Doctor: {run.name}", _run(run, ident, max_points), "doctor"))
    return out


def _log_scale(values: list[float]) -> bool:
    v = [x for x in values if math.isfinite(x)]
    return bool(v) and min(v) > 0 and max(v) / min(v) > 30


def _run(run: DoctorRun, ident: str, max_points: int) -> str:
    report = run.report or {"findings": [], "skipped": [], "steps": 0, "meta": {}}
    diagnosed = run.report is not None
    findings = report.get("findings", [])
    spans = [
        svg.Span(
            f["first_step"],
            f["last_step"],
            kind_color(f["kind"]),
            f"{f['severity']} {f['kind']}: steps {f['first_step']}-{f['last_step']}",
            key=f"finding-{i}",
        )
        for i, f in enumerate(findings)
    ]
    panels = []
    if "loss" in run.series:
        steps, loss = run.series["loss"]
        xs, ys = svg.thin(steps, loss, max_points)
        series = [svg.Series("loss", "training loss", "#333333", xs, ys, width=1.1)]
        if "val_loss" in run.series:
            vx, vy = svg.thin(*run.series["val_loss"], max_points)
            series.append(svg.Series("val_loss", "validation loss", "#0072B2", vx, vy, dash=True))
        nonfinite = [s for s, v in zip(steps, loss, strict=True) if not math.isfinite(v)]
        marks = (
            [svg.Mark("loss", nonfinite[0], None, "cross", "#D55E00", f"loss not finite from step {nonfinite[0]}")]
            if nonfinite
            else []
        )
        chart = svg.Chart(
            title=f"{run.name}: loss per step, findings shaded",
            x=svg.Axis("step", fmt=lambda v: f"{v:.0f}"),
            y=svg.Axis("loss", log=_log_scale(loss), fmt=lambda v: num(v, 4)),
            series=series,
            spans=spans,
            marks=marks,
            width=480,
            height=270,
        )
        panels.append(charts.box(svg.render(chart, f"{ident}-loss")))
    for name, label, color in (("grad_norm", "gradient norm (raw)", "#CC79A7"), ("lr", "learning rate", "#009E73")):
        if name not in run.series:
            continue
        xs, ys = svg.thin(*run.series[name], max_points)
        if name == "lr" and len({y for y in ys if math.isfinite(y)}) <= 1:
            continue  # a constant rate is in the settings below; a flat line would only take room
        chart = svg.Chart(
            title=f"{run.name}: {label} per step",
            x=svg.Axis("step", fmt=lambda v: f"{v:.0f}"),
            y=svg.Axis(label, log=_log_scale(ys), fmt=lambda v: num(v, 4)),
            series=[svg.Series(name, label, color, xs, ys, width=1.1)],
            spans=spans,
            width=480,
            height=170,
        )
        panels.append(charts.box(svg.render(chart, f"{ident}-{name}")))
    if not panels:
        panels.append('<p class="missing">No log with the loss per step was found beside this report.</p>')
    cards = "".join(finding_card(f) for f in findings) or (
        '<p class="ok">No finding.</p>' if diagnosed else '<p class="missing">Not diagnosed.</p>'
    )
    where = f"log {run.log_file}" if run.log_file else "no log"
    if run.report_file:
        where += f", report {run.report_file}"
    elif diagnosed:
        where += ", diagnosed by ravine report (the folder has no report file)"
    body = f'<div class="finding-pair wide"><div>{"".join(panels)}</div><div class="cards">{cards}</div></div>'
    shows = (
        captions.doctor_summary(report)
        if diagnosed
        else "This log has no doctor report beside it: ravine report DIR diagnoses it, or write one with "
        "ravine doctor LOG --json DIR/doctor.json."
    )
    fig = figure(body, f"{run.name}: what the doctor found", shows)
    skipped = report.get("skipped", [])
    skip = (
        "<h3>Not checked</h3>" + table(["check", "why"], [[s["check"], s["reason"]] for s in skipped])
        if skipped
        else ""
    )
    return f'<p class="lede">{esc(where)}</p>' + fig + skip + _meta(report.get("meta") or {})


def _meta(meta: Mapping[str, Any]) -> str:
    keep = ("optimizer", "optimizer_module", "settings", "param_groups", "model", "parameters", "source", "format")
    pairs = items({k: meta[k] for k in keep if k in meta})
    return f"<h3>The run</h3>{definition_list(pairs)}" if pairs else ""
