"""What to try, for this optimiser, at this learning rate, with this run's own numbers.

The remedies follow the textbook guidance (Goodfellow, Bengio & Courville, "Deep Learning", 2016, Ch. 8 and
11.4; the references in each function): adaptive methods for noisy gradients, sparse features and deep nets;
gradient clipping for exploding gradients; schedules and warm-up; SGD with momentum for final generalisation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ravine.diagnose import trace as T
from ravine.diagnose.findings import Finding

_ADAPTIVE = ("adam", "adamw", "nadam", "radam", "adamax", "rmsprop", "adagrad", "adadelta", "lion")


@dataclasses.dataclass(frozen=True)
class Setup:
    """The optimiser as the advice needs it: its name, settings, and the run's learning rate."""

    name: str
    lr: float | None
    momentum: float | None
    adaptive: bool
    activations: tuple[str, ...]
    layer_types: tuple[str, ...]

    @property
    def label(self) -> str:
        if not self.name:
            return "the optimiser"
        extra = f", momentum {self.momentum:g}" if self.momentum else ""
        return f"{self.name}{extra}"


def setup_of(trace: T.Trace, evidence: Mapping[str, Any]) -> Setup:
    meta = trace.meta
    settings = meta.get("settings", {}) or {}
    lr = evidence.get("lr")
    if not isinstance(lr, (int, float)):
        lr = settings.get("lr")
    if not isinstance(lr, (int, float)) and trace.has(T.LR):
        lr = float(trace.get(T.LR)[1][-1])
    name = str(meta.get("optimizer", ""))
    acts = meta.get("activations")
    return Setup(
        name=name,
        lr=float(lr) if isinstance(lr, (int, float)) else None,
        momentum=settings.get("momentum") if isinstance(settings.get("momentum"), (int, float)) else None,
        adaptive=name.lower() in _ADAPTIVE or "betas" in settings,
        activations=tuple(sorted(set(acts.values()))) if isinstance(acts, dict) else (),
        layer_types=tuple(sorted(set((meta.get("layer_types") or {}).values()))),
    )


def _lr(x: float) -> str:
    return f"{x:.2g}"


def _hessian(trace: T.Trace) -> float | None:
    if trace.has(T.HESSIAN_MAX):
        return float(trace.get(T.HESSIAN_MAX)[1][-1])
    return None


def _lower_lr(s: Setup, trace: T.Trace, factor_lo: float = 3, factor_hi: float = 10) -> str:
    edge = float(trace.get(T.EDGE_RATIO)[1][-1]) if trace.has(T.EDGE_RATIO) else None
    lam = _hessian(trace)
    if s.lr is not None and edge is not None and edge > 0:
        limit = trace.meta.get("stability_limit", "the optimiser's stability limit")
        return (
            f"lr {_lr(s.lr)} puts the sharpest direction (lambda_max ~ {lam:.3g}) at {edge:.2g}x the stability "
            f"limit ({limit}); lr <= {_lr(0.9 * s.lr / edge)} is stable -- or add warm-up"
        )
    if s.lr is not None and lam is not None and lam > 0 and not s.adaptive and not s.momentum:
        bound = 2 / lam
        return (
            f"lr {_lr(s.lr)} with lambda_max ~ {lam:.3g}: the stable range is lr < 2/lambda_max = {_lr(bound)}; "
            f"try lr <= {_lr(0.9 * bound)}, or add warm-up"
        )
    if s.lr is not None:
        lo, hi = _lr(s.lr / factor_lo), _lr(s.lr / factor_hi)
        return f"lower the learning rate {factor_lo:g}-{factor_hi:g}x: lr {_lr(s.lr)} -> {lo} ... {hi}"
    return f"lower the learning rate {factor_lo:g}-{factor_hi:g}x"


def _warmup(s: Setup) -> str:
    return (
        "add a warm-up: raise the lr linearly from ~0 over the first 1-5% of the steps "
        "(torch.optim.lr_scheduler.LinearLR or a ravine schedule)"
    )


