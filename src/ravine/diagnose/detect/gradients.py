"""Exploding and vanishing gradients, read from the raw (pre-clipping) gradient norms."""

from __future__ import annotations

import math

import numpy as np

from ravine.diagnose import stats
from ravine.diagnose import trace as T
from ravine.diagnose.detect.context import Context
from ravine.diagnose.findings import Finding

_SPIKE_HISTORY = 50


def first_and_last_layer(ctx: Context) -> tuple[str, str] | None:
    """The first dense layer and the last layer in execution order (registration order if unknown), among those
    with a per-layer gradient norm series. Embeddings are never the first layer (their gradient is sparse)."""
    have = ctx.trace.layers(T.GRAD_NORM)
    if len(have) < 2:
        return None
    order = [n for n in ctx.meta.get("layers", []) if n in have] or list(have)
    dense = [n for n in ctx.meta.get("dense_layers", order) if n in have] or order
    first, last = dense[0], order[-1]
    return (first, last) if first != last else None


def layer_ratio(ctx: Context, before: int | None) -> tuple[np.ndarray, np.ndarray, tuple[str, str]] | None:
    """``(steps, ||g_first|| / ||g_last||, (first, last))`` at the sampled steps before ``before``."""
    pair = first_and_last_layer(ctx)
    if pair is None:
        return None
    s1, g1 = ctx.series(f"{T.GRAD_NORM}/{pair[0]}", before)
    s2, g2 = ctx.series(f"{T.GRAD_NORM}/{pair[1]}", before)
    common, i1, i2 = np.intersect1d(s1, s2, return_indices=True)
    ok = g2[i2] > 0
    return common[ok], g1[i1][ok] / g2[i2][ok], pair


