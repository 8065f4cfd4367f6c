"""Adagrad, RMSprop and Adadelta: per-coordinate step sizes from gradient statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim import numerics as presets
from ravine.optim._compat import torch_flags
from ravine.optim.optimizer import Optimizer
from ravine.rules import (
    add_weight_decay,
    chain,
    flip_sign,
    scale_by_adadelta,
)

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., JMLR 2011), torch's ``Adagrad``.

    ``G <- G + g^2``;  ``p <- p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(G) + eps)``.
    Rare features keep large steps, frequent ones get small steps: a good fit for sparse inputs (bag-of-words);
    the step only shrinks, so long runs stall.

    Args: torch's -- lr (default 1e-2), lr_decay, weight_decay, initial_accumulator_value (None: 0), eps (None:
    1e-10), maximize; ``numerics`` ("optax", "keras": G starts at 0.1, eps 1e-7 inside the root).
    Chain: ``flip_sign, add_weight_decay, scale_by_adagrad``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float | None = None,
        eps: float | None = None,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
        numerics: str = "torch",
    ) -> None:
        flags = torch_flags("Adagrad", foreach, differentiable=differentiable, fused=fused)
        d = presets.fill("Adagrad", numerics, eps=eps, initial_accumulator_value=initial_accumulator_value)
        eps, initial_accumulator_value = d["eps"], d["initial_accumulator_value"]
        _torch_checks.lr(lr)
        _torch_checks.at_least("lr_decay value", "lr_decay", lr_decay)
        _torch_checks.at_least("weight_decay value", "weight_decay", weight_decay)
        _torch_checks.at_least(
            "initial_accumulator_value value", "initial_accumulator_value", initial_accumulator_value
        )
        _torch_checks.at_least("epsilon value", "eps", eps)
        presets.refuse_coupled_decay("Adagrad", numerics, weight_decay)
        rule = chain(flip_sign(), add_weight_decay(), presets.adagrad(numerics))
        super().__init__(
            params,
            rule,
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )

    def _sparse_mode(self, group: Mapping[str, Any]) -> str | None:
        """Sparse gradients on their rows, which is the dense step (a zero gradient leaves a row and its sum
        as they are; :mod:`ravine.optim.sparse`); weight decay fails, with torch's message."""
        if group["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        return "rows"


class RMSprop(Optimizer):
    r"""RMSProp (Tieleman & Hinton 2012; centered: Graves 2013), torch's ``RMSprop``.

    ``v <- alpha v + (1 - alpha) g^2``  (centered: minus the squared mean ``m^2``);  ``d = g / (sqrt(v) + eps)``;
    with momentum ``b <- momentum * b + d``, ``p <- p - lr * b``, else ``p <- p - lr * d``.
    Adagrad that forgets: suits non-stationary objectives and noisy mini-batch gradients (RNNs, RL).

    Args: torch's -- lr (default 1e-2), alpha (None: 0.99), eps (None: 1e-8), weight_decay, momentum, centered,
    maximize; ``numerics`` ("optax": alpha 0.9, eps inside the root; "keras": alpha 0.9, eps 1e-7 inside, lr in
    the momentum buffer).
    Chain: ``flip_sign, add_weight_decay, scale_by_rms, heavy_ball``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        alpha: float | None = None,
        eps: float | None = None,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        *,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
        numerics: str = "torch",
    ) -> None:
        flags = torch_flags("RMSprop", foreach, capturable, differentiable, fused=fused)
        d = presets.fill("RMSprop", numerics, eps=eps, alpha=alpha)
        eps, alpha = d["eps"], d["alpha"]
        _torch_checks.lr(lr)
        _torch_checks.at_least("epsilon value", "eps", eps)
        _torch_checks.at_least("momentum value", "momentum", momentum)
        _torch_checks.at_least("weight_decay value", "weight_decay", weight_decay)
        _torch_checks.at_least("alpha value", "alpha", alpha)
        presets.refuse_coupled_decay("RMSprop", numerics, weight_decay)
        rule = chain(
            flip_sign(),
            add_weight_decay(),
            presets.rms(numerics),
            presets.momentum(numerics, momentum=0.0, dampening=None, nesterov=None, init="zeros"),
        )
        super().__init__(
            params,
            rule,
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012), torch's ``Adadelta``.

    ``v <- rho v + (1 - rho) g^2``;  ``d = sqrt(a + eps) / sqrt(v + eps) * g``;  ``a <- rho a + (1 - rho) d^2``;
    ``p <- p - lr * d``. Steps carry the units of the parameters, so lr = 1 (the default) usually works.

    Args: torch's -- lr (default 1.0), rho (0.9), eps (1e-6), weight_decay, maximize.
    Chain: ``flip_sign, add_weight_decay, scale_by_adadelta``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
    ) -> None:
        flags = torch_flags("Adadelta", foreach, capturable, differentiable, fused=fused)
        _torch_checks.lr(lr)
        if not _torch_checks._scheduled(rho):
            _torch_checks.require(0.0 <= rho <= 1.0, f"Invalid rho value: {rho} (rho must be in [0, 1])")
        _torch_checks.at_least("epsilon value", "eps", eps)
        _torch_checks.at_least("weight_decay value", "weight_decay", weight_decay)
        rule = chain(flip_sign(), add_weight_decay(), scale_by_adadelta())
        super().__init__(
            params,
            rule,
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
        )
