"""Adam, AdamW and NAdam."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim import numerics as presets
from ravine.optim._compat import torch_flags
from ravine.optim.optimizer import Optimizer
from ravine.rules import (
    add_decayed_weights,
    add_weight_decay,
    chain,
    flip_sign,
    scale_by_nadam,
    unless,
    when,
)

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def _decay_around(core: Any) -> Any:
    """L2 decay before ``core`` or decoupled decay after it, chosen per group by ``decoupled_weight_decay``."""
    return chain(
        flip_sign(),
        unless("decoupled_weight_decay", add_weight_decay(0.0)),
        core,
        when("decoupled_weight_decay", add_decayed_weights(0.0)),
    )


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, ICLR 2015), torch's ``Adam``; AMSGrad (Reddi et al., ICLR 2018) with ``amsgrad=True``.

    ``m <- b1 m + (1 - b1) g``;  ``v <- b2 v + (1 - b2) g^2``;
    ``p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    A robust default for noisy gradients, deep nets and sparse-ish problems; tuned SGD with momentum often
    generalises better on vision tasks (Wilson et al., NeurIPS 2017).

    Args: torch's -- lr (1e-3), betas ((0.9, 0.999)), eps (None: the preset's, torch's 1e-8), weight_decay (L2,
    or decoupled with ``decoupled_weight_decay=True``), amsgrad, maximize; ``numerics`` ("torch", "optax" or
    "keras": that library's conventions and defaults, :mod:`ravine.optim.numerics`; Keras's decay is decoupled).
    Chain: ``flip_sign, unless(decoupled, add_weight_decay), scale_by_adam, when(decoupled, add_decayed_weights)``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float | None = None,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
        decoupled_weight_decay: bool = False,
        numerics: str = "torch",
    ) -> None:
        flags = torch_flags(type(self).__name__, foreach, capturable, differentiable, fused=fused)
        eps = presets.fill("Adam", numerics, eps=eps)["eps"]
        _torch_checks.lr_betas_eps_decay(lr, betas, eps, weight_decay)
        decoupled_weight_decay = decoupled_weight_decay or numerics == "keras"
        super().__init__(
            params,
            _decay_around(presets.adam(numerics)),
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )


class AdamW(Optimizer):
    r"""AdamW (Loshchilov & Hutter, ICLR 2019), torch's ``AdamW``: Adam with decoupled weight decay.

    Adam's step plus ``lr * weight_decay * p`` taken outside the adaptive scaling (torch:
    ``p <- p (1 - lr * weight_decay)``), so decay acts equally on all coordinates. The standard for transformers.

    Args: torch's -- lr (1e-3), betas, eps (None: 1e-8), weight_decay (None: 0.01), amsgrad, maximize; ``numerics``
    as in :class:`Adam` (optax's weight_decay default is 1e-4, Keras's 0.004).
    Chain: ``flip_sign, scale_by_adam, add_decayed_weights``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float | None = None,
        weight_decay: float | None = None,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
        numerics: str = "torch",
    ) -> None:
        flags = torch_flags("AdamW", foreach, capturable, differentiable, fused=fused)
        d = presets.fill("AdamW", numerics, eps=eps, weight_decay=weight_decay)
        eps, weight_decay = d["eps"], d["weight_decay"]
        _torch_checks.lr_betas_eps_decay(lr, betas, eps, weight_decay)
        rule = chain(flip_sign(), presets.adam(numerics), add_decayed_weights())
        super().__init__(
            params,
            rule,
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )


class NAdam(Optimizer):
    r"""NAdam (Dozat, ICLR 2016 workshop), torch's ``NAdam``: Adam with Nesterov momentum.

    ``mu_t = b1 (1 - 0.5 * 0.96^(t psi))``; m, v as Adam;
    ``p <- p - lr [(1 - mu_t) / (1 - prod mu_1..t) g + mu_{t+1} / (1 - prod mu_1..t+1) m] / (sqrt(v_hat) + eps)``.

    Args: torch's -- lr (2e-3), betas, eps, weight_decay, momentum_decay psi (4e-3), decoupled_weight_decay,
    maximize.
    Chain: ``flip_sign, unless(decoupled, add_weight_decay), scale_by_nadam, when(decoupled, add_decayed_weights)``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
    ) -> None:
        flags = torch_flags("NAdam", foreach, capturable, differentiable, fused=fused)
        _torch_checks.lr_betas_eps_decay(lr, betas, eps, weight_decay)
        _torch_checks.at_least("momentum_decay value", "momentum_decay", momentum_decay)
        super().__init__(
            params,
            _decay_around(scale_by_nadam()),
            lr=lr,
            **flags,
            state_dtype=state_dtype,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
