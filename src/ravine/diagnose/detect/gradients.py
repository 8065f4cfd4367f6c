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
    gradient ``explode_layer_ratio`` times the last's (AUTOTRAINER); for SGD-type optimisers, a raw step
    ``lr ||g|| / ||w||`` above 1; the norm growing ``explode_growth``-fold; or cliffs -- single steps
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
    raw = _raw_step_ratio(ctx, onset)
    if raw is not None and raw[1] > 1.0:
        transient_only = False
        firsts.append(raw[0])
        evidence.update(raw_step_ratio=raw[1])
    g_steps, g = ctx.series(T.GRAD_NORM, onset)
    if g.size >= 10:
        width = max(5, g.size // 20)
        lv_steps, lv = stats.window_levels(g_steps, g, width)
        if lv.size >= 2:
            low = np.minimum.accumulate(lv)
            growth = lv[1:] / np.maximum(low[:-1], 1e-300)
            i = int(np.argmax(growth))
            if growth[i] >= th.explode_growth:
                transient_only = False
                firsts.append(int(lv_steps[i]))
                evidence.update(growth=float(growth[i]), grad_norm_early=float(low[i]), grad_norm_late=float(lv[i + 1]))
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
    if "raw_step_ratio" in evidence:
        what.append(f"a plain step lr*g would be {evidence['raw_step_ratio']:.3g}x the weights' own norm")
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


def _raw_step_ratio(ctx: Context, before: int | None) -> tuple[int, float] | None:
    """``lr ||g_raw|| / ||w||``, median over the sampled steps with a sane loss before ``before``, for optimisers
    whose step follows the raw gradient (SGD and momentum; not Adam-type, whose step is scale-free): above 1, a
    plain step with the unclipped gradient would move the weights by more than their own norm. Returns the
    first such step and the median, or None."""
    if ctx.adaptive() is not False:
        return None
    ws, w = ctx.series(T.WEIGHT_NORM, before)
    gs, g = ctx.series(T.GRAD_NORM, before)
    ls, lr = ctx.series(T.LR)
    if not (ws.size and gs.size and ls.size):
        return None
    common, iw, ig = np.intersect1d(ws, gs, return_indices=True)
    ratios, steps = [], []
    for k, a, b in zip(common, iw, ig, strict=True):
        rate = stats.value_at(ls, lr, int(k))
        c = ctx.curve
        if c is not None:
            j = np.searchsorted(c.steps, k)
            loss = float(c.values[j]) if j < c.steps.size and c.steps[j] == k else math.nan
            if math.isfinite(loss) and loss > _sane_limit(ctx, int(k)):
                continue
        if w[a] > 0 and math.isfinite(rate):
            ratios.append(rate * g[b] / w[a])
            steps.append(int(k))
    if not ratios:
        return None
    r = np.asarray(ratios)
    med = float(np.median(r))
    return (steps[int(np.argmax(r > 1.0))] if (r > 1.0).any() else steps[0]), med


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
    onset = ctx.onset()
    p_steps, _ = ctx.trace.get(T.PARAM_NONFINITE)
    recovered = onset is None and not (p_steps.size and p_steps[-1] >= sane[0])
    return sane[0], len(sane), recovered


def _cliffs(ctx: Context, steps: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Steps whose gradient norm is ``explode_spike`` times the median of the previous 50, with a sane loss."""
    if g.size <= _SPIKE_HISTORY:
        return np.zeros(0, dtype=np.int64)
    from numpy.lib.stride_tricks import sliding_window_view

    med = np.median(sliding_window_view(g[:-1], _SPIKE_HISTORY), axis=1)
    cand = np.nonzero(g[_SPIKE_HISTORY:] > ctx.th.explode_spike * med)[0] + _SPIKE_HISTORY
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
    ``vanish_layer_ratio`` times the last layer's (AUTOTRAINER beta_1 = 1e-3), so the early layers barely learn."""
    th = ctx.th
    ratio = layer_ratio(ctx, ctx.onset())
    if ratio is None:
        have = ctx.trace.layers(T.GRAD_NORM)
        ctx.skip(
            "vanishing_gradients",
            "needs per-layer gradient norms of at least two layers" if len(have) < 2 else "no layer order known",
        )
        return []
    steps, r, (first, last) = ratio
    if r.size < 2:
        return []
    recent = r[r.size // 2 :]
    med = float(np.median(recent))
    if not med < th.vanish_layer_ratio:
        return []
    below = np.nonzero(r >= th.vanish_layer_ratio)[0]
    start = int(steps[below[-1] + 1]) if below.size and below[-1] + 1 < r.size else int(steps[0])
    g1 = ctx.series(f"{T.GRAD_NORM}/{first}")[1]
    g2 = ctx.series(f"{T.GRAD_NORM}/{last}")[1]
    return [
        ctx.finding(
            "vanishing_gradients",
            "warning",
            start,
            ctx.last_step,
            f"the first layer ({first}) gets {med:.2g}x the gradient of the last ({last})",
            layer_ratio=med,
            first_layer=first,
            last_layer=last,
            first_layer_grad=float(np.median(g1)),
            last_layer_grad=float(np.median(g2)),
            samples=int(recent.size),
        )
    ]