def _divergence(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = [_lower_lr(s, trace), _warmup(s)]
    onset = f.evidence.get("onset", f.first_step)
    steps, g = trace.get(T.GRAD_NORM)
    before = g[(steps < onset) & (g == g)] if steps.size else g
    if before.size:
        out.append(
            f"clip the gradient norm at about its typical value before the blow-up: "
            f"torch.nn.utils.clip_grad_norm_(model.parameters(), {float(np.median(before)):.2g})"
        )
    if s.adaptive:
        out.append("for Adam-type optimisers, a larger eps (1e-8 -> 1e-6) damps steps on near-zero second moments")
    if "nonfinite_at" in f.evidence:
        out.append(
            "if the loss was finite just before: check inputs and the loss for log(0), 0/0 or overflow "
            "(use log-softmax / BCEWithLogitsLoss rather than softmax then log)"
        )
    return out


def _exploding(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = []
    med = f.evidence.get("median_grad_norm")
    recurrent = [t for t in s.layer_types if t in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")]
    structural = any(k in f.evidence for k in ("layer_ratio", "error_ratio")) or recurrent
    if "clipped_away" in f.evidence:
        out.append(
            f"clipping already throws away all but ~1/{f.evidence['clipped_away']:.3g} of every gradient: "
            "tame the gradient itself rather than clip harder"
        )
    elif isinstance(med, (int, float)):
        out.append(
            f"clip the raw gradient norm near its median, {med:.2g}: "
            f"torch.nn.utils.clip_grad_norm_(model.parameters(), {med:.2g}) (Pascanu et al. 2013)"
        )
    else:
        out.append("clip the gradient norm (torch.nn.utils.clip_grad_norm_), Pascanu et al. 2013")
    if structural or "clipped_away" in f.evidence:
        out.append(
            "the gradient grows through depth (or time, in a recurrent net): initialise weights to preserve "
            "scale (He for ReLU, Glorot for tanh, orthogonal with gain <= 1 for recurrent weights) and add "
            "normalisation (BatchNorm / LayerNorm) or residual connections"
        )
    if "RNN" in recurrent:
        out.append("a plain RNN explodes over long sequences: LSTM or GRU keep the gradient bounded")
    out.append(_lower_lr(s, trace))
    if not s.adaptive:
        out.append(
            "Adam or RMSprop scale each coordinate by its own gradient size, so one huge gradient moves "
            "the weights by at most about lr"
        )
    return out


def _vanishing(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = []
    sat = [a for a in s.activations if a in ("Sigmoid", "Tanh", "Hardtanh", "Softsign", "Hardsigmoid")]
    if sat:
        out.append(
            f"replace the hidden {', '.join(sat)} activations by ReLU or GELU: their slope is at most "
            f"{'0.25' if 'Sigmoid' in sat else '1'} and shrinks the gradient at every layer"
        )
    out.append(
        "initialise for the activation (He/Kaiming for ReLU, Glorot/Xavier for tanh) so the gradient keeps "
        "its scale through depth (Glorot & Bengio 2010; He et al. 2015)"
    )
    out.append("add normalisation (BatchNorm / LayerNorm) or residual connections")
    if not s.adaptive:
        out.append(
            "an adaptive optimiser (Adam, RMSprop) rescales each coordinate, so the small gradients of the "
            "early layers still move them"
        )
    return out


def _dead(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = [_lower_lr(s, trace, 2, 10) + " (a large step that pushes a unit's bias negative kills it for good)"]
    out.append("use an activation without a flat region: LeakyReLU(0.01), ELU or GELU")
    out.append(
        "initialise with He/Kaiming and zero (or slightly positive, 0.01) biases; check for large negative biases"
    )
    out.append("BatchNorm before the activation keeps each unit's input centred")
    out.append(_warmup(s))
    return out


def _saturation(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    return [
        "standardise the inputs (zero mean, unit variance per feature)",
        "initialise with Glorot/Xavier (smaller weights keep tanh/sigmoid in their linear range)",
        "use ReLU-family activations in hidden layers, or BatchNorm before the activation",
        _lower_lr(s, trace, 2, 5),
    ]


def _plateau(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    at, peak = f.evidence.get("lr_collapsed_at"), f.evidence.get("peak_lr")
    if at is not None and peak is not None:
        return [
            f"the schedule drove the lr to ~0 at step {at}: keep it near lr {_lr(peak)} longer, or decay it to "
            "a floor (e.g. 1/100 of the peak) instead of to zero",
            "a cosine or linear decay should end where the run ends: check its length (T_max, total_steps)",
        ]
    out = []
    if not s.adaptive and not s.momentum:
        out.append("add momentum: SGD(momentum=0.9) or Nesterov carries the iterate across flat regions")
    if not s.adaptive:
        out.append("Adam rescales the small gradients of a flat region and usually leaves it sooner")
    if s.lr is not None:
        out.append(
            f"try a larger learning rate for the flat stretch: lr {_lr(s.lr)} -> {_lr(3 * s.lr)}, "
            "or a schedule with warm restarts (SGDR)"
        )
    out.append("check the data pipeline: a model that learns nothing may see shuffled labels or constant inputs")
    if f.evidence.get("hessian_min") is None:
        out.append("pass closure= to doctor.after_backward so the doctor can tell a plateau from a saddle")
    return out


def _lr_too_low(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = []
    if s.lr is not None:
        out.append(f"raise the learning rate: lr {_lr(s.lr)} -> try {_lr(3 * s.lr)} and {_lr(10 * s.lr)}")
    else:
        out.append("raise the learning rate 3-10x")
    out.append(
        "an LR range test (Smith 2017) finds the largest stable lr in one short run: raise the lr "
        "geometrically each step and keep ~1/10 of where the loss blows up"
    )
    if s.adaptive:
        out.append(f"{s.name or 'Adam'} is usually run at 1e-4 ... 3e-3 on networks of this kind")
    elif s.name.lower() == "sgd":
        out.append("plain SGD needs lr 0.01 ... 0.5 on typical networks; momentum 0.9 multiplies the step by ~10")
    if trace.has(T.LR):
        lr = trace.get(T.LR)[1]
        if lr.size > 2 and lr[-1] < 0.1 * lr.max():
            out.append("the schedule decays the lr more than 10x: decay later or less")
    return out


def _oscillation(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = [_lower_lr(s, trace, 2, 10)]
    edge = f.evidence.get("edge_ratio")
    if isinstance(edge, (int, float)) and edge > 1 and s.lr is not None:
        out.append(
            f"the sharpest direction sits {edge:.2g}x beyond the stability limit: lr <= {_lr(s.lr / edge)} "
            "would be stable (Cohen et al. 2021)"
        )
    out.append("decay the learning rate (step, cosine or 1/t) so the bounces shrink as training goes on")
    out.append("larger batches average out gradient noise that kicks the iterate around")
    if s.adaptive:
        out.append("for Adam: beta2 = 0.999 (not lower) and gradient clipping tame spikes")
    elif not s.momentum:
        out.append("SGD with momentum 0.9 at a 10x lower lr keeps the speed and damps the zig-zag")
    return out


def _overfitting(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    best = f.evidence.get("best_step")
    out = [f"stop early: the best validation result was at step {best}" if best is not None else "stop early"]
    if s.adaptive:
        out.append("regularise: decoupled weight decay (AdamW, weight_decay 0.01-0.1), dropout, data augmentation")
        out.append(
            "SGD with momentum often generalises better than adaptive methods at the end of training "
            "(Wilson et al., NeurIPS 2017)"
        )
    else:
        out.append("regularise: weight decay (~5e-4 for SGD), dropout, data augmentation")
    out.append("a smaller model or more data")
    return out


def _saddle(f: Finding, s: Setup, trace: T.Trace) -> list[str]:
    out = []
    if not s.momentum and not s.adaptive:
        out.append("momentum (SGD momentum 0.9 or Nesterov) accelerates along the escape direction")
    if not s.adaptive:
        out.append("Adam/RMSprop rescale the small escape direction and leave saddles sooner (Dauphin et al. 2014)")
    out.append(
        "initialise away from the saddle: orthogonal or He initialisation instead of small random weights "
        "(Saxe et al. 2014)"
    )
    if s.lr is not None:
        out.append(
            f"a larger lr during the stall (lr {_lr(s.lr)} -> {_lr(3 * s.lr)}) or gradient noise (smaller "
            "batches) shortens the escape"
        )
    return out


ADVICE: dict[str, Callable[[Finding, Setup, T.Trace], list[str]]] = {
    "divergence": _divergence,
    "exploding_gradients": _exploding,
    "vanishing_gradients": _vanishing,
    "dead_units": _dead,
    "saturation": _saturation,
    "plateau": _plateau,
    "lr_too_low": _lr_too_low,
    "oscillation": _oscillation,
    "overfitting": _overfitting,
    "saddle": _saddle,
}


def attach(f: Finding, trace: T.Trace) -> Finding:
    """``f`` with its advice filled in (info findings get none: there is nothing to fix)."""
    if f.severity == "info" or f.advice:
        return f
    setup = setup_of(trace, f.evidence)
    advice = [a[0].upper() + a[1:] for a in ADVICE[f.kind](f, setup, trace)]
    return dataclasses.replace(f, advice=tuple(advice))
