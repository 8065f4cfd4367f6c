"""Shampoo (Gupta, Koren & Singer, ICML 2018), on the reference path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim.optimizer import Optimizer
from ravine.rules import chain, flip_sign
from ravine.rules.shampoo import shampoo_precondition


class Shampoo(Optimizer):
    r"""Shampoo: ``p <- p - lr * G x_1 H_1^(-1/2k) ... x_k H_k^(-1/2k)``, ``H_i <- H_i + G_(i) G_(i)^T``.

    A full-matrix preconditioner per dimension (Kronecker-factored AdaGrad); see
    :class:`ravine.rules.shampoo.shampoo_precondition` for the momentum form, the decay and the **memory cost**:
    ``2 * sum(n_i^2)`` numbers per tensor of shape (n_1, ..., n_k) -- 4x the parameters of a square matrix, and
    prohibitive for a dimension of tens of thousands (embeddings, vocabularies: give those to AdamW).

    Args: pytorch_optimizer's -- lr (1e-3), momentum (0), weight_decay (L2, 0), preconditioning_compute_steps (1),
        matrix_eps (1e-6); maximize.
    Chain: ``flip_sign, shampoo_precondition`` (matrix products and SVDs: the reference path).
    Reference implementation: ``pytorch_optimizer.Shampoo``, matched bit for bit (same operations, same order).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        preconditioning_compute_steps: int = 1,
        matrix_eps: float = 1e-6,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            chain(flip_sign(), shampoo_precondition()),
            lr=lr,
            fused=False,
            momentum=momentum,
            weight_decay=weight_decay,
            preconditioning_compute_steps=preconditioning_compute_steps,
            matrix_eps=matrix_eps,
            maximize=maximize,
        )
