"""Adamax and RAdam: Adam with the infinity norm, and Adam with a rectified variance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim._compat import torch_flags
from ravine.optim.adam import _decay_around
from ravine.optim.optimizer import Optimizer
from ravine.rules import add_weight_decay, chain, flip_sign
from ravine.rules.adam_variants import scale_by_adamax, scale_by_radam

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, ICLR 2015, section 7.1), torch's ``Adamax``: Adam with the infinity norm.

    ``m <- b1 m + (1 - b1) g``;  ``n <- max(b2 n, |g| + eps)``;  ``p <- p - lr / (1 - b1^t) * m / n``.
    The step is bounded by lr (|m| <= n), whatever the gradient's scale; less sensitive than Adam to rare huge
    gradients, which enter n once and then decay by b2 per step.

    Args: torch's -- lr (2e-3), betas ((0.9, 0.999)), eps (1e-8), weight_decay (L2), maximize.
    Chain: ``flip_sign, add_weight_decay, scale_by_adamax``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _torch_checks.lr_betas_eps_decay(lr, betas, eps, weight_decay)
        flags = torch_flags("Adamax", foreach, capturable, differentiable, fused=fused)
        super().__init__(
            params,
            chain(flip_sign(), add_weight_decay(), scale_by_adamax()),
            lr=lr,
            **flags,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
        )


class RAdam(Optimizer):
    r"""RAdam (Liu et al., ICLR 2020), torch's ``RAdam``: Adam without the early, badly estimated adaptive steps.

    m, v as Adam; ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``, ``rho_inf = 2 / (1 - b2) - 1``; while
    ``rho_t <= 5``: ``p <- p - lr * m_hat``; then ``p <- p - lr * r_t * m_hat * sqrt(1 - b2^t) / (sqrt(v) + eps)``
    with the rectifier r_t (see :class:`ravine.rules.adam_variants.scale_by_radam`). A warm-up built into the
    method: as robust to the learning rate as Adam with a tuned warm-up, without choosing its length.

    Args: torch's -- lr (1e-3), betas, eps (1e-8), weight_decay (L2, or decoupled with
    ``decoupled_weight_decay=True``: AdamW-style), maximize.
    Chain: ``flip_sign, unless(decoupled, add_weight_decay), scale_by_radam, when(decoupled, add_decayed_weights)``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _torch_checks.lr_betas_eps_decay(lr, betas, eps, weight_decay)
        flags = torch_flags("RAdam", foreach, capturable, differentiable, fused=fused)
        super().__init__(
            params,
            _decay_around(scale_by_radam()),
            lr=lr,
            **flags,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
