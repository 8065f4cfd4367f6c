"""Rprop: resilient backpropagation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim._compat import torch_flags
from ravine.optim.optimizer import Optimizer
from ravine.rules import chain, flip_sign
from ravine.rules.rprop import rprop_step


class Rprop(Optimizer):
    r"""Rprop (Riedmiller & Braun, 1993), torch's ``Rprop``.

    Each coordinate keeps a step size: times eta+ while its gradient keeps its sign, times eta- when it flips
    (and that step is skipped), clamped to ``step_sizes``; ``p <- p - sign(g) * step_size``. ``lr`` is the
    initial step size. Fast and free of tuning on full-batch problems; on mini-batches the signs are noise.

    Args: torch's -- lr (1e-2), etas ((0.5, 1.2)), step_sizes ((1e-6, 50)), maximize.
    Chain: ``flip_sign, rprop_step`` (a final rule: the step is the step size's, not ``lr * u``).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _torch_checks.tensor_lr(lr)
        _torch_checks.require(lr >= 0.0, f"Invalid learning rate: {lr} (lr must be in [0, inf))")
        _torch_checks.require(
            0.0 < etas[0] < 1.0 < etas[1],
            f"Invalid eta values: {etas[0]}, {etas[1]} (etas must satisfy 0 < etas[0] < 1 < etas[1])",
        )
        flags = torch_flags("Rprop", foreach, capturable, differentiable, fused=fused)
        super().__init__(
            params, chain(flip_sign(), rprop_step()), lr=lr, **flags, etas=etas, step_sizes=step_sizes,
            maximize=maximize,
        )  # fmt: skip
