"""How each fault mechanism is verified: one function per mechanism, shared by all its families.

Each trains the run (with the doctor when asked), takes the independent measurement that makes its label true
(a counterfactual rerun with the fault removed, an lr sweep, gradient norms, exact Hessian eigenvalues,
activation statistics, the validation curve), then adds the panel's forbidden pairs (:func:`measure.panel`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from torch import nn

from doctor_families import measure as M
from doctor_families import models
from doctor_families.core import RunSpec, Verdict
from doctor_families.data import task
from doctor_families.loop import Setup, train


def setup(spec: RunSpec, data: str, arch: str, *, n: int = 2048, lr: float | None = None, **kw: object) -> Setup:
    """The :class:`Setup` of ``spec`` on task ``data``; ``kw`` goes to :class:`Setup` or the model builder."""
    t = task(data, n)
    loop = {k: kw.pop(k) for k in ("steps", "batch", "schedule", "clip", "eval_every", "label_noise") if k in kw}
    if "scale_inputs" in kw:
        f = float(kw.pop("scale_inputs"))  # type: ignore[arg-type]
        t = replace(t, x=t.x * f, xv=t.xv * f)
    return Setup(
        t,
        lambda: models.build(arch, t.d_in, t.d_out, **kw),  # type: ignore[arg-type]
        spec.optimiser,
        spec.lr * spec.severity if lr is None else lr,
        spec.seed,
        **loop,  # type: ignore[arg-type]
    )


def far_lower(a: float, b: float, factor: float = 0.5) -> bool:
    """``b`` is at most ``factor`` of ``a`` (a non-finite ``a`` counts as infinitely high)."""
    return math.isfinite(b) and (not math.isfinite(a) or b <= factor * a)


def finish(v: Verdict, s: Setup, never: tuple[str, ...]) -> Verdict:
    """Add the panel's forbidden pairs, never for the kinds in ``never`` (the labels, and kinds the mechanism
    makes ambiguous: a saddle's stall is also slow progress, so ``lr_too_low`` and ``plateau`` stay unjudged)."""
    for kind, why in M.panel(v.run, s.task).items():
        if kind not in never and kind not in v.absent:
            v.absent[kind] = why
    return v


def diverges(
    s: Setup, doctor: bool, calm: float = 1 / 30, labels: tuple[str, ...] = ("divergence",), ramp: bool = False
) -> Verdict:
    """Label: the loss ends non-finite or 4x above its best; at ``calm`` x the lr (and without the schedule if
    ``ramp``: the schedule is the fault) the same run stays finite."""
    run = train(s, doctor=doctor)
    ref = train(replace(s, lr=s.lr * calm, schedule=None if ramp else s.schedule), doctor=False)
    low = min(run.losses[0], run.best())
    v = Verdict(run)
    blew = not math.isfinite(run.final()) or run.final() >= 4 * low
    sane = math.isfinite(ref.final()) and ref.final() < run.losses[0]  # the loss at init is always finite
    v.claim(
        "divergence", blew and sane, f"final {run.final():.3g} vs best {low:.3g}; lr x {calm:.2g}: {ref.final():.3g}"
    )
    v.exclude("lr_too_low", sane and far_lower(run.final(), ref.final()), f"a {1 / calm:.0f}x lower lr ends lower")
    return finish(v, s, labels)


def explodes(
    s: Setup, doctor: bool, sane: Callable[[], nn.Module], labels: tuple[str, ...] = ("exploding_gradients",)
) -> Verdict:
    """Label: the raw gradient norm at init is >= 100x that of the same model at a sane init (``sane``)."""
    run = train(s, doctor=doctor)
    twin = train(replace(s, model=sane, steps=1), doctor=False)
    ratio = run.init_norm / twin.init_norm
    grew = max(run.grad_norms) / max(run.grad_norms[0], 1e-30)
    v = Verdict(run)
    v.claim(
        "exploding_gradients", ratio >= 100 or grew >= 1e3, f"raw norm {ratio:.3g}x a sane init's; grew {grew:.3g}x"
    )
    if "divergence" in labels:
        low = min(run.losses[0], run.best())
        blew = not math.isfinite(run.final()) or run.final() >= 4 * low
        v.claim("divergence", blew, f"final {run.final():.3g} vs best {low:.3g}")
    return finish(v, s, labels)


