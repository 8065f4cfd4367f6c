"""Adafactor: Adam-like steps with a factored second moment and a step size relative to the parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim._compat import torch_flags
from ravine.optim.optimizer import Optimizer
from ravine.rules import chain, flip_sign
from ravine.rules.factored import relative_step, scale_by_factored_rms


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, ICML 2018), torch's ``Adafactor``.

    ``1 - beta2_t = t^beta2_decay``; a matrix's second moment kept as row and column averages r, c;
    ``V = r c^T / max(mean(r), eps1)`` (a vector's kept whole); ``u = g / sqrt(max(V, eps1^2))``;
    ``p <- p (1 - lr wd) - max(eps2, RMS(p)) min(lr, 1/sqrt(t)) / max(1, RMS(u) / d) * u``.
    Memory O(n + m) per n x m matrix instead of Adam's O(n m), no first moment, and steps relative to the
    weights' scale: the optimiser of T5 and of memory-bound training.

    Args: torch's -- lr (1e-2; the step is ``min(lr, 1/sqrt(t))`` times the parameter's RMS), beta2_decay (-0.8),
    eps ((None, 1e-3): eps1, None for the dtype's epsilon, and eps2), d (1.0), weight_decay (decoupled), maximize;
    ``foreach`` is accepted and ignored.
    Chain: ``flip_sign, scale_by_factored_rms, relative_step`` -- the last two are not elementwise and run on the
    reference path, with torch's operations in torch's order.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        _torch_checks.tensor_lr(lr)
        req = _torch_checks.require
        req(lr >= 0.0, f"Learning rate should be >= 0 but is: {lr}")
        req(beta2_decay <= 0.0, f"beta2_decay should be <= 0 but is: {beta2_decay}")
        req(eps[0] is None or eps[0] >= 0.0, f"epsilon1 should be >= 0 but is: {eps[0]}")
        req(eps[1] >= 0.0, f"epsilon2 should be >= 0 but is: {eps[1]}")
        req(d >= 1.0, f"Clipping threshold d should be >= 1 but is: {d}")
        req(weight_decay >= 0.0, f"weight_decay should be >= 0 but is: {weight_decay}")
        flags = torch_flags("Adafactor", foreach)
        super().__init__(
            params,
            chain(flip_sign(), scale_by_factored_rms(), relative_step()),
            lr=lr,
            **{**flags, "fused": False},  # not elementwise: there is no kernel to build
            beta2_decay=beta2_decay,
            eps=tuple(eps),
            d=d,
            weight_decay=weight_decay,
            maximize=maximize,
        )
