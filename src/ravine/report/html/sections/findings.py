"""A doctor finding as a card: kind, severity, steps, the message, its evidence and the advice, most promising
first; the colour of each kind (the doctor's PNG uses the same); a task comparison's findings beside the loss
curves of their runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ravine.report.html import captions, charts, svg
from ravine.report.html.markup import esc, lr, num, table

Doc = Mapping[str, Any]


def kind_color(kind: str) -> str:
    """The colour the doctor's figure gives ``kind``."""
    from ravine.report.doctor_plot import KIND_COLOR

    return KIND_COLOR.get(kind, "#7F7F7F")


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, Mapping):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    return "-" if v is None else str(v)


def finding_card(f: Mapping[str, Any], who: str = "") -> str:
    """The card of one finding (``Finding.to_json()``, or a task run's stored finding)."""
    sev = str(f.get("severity", ""))
    head = (
        f'<span class="sev sev-{esc(sev)}">{esc(sev)}</span> <strong>{esc(f.get("kind", ""))}</strong> '
        f'<span class="steps">steps {esc(f.get("first_step"))}–{esc(f.get("last_step"))}</span>'
    )
    message = f'<p class="message">{esc(f["message"])}</p>' if f.get("message") else ""
    where = f'<p class="who">{esc(who)}</p>' if who else ""
    evidence = f.get("evidence") or {}
    ev = (
        '<div class="evidence"><h4>Evidence</h4>'
        + table(["measure", "value"], [[k, _value(v)] for k, v in evidence.items()], numeric=[False, True])
        + "</div>"
        if evidence
        else ""
    )
    advice = f.get("advice") or []
    adv = (
        '<div class="advice"><h4>What to try</h4><ol>' + "".join(f"<li>{esc(a)}</li>" for a in advice) + "</ol></div>"
        if advice
        else ""
    )
    color = kind_color(str(f.get("kind", "")))
    return (
        f'<article class="finding" style="border-left-color:{esc(color)}" data-kind="{esc(f.get("kind", ""))}">'
        f"<header>{head}</header>{where}{message}{ev}{adv}</article>"
    )


# -- a task comparison's findings ------------------------------------------------------------------------------
def _run(r: Doc, optimizer: str, rate: float, seed: int) -> Doc | None:
    for run in r["runs"]:
        spec = run.get("spec", {})
        if spec.get("optimizer") == optimizer and spec.get("lr") == rate and spec.get("seed") == seed:
            return run
    return None


def task_findings(r: Doc, base: str) -> str:
    """Each finding of a task's reported runs as a card beside the loss curve of the run it concerns."""
    cards = []
    k = 0
    for row in r["summary"]:
        for part in ("tuned", "default"):
            agg = row[part]
            if not agg or not agg["findings"]:
                continue
            for f in agg["findings"]:
                k += 1
                run = _run(r, row["optimizer"], agg["lr"], f.get("seed"))
                chart = ""
                if run is not None:
                    chart = charts.box(svg.render(_run_chart(r, run, f), f"{base}-finding-{k}"))
                else:
                    chart = (
                        '<p class="missing">The run this finding concerns is not among the runs in results.json.</p>'
                    )
                who = f"{row['optimizer']} at its {part} rate (lr {lr(agg['lr'])}), seed {f.get('seed')}"
                cards.append(f'<div class="finding-pair">{chart}{finding_card(f, who)}</div>')
    shows = f'<p class="shows"><strong>What this shows:</strong> {esc(captions.task_findings(r))}</p>'
    return shows + "".join(cards)


def _run_chart(r: Doc, run: Doc, f: Doc) -> svg.Chart:
    curve = run["curve"]
    series = [svg.Series("run", "train loss", "#000000", curve["step"], curve["train_loss"])]
    if any(v is not None for v in curve.get("val_loss", [])):
        series.append(svg.Series("run", "validation loss", "#0072B2", curve["step"], curve["val_loss"], dash=True))
    span = svg.Span(
        f["first_step"], f["last_step"], kind_color(f["kind"]), f"{f['kind']}: steps {f['first_step']}-{f['last_step']}"
    )
    return svg.Chart(
        title=f"{run['spec']['optimizer']} lr {lr(run['spec']['lr'])} seed {run['spec']['seed']}: loss per step, "
        f"{f['kind']} shaded",
        x=svg.Axis("step", fmt=lambda v: f"{v:.0f}"),
        y=svg.Axis("loss", log=True, fmt=lambda v: num(v, 4)),
        series=series,
        spans=[span],
    )