def vanishes(s: Setup, doctor: bool, labels: tuple[str, ...] = ("vanishing_gradients",)) -> Verdict:
    """Label: first / last layer gradient ratio < 1e-3 at init and at the end."""
    run = train(s, doctor=doctor)
    end = M.grad_ratio(run.model, s.task)
    v = Verdict(run)
    v.claim("vanishing_gradients", run.init_ratio < 1e-3 and end < 1e-3, f"ratio {run.init_ratio:.2g} -> {end:.2g}")
    if "saturation" in labels:
        f = M.saturated(run.model, s.task)
        v.claim("saturation", f >= 0.5, f"{f:.0%} of a bounded layer saturated")
    return finish(v, s, labels)


def dies(s: Setup, doctor: bool, alive_at: int = 0) -> Verdict:
    """Label: >= 50% of a rectifier layer dead on 1000 inputs at the end; if ``alive_at`` > 0, < 30% at that step
    and 30 points more at the end (the units died during the run)."""
    run = train(s, doctor=doctor, watch={alive_at: lambda m: M.dead(m, s.task)} if alive_at else None)
    f = M.dead(run.model, s.task)
    before = run.snapshots.get(alive_at, 0.0)
    v = Verdict(run)
    v.claim(
        "dead_units",
        f >= 0.5 and (not alive_at or (before < 0.3 and f >= before + 0.3)),
        f"{f:.0%} dead at the end, {before:.0%} at step {alive_at}",
    )
    return finish(v, s, ("dead_units",))


def saturates(s: Setup, doctor: bool) -> Verdict:
    """Label: >= 50% of a tanh / sigmoid / hardtanh layer's values in the flat tails at the end."""
    run = train(s, doctor=doctor)
    f = M.saturated(run.model, s.task)
    v = Verdict(run)
    v.claim("saturation", f >= 0.5, f"{f:.0%} of a bounded layer's values saturated")
    return finish(v, s, ("saturation",))


def no_signal(s: Setup, doctor: bool, fixed: Setup | None) -> Verdict:
    """Label plateau: the loss ends >= 90% of its start; with the fault removed (``fixed``) it ends far lower."""
    run = train(s, doctor=doctor)
    v = Verdict(run)
    stuck = math.isfinite(run.final()) and run.final() >= 0.9 * run.first()
    if fixed is None:
        v.claim("plateau", stuck, f"loss {run.first():.3g} -> {run.final():.3g}")
    else:
        ref = train(fixed, doctor=False)
        ok = stuck and far_lower(run.final(), ref.final(), 0.7)
        v.claim("plateau", ok, f"loss {run.first():.3g} -> {run.final():.3g}; without the fault {ref.final():.3g}")
    return finish(v, s, ("plateau",))


def collapses(s: Setup, doctor: bool, at: float) -> Verdict:
    """Label plateau: after the schedule drives the lr to ~0 at ``at`` of the run the loss stops moving (5% of
    its level or 2% of its progress over the last half), and the same run without the collapse ends far lower.
    ``lr_too_low`` is left unjudged (a collapsed lr is also a too-low one)."""
    run = train(s, doctor=doctor)
    ref = train(replace(s, schedule=None), doctor=False)
    a, b = run.at(0.5, 0.75), run.at(0.75, 1.0)
    # mini-batch noise moves the median a little even at lr 0: flat is 5% of the level or 2% of the progress
    flat = math.isfinite(b) and abs(a - b) <= max(0.05 * a, 0.02 * (run.losses[0] - b))
    v = Verdict(run)
    v.claim(
        "plateau",
        flat and far_lower(b, ref.final(), 0.8),
        f"last half {a:.3g} -> {b:.3g}; no collapse {ref.final():.3g}",
    )
    return finish(v, s, ("plateau", "lr_too_low"))


