"""Divergence (the loss blows up and stays up) and oscillation (it bounces without blowing up)."""

from __future__ import annotations

import math

import numpy as np

from ravine.diagnose import stats
from ravine.diagnose import trace as T
from ravine.diagnose.detect.activations import killed_at_constant_lr
from ravine.diagnose.detect.context import Context
from ravine.diagnose.findings import Finding


def divergence(ctx: Context) -> list[Finding]:
    """The run diverged: its loss became non-finite for good, or ended ``divergence_factor`` times above its
    best level having given back at least half of its progress or still rising (judged on the end state, so a
    spike that recovers -- a warm-up spike -- is only noted, as info)."""
    c = ctx.curve
    if c is None:
        ctx.skip("divergence", "no training loss in the log" if not ctx.trace.has(T.LOSS) else "too few steps")
        return []
    th = ctx.th
    out: list[Finding] = []
    nonfinite = ~np.isfinite(c.values)
    if nonfinite.any():
        k = int(c.steps[nonfinite][0])
        count = int(nonfinite.sum())
        p_steps, _ = ctx.trace.get(T.PARAM_NONFINITE)
        recovered = bool(np.isfinite(c.values[-1])) and not (p_steps.size and p_steps[-1] >= k)
        before = c.fvalues[c.fsteps < k]
        last_finite = float(before[-1]) if before.size else None
        if not recovered:
            onset = _rise_onset(c, k)
            ctx.facts["divergence_onset"] = onset
            ctx.facts["divergence_nonfinite"] = k
            kind_of = "NaN" if np.isnan(c.values[nonfinite][0]) else "infinite"
            out.append(
                ctx.finding(
                    "divergence",
                    "error",
                    onset,
                    ctx.last_step,
                    f"the loss became {kind_of} at step {k} and never recovered",
                    nonfinite_at=k,
                    onset=onset,
                    last_finite_loss=last_finite,
                    start_loss=c.start,
                    best_loss=c.best,
                    lr=ctx.lr_at(onset),
                    nonfinite_steps=count,
                )
            )
            return out
        out.append(
            ctx.finding(
                "divergence",
                "info",
                k,
                int(c.steps[nonfinite][-1]),
                f"{count} step(s) had a non-finite loss (first at step {k}); training recovered",
                nonfinite_steps=count,
                nonfinite_at=k,
            )
        )
    if c.n < th.min_steps:
        return out
    lv_steps, lv = c.levels()
    if lv.size < 3:
        return out
    best, end = c.best, float(lv[-1])
    se = math.sqrt(2) * c.level_se(c.width) if math.isfinite(c.sigma) else 0.0
    if _blown_up(lv, best, c.start, se, th.divergence_factor):
        onset = _rise_onset(c, None)
        ctx.facts["divergence_onset"] = onset
        out.append(
            ctx.finding(
                "divergence",
                "error",
                onset,
                ctx.last_step,
                f"the loss rose from {best:.3g} (step {c.best_step}) to {end:.3g} and stayed there",
                onset=onset,
                best_loss=best,
                best_step=c.best_step,
                end_loss=end,
                start_loss=c.start,
                factor=end / best if best > 0 else None,
                lr=ctx.lr_at(onset),
            )
        )
        return out
    spike = _recovered_spike(lv_steps, lv, th.divergence_factor)
    if spike is not None:
        a, b, peak, base = spike
        out.append(
            ctx.finding(
                "divergence",
                "info",
                a,
                b,
                f"the loss spiked to {peak:.3g} (from {base:.3g}) and recovered",
                peak_loss=peak,
                base_loss=base,
                end_loss=end,
            )
        )
    return out


def _blown_up(lv: np.ndarray, best: float, start: float, se: float, factor: float) -> bool:
    """The last window level is ``factor`` times the best (``factor`` times its scale above it, for losses that
    can be negative), significantly (3 standard errors), and it either gave back half of the progress or is
    still rising (the last window significantly above the one before)."""
    end = float(lv[-1])
    if not (math.isfinite(best) and math.isfinite(end)) or end - best <= 3 * se:
        return False
    gave_back = end - best >= 0.5 * max(start - best, 0.0)
    rising = lv.size >= 2 and end - float(lv[-2]) > 3 * se
    if best > 0:
        return end >= factor * best and (gave_back or rising)
    scale = max(abs(best), start - best)
    return end - best >= (factor - 1) * scale and (gave_back or rising)


