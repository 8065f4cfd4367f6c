"""A doctor finding as a card: kind, severity, steps, the message, its evidence and the advice, most promising
first; and the colour of each kind (the doctor's PNG uses the same)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ravine.report.html.markup import esc, table


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
