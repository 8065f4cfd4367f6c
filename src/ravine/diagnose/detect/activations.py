"""Dead units (rectifiers flat on every input) and saturation (tanh/sigmoid-like units in their flat tails)."""

from __future__ import annotations

import numpy as np

from ravine.diagnose import trace as T
from ravine.diagnose.detect.context import Context
from ravine.diagnose.findings import Finding


def _hidden(ctx: Context, prefix: str) -> dict[str, str]:
    """Per-activation series ``prefix/A``, without the model's output activation (saturating or zero by design)."""
    out = set(ctx.meta.get("output_activations", []))
    return {k: n for k, n in ctx.trace.layers(prefix).items() if k not in out}


def _why_missing(ctx: Context, family: str) -> str:
    acts = ctx.meta.get("activations")
    if acts == "disabled":
        return "activation hooks disabled (activations=None)"
    if (
        acts in (None, "none found")
        and not ctx.trace.names(T.ZERO_FRACTION)
        and not ctx.trace.names(T.SATURATED_FRACTION)
    ):
        return "no activation statistics (the model has no hookable activation, or the log has none)"
    kinds = "ReLU, GELU, SiLU, ELU, ..." if family == "rectifier" else "tanh, sigmoid, hardtanh, ..."
    return f"the model has no {family} activation ({kinds})"


def dead_units(ctx: Context) -> list[Finding]:
    """A rectifier layer is dying: in its latest window at least ``dead_fraction`` of its units were flat (zero
    for ReLU) on every input. A sparse layer whose units each fire on some inputs is alive, however many zeros
    it outputs."""
    th = ctx.th
    series = _hidden(ctx, T.DEAD_FRACTION)
    if not series:
        if ctx.trace.layers(T.ZERO_FRACTION):
            ctx.skip("dead_units", f"fewer than {th.dead_window_inputs // 4} inputs sampled per activation")
        else:
            ctx.skip("dead_units", _why_missing(ctx, "rectifier"))
        return []
    # After a blow-up to NaN the activations are garbage; a loss that rose but stayed finite (a network whose
    # units all died outputs a constant: the loss of the prior) still has readable units.
    onset = ctx.onset() if "divergence_nonfinite" in ctx.facts else None
    dead: dict[str, float] = {}
    firsts = []
    for key, name in series.items():
        s, v = ctx.series(name, onset)
        if not v.size or v[-1] < th.dead_fraction:
            continue
        below = np.nonzero(v < th.dead_fraction)[0]
        firsts.append(int(s[below[-1] + 1]) if below.size else int(s[0]))
        dead[key] = float(v[-1])
    if not dead:
        return []
    zeros = {}
    for key in dead:
        _, zv = ctx.series(f"{T.ZERO_FRACTION}/{key}", onset)
        if zv.size:
            zeros[key] = float(np.mean(zv[-max(1, zv.size // 4) :]))
    worst = max(dead, key=dead.__getitem__)
    severity = "error" if dead[worst] >= 0.999 else "warning"
    return [
        ctx.finding(
            "dead_units",
            severity,
            min(firsts),
            ctx.last_step,
            f"{dead[worst]:.0%} of the units after {worst} output nothing for every input",
            dead_fraction=dead,
            zero_fraction=zeros,
            window_inputs=th.dead_window_inputs,
        )
    ]


def saturation(ctx: Context) -> list[Finding]:
    """A saturating layer (tanh, sigmoid, hardtanh, ...) has more than ``saturated_fraction`` of its values in the
    flat tails (derivative below ``saturation_slope`` of its maximum), averaged over the latest quarter of the
    samples (DeepDiagnosis's rule with Glorot & Bengio's notion of saturation)."""
    th = ctx.th
    series = _hidden(ctx, T.SATURATED_FRACTION)
    if not series:
        ctx.skip("saturation", _why_missing(ctx, "saturating"))
        return []
    onset = ctx.onset()
    sat: dict[str, float] = {}
    firsts = []
    for key, name in series.items():
        s, v = ctx.series(name, onset)
        if not v.size:
            continue
        recent = float(np.mean(v[-max(1, v.size // 4) :]))
        if recent <= th.saturated_fraction:
            continue
        sat[key] = recent
        below = np.nonzero(v <= th.saturated_fraction)[0]
        firsts.append(int(s[below[-1] + 1]) if below.size and below[-1] + 1 < v.size else int(s[0]))
    if not sat:
        return []
    stuck = {}
    for key in sat:
        _, sv = ctx.series(f"{T.STUCK_FRACTION}/{key}", onset)
        if sv.size:
            stuck[key] = float(sv[-1])
    worst = max(sat, key=sat.__getitem__)
    return [
        ctx.finding(
            "saturation",
            "warning",
            min(firsts),
            ctx.last_step,
            f"{sat[worst]:.0%} of the values after {worst} sit where the activation is flat",
            saturated_fraction=sat,
            units_always_saturated=stuck or None,
            slope=th.saturation_slope,
        )
    ]


def killed_at_constant_lr(ctx: Context) -> tuple[str, float, float, str] | None:
    """A hidden layer whose units were alive when first measured and ended dead (``dead_fraction``) or in their
    flat tails (``saturated_fraction``) at an lr that never rose above twice its final value: ``(layer, first
    fraction, final fraction, what)``, or None.

    Units that start alive are killed at a constant lr by the steps themselves: one update that moves a ReLU's
    pre-activation below zero on every input leaves it dead for good, and steps too long for the curvature throw
    tanh or sigmoid units into their tails (Karpathy, CS231n notes: "if the learning rate is set too high" up to
    40% of a network can die). A bad initialisation is dead or saturated from the first measurement; a burst of
    lr that is over (warm-up excluded: there the lr ends at its maximum) is its own cause.
    """
    th = ctx.th
    _, lr = ctx.series(T.LR)
    if not lr.size or not float(lr[-1]) > 0 or float(lr.max()) > 2 * float(lr[-1]):
        return None
    onset = ctx.onset()
    best = None
    for prefix, limit, what in (
        (T.DEAD_FRACTION, th.dead_fraction, "output nothing"),
        (T.SATURATED_FRACTION, th.saturated_fraction, "saturate"),
    ):
        for key, name in _hidden(ctx, prefix).items():
            _, v = ctx.series(name, onset)
            if v.size < 2:
                continue
            # saturation samples are single batches: judge the end as the detector does, over the last quarter
            end = float(v[-1]) if prefix == T.DEAD_FRACTION else float(np.mean(v[-max(1, v.size // 4) :]))
            if float(v[0]) < limit <= end and (best is None or end - float(v[0]) > best[2] - best[1]):
                best = (key, float(v[0]), end, what)
    return best
