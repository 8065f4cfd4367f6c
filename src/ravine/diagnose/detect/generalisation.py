"""Overfitting: the validation loss rises while the training loss keeps falling (Prechelt's GL criterion)."""

from __future__ import annotations

import math

import numpy as np

from ravine.diagnose import stats
from ravine.diagnose.detect.context import Context
from ravine.diagnose.findings import Finding


def _train_level(ctx: Context, step: int) -> float:
    """Training loss around ``step``: the evaluated ``train_loss`` there if any, else the curve's window level."""
    s, v = ctx.series("train_loss")
    if s.size >= 2 and ctx.trace.has("loss"):
        return stats.value_at(s, v, step)
    c = ctx.curve
    if c is None or not c.n:
        return math.nan
    i = int(np.searchsorted(c.fsteps, step, side="right"))
    lo = max(0, i - c.width)
    window = c.fvalues[lo : max(i, lo + 1)]
    return float(np.median(window)) if window.size else math.nan


def overfitting(ctx: Context) -> list[Finding]:
    """The validation loss has stayed ``overfit_generalization_loss`` above its best for the last
    ``overfit_evals_after_best`` evaluations (Prechelt 1998, GL_5) while the training loss kept falling; with
    accuracy only, validation accuracy fell ``overfit_acc_drop`` below its best while training improved."""
    th = ctx.th
    vs, vl = ctx.series("val_loss")
    if vs.size >= 3:
        return _from_loss(ctx, vs, vl)
    va_s, va = ctx.series("val_acc")
    if va_s.size >= 3:
        return _from_accuracy(ctx, va_s, va)
    ctx.skip(
        "overfitting",
        "no validation metrics (call doctor.on_eval(val={'loss': ...}) or log val_loss)"
        if vs.size + va_s.size == 0
        else f"fewer than 3 evaluations (need {th.overfit_evals_after_best + 1})",
    )
    return []


def _from_loss(ctx: Context, vs: np.ndarray, vl: np.ndarray) -> list[Finding]:
    th = ctx.th
    b = int(np.argmin(vl))
    after = vl[b + 1 :]
    best = float(vl[b])
    if after.size < th.overfit_evals_after_best:
        return []
    recent = after[-th.overfit_evals_after_best :]
    gl = recent / best - 1 if best > 0 else (recent - best) / max(abs(best), 1e-12)
    if not np.all(gl > th.overfit_generalization_loss):
        return []
    train_then, train_now = _train_level(ctx, int(vs[b])), _train_level(ctx, int(vs[-1]))
    if not (train_now < train_then):
        return []
    return [
        ctx.finding(
            "overfitting",
            "warning",
            int(vs[b]),
            int(vs[-1]),
            f"validation loss rose {float(gl[-1]):.0%} above its best (step {int(vs[b])}) while training loss fell",
            best_val_loss=best,
            best_step=int(vs[b]),
            val_loss=float(vl[-1]),
            generalization_loss=float(gl[-1]),
            train_loss_at_best=train_then,
            train_loss=train_now,
            evaluations_after_best=int(after.size),
        )
    ]


def _from_accuracy(ctx: Context, s: np.ndarray, acc: np.ndarray) -> list[Finding]:
    th = ctx.th
    b = int(np.argmax(acc))
    after = acc[b + 1 :]
    if after.size < th.overfit_evals_after_best:
        return []
    recent = after[-th.overfit_evals_after_best :]
    if not np.all(acc[b] - recent >= th.overfit_acc_drop):
        return []
    ts, ta = ctx.series("train_acc")
    if ts.size >= 2:
        improving = stats.value_at(ts, ta, int(s[-1])) > stats.value_at(ts, ta, int(s[b]))
    else:
        improving = _train_level(ctx, int(s[-1])) < _train_level(ctx, int(s[b]))
    if not improving:
        return []
    return [
        ctx.finding(
            "overfitting",
            "warning",
            int(s[b]),
            int(s[-1]),
            f"validation accuracy fell from {float(acc[b]):.3g} (step {int(s[b])}) to {float(acc[-1]):.3g} "
            "while training improved",
            best_val_acc=float(acc[b]),
            best_step=int(s[b]),
            val_acc=float(acc[-1]),
        )
    ]
