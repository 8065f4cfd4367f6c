"""Schedule-free learning: the interpolated iterate and the averaged sequence of Defazio et al. (2024).

Three sequences: ``z`` (the base SGD/Adam iterate), ``x`` (a weighted average of the z's: what converges, and
what to evaluate) and ``y = (1 - beta) z + beta x`` (where the gradient is taken). In training mode the parameter
holds ``y``; ``x`` is never stored, since it is recovered from ``y`` and ``z``. One step, with weight
``c = w_t / sum(w_1..w_t)``, ``w_t = t^r * lr_max^q``:

    y <- (1 - c) y + c z + lr (beta (1 - c) - 1) u;   z <- z - lr u

which is the paper's ``z <- z - lr u``, ``x <- (1 - c) x + c z``, ``y <- (1 - beta) z + beta x`` with x eliminated.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper


def lerp(a: Any, b: Any, w: Any) -> Any:
    """torch's ``a.lerp_(b, w)`` for a per-step weight ``w``: ``a + w (b - a)`` below 1/2, ``b - (b - a)(1 - w)``
    from 1/2 on (exact at w = 1), the same two formulas torch's CPU kernel uses."""
    d = b - a
    return ops.select(ops.less(w, 0.5), a + d * w, b - d * (1 - w))


class scale_by_corrected_rms(ElementwiseRule):
    """``v <- beta2 v + (1 - beta2) u^2``;  ``u <- u / (sqrt(v / (1 - beta2^t)) + eps)`` -- Adam without a first
    moment (schedule-free AdamW's normalisation; its momentum is the interpolation of :class:`schedule_free_step`).

    Args:
        betas: reads ``betas[1]`` (beta2, in [0, 1)); ``betas[0]`` belongs to :class:`schedule_free_step`.
        eps: >= 0, outside the root.

    State: ``exp_avg_sq``.
    """

    state_names = ("exp_avg_sq",)

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps)

    def validate(self, h: Hyper) -> None:
        _, b2 = _checks.pair("betas", h["betas"])
        _checks.unit_interval("betas[1]", b2)
        _checks.non_negative("eps", h["eps"])

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        return {"bc2": 1 - h["betas"][1] ** t}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        beta2 = h["betas"][1]
        v = s["exp_avg_sq"] * beta2 + u * u * (1 - beta2)
        s["exp_avg_sq"] = v
        return u / (ops.sqrt(v / c["bc2"]) + h["eps"])


class schedule_free_step(ElementwiseRule):
    """The schedule-free step (a final rule: it returns the new ``y``); see the module docstring.

    ``lr_t = lr * min(1, t / warmup_steps)``;  ``lr_max = max(lr_max, lr_t)``;  ``w_t = t^r * lr_max^q``
    (q = weight_lr_power);  ``c = w_t / sum(w)`` (0 while the sum is 0);
    ``y <- lerp(y, z, c) + lr_t (beta (1 - c) - 1) u``;  ``z <- z - lr_t u``.

    Args:
        momentum: the name of the group hyperparameter holding beta, the interpolation weight of x in y:
            ``"momentum"`` (schedule-free SGD, in (0, 1)) or ``"betas"`` (schedule-free AdamW, its ``betas[0]``).
        warmup_steps: linear warm-up of the learning rate over this many steps (0: none).
        r: the power of t in the averaging weights (0: the plain average of the reference).
        weight_lr_power: q, the power of the largest learning rate so far in the weights (2 in the paper), so that
            iterates of the warm-up count less.

    State: ``z``, and 0-dim float64 ``weight_sum`` and ``lr_max`` (the reference keeps them as Python floats in
    the group; float64 keeps every parameter's copy of them equal to that).

    Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled", NeurIPS 2024,
    algorithm 1 and section 4 (warm-up and the lr_max weighting); the ``schedulefree`` package (Meta).
    """

    final = True
    state_names = ("z",)
    scalar_state_names = ("weight_sum", "lr_max")

    def __init__(
        self, momentum: str = "momentum", warmup_steps: int = 0, r: float = 0.0, weight_lr_power: float = 2.0
    ) -> None:
        _checks.choice("momentum", momentum, ("momentum", "betas"))
        beta: dict[str, Any] = {"momentum": 0.9} if momentum == "momentum" else {"betas": (0.9, 0.999)}
        super().__init__(**beta, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power)
        self.momentum_key = momentum

    def options(self) -> dict[str, Any]:
        return {"momentum": self.momentum_key}

    def _beta(self, h: Hyper) -> Any:
        return h["betas"][0] if self.momentum_key == "betas" else h["momentum"]

    def validate(self, h: Hyper) -> None:
        name = "betas[0]" if self.momentum_key == "betas" else "momentum"
        beta = _checks._number(name, self._beta(h))
        if not 0.0 < beta < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {beta}")
        _checks.non_negative("warmup_steps", h["warmup_steps"])
        _checks.non_negative("r", h["r"])
        _checks.non_negative("weight_lr_power", h["weight_lr_power"])

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        return {
            "z": param.detach().clone(memory_format=torch.preserve_format),
            "weight_sum": torch.zeros((), dtype=torch.float64, device=param.device),
            "lr_max": torch.full((), -1.0, dtype=torch.float64, device=param.device),
        }

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        warmup = h["warmup_steps"]
        sched = ops.select(ops.less(t, warmup + 1), t / ops.maximum(warmup, 1.0), 1.0)
        lr = h["lr"] * sched
        lr_max = ops.maximum(lr, ops.value(ss["lr_max"]))
        weight = t ** h["r"] * lr_max ** h["weight_lr_power"]
        weight_sum = ops.value(ss["weight_sum"]) + weight
        ss["lr_max"], ss["weight_sum"] = lr_max, weight_sum
        empty = ops.equal(weight_sum, 0.0)
        ckp1 = ops.select(empty, 0.0, weight / ops.select(empty, 1.0, weight_sum))
        return {"lr": lr, "ckp1": ckp1, "y_lr": lr * (self._beta(h) * (1 - ckp1) - 1)}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        z = s["z"]
        s["z"] = z - u * c["lr"]
        return lerp(p, z, c["ckp1"]) + u * c["y_lr"]
