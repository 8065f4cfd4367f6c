"""ASGD: averaged stochastic gradient descent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim._compat import torch_flags
from ravine.optim.optimizer import Optimizer
from ravine.rules import add_weight_decay, chain, flip_sign
from ravine.rules.averaging import averaged_step
from ravine.rules.base import scalar_dtype


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), torch's ``ASGD``.

    ``p <- p (1 - lambd eta_t) - eta_t g``, ``eta_{t+1} = lr / (1 + lambd lr t)^alpha``; from step ``t0`` on, the
    average ``ax`` of the iterates (``state[p]["ax"]``) is kept; before it, ``ax`` follows ``p``. The averaged
    iterate converges at the optimal rate for convex stochastic problems with a slowly decaying step; copy
    ``ax`` into the parameters to evaluate it.

    Args: torch's -- lr (1e-2), lambd (1e-4), alpha (0.75), t0 (1e6), weight_decay (L2), maximize.
    Chain: ``flip_sign, add_weight_decay, averaged_step`` (a final rule: the step is eta's, not ``lr * u``).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
        *,
        fused: bool | None = None,
    ) -> None:
        _torch_checks.tensor_lr(lr)
        _torch_checks.require(lr >= 0.0, f"Invalid learning rate: {lr} (lr must be in [0, inf))")
        _torch_checks.require(
            weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay} (weight_decay must be in [0, inf))"
        )
        flags = torch_flags("ASGD", foreach, capturable, differentiable, fused=fused)
        super().__init__(
            params,
            chain(flip_sign(), add_weight_decay(), averaged_step()),
            lr=lr,
            **flags,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            maximize=maximize,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        """As torch's ASGD: checkpoints of older torch versions hold ``eta`` and ``mu`` as Python numbers."""
        super().__setstate__(state)
        for st in self.state.values():
            for key in ("eta", "mu"):
                if key in st and not torch.is_tensor(st[key]):
                    st[key] = torch.tensor(float(st[key]), dtype=scalar_dtype())