def _rise_onset(c, nonfinite_at: int | None) -> int:
    """The step where the final blow-up started: the first step after the best level from which the loss stayed
    above twice the best level (or the first non-finite step)."""
    limit = nonfinite_at if nonfinite_at is not None else int(c.steps[-1]) + 1
    s, v = c.fsteps, c.fvalues
    keep = (s >= c.best_step) & (s < limit)
    s, v = s[keep], v[keep]
    if not s.size or not math.isfinite(c.best):
        return int(nonfinite_at if nonfinite_at is not None else c.best_step)
    high = v > (2 * c.best if c.best > 0 else c.best + max(abs(c.best), c.start - c.best))
    if high.all():
        return int(s[0])
    # the last step that was not high, plus one: from there on the loss stayed high
    idx = np.nonzero(~high)[0]
    if idx[-1] + 1 < s.size:
        return int(s[idx[-1] + 1])
    return int(nonfinite_at if nonfinite_at is not None else s[-1])


def _recovered_spike(lv_steps: np.ndarray, lv: np.ndarray, factor: float) -> tuple[int, int, float, float] | None:
    for i in range(1, lv.size - 1):
        base = float(lv[:i].min())
        if base > 0 and lv[i] >= factor * base and lv[-1] < factor * base:
            j = i
            while j + 1 < lv.size and lv[j + 1] >= factor * base:
                j += 1
            return int(lv_steps[i - 1]), int(lv_steps[j]), float(lv[i : j + 1].max()), base
    return None


