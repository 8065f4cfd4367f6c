"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim import numerics as presets
from ravine.optim._compat import torch_flags
from ravine.optim.optimizer import Optimizer
from ravine.rules import add_weight_decay, chain, flip_sign


class SGD(Optimizer):
    r"""(Mini-batch) stochastic gradient descent, torch's ``SGD`` as a chain of ravine rules.

    ``g <- grad (+ weight_decay * p)``;  with momentum ``b <- momentum * b + (1 - dampening) * g`` (``b = g`` at
    the first step) and ``g <- b``, or Nesterov's ``g <- g + momentum * b``;  ``p <- p - lr * g``.

    Full-batch gradient descent is this optimiser fed the gradient of the whole data set; SGD proper uses one
    example per step, mini-batch SGD a few (README, "Batch, stochastic, mini-batch").

    Args: torch's -- lr (>= 0, default 1e-3), momentum (>= 0), dampening (in [0, 1]), weight_decay (>= 0),
        nesterov, maximize; ``foreach`` is accepted and ignored; ``fused`` as in :class:`ravine.optim.Optimizer`;
        ``numerics`` ("torch", "optax": the same run; "keras": lr inside the momentum buffer, which differs once
        lr changes; no weight_decay), see :mod:`ravine.optim.numerics`.

    Chain: ``flip_sign, add_weight_decay, heavy_ball``.

    References: Robbins & Monro (1951); Polyak (1964); Sutskever et al. (ICML 2013) for the Nesterov form.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
        numerics: str = "torch",
    ) -> None:
        flags = torch_flags("SGD", foreach, differentiable=differentiable, fused=fused)
        _torch_checks.lr(lr)
        _torch_checks.at_least("momentum value", "momentum", momentum)
        _torch_checks.at_least("weight_decay value", "weight_decay", weight_decay)
        presets.check(numerics)
        presets.refuse_coupled_decay("SGD", numerics, weight_decay)
        init = "zeros" if numerics == "keras" else "first_update"
        rule = chain(flip_sign(), add_weight_decay(), presets.momentum(numerics, momentum=0.0, init=init))
        super().__init__(
            params,
            rule,
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )

    def _sparse_mode(self, group: Mapping[str, Any]) -> str | None:
        """Sparse gradients as torch's SGD takes them (:mod:`ravine.optim.sparse`): on their rows without
        momentum, dense with it (the buffer decays everywhere); weight decay fails, as in torch."""
        if group["weight_decay"] != 0:
            raise RuntimeError(
                "SGD: weight_decay is not compatible with sparse gradients (torch: add(sparse, dense) is not "
                "supported); use weight_decay=0 for the sparse parameters' group"
            )
        return "dense" if group["momentum"] != 0 else "rows"
