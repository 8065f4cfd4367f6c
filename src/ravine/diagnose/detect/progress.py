"""Slow or stalled progress: a learning rate too low, a saddle point, a plateau.

A run that reached its noise floor and sits flat has converged; these checks look for the other flat or slow
curves: one still on its early straight descent with steps that keep pointing downhill (lr too low), one that
stalled and then escaped downhill, or whose stall shows negative curvature (saddle), one that never learned
(plateau).
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from ravine.diagnose import stats
from ravine.diagnose import trace as T
from ravine.diagnose.detect.context import Context
from ravine.diagnose.findings import Finding


def peak_lr_segment(ctx: Context) -> tuple[int, int]:
    """Steps where the learning rate was at least half its maximum (warm-up and decay excluded)."""
    c = ctx.curve
    assert c is not None and c.n
    lo, hi = int(c.fsteps[0]), int(c.fsteps[-1])
    s, lr = ctx.series(T.LR)
    if s.size and lr.max() > 0:
        keep = s[lr >= 0.5 * lr.max()]
        lo, hi = max(lo, int(keep[0])), min(hi, int(keep[-1]))
    return lo, hi


def stuck(ctx: Context) -> bool:
    """The run never lowered its loss by ``stuck_progress`` of the initial loss."""
    c = ctx.curve
    return c is not None and c.n >= ctx.th.min_steps and c.start - c.best < ctx.th.stuck_progress * abs(c.start)


def agreement(ctx: Context, lo: int, hi: int) -> tuple[float, float, int, bool]:
    """Mean step agreement over ``[lo, hi]``, its standard error, the sample count, and whether it is
    significantly (``agreement_z`` SE) above ``lr_low_agreement``: a longer step would have gone further."""
    s, a = ctx.series(T.STEP_AGREEMENT)
    a = a[(s >= lo) & (s <= hi)]
    mean, se = stats.mean_and_se(a)
    th = ctx.th
    undershoot = a.size >= th.min_agreement_samples and (mean - th.lr_low_agreement) > th.agreement_z * se
    return mean, se, int(a.size), bool(undershoot)


def update_ratio(ctx: Context, lo: int, hi: int) -> float | None:
    """Median ``||dw|| / ||w||`` over ``[lo, hi]`` (None without samples)."""
    s, u = ctx.series(T.UPDATE_RATIO)
    u = u[(s >= lo) & (s <= hi)]
    return float(np.median(u)) if u.size else None


def lr_too_low(ctx: Context) -> list[Finding]:
    """The learning rate is too low: over its constant (peak) part the run is still on its early, nearly straight
    descent (the last quarter made ``lr_low_tail_share`` of the progress), or it stalled or never got going with
    small updates (``lr_low_update_ratio``), and the steps keep pointing downhill (mean step agreement above
    ``lr_low_agreement``: a longer step would have gone further). Without the agreement, small updates stand in;
    from a bare loss curve, only its shape."""
    c = ctx.curve
    if c is None or not c.n or ctx.onset() is not None:
        return []
    th = ctx.th
    lo, hi = peak_lr_segment(ctx)
    _, v = c.segment(lo, hi)
    n = v.size
    if n < th.min_steps:
        return []
    w = max(th.min_window, int(th.window_fraction * n))
    a, z = float(np.median(v[:w])), float(np.median(v[-w:]))
    i75 = int(0.75 * n)
    q = float(np.median(v[max(0, i75 - w) : max(i75, 1)]))
    progress = a - z
    significant = progress > 3 * math.sqrt(2) * c.level_se(w) and progress > 0.01 * abs(a)
    share = (q - z) / progress if significant else math.nan
    falling = significant and share >= th.lr_low_tail_share
    stalled = not significant or progress < th.stuck_progress * abs(a) or flat_tail_start(ctx) is not None
    if stalled and not (falling or not significant or progress < th.stuck_progress * abs(a)) and _converged(ctx):
        stalled = False  # a flat tail after the gradient has shrunk by orders of magnitude is a converged run
    mean, se, count, undershoot = agreement(ctx, lo + (hi - lo) // 2, hi)
    update = update_ratio(ctx, lo, hi)
    if update == 0:
        return []  # nothing moves at all: not a matter of the step size (dead units, zero gradients)
    small = update is not None and update < th.lr_low_update_ratio
    if count >= th.min_agreement_samples:
        basis = "step agreement"
        hit = undershoot and (falling or (stalled and (small or update is None)))
    elif update is not None:
        basis = "update size"
        hit = small and (falling or stalled)
    else:
        basis = "curve shape only"
        hit = falling
    if not hit:
        return _stalled_tail(ctx)
    lr = float(np.median(ctx.series(T.LR)[1])) if ctx.trace.has(T.LR) else None
    if falling:
        what = f"the loss is still falling in a nearly straight line ({share:.0%} of the progress in the last quarter)"
    else:
        what = f"the loss barely moves ({a:.3g} to {z:.3g})"
    if basis == "step agreement":
        what += f" and each step leaves the gradient pointing the same way (mean cos {mean:.2f})"
    if small:
        what += f"; updates are tiny (||dw||/||w|| = {update:.1e} per step)"
    return [
        ctx.finding(
            "lr_too_low",
            "warning",
            lo,
            hi,
            what,
            lr=lr,
            basis=basis,
            start_loss=a,
            end_loss=z,
            tail_share=share if significant else None,
            step_agreement=mean if count else None,
            step_agreement_se=se if count >= 2 else None,
            update_ratio=update,
        )
    ]


def lr_collapse(ctx: Context) -> tuple[int, float, float] | None:
    """A schedule drove the lr to ~0 mid-run and the loss stopped there: ``(step of the collapse, peak lr, lr at
    the end)``, or None. Collapsed: the lr stayed at or below ``lr_collapse`` of its peak from some step on, for
    at least ``stall_fraction`` of the run, and over that stretch the loss fell by less than 3 standard errors
    (or 1%) -- read from the loss and lr series alone, so a scalar log shows it too."""
    c = ctx.curve
    s, lr = ctx.series(T.LR)
    if c is None or c.n < ctx.th.min_steps or s.size < 2:
        return None
    peak = float(lr.max())
    if not peak > 0 or float(lr[-1]) > ctx.th.lr_collapse * peak:
        return None
    high = np.nonzero(lr > ctx.th.lr_collapse * peak)[0]
    at = int(s[high[-1] + 1]) if high.size else int(s[0])
    span = int(c.fsteps[-1]) - int(c.fsteps[0])
    if at <= int(c.fsteps[0]) or int(c.fsteps[-1]) - at < ctx.th.stall_fraction * span:
        return None  # from the start, or too late to judge: a low lr, not a collapse mid-run
    _, v = c.segment(at, int(c.fsteps[-1]))
    n = max(ctx.th.min_window, v.size // 5)
    if v.size < 2 * n:
        return None
    drop = float(np.median(v[:n]) - np.median(v[-n:]))
    sigma = stats.noise_sigma(v)
    se = stats.MEDIAN_SE * sigma * math.sqrt(2.0 / n) if math.isfinite(sigma) else 0.0
    if drop > 3 * se and drop > 0.01 * abs(float(np.median(v[:n]))):
        return None  # still descending at the low lr
    return at, peak, float(lr[-1])


def _converged(ctx: Context) -> bool:
    """Whether the gradient norm at the end (median of the last tenth) is below ``converged_grad`` of its level at
    the start (first tenth): full-batch GD at its noise floor keeps a gradient pointing the same way (cos = 1)
    with tiny updates, yet it has converged -- an lr too low never shrinks its gradient this far."""
    _, g = ctx.series(T.GRAD_NORM)
    if g.size < 20:
        return False
    n = max(1, g.size // 10)
    return float(np.median(g[-n:])) < ctx.th.converged_grad * float(np.median(g[:n]))


def _stalled_tail(ctx: Context) -> list[Finding]:
    """The run's end (after any decay of the lr) has stalled with tiny updates while each step still points
    downhill: the learning rate is too low *now* (a schedule that decayed too early or too far). A schedule that
    drove the lr to ~0 is a plateau instead (:func:`lr_collapse`): no few-fold larger lr would move it."""
    lo = flat_tail_start(ctx)
    if lo is None or lr_collapse(ctx) is not None or _converged(ctx):
        return []
    mean, se, _, undershoot = agreement(ctx, lo, ctx.last_step)
    update = update_ratio(ctx, lo, ctx.last_step)
    if not (undershoot and update is not None and 0 < update < ctx.th.lr_low_update_ratio):
        return []
    lr = ctx.lr_at(ctx.last_step)
    return [
        ctx.finding(
            "lr_too_low",
            "warning",
            lo,
            ctx.last_step,
            f"the loss has stalled since step {lo} with tiny updates (||dw||/||w|| = {update:.1e}) although each step "
            f"still points downhill (mean cos {mean:.2f})",
            lr=lr,
            basis="step agreement",
            step_agreement=mean,
            step_agreement_se=se,
            update_ratio=update,
            end_loss=ctx.curve.end if ctx.curve else None,
        )
    ]


def _probe_in(ctx: Context, lo: int) -> tuple[float, float, int] | None:
    s_max, h_max = ctx.series(T.HESSIAN_MAX)
    s_min, h_min = ctx.series(T.HESSIAN_MIN)
    keep = s_max >= lo
    if not keep.any() or not s_min.size:
        return None
    i = int(np.nonzero(keep)[0][-1])
    return float(h_max[i]), float(stats.value_at(s_min, h_min, int(s_max[i]))), int(s_max[i])


def _negative_curvature(ctx: Context, probe: tuple[float, float, int] | None) -> bool:
    if probe is None:
        return False
    lam_max, lam_min, _ = probe
    return lam_min < 0 and abs(lam_min) >= ctx.th.saddle_curvature_ratio * max(abs(lam_max), 1e-30)


def flat_tail_start(ctx: Context) -> int | None:
    """Where the final flat stretch of the run begins: the earliest window from which every window level stays
    within noise (3 standard errors of a difference of levels, or 2% of the final level) of the final one.
    None if that stretch is shorter than ``stall_fraction`` of the run."""
    c = ctx.curve
    if c is None or c.n < ctx.th.min_steps:
        return None
    lv_steps, lv = c.levels()
    if lv.size < 4:
        return None
    end = float(lv[-1])
    tol = 3 * math.sqrt(2) * c.level_se(c.width) + 0.02 * abs(end)
    i = lv.size - 1
    while i > 0 and abs(float(lv[i - 1]) - end) <= tol:
        i -= 1
    start = int(lv_steps[i - 1]) + 1 if i > 0 else int(c.fsteps[0])
    span = int(c.fsteps[-1]) - int(c.fsteps[0])
    return start if int(c.fsteps[-1]) - start >= ctx.th.stall_fraction * span else None


def saddle(ctx: Context) -> list[Finding]:
    """A saddle point: a stall that ended in an escape downhill -- a flat stretch of at least ``stall_fraction``
    of the run, then a fall of ``escape_drop`` of its level, at an unchanged learning rate (warm-up or decay
    explains a fall by itself) and with a gradient that grew as it left: the stage-like transitions of Saxe et
    al. (ICLR 2014) -- or a stall where the curvature probe finds a negative eigenvalue comparable to the
    largest (Dauphin et al., NeurIPS 2014)."""
    c = ctx.curve
    if c is None or ctx.onset() is not None or c.n < ctx.th.min_steps:
        return []
    escape = _escape(ctx)
    if escape is not None:
        ctx.facts["escape"] = escape
        a, b, level, low, grad_ratio = escape
        return [
            ctx.finding(
                "saddle",
                "warning",
                a,
                b,
                f"the loss sat at {level:.3g} for steps {a}-{b}, then fell to {low:.3g}: it escaped a saddle",
                stall_level=level,
                escaped_to=low,
                stall_steps=b - a,
                stall_fraction=(b - a) / max(ctx.last_step, 1),
                grad_norm_escape_over_stall=grad_ratio,
            )
        ]
    lo = int(c.fsteps[0]) if stuck(ctx) else flat_tail_start(ctx)
    if lo is None:
        return []
    probe = _probe_in(ctx, lo)
    if probe is None:
        ctx.wants_probe = True
        growth = _sliding_off(ctx, lo)
        if growth is None:
            return []
        ctx.facts["saddle_growth"] = growth
        return [
            ctx.finding(
                "saddle",
                "warning",
                lo,
                ctx.last_step,
                f"the loss is stalled at {c.end:.3g} while the gradient norm grows steadily ({growth:.2g}x since "
                f"step {lo}): the iterate is sliding off a saddle along a direction of negative curvature",
                grad_norm_growth=growth,
                stall_level=c.end,
                basis="gradient growth (no curvature probe)",
            )
        ]
    if not _negative_curvature(ctx, probe):
        return []
    # Negative eigenvalues are everywhere in a trained net (Ghorbani et al. 2019): at a converged run's noise floor
    # the mean step agreement is <= 0 (-lr lambda / 2); a stall held by a saddle keeps a gradient that points the
    # same way step after step. Without that, the curvature alone does not make the stall a saddle.
    _, _, count, undershoot = agreement(ctx, lo, ctx.last_step)
    if count >= ctx.th.min_agreement_samples and not undershoot:
        return []
    lam_max, lam_min, at = probe
    ctx.facts["saddle_probe"] = probe
    return [
        ctx.finding(
            "saddle",
            "warning",
            lo,
            ctx.last_step,
            f"the loss is stalled at {c.end:.3g} where the Hessian has a negative eigenvalue {lam_min:.3g} "
            f"(largest {lam_max:.3g})",
            hessian_min=lam_min,
            hessian_max=lam_max,
            probe_step=at,
            stall_level=c.end,
        )
    ]


def _sliding_off(ctx: Context, lo: int) -> float | None:
    """The growth of the gradient norm over a stall from step ``lo``, if it grows steadily (window medians rising
    in at least 4 of 5 steps) by ``saddle_grad_growth`` or more while the loss stays flat, the updates are tiny
    (``lr_low_update_ratio``) and the steps keep pointing downhill -- what ``lr_too_low`` would otherwise claim;
    else None.

    Along gradient descent ``d|g|^2/dt = -2 lr g^T H g``: the gradient can grow while the loss barely moves only
    where the curvature along it is negative -- the unstable direction of a saddle, which the iterate leaves
    exponentially (Saxe et al., ICLR 2014; Dauphin et al., NeurIPS 2014). A slow straight descent (an lr too
    low) keeps a steady or shrinking gradient.
    """
    # Only a stall that would otherwise read as an lr too low -- steps that keep pointing downhill, tiny updates
    # -- is judged here: a stuck run with normal-sized steps (shuffled labels) grows its gradient as it memorises.
    _, _, _, undershoot = agreement(ctx, lo, ctx.last_step)
    update = update_ratio(ctx, lo, ctx.last_step)
    if not undershoot or update is None or not update < ctx.th.lr_low_update_ratio:
        return None
    s, g = ctx.series(T.GRAD_NORM)
    g = g[s >= lo]
    if g.size < 30:
        return None
    parts = np.array_split(g, 6)
    lv = np.array([float(np.median(p)) for p in parts])
    if not lv[0] > 0:
        return None
    growth = float(lv[-1] / lv[0])
    steady = int(np.sum(np.diff(lv) > 0)) >= 4
    # growth by orders of magnitude on a flat loss is an explosion (the loss would fall as g^2 / |lambda| if the
    # iterate were leaving a saddle), not an escape
    return growth if steady and ctx.th.saddle_grad_growth <= growth < ctx.th.explode_growth else None


def _escape(ctx: Context) -> tuple[int, int, float, float, float | None] | None:
    """The longest stall followed by an escape: windows [i, j] whose level drifts at under a tenth of the
    escape's rate, after which the loss falls by ``escape_drop`` of the run's progress within fewer steps than
    the stall lasted (a saddle's escape is exponential, so it is short next to the stall), at an unchanged
    learning rate and with a gradient that grows as it leaves."""
    c = ctx.curve
    assert c is not None
    th = ctx.th
    width = max(th.min_window, c.n // 20)
    lv_steps, lv = c.levels(width)
    k = lv.size
    progress = c.start - c.best
    if k < 8 or not progress > 0:
        return None
    se = c.level_se(width)
    need = max(2, math.ceil(th.stall_fraction * k))
    lr_s, lr = ctx.series(T.LR)
    g_s, g = ctx.series(T.GRAD_NORM)
    best = None
    levels = [float(x) for x in lv]  # 20 numbers: plain Python beats numpy's per-call cost here
    for i in range(k):
        for j in range(i + need - 1, k - 1):
            seg = levels[i : j + 1]
            level = statistics.median(seg)
            after = levels[j + 1 :]
            low = min(after)
            m = after.index(low)
            drop = level - low
            if drop < th.escape_drop * progress or drop < th.escape_drop * abs(level):
                continue
            half = next(n for n, x in enumerate(after) if x <= level - 0.5 * drop)  # windows to half the fall
            if half + 1 > j + 1 - i:
                continue  # a slow slide, not an escape
            third = max(1, len(seg) // 3)
            drift = statistics.median(seg[:third]) - statistics.median(seg[-third:])
            escape_rate = 0.5 * drop / (half + 1)  # per window, over the steep first half of the fall
            if drift > 0.1 * escape_rate * (j - i + 1) + 3 * math.sqrt(2) * se:
                continue  # the "stall" was already descending
            a = int(lv_steps[i - 1]) + 1 if i else int(c.fsteps[0])
            if drift > 3 * math.sqrt(2) * _own_se(c, a, int(lv_steps[j]), width) + 0.01 * abs(level):
                # stopped by lr_collapse's measure (within 3 SE of the stall's own noise, or 1%): a conv net's
                # first phase falls slowly and speeds up (2.31 -> 2.16 in 60 steps, then 0.24: healthy CNNs of
                # issue 12), a saddle's loss does not move until the unstable direction takes over
                continue
            b, e = int(lv_steps[j]), int(lv_steps[j + 1 + m])
            if lr.size and not 0.5 <= _median_in(lr_s, lr, b + 1, e) / _median_in(lr_s, lr, a, b) <= 2:
                continue  # the lr changed: warm-up or decay, not an escape, explains the fall
            ratio = None
            if g.size:
                # over the steep first half of the fall, where the escaping direction carries the gradient
                steep = int(lv_steps[min(j + 1 + half, k - 1)])
                ratio = _median_in(g_s, g, b + 1, steep) / max(_median_in(g_s, g, a, b), 1e-300)
                if not ratio > th.escape_grad_growth:
                    continue
            if best is None or (j - i, drop) > (best[1] - best[0], best[2]):
                best = (a, b, drop, level, low, ratio)
    if best is None:
        return None
    a, b, _, level, low, ratio = best
    return a, b, level, low, ratio


def _own_se(c, lo: int, hi: int, width: int) -> float:
    """Standard error of a window level from the noise of the losses in ``[lo, hi]`` alone (later bounces would
    inflate the whole run's)."""
    _, v = c.segment(lo, hi)
    sigma = stats.noise_sigma(v) if v.size >= 3 else math.nan
    return stats.MEDIAN_SE * sigma / math.sqrt(max(width, 1)) if math.isfinite(sigma) else c.level_se(width)


def _median_in(s: np.ndarray, v: np.ndarray, lo: int, hi: int) -> float:
    keep = (s >= lo) & (s <= hi)
    return float(np.median(v[keep])) if keep.any() else math.nan


def plateau(ctx: Context) -> list[Finding]:
    """A plateau: the run never lowered its loss by ``stuck_progress`` of the initial loss, or it has stalled
    for the last ``stall_fraction`` of the run although the steps still point downhill (step agreement above
    ``lr_low_agreement``: not the noise floor of a converged run) with updates of normal size; and neither an
    escape nor negative curvature shows a saddle (the other causes -- lr, dead or saturated units, vanishing
    gradients -- are ruled out when the findings are combined)."""
    c = ctx.curve
    # A stall that ended in an escape is over; a stall at a saddle that lasts to the end is still a plateau
    # (both are reported, the saddle as its cause)
    if c is None or ctx.onset() is not None or "escape" in ctx.facts:
        return []
    collapse = lr_collapse(ctx)
    if collapse is not None:
        at, peak, end = collapse
        return [
            ctx.finding(
                "plateau",
                "warning",
                at,
                ctx.last_step,
                f"the loss stopped moving at step {at}, when the schedule drove the lr from {peak:.3g} to "
                f"{end:.3g} ({end / peak:.0e} of its peak)",
                lr_collapsed_at=at,
                peak_lr=peak,
                end_lr=end,
                start_loss=c.start,
                best_loss=c.best,
                end_loss=c.end,
            )
        ]
    if stuck(ctx):
        lo = int(c.fsteps[0])
        what = f"the loss never fell below {c.best:.3g} (it started at {c.start:.3g})"
    else:
        lo = flat_tail_start(ctx)
        if lo is None:
            return []
        mean, _, _, undershoot = agreement(ctx, lo, ctx.last_step)
        update = update_ratio(ctx, lo, ctx.last_step)
        if not undershoot or (update is not None and update < ctx.th.lr_low_update_ratio):
            return []  # the noise floor of a converged run (or small steps: lr_too_low's case)
        what = (
            f"the loss has not moved from {c.end:.3g} since step {lo} although each step still points "
            f"downhill (mean cos {mean:.2f})"
        )
    probe = _probe_in(ctx, lo)
    update = update_ratio(ctx, lo, ctx.last_step)
    return [
        ctx.finding(
            "plateau",
            "warning",
            lo,
            ctx.last_step,
            what,
            start_loss=c.start,
            best_loss=c.best,
            end_loss=c.end,
            progress=(c.start - c.best) / abs(c.start),
            update_ratio=update,
            hessian_min=probe[1] if probe else None,
            hessian_max=probe[0] if probe else None,
        )
    ]
