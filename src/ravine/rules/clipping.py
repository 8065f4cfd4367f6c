"""Gradient clipping as rules: by value, and by the global norm over all parameters of the optimiser."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ravine.distributed import dtensor
from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper


class clip_by_value(ElementwiseRule):
    """Clamp every coordinate: ``u <- clamp(u, -c, c)`` (torch's ``clip_grad_value_``).

    Args:
        clip_value: c > 0.

    Reference: Mikolov (2012), "Statistical Language Models Based on Neural Networks", section 3.2.2.
    """

    def __init__(self, clip_value: float = 1.0) -> None:
        super().__init__(clip_value=clip_value)

    def validate(self, h: Hyper) -> None:
        _checks.positive("clip_value", h["clip_value"])

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return ops.clamp(u, -h["clip_value"], h["clip_value"])


class clip_by_global_norm(ElementwiseRule):
    """Rescale all updates together when their joint norm is too large (torch's ``clip_grad_norm_``).

    ``N = || (u_1, ..., u_n) ||_q`` over every parameter of the optimiser (all groups);
    ``u <- u * min(1, max_norm / (N + eps))``. The pre-clip norm N of the last step is kept in
    ``optimizer.reports`` (see :class:`ravine.optim.Optimizer`), so reading it needs no second pass.

    Args:
        max_norm: > 0.
        norm_type: q > 0 or ``inf`` (torch's 2.0).
        eps: >= 0 added to N, torch's 1e-6, which keeps the ratio finite for a zero gradient.

    Reference: Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks" (ICML 2013).
    """

    def __init__(self, max_norm: float = 1.0, norm_type: float = 2.0, eps: float = 1e-6) -> None:
        _checks.positive("norm_type", norm_type)
        _checks.non_negative("eps", eps)
        super().__init__(max_norm=max_norm)
        self.norm_type = float(norm_type)
        self.eps = eps

    def options(self) -> dict[str, Any]:
        return {"norm_type": self.norm_type, "eps": self.eps}

    def validate(self, h: Hyper) -> None:
        _checks.positive("max_norm", h["max_norm"])

    def reduce(self, updates: Sequence[Tensor], groups: Sequence[Hyper]) -> dict[str, Any]:
        """The global norm N as a 0-dim float64 tensor: per-tensor norms in the updates' dtype (as torch's
        ``get_total_norm``), combined in float64. With DTensor updates (FSDP2) every rank gets the norm over all
        shards (:func:`ravine.distributed.dtensor.global_norm`)."""
        if not updates:
            return {"norm": torch.zeros((), dtype=torch.float64)}
        q = self.norm_type
        if dtensor.has_dtensor(updates):
            return {"norm": dtensor.global_norm(updates, q)}
        norms = torch._foreach_norm([u.detach() for u in updates], q)
        # Combined on the first tensor's device: on a GPU the norm never travels to the host (no wait), and the
        # fused step reads it there.
        dev = norms[0].device
        return {"norm": torch.linalg.vector_norm(torch.stack([n.to(dev) for n in norms]).double(), q)}

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        return {"coef": ops.minimum(1.0, h["max_norm"] / (ops.value(r["norm"]) + self.eps))}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return u * c["coef"]