def saddle(s: Setup, doctor: bool) -> Verdict:
    """Label: exact Hessian at init has lambda_min < -0.1 lambda_max, and the loss stalls (< 5% fall) over the
    first 15% of the run."""
    import torch

    torch.manual_seed(s.seed)
    m0 = s.model()
    lmin, lmax = M.hessian_extremes(m0, s.task.x[:512], s.task.y[:512], s.task.loss)
    run = train(s, doctor=doctor)
    stall = run.at(0.1, 0.15) >= 0.95 * run.first()
    v = Verdict(run)
    v.claim(
        "saddle",
        lmin < -0.1 * lmax and stall,
        f"Hessian min {lmin:.3g} max {lmax:.3g}; loss {run.first():.3g} "
        f"-> {run.at(0.1, 0.15):.3g} at 15% -> {run.final():.3g}",
    )
    return finish(v, s, ("saddle", "lr_too_low", "plateau"))


def too_low(s: Setup, doctor: bool, factor: float = 10) -> Verdict:
    """Label: ``factor`` x the lr ends at most half as high (so the lr is also not above the stable one)."""
    run = train(s, doctor=doctor)
    ref = train(replace(s, lr=s.lr * factor), doctor=False)
    ok = math.isfinite(run.final()) and far_lower(run.final(), ref.final())
    v = Verdict(run)
    v.claim("lr_too_low", ok, f"final {run.final():.3g}; {factor:g}x lr {ref.final():.3g}")
    v.exclude("oscillation", ok, f"a {factor:g}x larger lr ends far lower")
    return finish(v, s, ("lr_too_low", "plateau"))


def oscillates(s: Setup, doctor: bool, factor: float = 0.1) -> Verdict:
    """Label: finite, not diverged (final < 4x best, < the start), and ``factor`` x the lr ends at most half as high."""
    run = train(s, doctor=doctor)
    ref = train(replace(s, lr=s.lr * factor), doctor=False)
    final = run.final()
    calm = math.isfinite(final) and final < 4 * run.best() and final < run.losses[0]
    ok = calm and far_lower(final, ref.final())
    v = Verdict(run)
    v.claim("oscillation", ok, f"final {final:.3g} (best {run.best():.3g}); lr x {factor:g}: {ref.final():.3g}")
    v.exclude("lr_too_low", ok, f"a {1 / factor:g}x lower lr ends far lower")
    return finish(v, s, ("oscillation",))


def overfits(s: Setup, doctor: bool) -> Verdict:
    """Label: validation loss >= 5% above its best on the last two evaluations, training loss still falling."""
    run = train(s, doctor=doctor)
    ok, why = M.overfit(run)
    v = Verdict(run)
    v.claim("overfitting", ok, why)
    return finish(v, s, ("overfitting",))


def healthy(s: Setup, doctor: bool, progress: float = 0.5) -> Verdict:
    """Healthy: finite, ends below ``progress`` x its start, neither a third nor 3x the lr ends far lower, and the
    panel finds no divergence, plateau, dead units, saturation or (with evaluations) overfitting."""
    run = train(s, doctor=doctor)
    lo, hi = train(replace(s, lr=s.lr / 3), doctor=False), train(replace(s, lr=s.lr * 3), doctor=False)
    v = Verdict(run)
    finish(v, s, ())
    v.exclude("oscillation", not far_lower(run.final(), lo.final()), f"lr/3 ends at {lo.final():.3g}")
    v.exclude("lr_too_low", not far_lower(run.final(), hi.final()), f"3x lr ends at {hi.final():.3g}")
    need = ["divergence", "plateau", "dead_units", "saturation", "oscillation", "lr_too_low"]
    if run.evals:
        need.append("overfitting")
    if any(isinstance(m, M.RECURRENT) for m in run.model.modules()):
        need.remove("saturation")  # gate saturation has no module to measure: left unjudged
    missing = [k for k in need if k not in v.absent]
    ok = math.isfinite(run.final()) and run.final() <= progress * run.first() and not missing
    why = f"loss {run.first():.3g} -> {run.final():.3g}; lr/3 {lo.final():.3g}, 3x {hi.final():.3g}"
    (v.labels if ok else v.failed)["healthy"] = why + (
        f"; not verified absent: {', '.join(missing)}" if missing else ""
    )
    return v
