"""Averaged stochastic gradient descent: a decaying step, and the running average of the iterates."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper, scalar_dtype


class averaged_step(ElementwiseRule):
    """ASGD (torch's ``ASGD``): SGD with a decaying step size ``eta``, and the Polyak-Ruppert average of the iterates.

    ``p <- p * (1 - lambd * eta_t) - eta_t * u``;  ``ax <- p`` while ``mu_t = 1``, then ``ax <- ax + mu_t (p - ax)``;
    ``eta_{t+1} = lr / (1 + lambd * lr * t)^alpha``;  ``mu_{t+1} = 1 / max(1, t - t0)``  (``eta_1 = lr``, ``mu_1 = 1``).

    The step size is not ``lr * u``: the rule is *final* (:attr:`ravine.rules.base.Rule.final`) and returns the new
    parameter, from which it also updates the average ``ax``. ``ax`` is what the theory says converges (at the
    optimal rate, Polyak & Juditsky); evaluate with it by copying it into the parameters. ``eta`` and ``mu`` are
    0-dim state in torch's scalar dtype, read as doubles and rounded when stored, as torch does, so a run matches
    torch's to the last bit of its schedule; an lr changed by a scheduler takes effect through ``eta`` one step
    later, as in torch.

    Args:
        lambd: decay term lambda >= 0 (torch 1e-4); it decays both the step size and the parameter.
        alpha: power of the step-size decay (torch 0.75).
        t0: the step after which averaging starts (torch 1e6).

    State: ``ax`` (the average), ``eta``, ``mu``.

    References: Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging", SIAM J. Control and
    Optimization 30(4), 1992; Bottou, "Stochastic Gradient Descent Tricks" (2012), section 5.3 (this schedule).
    """

    final = True
    state_names = ("ax",)
    scalar_state_names = ("eta", "mu")

    def __init__(self, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6) -> None:
        super().__init__(lambd=lambd, alpha=alpha, t0=t0)

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("lambd", h["lambd"])
        for name in ("alpha", "t0"):
            if not math.isfinite(_checks._number(name, h[name])):
                raise ValueError(f"{name} must be a finite number, got {h[name]}")

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        lr = h["lr"]
        return {
            "ax": torch.zeros_like(param, memory_format=torch.preserve_format),
            "eta": torch.tensor(float(lr), dtype=scalar_dtype(), device=param.device),
            "mu": torch.ones((), dtype=scalar_dtype(), device=param.device),
        }

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        eta, mu = ops.value(ss["eta"]), ops.value(ss["mu"])  # this step's, set by the previous one
        lr, lambd = h["lr"], h["lambd"]
        ss["eta"] = lr / ((1 + lambd * lr * t) ** h["alpha"])
        ss["mu"] = 1 / ops.maximum(1.0, t - h["t0"])
        return {"decay": 1 - lambd * eta, "eta": eta, "mu": mu, "copy": ops.equal(mu, 1.0)}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        p_new = p * c["decay"] - u * c["eta"]
        ax = s["ax"]
        # mu = 1 copies (ax + (p - ax) * 1 would round differently)
        s["ax"] = ops.select(c["copy"], p_new, ax + (p_new - ax) * c["mu"])
        return p_new
