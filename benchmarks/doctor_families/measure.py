"""Independent measurements that verify a run's labels and forbidden pairs; none uses the doctor.

Each returns numbers computed from scratch on the model, a probe batch or the loss curve: layer gradient norms,
dead and saturated fractions of activations, exact Hessian extremes, a stall followed by an escape, the
validation curve. The *panel* turns them into the kinds a run verifiably does NOT have (its forbidden pairs).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from _doctor_runs import activation_outputs, hessian_extremes, layer_grad_norms
from doctor_families.data import Task
from doctor_families.loop import Run

__all__ = ["dead", "grad_ratio", "hessian_extremes", "overfit", "panel", "raw_norm", "saturated", "stall_escape"]

RECTIFIERS = (nn.ReLU, nn.ReLU6)
SMOOTH_RECTIFIERS = (nn.GELU, nn.SiLU, nn.ELU)  # can also fall silent: output ~0 (and slope ~0) far left of 0
BOUNDED = (nn.Tanh, nn.Sigmoid, nn.Hardtanh)
RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)


def ratio(first: float, last: float) -> float:
    """first / last; inf when only ``last`` is 0, nan when both are (no gradient at all says nothing)."""
    if last > 0:
        return first / last
    return math.nan if first == 0 else math.inf


def grad_ratio(model: nn.Module, task: Task, n: int = 512) -> float:
    """Gradient norm of the first weight matrix over that of the last, on ``n`` training examples."""
    g = layer_grad_norms(model, task.loss(model(task.x[:n]), task.y[:n]))
    return ratio(g[0], g[-1])


def raw_norm(model: nn.Module, task: Task, n: int = 512) -> float:
    """Global norm of the raw (unclipped) gradient of the weight matrices on ``n`` training examples."""
    g = layer_grad_norms(model, task.loss(model(task.x[:n]), task.y[:n]))
    return math.sqrt(sum(v * v for v in g))


def dead(model: nn.Module, task: Task, n: int = 1000) -> float:
    """Largest fraction, over rectifier layers, of units silent on every one of ``n`` inputs (0 if none).

    Silent: output <= 0 for ReLU; |output| < 0.01 for GELU / SiLU / ELU (their flat left tail).
    """
    was = model.training
    model.eval()
    outs = [(o, o <= 0) for o in activation_outputs(model, task.x[:n], RECTIFIERS)]
    outs += [(o, o.abs() < 0.01) for o in activation_outputs(model, task.x[:n], SMOOTH_RECTIFIERS)]
    model.train(was)
    fracs = []
    for o, silent in outs:
        # a unit of a convolution is a channel (a pixel that is 0 in every image is not a dead unit)
        s = silent.transpose(0, 1).reshape(o.shape[1], -1).T if o.dim() == 4 else silent.reshape(o.shape[0], -1)
        fracs.append(float(s.all(0).float().mean()))
    return max(fracs, default=0.0)


def saturated(model: nn.Module, task: Task, n: int = 1000) -> float:
    """Largest fraction, over tanh / sigmoid / hardtanh layers, of values whose slope is < 1% of its maximum."""
    was = model.training
    model.eval()
    frac = 0.0
    for kind, flat in (
        (nn.Tanh, lambda o: 1 - o**2 < 0.01),
        (nn.Sigmoid, lambda o: 4 * o * (1 - o) < 0.01),
        (nn.Hardtanh, lambda o: o.abs() >= 1),
    ):
        for o in activation_outputs(model, task.x[:n], kind):
            frac = max(frac, float(flat(o).float().mean()))
    model.train(was)
    return frac


def stall_escape(losses: list[float], stall: float = 0.2, flat: float = 0.05, drop: float = 0.3) -> bool:
    """Whether the loss curve sits flat for a while and then falls: the shape a saddle leaves.

    Blocks of 5% of the run are median-smoothed; a stall is ``stall`` of the run (consecutive blocks) over which
    the curve moves less than ``flat`` of its start, and the escape a later fall of at least ``drop`` of it.
    """
    vals = [v for v in losses if math.isfinite(v)]
    if len(vals) < 40:
        return False
    k = len(vals) // 20
    s = [float(torch.tensor(vals[i : i + k]).median()) for i in range(0, 20 * k, k)]
    span = max(1, int(stall * 20))
    for i in range(0, 20 - span):
        window = s[i : i + span + 1]
        if max(window) - min(window) < flat * abs(s[0]) and min(s[i + span :]) <= (1 - drop) * window[-1]:
            return True
    return False


def overfit(run: Run) -> tuple[bool, str]:
    """Validation loss 5% above its best on the last two evaluations while the training loss kept falling."""
    val = [v for _, _, v in run.evals]
    tr = [t for _, t, _ in run.evals]
    if len(val) < 4:
        return False, "fewer than 4 evaluations"
    b = min(range(len(val)), key=val.__getitem__)
    ok = val[-1] >= 1.05 * val[b] and val[-2] >= 1.05 * val[b] and tr[-1] < tr[b]
    return ok, f"val best {val[b]:.3g} at eval {b}, last {val[-1]:.3g}; train {tr[b]:.3g} -> {tr[-1]:.3g}"


def _has(model: nn.Module, kinds: tuple[type[nn.Module], ...]) -> bool:
    return any(isinstance(m, kinds) for m in model.modules())


def panel(run: Run, task: Task) -> dict[str, str]:
    """The kinds this run verifiably does not have, each with the measurement that says so.

    A kind with no applicable measurement, or whose measurement is borderline, is left out: it is neither a
    label nor forbidden (unjudged).
    """
    m, out = run.model, {}
    first, final, best = run.first(), run.final(), run.best()
    finite = all(math.isfinite(v) for v in run.losses)
    if finite and final <= first and final <= best + 0.5 * (first - best):
        out["divergence"] = f"finite; final {final:.3g} kept half the progress from {first:.3g} to best {best:.3g}"
    if finite and final <= 0.7 * first:
        out["plateau"] = f"final {final:.3g} <= 0.7 x the first {first:.3g}"
    if finite:
        ratio_end = grad_ratio(m, task)
        lo, hi = min(run.init_ratio, ratio_end), max(run.init_ratio, ratio_end)
        start = float(torch.tensor(run.grad_norms[:10]).median())
        growth = max(run.grad_norms) / start if start > 0 else math.inf
        if lo >= 1e-2:
            out["vanishing_gradients"] = f"first/last layer gradient ratio {lo:.2g} .. {hi:.2g} (>= 1e-2)"
        if hi <= 10 and growth <= 30:
            out["exploding_gradients"] = f"layer ratio <= {hi:.2g}; raw norm at most {growth:.3g}x its start"
        if not _has(m, RECTIFIERS + SMOOTH_RECTIFIERS):
            out["dead_units"] = "no rectifier units"
        elif (f := dead(m, task)) < 0.2:  # well below the 0.5 of a dying layer (the doctor's and our label's)
            out["dead_units"] = f"{f:.0%} of a rectifier layer dead on 1000 inputs"
        if not _has(m, BOUNDED + RECURRENT):
            out["saturation"] = "no bounded (tanh / sigmoid) units"
        elif not _has(m, RECURRENT) and (f := saturated(m, task)) < 0.2:  # ditto, DeepDiagnosis' 0.5
            out["saturation"] = f"{f:.0%} of a bounded layer's values saturated"
        if not stall_escape(run.losses) and run.at(0.0, 0.2) <= first - 0.2 * (first - final) and final < first:
            out["saddle"] = "no stall: 20% of the progress made in the first 20% of steps"
    if run.evals and len(run.evals) >= 4:
        val = [v for _, _, v in run.evals]
        best = min(val)
        # a rise that costs < 2% of the level or of the progress made is noise, not overfitting (GL5 needs 5%)
        if val[-1] <= max(1.02 * best, best + 0.02 * (val[0] - best)):
            out["overfitting"] = f"last val loss {val[-1]:.3g} within 2% of its best {best:.3g}"
    return out
