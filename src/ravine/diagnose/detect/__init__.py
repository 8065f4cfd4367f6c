"""The detectors and how their findings combine into a diagnosis.

Each detector reads a :class:`~ravine.diagnose.trace.Trace` and returns findings of one kind. Then symptoms
are folded into their cause, as a clinician names the disease rather than every symptom: gradients that
exploded before a run diverged are the diagnosis (the divergence is their consequence); dead or saturated units
explain vanishing gradients and a stalled loss; a learning rate too low explains a plateau. A folded finding
is not lost: the cause lists it under ``evidence["explains"]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from ravine.diagnose import advice
from ravine.diagnose import trace as T
from ravine.diagnose.detect.activations import dead_units, saturation
from ravine.diagnose.detect.context import Context, make_curve
from ravine.diagnose.detect.generalisation import overfitting
from ravine.diagnose.detect.gradients import exploding_gradients, vanishing_gradients
from ravine.diagnose.detect.instability import divergence, oscillation
from ravine.diagnose.detect.progress import lr_too_low, plateau, saddle
from ravine.diagnose.findings import Finding, Report, sort_findings
from ravine.diagnose.thresholds import Thresholds

__all__ = ["CAUSES", "Diagnosis", "diagnose"]

# Run order: divergence first (others ignore what follows its onset), then saddle (a gradient that grows by
# orders of magnitude while leaving a saddle is not an explosion; a plateau that ends in an escape is a saddle).
DETECTORS = (
    divergence,
    saddle,
    exploding_gradients,
    vanishing_gradients,
    dead_units,
    saturation,
    oscillation,
    lr_too_low,
    plateau,
    overfitting,
)

CAUSES: dict[str, tuple[str, ...]] = {
    "exploding_gradients": ("divergence", "oscillation", "plateau", "lr_too_low"),
    "divergence": ("oscillation", "plateau", "lr_too_low", "saddle"),
    "dead_units": ("vanishing_gradients", "plateau", "saddle", "lr_too_low"),
    "saturation": ("vanishing_gradients", "plateau", "saddle", "lr_too_low"),
    "vanishing_gradients": ("plateau", "saddle", "lr_too_low"),
    "lr_too_low": ("plateau", "saddle"),
    "saddle": ("plateau",),
}
"""``cause: effects`` -- when both are found, the effect is folded into the cause (see module docstring)."""

_CURVE_CHECKS = ("divergence", "oscillation", "plateau", "lr_too_low", "saddle")


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """The report, and whether a curvature probe could change it (the live doctor then runs one if it can)."""

    report: Report
    wants_probe: bool = False


def diagnose(
    trace: T.Trace,
    thresholds: Thresholds | None = None,
    *,
    final: bool = True,
    skipped: Iterable[tuple[str, str]] = (),
) -> Diagnosis:
    """Run every detector on ``trace`` and combine the findings.

    Args:
        trace: what is known about the run.
        thresholds: decision thresholds (default :class:`Thresholds`).
        final: the run is over (a live check passes False).
        skipped: checks the caller already knows it could not run, as ``(check, reason)``.

    Returns:
        A :class:`Diagnosis`.
    """
    th = thresholds or Thresholds()
    ctx = Context(trace, th, final, make_curve(trace, th))
    for check, reason in skipped:
        ctx.skip(check, reason)
    if ctx.curve is None:
        reason = (
            "no training loss (a `loss` or `train_loss` series)"
            if not (trace.has(T.LOSS) or trace.has("train_loss"))
            else f"fewer than {th.min_steps} finite losses"
        )
        for check in _CURVE_CHECKS:
            ctx.skip(check, reason)
    found: list[Finding] = []
    for detect in DETECTORS:
        found.extend(detect(ctx))
    combined = combine(found)
    if ctx.wants_probe and not trace.has(T.HESSIAN_MAX):
        ctx.skip(
            "curvature",
            "no curvature probe: pass closure=lambda: loss_fn(model(x), y) to after_backward to let "
            "the doctor tell a saddle from a plateau and measure the edge of stability",
        )
    findings = tuple(advice.attach(f, trace) for f in combined)
    c = ctx.curve
    steps = int(c.steps[-1]) + 1 if c is not None and c.steps.size else trace.last_step + 1
    report = Report(sort_findings(findings), tuple(ctx.skipped), max(steps, 0), dict(trace.meta))
    return Diagnosis(report, ctx.wants_probe)


def combine(findings: Sequence[Finding]) -> list[Finding]:
    """Fold effects into causes (:data:`CAUSES`); info findings of a kind that also has a real one are dropped."""
    real = {f.kind: f for f in findings if f.severity != "info"}
    folded: dict[str, list[str]] = {}
    for cause, effects in CAUSES.items():
        if cause not in real:
            continue
        for effect in effects:
            if effect in real and effect not in folded and cause not in folded:
                late = cause == "exploding_gradients" and real[cause].first_step > real[effect].first_step
                if late and effect == "divergence":
                    continue  # gradients that grew only after the blow-up are its consequence, not its cause
                folded.setdefault(effect, []).append(cause)
    out = []
    for f in findings:
        if f.kind in folded and f.severity != "info":
            continue
        if f.severity == "info" and f.kind in real:
            continue
        explains = sorted(k for k, causes in folded.items() if f.kind in causes)
        if explains and f.severity != "info":
            evidence = dict(f.evidence)
            evidence["explains"] = explains
            if "divergence" in explains:
                d = real["divergence"]
                evidence.setdefault("diverged_at", d.first_step)
                f = dataclasses.replace(f, severity="error", last_step=max(f.last_step, d.last_step))
            f = dataclasses.replace(f, evidence=evidence)
        out.append(f)
    return out