def oscillation(ctx: Context) -> list[Finding]:
    """The loss bounces without diverging: in the second half of the run (after any lr restart) the loss sits far
    above the best level it reached and has given back half of its progress, or it has structure beyond batch
    noise -- two or more significant rises and a variance ratio that rejects i.i.d. noise at
    p < 0.001, or period-2 alternation -- or the steps overshoot (mean step agreement below
    ``oscillation_agreement``: the iterate jumps across the valley floor, whatever the other directions do),
    or the curvature probe finds the optimiser beyond its stability limit while the loss makes no progress."""
    c = ctx.curve
    if c is None or ctx.onset() is not None:
        return []
    th = ctx.th
    lo = _tail_start(ctx)
    s, v = c.segment(lo, int(c.fsteps[-1]) if c.n else lo)
    if v.size < 40:
        return []
    k = max(5, v.size // 15)
    resid = stats.detrend_blocks(v, k)
    vr, m = stats.variance_ratio(resid, k)
    crit = stats.chi2_upper(m - 1, 1e-3) if m >= 3 else math.inf
    sigma = stats.noise_sigma(v)
    _, blocks = stats.window_levels(s, v, k)
    se_diff = math.sqrt(2) * stats.MEDIAN_SE * sigma / math.sqrt(k) if math.isfinite(sigma) else math.inf
    jumps = np.diff(blocks) if blocks.size > 1 else np.zeros(0)
    rises = int(np.sum(jumps > 3 * se_diff))
    amplitude = float(np.median(jumps[jumps > 3 * se_diff])) if rises else 0.0
    rho1 = stats.lag1_autocorrelation(resid)
    progress = _significant_progress(s, v, sigma)
    a_steps, a = ctx.series(T.STEP_AGREEMENT)
    a = a[a_steps >= lo]
    agreement, se = stats.mean_and_se(a)
    # Structure beyond batch noise is the lr's doing if the steps overshoot (at the noise floor the mean agreement
    # is -<lr lambda>/2: at or below -0.25 the steps cover at least half the way to the valley floor), or if the
    # bounces are material: each gives back at least 5% of the progress made. Otherwise it is the slow drift
    # of a converging run (momentum and Adam dilute the agreement, hence the second test).
    # A bounce is material when it gives back 5% of the progress made, counted from the loss before training
    # when the first steps blew it up (an early spike to 100x the initial loss would make any bounce look small).
    start = min(c.start, c.first) if math.isfinite(c.first) else c.start
    tail_level = stats.level(v)
    material = amplitude > 0 and amplitude >= 0.05 * max(start - c.best, 0.0)
    blame_lr = a.size < th.min_agreement_samples or agreement <= 0.5 * th.oscillation_agreement or material
    # One significant rise in the second half is enough when the whole run (after its first tenth) also has
    # structure beyond batch noise: an unstable lr bounces all along, a converging run's single bump does not
    # (on the dev runs of issue 12: whole-run VR 2.2-3.7x its critical value at 3-10x the stable lr, <= 0.9x
    # for healthy and overfitting runs).
    bouncing = ((vr > crit and (rises >= 2 or (rises >= 1 and _persistent(c)))) or (rho1 < -0.5)) and blame_lr
    overshoot = (
        a.size >= th.min_agreement_samples
        and agreement < th.oscillation_agreement
        and abs(agreement) > th.agreement_z * se
    )
    u_steps, u = ctx.series(T.UPDATE_COSINE)
    u = u[u_steps >= lo]
    u_mean, u_se = stats.mean_and_se(u)
    reversing = (
        u.size >= th.min_agreement_samples and u_mean < th.oscillation_agreement and abs(u_mean) > th.agreement_z * u_se
    )
    half = half_step_ratio(ctx, lo)
    # At a converged run's noise floor every step overshoots on average (the mean step agreement is -lr lambda / 2
    # there), so long steps count only while the loss sits materially above the best level it reached.
    above = tail_level >= 1.1 * c.best + 3 * math.sqrt(2) * c.level_se(c.width) if c.best > 0 else False
    too_long = half is not None and half[0] > th.half_step_overshoot and above
    lost = _lost_progress(c, s, v)
    # The first steps multiplied the loss (the median of the first five is 2x the loss before training) and the
    # run ends above the best it reached: an lr beyond the stable one from the start, whose bounces settled
    # into a level a lower lr would undercut (Adam's and RMSprop's first steps are lr-sized in every coordinate).
    tail_sigma = stats.noise_sigma(v)  # the tail's own noise: the early blow-up inflates the whole run's
    end_se = 3 * math.sqrt(2) * stats.MEDIAN_SE * tail_sigma / math.sqrt(c.width) if math.isfinite(tail_sigma) else 0
    kicked = (
        math.isfinite(c.first)
        and c.first > 0
        and c.start >= th.oscillation_kick * c.first
        and c.best > 0
        # an order of magnitude more than the kick says it alone; a smaller one needs the end above the best
        and (c.end >= 1.1 * c.best + end_se or c.start >= 5 * th.oscillation_kick * c.first)
    )
    e_steps, e = ctx.series(T.EDGE_RATIO)
    edge = float(e[e_steps >= lo].max()) if (e_steps >= lo).any() else None
    unstable = edge is not None and edge > 1.0
    # Units that die or saturate during the run count when the steps are shown to be too long -- the first steps
    # multiplied the loss, the half-step probe puts them past the 1-D minimum, or the sharpest direction is past
    # the stability limit: then the long steps are what killed them (units dying for another reason, or a healthy
    # net saturating its last layer as it fits, have none of these).
    long_steps = (
        (math.isfinite(c.first) and c.first > 0 and c.start >= th.oscillation_kick * c.first)
        or (half is not None and half[0] > th.half_step_overshoot)
        or unstable
    )
    killed = killed_at_constant_lr(ctx) if long_steps else None
    if not (bouncing or lost or overshoot or reversing or too_long or kicked or (unstable and not progress) or killed):
        if (rises >= 1 or vr > crit or (a.size and agreement < 0.5 * th.oscillation_agreement)) and edge is None:
            ctx.wants_probe = True
        return []
    why = []
    if bouncing:
        why.append(
            "the loss rises above its noise band again and again"
            if rho1 >= -0.5
            else "the loss alternates up and down every step"
        )
    if lost:
        why.append(f"the loss bounces around {stats.level(v):.3g}, far above the {c.best:.3g} it reached earlier")
    if overshoot:
        why.append(f"each step overshoots (mean cos(-g_next, dw) = {agreement:.2f})")
    if kicked:
        why.append(
            f"the first steps raised the loss {c.start / c.first:.3g}x and it ends at {c.end:.3g}, above the "
            f"{c.best:.3g} it reached"
        )
    if reversing:
        why.append(f"successive updates reverse (mean cos(dw_next, dw) = {u_mean:.2f})")
    if too_long:
        why.append(
            f"the steps are {half[0]:.2g}x the best step along their own direction on their own batch: "
            "a step at half the lr lowers the batch loss more"
        )
    if unstable:
        why.append(f"the sharpest direction is beyond the optimiser's stability limit ({edge:.2f}x)")
    if killed:
        layer, was, now, what = killed
        why.append(
            f"the steps drove {now:.0%} of the units after {layer} {what} during training (from {was:.0%}) at an "
            "unchanged lr"
        )
    return [
        ctx.finding(
            "oscillation",
            "warning",
            int(s[0]),
            ctx.last_step,
            "; ".join(why),
            variance_ratio=vr,
            bounce=amplitude,
            variance_ratio_critical=crit,
            significant_rises=rises,
            lag1_autocorrelation=rho1,
            step_agreement=agreement if a.size else None,
            update_cosine=u_mean if u.size else None,
            half_step_ratio=half[0] if half is not None else None,
            half_step_probes=half[1] if half is not None else None,
            edge_ratio=edge,
            units_killed=killed[0] if killed else None,
            tail_level=tail_level,
            best_loss=c.best,
            lr=ctx.lr_at(int(s[-1])),
            lr_sustained=_lr_sustained(ctx),
            progressing=progress,
        )
    ]


def _lr_sustained(ctx: Context) -> bool:
    """Whether the lr at the end is at least half its maximum: the instability's cause is still in effect (after
    a transient burst of lr, the units it killed stay dead on their own)."""
    _, lr = ctx.series(T.LR)
    return not lr.size or float(lr[-1]) >= 0.5 * float(lr.max())


def half_step_ratio(ctx: Context, lo: int) -> tuple[float, int] | None:
    """How long the steps are against the best step along their own direction, from the half-step probes at or
    after ``lo``: ``(q, probes)`` or None with fewer than ``min_agreement_samples`` probes.

    With the batch loss at w, w + dw / 2 and w + dw fitted by ``L(a) = L0 + b a + c a^2`` (a = fraction of the
    step), the best fraction is ``a* = -b / 2c``; pooled over the probes (sums of b and c, which averages out the
    batch-to-batch noise of small batches), ``q = 2 sum(c) / -sum(b) = 1 / a*``. ``q > 1``: the step goes past
    the 1-D minimum (at ``q > 2`` it raises the batch loss); a converging run's steps stop short of it.
    """
    s, l0 = ctx.series(T.PROBE_L0)
    _, lh = ctx.series(T.PROBE_HALF)
    _, l1 = ctx.series(T.PROBE_FULL)
    if not (s.size == lh.size == l1.size):
        return None
    keep = s >= lo
    l0, lh, l1 = l0[keep], lh[keep], l1[keep]
    if l0.size < ctx.th.min_agreement_samples:
        return None
    descent = float(np.sum(3 * l0 + l1 - 4 * lh))  # -b, summed
    curvature = float(np.sum(2 * (l1 - 2 * lh + l0)))  # c, summed
    if curvature <= 0:
        return 0.0, int(l0.size)  # no positive curvature along the steps: a longer step would do no worse
    return (2 * curvature / descent if descent > 0 else math.inf), int(l0.size)


def _persistent(c) -> bool:
    """Whether the losses after the first tenth of the run reject i.i.d. noise around a falling trend
    (variance ratio over 20 blocks, p < 0.001)."""
    v = c.fvalues[c.n // 10 :]
    k = max(5, v.size // 20)
    if v.size < 4 * k:
        return False
    vr, m = stats.variance_ratio(stats.detrend_blocks(v, k), k)
    return m >= 3 and vr > stats.chi2_upper(m - 1, 1e-3)


def _lost_progress(c, s: np.ndarray, v: np.ndarray) -> bool:
    """The second half sits well above the run's best level (by 3 standard errors and 25%) and has given back at
    least half of the progress made -- an unstable run that neither converges nor blows up 4x. The standard
    error is the second half's own: an early blow-up inflates the whole run's noise estimate."""
    sigma = stats.noise_sigma(v)
    if not (c.best > 0 and math.isfinite(sigma)):
        return False
    level = stats.level(v)
    margin = 3 * math.sqrt(2) * stats.MEDIAN_SE * sigma / math.sqrt(max(c.width, 1))
    return level - c.best > margin and level >= 1.25 * c.best and level - c.best >= 0.5 * max(c.start - c.best, 0.0)


def _tail_start(ctx: Context) -> int:
    """Start of the second half of the run, or later: after the last rise of the learning rate (a restart)."""
    c = ctx.curve
    assert c is not None
    lo = int(c.fsteps[c.n // 2])
    s, lr = ctx.series(T.LR)
    if s.size > 1:
        rises = np.nonzero(lr[1:] > lr[:-1] * 1.001)[0]
        if rises.size:
            lo = max(lo, int(s[rises[-1] + 1]))
    return lo


def _significant_progress(s: np.ndarray, v: np.ndarray, sigma: float) -> bool:
    """Whether the last third is significantly (3 SE) and materially (2%) below the first third."""
    n = v.size // 3
    if n < 3 or not math.isfinite(sigma):
        return False
    a, b = float(np.median(v[:n])), float(np.median(v[-n:]))
    se = stats.MEDIAN_SE * sigma * math.sqrt(2.0 / n)
    return a - b > 3 * se and a - b > 0.02 * abs(a)