def exploding_gradients(ctx: Context) -> list[Finding]:
    """Gradients explode: non-finite gradients while the loss was still in its normal range; the first layer's
    gradient, or the first hidden activation's backpropagated error, ``explode_layer_ratio`` times the last's
    (AUTOTRAINER's beta_3; see :func:`error_ratio`); the norm growing ``explode_growth``-fold; or cliffs -- single steps
    ``explode_spike`` times the running median with a sane loss (Pascanu et al. 2013). Only steps before a
    divergence count: there, large gradients are the consequence, not the cause."""
    th = ctx.th
    onset = ctx.onset()
    if not ctx.trace.has(T.GRAD_NORM) and not ctx.trace.names(T.GRAD_NORM + "/"):
        ctx.skip("exploding_gradients", "no gradient norms in the log (grad_norm)")
        return []
    evidence: dict = {}
    firsts: list[int] = []
    severity = "warning"
    transient_only = False
    nf = _nonfinite_with_sane_loss(ctx)
    if nf is not None:
        k, count, recovered = nf
        evidence.update(nonfinite_gradient_at=k, nonfinite_gradient_steps=count)
        firsts.append(k)
        if recovered:
            transient_only = True
        else:
            severity = "error"
    ratio = layer_ratio(ctx, onset)
    if ratio is not None and ratio[1].size:
        steps, r, (first, last) = ratio
        med = float(np.median(r))
        if med > th.explode_layer_ratio:
            transient_only = False
            firsts.append(int(steps[np.argmax(r > th.explode_layer_ratio)]))
            evidence.update(layer_ratio=med, first_layer=first, last_layer=last)
    clip = clipping_factor(ctx, onset)
    if clip is not None and clip[1] >= th.explode_clip_factor:
        transient_only = False
        firsts.append(clip[0])
        evidence.update(clipped_away=clip[1])
    delta = error_ratio(ctx, onset)
    if delta is not None and delta[1] > th.explode_layer_ratio:
        transient_only = False
        firsts.append(delta[0])
        evidence.update(error_ratio=delta[1], first_activation=delta[2][0], last_activation=delta[2][1])
    g_steps, g = ctx.series(T.GRAD_NORM, onset)
    if g.size >= 10 and "escape" not in ctx.facts:  # leaving a saddle, the gradient grows by orders of magnitude
        width = max(5, g.size // 20)
        lv_steps, lv = stats.window_levels(g_steps, g, width)
        if lv.size >= 2:
            growth = lv[1:] / max(float(lv[0]), 1e-300)  # against the early level: a converged run's tiny
            grown = np.nonzero(growth >= th.explode_growth)[0]  # gradients rising again are not an explosion
            end = int(g_steps[-1])
            worse = [i for i in grown if not _improved(ctx, int(lv_steps[i + 1]), end)]
            if worse:  # a gradient that grows and then carries the loss down was leaving a saddle, not exploding
                i = worse[0]
                transient_only = False
                firsts.append(int(lv_steps[i]))
                evidence.update(growth=float(growth[i]), grad_norm_early=float(lv[0]), grad_norm_late=float(lv[i + 1]))
        spikes = _cliffs(ctx, g_steps, g)
        if spikes.size >= 2 or (spikes.size == 1 and not firsts):
            firsts.append(int(spikes[0]))
            evidence.update(cliffs=int(spikes.size), first_cliff=int(spikes[0]))
            if spikes.size == 1:
                transient_only = True
            else:
                transient_only = False
    if not firsts:
        return []
    if g.size:
        evidence.setdefault("max_grad_norm", float(np.max(g)))
        evidence.setdefault("median_grad_norm", float(np.median(g)))
    if onset is not None:
        severity = "error"
        evidence["diverged_at"] = onset
    if transient_only and severity != "error":
        severity = "info"
    first = min(firsts)
    what = []
    if "nonfinite_gradient_at" in evidence:
        what.append(f"the gradient became non-finite at step {evidence['nonfinite_gradient_at']} with a normal loss")
    if "layer_ratio" in evidence:
        what.append(f"the first layer's gradient is {evidence['layer_ratio']:.3g}x the last layer's")
    if "growth" in evidence:
        what.append(f"the gradient norm grew {evidence['growth']:.3g}x")
    if "clipped_away" in evidence:
        what.append(
            f"the update used ~1/{evidence['clipped_away']:.3g} of the raw gradient: clipping hides an explosion"
        )
    if "error_ratio" in evidence:
        what.append(
            f"the backpropagated error at {evidence['first_activation']} is {evidence['error_ratio']:.3g}x "
            f"that at {evidence['last_activation']}"
        )
    if "cliffs" in evidence:
        what.append(f"{evidence['cliffs']} gradient cliff(s) of >{th.explode_spike:g}x the running median")
    return [
        ctx.finding(
            "exploding_gradients",
            severity,
            first,
            onset if onset is not None else ctx.last_step,
            "; ".join(what) + " (raw gradients, before any clipping)",
            **evidence,
        )
    ]


def _improved(ctx: Context, a: int, b: int) -> bool:
    """Whether the loss level around step ``b`` is significantly below that around step ``a``."""
    c = ctx.curve
    if c is None:
        return False
    ia, ib = np.searchsorted(c.fsteps, a, side="right"), np.searchsorted(c.fsteps, b, side="right")
    wa, wb = c.fvalues[max(0, ia - c.width) : max(ia, 1)], c.fvalues[max(0, ib - c.width) : max(ib, 1)]
    if not (wa.size and wb.size):
        return False
    return float(np.median(wa) - np.median(wb)) > 3 * math.sqrt(2) * c.level_se(min(wa.size, wb.size))


def clipping_factor(ctx: Context, before: int | None) -> tuple[int, float] | None:
    """How many times larger the raw gradient was than the one the update used, median over sampled steps, for
    SGD-type optimisers (whose step is lr times the -- possibly clipped -- gradient, through momentum):
    ``lr ||g_raw|| / ||dw|| * (1 - momentum)``, a lower bound on the clipping factor (momentum can lengthen a
    step up to 1 / (1 - momentum) times). Clipping is meant for rare spikes (Pascanu et al. 2013, Sec. 3.2); a
    gradient cut tenfold on most steps, whose unclipped step ``lr ||g||`` would exceed the weights' norm, is
    exploding (a threshold set too low cuts sane gradients as well: that is an lr too low). Returns (first step
    cut that much, median) or None."""
    if ctx.adaptive() is not False:
        return None
    settings = ctx.meta.get("settings") or {}
    beta = float(settings.get("momentum", 0.0) or 0.0)
    us, u = ctx.series(T.UPDATE_RATIO, before)
    ws, w = ctx.series(T.WEIGHT_NORM, before)
    ls, lr = ctx.series(T.LR)
    layers = [ctx.series(n, before) for n in ctx.trace.layers(T.GRAD_NORM).values()]
    if not (us.size and ws.size and ls.size and layers):
        return None
    steps = np.intersect1d(us, ws)
    for ls_, _ in layers:
        steps = np.intersect1d(steps, ls_)
    if steps.size < 3:
        return None
    # the weights' own raw gradient (the update ratio is over weight matrices only)
    g = np.sqrt(sum(v[np.searchsorted(s_, steps)] ** 2 for s_, v in layers))
    du = u[np.searchsorted(us, steps)] * w[np.searchsorted(ws, steps)]
    rate = np.array([stats.value_at(ls, lr, int(k)) for k in steps])
    ok = (du > 0) & (g > 0) & np.isfinite(rate) & (rate > 0)
    if ok.sum() < 3:
        return None
    factor = rate[ok] * g[ok] / du[ok] * (1 - beta)
    # a tiny clipping threshold cuts sane gradients too: it hides an explosion only if the unclipped step
    # lr ||g|| would have been larger than the weights themselves
    raw_step = float(np.median(rate[ok] * g[ok] / w[np.searchsorted(ws, steps)][ok]))
    if raw_step < 1.0:
        return None
    big = factor >= ctx.th.explode_clip_factor
    return int(steps[ok][np.argmax(big)]) if big.any() else int(steps[ok][0]), float(np.median(factor))


def _error_ratios(ctx: Context, before: int | None) -> tuple[np.ndarray, np.ndarray, tuple[str, str]] | None:
    """Per sampled step, the RMS of the backpropagated error dL/da at the first hidden activation over that at
    the last one (output activations excluded)."""
    out = set(ctx.meta.get("output_activations", []))
    have = {k: n for k, n in ctx.trace.layers(T.ERROR_RMS).items() if k not in out}
    order = [k for k in ctx.meta.get("activation_order", []) if k in have] or list(have)
    if len(order) < 2:
        return None
    s1, e1 = ctx.series(have[order[0]], before)
    s2, e2 = ctx.series(have[order[-1]], before)
    common, i1, i2 = np.intersect1d(s1, s2, return_indices=True)
    ok = e2[i2] > 0
    return common[ok], e1[i1][ok] / e2[i2][ok], (order[0], order[-1])


def error_ratio(ctx: Context, before: int | None) -> tuple[int, float, tuple[str, str]] | None:
    """The backpropagated-error ratio of :func:`_error_ratios`, median over the sampled steps before
    ``before``: ``(first step above explode_layer_ratio, median, (first, last))``.

    With every layer at the same scale, the weight gradients ``delta_l a_{l-1}^T`` are alike in all layers
    (Glorot & Bengio, AISTATS 2010, Sec. 4.2.2: the activations shrink or grow as the errors grow or shrink),
    so an explosion through depth shows in the errors, not in the weight-gradient ratio.
    """
    found = _error_ratios(ctx, before)
    if found is None or not found[1].size:
        return None
    steps, r, pair = found
    above = r > ctx.th.explode_layer_ratio
    first = int(steps[np.argmax(above)]) if above.any() else int(steps[0])
    return first, float(np.median(r)), pair


def _sane_limit(ctx: Context, step: int) -> float:
    """The largest loss still "normal" at ``step``: divergence_factor times the level of the preceding window."""
    c = ctx.curve
    if c is None:
        return math.inf
    prev = c.fvalues[c.fsteps < step][-c.width :]
    if not prev.size:
        return math.inf
    base = float(np.median(prev))
    return ctx.th.divergence_factor * base if base > 0 else base + ctx.th.divergence_factor * max(abs(base), 1.0)


def _nonfinite_with_sane_loss(ctx: Context) -> tuple[int, int, bool] | None:
    steps, _ = ctx.trace.get(T.GRAD_NONFINITE)
    onset = ctx.onset()
    if onset is not None:
        steps = steps[steps < onset]  # after the blow-up began, overflowing gradients are its consequence
    if not steps.size:
        return None
    c = ctx.curve
    sane = []
    for k in steps:
        if c is None:
            sane.append(int(k))
            continue
        i = np.searchsorted(c.steps, k)
        loss = float(c.values[i]) if i < c.steps.size and c.steps[i] == k else math.nan
        if math.isfinite(loss) and loss <= _sane_limit(ctx, int(k)):
            sane.append(int(k))
    if not sane:
        return None
    p_steps, _ = ctx.trace.get(T.PARAM_NONFINITE)
    recovered = onset is None and not (p_steps.size and p_steps[-1] >= sane[0])
    return sane[0], len(sane), recovered


def _cliffs(ctx: Context, steps: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Steps whose gradient norm is ``explode_spike`` times the median of the previous 50 (and of the first 50),
    with a sane loss."""
    if g.size <= _SPIKE_HISTORY:
        return np.zeros(0, dtype=np.int64)
    from numpy.lib.stride_tricks import sliding_window_view

    med = np.median(sliding_window_view(g[:-1], _SPIKE_HISTORY), axis=1)
    # against the larger of the recent and the early scale: near a minimum the recent median is tiny and any
    # fluctuation would look like a cliff
    ref = np.maximum(med, float(np.median(g[:_SPIKE_HISTORY])))
    cand = np.nonzero(g[_SPIKE_HISTORY:] > ctx.th.explode_spike * ref)[0] + _SPIKE_HISTORY
    c = ctx.curve
    out = []
    for i in cand:
        k = int(steps[i])
        if c is not None:
            j = np.searchsorted(c.steps, k)
            loss = float(c.values[j]) if j < c.steps.size and c.steps[j] == k else math.nan
            if not (math.isfinite(loss) and loss <= _sane_limit(ctx, k)):
                continue
        out.append(k)
    return np.asarray(out, dtype=np.int64)


def vanishing_gradients(ctx: Context) -> list[Finding]:
    """Gradients vanish: over the later half of the samples, the first dense layer's gradient norm stays below
    ``vanish_layer_ratio`` times the last layer's (AUTOTRAINER beta_1 = 1e-3), or the backpropagated error at
    the first hidden activation does (the deep tanh nets of Glorot & Bengio 2010, whose weight gradients stay
    balanced while the error and the activations both fade), so the early layers barely learn."""
    th = ctx.th
    onset = ctx.onset()
    ratio = layer_ratio(ctx, onset)
    found: dict = {}
    start = None
    if ratio is not None and ratio[1].size >= 2:
        steps, r, (first, last) = ratio
        med = float(np.median(r[r.size // 2 :]))
        if med < th.vanish_layer_ratio:
            below = np.nonzero(r >= th.vanish_layer_ratio)[0]
            start = int(steps[below[-1] + 1]) if below.size and below[-1] + 1 < r.size else int(steps[0])
            found.update(
                layer_ratio=med,
                first_layer=first,
                last_layer=last,
                first_layer_grad=float(np.median(ctx.series(f"{T.GRAD_NORM}/{first}")[1])),
                last_layer_grad=float(np.median(ctx.series(f"{T.GRAD_NORM}/{last}")[1])),
            )
    errors = _error_ratios(ctx, onset)
    if errors is not None and errors[1].size >= 2:
        steps, r, (a, b) = errors
        med = float(np.median(r[r.size // 2 :]))
        if med < th.vanish_layer_ratio:
            below = np.nonzero(r >= th.vanish_layer_ratio)[0]
            s0 = int(steps[below[-1] + 1]) if below.size and below[-1] + 1 < r.size else int(steps[0])
            start = s0 if start is None else min(start, s0)
            found.update(error_ratio=med, first_activation=a, last_activation=b)
    if ratio is None and errors is None:
        have = ctx.trace.layers(T.GRAD_NORM)
        ctx.skip(
            "vanishing_gradients",
            "needs per-layer gradient norms of at least two layers" if len(have) < 2 else "no layer order known",
        )
        return []
    if start is None:
        return []
    if "layer_ratio" in found:
        what = (
            f"the first layer ({found['first_layer']}) gets {found['layer_ratio']:.2g}x the gradient of the "
            f"last ({found['last_layer']})"
        )
    else:
        what = (
            f"the error reaching {found['first_activation']} is {found['error_ratio']:.2g}x that at "
            f"{found['last_activation']}"
        )
    return [ctx.finding("vanishing_gradients", "warning", start, ctx.last_step, what, **found)]
