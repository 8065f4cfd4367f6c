"""Lion (Chen et al., NeurIPS 2023)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim.optimizer import Optimizer
from ravine.rules import chain, flip_sign
from ravine.rules.lion import decoupled_step, scale_by_lion


class Lion(Optimizer):
    r"""Lion, "EvoLved Sign Momentum" (Chen et al., NeurIPS 2023, algorithm 2).

    ``c = beta1 m + (1 - beta1) g``;  ``p <- p - lr (sign(c) + lambda p)``;  ``m <- beta2 m + (1 - beta2) g``.

    One state tensor (AdamW keeps two) and a step of exactly lr per coordinate: use an lr 3-10x smaller than
    AdamW's and a weight decay 3-10x larger, so that lr * weight_decay stays the same (the paper, section 5).

    Args: lr (1e-4, the reference packages' default), betas ((0.9, 0.99)), weight_decay (decoupled, times lr; 0),
        maximize; ``fused`` as in :class:`ravine.optim.Optimizer`.
    Chain: ``flip_sign, scale_by_lion, decoupled_step`` (elementwise: one fused kernel).
    Reference implementation: ``lion-pytorch`` (``Lion(decoupled_weight_decay=False)``) and ``pytorch_optimizer``'s
    ``Lion``; the tests match both.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        rule = chain(flip_sign(), scale_by_lion(), decoupled_step())
        super().__init__(params, rule, lr=lr, fused=fused, betas=betas, weight_decay=weight_decay, maximize=maximize)
