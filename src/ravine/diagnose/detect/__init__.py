"""The detectors and how their findings combine into a diagnosis.

Each detector reads a :class:`~ravine.diagnose.trace.Trace` and returns findings of one kind. Several problems
can hold at once -- gradients that explode and a run that then diverges; saturated units and the vanishing
gradients they cause -- so every finding that holds is reported: a finding never suppresses another kind.
Findings that explain one another are linked instead: the cause lists its effects under
``evidence["explains"]``, each effect its causes under ``evidence["caused_by"]``.

One verdict is a counterfactual rather than a state of the run: ``lr_too_low`` claims that a larger learning
rate would have gone further. When another finding explains the slow progress (dead or saturated units,
vanishing or exploding gradients, a divergence, a saddle), that claim is refuted -- a larger lr does not revive
dead units or leave a saddle sooner in proportion -- and ``lr_too_low`` is dropped (:data:`REFUTES`).
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

__all__ = ["CAUSES", "REFUTES", "SYMPTOMS", "Diagnosis", "combine", "diagnose"]

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
    "oscillation": ("dead_units", "saturation"),
    "dead_units": ("vanishing_gradients", "plateau", "saddle", "lr_too_low"),
    "saturation": ("vanishing_gradients", "plateau", "saddle", "lr_too_low"),
    "vanishing_gradients": ("plateau", "saddle", "lr_too_low"),
    "lr_too_low": ("plateau", "saddle"),
    "saddle": ("plateau",),
}
"""``cause: effects`` -- when both are found, both are reported and linked (see module docstring)."""

REFUTES: dict[str, tuple[str, ...]] = {
    "lr_too_low": (
        "divergence",
        "exploding_gradients",
        "vanishing_gradients",
        "dead_units",
        "saturation",
        "saddle",
    ),
}
"""``verdict: findings that refute it`` -- one of the two cases where one finding removes another: a counterfactual
claim ("a larger lr would go further") that another finding shows to be false."""

SYMPTOMS: dict[str, tuple[str, ...]] = {
    "oscillation": ("saddle",),
    "dead_units": ("vanishing_gradients",),
}
"""``cause: a finding it produces that does not hold on its own``, applied in this order: the second case where
one finding changes another. The negative curvature a probe finds where an oscillating run stalls is the
instability's, not a saddle the run sits on (on the dev families, RMSprop at 6-10x its stable lr). Dead units
pass no gradient, so the layers before them get none: that is the dead units, not gradients shrinking through
depth (on the dev families of issue 12 the layer gradient ratio of such runs, measured without the doctor, stayed
above 1e-2). Symptoms stay in the report at ``info`` severity, ``caused_by`` their cause. Units that an unstable
lr kills or drives into their tails are not listed: they are dead or saturated (on every dev oscillation run of
issue 12, 55-100 % of a layer), a lower lr does not revive them, so both are reported, linked
(:data:`CAUSES`)."""

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


def _refutes(f: Finding | None) -> bool:
    """Whether a finding refutes ``lr_too_low``: any real finding, except a saddle seen only by the curvature
    probe -- a slow run at a tiny lr also sits where the Hessian has negative eigenvalues, and a larger lr does
    help it; an escape or a gradient growing on tiny steps is what tells a saddle from an lr too low."""
    if f is None:
        return False
    return not (f.kind == "saddle" and "hessian_min" in f.evidence and "grad_norm_growth" not in f.evidence)


def combine(findings: Sequence[Finding]) -> list[Finding]:
    """Link causes and effects (:data:`CAUSES`) without dropping either, drop verdicts another finding refutes
    (:data:`REFUTES`), turn the symptoms of an instability into info (:data:`SYMPTOMS`), and drop info findings
    of a kind that also has a real one."""
    real = {f.kind: f for f in findings if f.severity != "info"}
    demoted: set[str] = set()
    for cause, symptoms in SYMPTOMS.items():  # in order: a demoted cause demotes nothing
        if cause not in real or real[cause].evidence.get("lr_sustained") is False:
            continue  # a burst of lr that is over left its dead units behind as a problem of their own
        for k in symptoms:
            if k in real and real[k].severity != "error":
                f = real.pop(k)
                demoted.add(k)
                evidence = dict(f.evidence, caused_by=[cause])
                findings = [
                    dataclasses.replace(x, severity="info", evidence=evidence) if x is f else x for x in findings
                ]
    refuted = {k for k, by in REFUTES.items() if k in real and any(_refutes(real.get(b)) for b in by)}
    explains: dict[str, list[str]] = {}
    caused_by: dict[str, list[str]] = {}
    for cause, effects in CAUSES.items():
        if cause not in real or cause in refuted:
            continue
        for effect in effects:
            if effect not in real or effect in refuted:
                continue
            late = cause == "exploding_gradients" and real[cause].first_step > real[effect].first_step
            if late and effect == "divergence":
                continue  # gradients that grew only after the blow-up are its consequence, not its cause
            explains.setdefault(cause, []).append(effect)
            caused_by.setdefault(effect, []).append(cause)
    out = []
    for f in findings:
        if f.severity == "info" and f.kind in real:
            continue
        if f.kind in demoted:
            if f.severity == "info" and "caused_by" in f.evidence:
                out.append(f)
            continue
        if f.severity != "info" and f.kind in refuted:
            continue
        if f.severity != "info" and (f.kind in explains or f.kind in caused_by):
            evidence = dict(f.evidence)
            if f.kind in explains:
                evidence["explains"] = sorted(explains[f.kind])
            if f.kind in caused_by:
                evidence["caused_by"] = sorted(caused_by[f.kind])
            if "divergence" in explains.get(f.kind, ()):
                d = real["divergence"]
                evidence.setdefault("diverged_at", d.first_step)
                f = dataclasses.replace(f, severity="error", last_step=max(f.last_step, d.last_step))
            f = dataclasses.replace(f, evidence=evidence)
        out.append(f)
    return out
