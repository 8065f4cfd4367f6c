"""Layer-wise adaptation: each tensor's update rescaled by the ratio of the tensor's norm to the update's norm.

LARS (You, Gitman & Ginsburg 2017) applies it to the gradient, before momentum; LAMB (You et al. 2020) to Adam's
direction plus the decoupled decay. One rule serves both: it is a *per-tensor* reduction (two norms per tensor),
so it is not elementwise and runs on the reference path, where each tensor's norms are measured in its dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks
from ravine.rules.base import Hyper, Rule


class scale_by_trust_ratio(Rule):
    """``u <- ratio * u``, ``ratio = coef * phi(||p||) / (||u|| + eps)``, per tensor; 1 where either norm is 0.

    ``phi(z) = min(z, clamp_value)`` (the identity without a clamp). With ``decay_in_ratio`` (LARS) the rule also
    adds the L2 decay: ``ratio = coef * ||p|| / (||u|| + lambda ||p||)``, ``u <- ratio * (u + lambda p)``.

    Args:
        trust_coefficient: ``None`` for coef = 1 (LAMB); a name of nothing else: LARS's eta, a group
            hyperparameter (``trust_coefficient``, > 0; 1e-3 in the LARS paper).
        clamp_value: upper bound of phi (pytorch_optimizer's LAMB uses 10), or ``None``.
        eps: added to the update's norm (pytorch_optimizer's LAMB adds its eps; optax and the paper add none).
        decay_in_ratio: LARS's form, reading the group's ``weight_decay``.
        min_ndim: tensors with fewer dimensions are left alone (LARS: 2, so biases and gains keep the plain step
            and no decay, as pytorch_optimizer's LARS does).

    Group flag ``layer_adaptation`` (default True): False leaves that group's tensors unscaled -- the LAMB paper's
    exclusion of biases and normalisation gains, set per group (see :func:`ravine.optim.param_groups_without_decay`).

    References: You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", arXiv:1708.03888 (2017),
    algorithm 1; You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020,
    algorithm 2.
    """

    def __init__(
        self,
        trust_coefficient: float | None = None,
        clamp_value: float | None = None,
        eps: float = 0.0,
        decay_in_ratio: bool = False,
        min_ndim: int = 0,
    ) -> None:
        hyper: dict[str, Any] = {"layer_adaptation": True}
        if trust_coefficient is not None:
            hyper["trust_coefficient"] = trust_coefficient
        if decay_in_ratio:
            hyper["weight_decay"] = 0.0
        super().__init__(**hyper)
        if clamp_value is not None:
            _checks.positive("clamp_value", clamp_value)
        _checks.non_negative("eps", eps)
        self.clamp_value, self.eps = clamp_value, float(eps)
        self.decay_in_ratio, self.min_ndim = decay_in_ratio, int(min_ndim)

    def options(self) -> dict[str, Any]:
        return {"clamp_value": self.clamp_value, "eps": self.eps, "decay": self.decay_in_ratio, "ndim": self.min_ndim}

    def validate(self, h: Hyper) -> None:
        _checks.flag("layer_adaptation", h["layer_adaptation"])
        if "trust_coefficient" in self.hyperparams:
            _checks.positive("trust_coefficient", h["trust_coefficient"])
        if self.decay_in_ratio:
            _checks.non_negative("weight_decay", h["weight_decay"])

    def ratio(self, p: Tensor, u: Tensor, h: Hyper) -> Tensor:
        """The trust ratio of one tensor, a 0-dim tensor of its dtype."""
        p_norm = torch.linalg.vector_norm(p)
        u_norm = torch.linalg.vector_norm(u)
        coef = h["trust_coefficient"] if "trust_coefficient" in self.hyperparams else 1.0
        if self.decay_in_ratio:
            denom = u_norm + p_norm * h["weight_decay"]
            ok = (p_norm > 0) & (denom > 0)
            return torch.where(ok, p_norm * coef / torch.where(ok, denom, 1.0), 1.0)
        top = p_norm if self.clamp_value is None else p_norm.clamp(max=self.clamp_value)
        ok = (p_norm > 0) & (u_norm > 0)
        return torch.where(ok, top * coef / (u_norm + self.eps), 1.0)

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = []
        for u, p, h in zip(updates, params, groups, strict=True):
            if not h["layer_adaptation"] or p.dim() < self.min_ndim:
                out.append(u)
                continue
            r = self.ratio(p, u, h)
            if self.decay_in_ratio and h["weight_decay"] != 0:
                u = u + p * h["weight_decay"]
            out.append(u * r)
        return out
