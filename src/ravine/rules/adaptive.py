"""Per-coordinate step sizes from running gradient statistics: Adagrad, RMSProp, Adadelta."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper


def _root(x: Any, eps: Any, inside: bool) -> Any:
    """sqrt(x) + eps (torch, Keras) or sqrt(x + eps) (TF1, optax's eps_root): frameworks disagree."""
    return ops.sqrt(x + eps) if inside else ops.sqrt(x) + eps


class scale_by_adagrad(ElementwiseRule):
    """Adagrad: divide by the root of the sum of all squared gradients so far.

    ``G <- G + u^2``;  ``u <- u / (sqrt(G) + eps) / (1 + (t - 1) * lr_decay)``.

    Args:
        lr_decay: >= 0, torch's extra 1/(1 + (t-1) lr_decay) decay of the step.
        initial_accumulator_value: >= 0, G at the start (torch 0; TensorFlow and optax 0.1).
        eps: > 0... or 0; added to the root (torch 1e-10).
        eps_in_sqrt: put eps inside the root, ``sqrt(G + eps)``, as optax does.

    State: ``sum``.

    Reference: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization", JMLR 12 (2011).
    """

    state_names = ("sum",)

    def __init__(
        self,
        lr_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        eps_in_sqrt: bool = False,
    ) -> None:
        super().__init__(lr_decay=lr_decay, initial_accumulator_value=initial_accumulator_value, eps=eps)
        self.eps_in_sqrt = eps_in_sqrt

    def options(self) -> dict[str, Any]:
        return {"eps_in_sqrt": self.eps_in_sqrt}

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("lr_decay", h["lr_decay"])
        _checks.non_negative("initial_accumulator_value", h["initial_accumulator_value"])
        _checks.non_negative("eps", h["eps"])

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        v = h["initial_accumulator_value"]
        return {"sum": torch.full_like(param, v, memory_format=torch.preserve_format)}

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        return {"decay": 1 + (t - 1) * h["lr_decay"]}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        G = s["sum"] + u * u
        s["sum"] = G
        return u / _root(G, h["eps"], self.eps_in_sqrt) / c["decay"]


class scale_by_rms(ElementwiseRule):
    """RMSProp: divide by the root of an exponential moving average of squared gradients.

    ``v <- alpha * v + (1 - alpha) * u^2``; centered also ``m <- alpha * m + (1 - alpha) * u`` and
    ``v~ = v - m^2``;  ``u <- u / (sqrt(v~) + eps)``.

    Args:
        alpha: smoothing constant in [0, 1) (torch 0.99; Hinton's lecture 0.9).
        eps: >= 0, added to the root (torch 1e-8).
        centered: divide by an estimate of the variance instead of the raw second moment (Graves 2013).
        eps_in_sqrt: ``sqrt(v + eps)`` instead of ``sqrt(v) + eps``.

    State: ``square_avg``, and ``grad_avg`` when centered.

    References: Tieleman & Hinton, Coursera "Neural Networks for Machine Learning", lecture 6.5 (2012);
    Graves, "Generating Sequences With Recurrent Neural Networks" (2013), eq. 38-45.
    """

    state_names = ("square_avg", "grad_avg")

    def __init__(self, alpha: float = 0.99, eps: float = 1e-8, centered: bool = False, eps_in_sqrt: bool = False):
        super().__init__(alpha=alpha, eps=eps, centered=centered)
        self.eps_in_sqrt = eps_in_sqrt

    def options(self) -> dict[str, Any]:
        return {"eps_in_sqrt": self.eps_in_sqrt}

    def validate(self, h: Hyper) -> None:
        _checks.unit_interval("alpha", h["alpha"])
        _checks.non_negative("eps", h["eps"])
        _checks.flag("centered", h["centered"])

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        return self.state_names if h["centered"] else ("square_avg",)

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        alpha = h["alpha"]
        v = s["square_avg"] * alpha + u * u * (1 - alpha)
        s["square_avg"] = v
        if h["centered"]:
            m = s["grad_avg"]
            m = m + (u - m) * (1 - alpha)
            s["grad_avg"] = m
            v = v - m * m
        return u / _root(v, h["eps"], self.eps_in_sqrt)


class scale_by_adadelta(ElementwiseRule):
    """Adadelta: a unit-consistent step, the ratio of two running RMS values (no global learning rate needed).

    ``v <- rho * v + (1 - rho) * u^2``;  ``d = sqrt(a + eps) / sqrt(v + eps) * u``;
    ``a <- rho * a + (1 - rho) * d^2``;  ``u <- d``  (torch then applies lr, default 1.0).

    Args:
        rho: decay rate in [0, 1) (torch 0.9; the paper 0.95).
        eps: >= 0, inside both roots (torch 1e-6).

    State: ``square_avg`` (v), ``acc_delta`` (a).

    Reference: Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701 (2012), algorithm 1.
    """

    state_names = ("square_avg", "acc_delta")

    def __init__(self, rho: float = 0.9, eps: float = 1e-6) -> None:
        super().__init__(rho=rho, eps=eps)

    def validate(self, h: Hyper) -> None:
        _checks.unit_interval("rho", h["rho"])
        _checks.non_negative("eps", h["eps"])

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        rho, eps = h["rho"], h["eps"]
        v = s["square_avg"] * rho + u * u * (1 - rho)
        d = ops.sqrt(s["acc_delta"] + eps) / ops.sqrt(v + eps) * u
        s["square_avg"] = v
        s["acc_delta"] = s["acc_delta"] * rho + d * d * (1 - rho)
        return d
