"""Resilient backpropagation: a step size per coordinate, adapted by the sign of successive gradients alone."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper


class rprop_step(ElementwiseRule):
    """Rprop (torch's ``Rprop``, the iRprop- variant): move each coordinate by its own step size, against the sign.

    ``s = sign(u * u_prev)``;  ``Delta <- clamp(Delta * (eta+ if s > 0, eta- if s < 0, 1 if s = 0), min, max)``;
    where the sign flipped (s < 0) the update is set to 0, which also makes it the next ``u_prev``;
    ``p <- p - sign(u) * Delta``.

    Only signs matter, so the step is immune to the scale of the gradient; it suits full-batch training (noisy
    mini-batch signs make it wander). The step is not ``lr * u``: the rule is *final*
    (:attr:`ravine.rules.base.Rule.final`). ``lr`` is only the initial step size ``Delta_0``.

    Args:
        etas: (eta-, eta+) with 0 < eta- < 1 < eta+ (torch (0.5, 1.2)).
        step_sizes: (min, max) bounds of Delta, 0 <= min <= max (torch (1e-6, 50)).

    State: ``prev`` (the last update, zeroed where its sign flipped), ``step_size`` (Delta).

    References: Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP
    Algorithm", IEEE ICNN 1993; Igel & Huesken, "Improving the Rprop Learning Algorithm" (2000), iRprop-.
    """

    final = True
    state_names = ("prev", "step_size")

    def __init__(self, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50)) -> None:
        super().__init__(
            etas=tuple(etas) if isinstance(etas, list) else etas,
            step_sizes=tuple(step_sizes) if isinstance(step_sizes, list) else step_sizes,
        )

    def validate(self, h: Hyper) -> None:
        lo_eta, hi_eta = _checks.pair("etas", h["etas"])
        if not 0.0 < _checks._number("etas[0]", lo_eta) < 1.0 < _checks._number("etas[1]", hi_eta):
            raise ValueError(f"etas must satisfy 0 < etas[0] < 1 < etas[1], got {tuple(h['etas'])}")
        lo, hi = _checks.pair("step_sizes", h["step_sizes"])
        _checks.non_negative("step_sizes[0]", lo)
        if not _checks._number("step_sizes[1]", hi) >= float(lo):
            raise ValueError(
                f"step_sizes must satisfy 0 <= step_sizes[0] <= step_sizes[1], got {tuple(h['step_sizes'])}"
            )

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        lr = float(h["lr"])
        # a complex number is two real coordinates, each with its own step size of lr
        fill = complex(lr, lr) if param.is_complex() else lr
        return {
            "prev": torch.zeros_like(param, memory_format=torch.preserve_format),
            "step_size": torch.full_like(param, fill, memory_format=torch.preserve_format),
        }

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        eta_minus, eta_plus = h["etas"]
        lo, hi = h["step_sizes"]
        # The factor is built in torch's order, on the tensor's dtype: the test for a flipped sign below compares
        # it with eta- rounded to that dtype, as torch does.
        f = ops.sign(u * s["prev"])
        f = ops.where(ops.greater(f, 0.0), eta_plus, f)
        f = ops.where(ops.less(f, 0.0), eta_minus, f)
        f = ops.where(ops.equal(f, 0.0), 1.0, f)
        size = ops.clamp(s["step_size"] * f, lo, hi)
        u = ops.where(ops.equal(f, eta_minus), 0.0, u)
        s["prev"], s["step_size"] = u, size
        return p - ops.sign(u) * size
