"""LAMB and LARS: large-batch optimisers with a layer-wise trust ratio (:class:`ravine.rules.trust_ratio`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim.optimizer import Optimizer
from ravine.rules import add_decayed_weights, chain, flip_sign, heavy_ball, scale_by_adam
from ravine.rules.trust_ratio import scale_by_trust_ratio

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class LAMB(Optimizer):
    r"""LAMB (You et al., ICLR 2020, algorithm 2 -- the arXiv v3+ form, with both bias corrections).

    ``m, v`` as Adam;  ``r = m_hat / (sqrt(v_hat) + eps) + lambda p``;
    ``p <- p - lr * phi(||p||) / (||r|| + trust_eps) * r`` per tensor, ``phi(z) = min(z, clamp_value)`` (identity by
    default); the ratio is 1 where ``||p||`` or ``||r||`` is 0.

    Exclusions (the paper's BERT recipe): biases and LayerNorm gains get no decay *and* no trust ratio. Pass
    them as their own group, ``{"params": ..., "weight_decay": 0.0, "layer_adaptation": False}``;
    ``ravine.optim.param_groups_without_decay(model, wd)`` makes the decay split.

    Args: lr (1e-3), betas ((0.9, 0.999)), eps (1e-6), weight_decay (0), bias_correction (True: the paper's
        m_hat, v_hat; False: the uncorrected moments), clamp_value (None; pytorch_optimizer uses 10), trust_eps
        (0; pytorch_optimizer adds its eps), maximize.
    Chain: ``flip_sign, scale_by_adam, add_decayed_weights, scale_by_trust_ratio`` (the last is a per-tensor
    reduction, so LAMB runs on the reference path).
    Reference implementations: ``optax.lamb`` (this default) and ``pytorch_optimizer.Lamb`` (with
    ``weight_decouple=False, adam_debias=True``, matched by ``bias_correction=False, clamp_value=10,
    trust_eps=eps``; its default decouples the decay outside the ratio and divides the step by 1 - beta1^t).
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        bias_correction: bool = True,
        clamp_value: float | None = None,
        trust_eps: float = 0.0,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        rule = chain(
            flip_sign(),
            scale_by_adam(bias_correction=bias_correction),
            add_decayed_weights(0.0),
            scale_by_trust_ratio(clamp_value=clamp_value, eps=trust_eps),
        )
        super().__init__(
            params, rule, lr=lr, fused=fused, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize
        )


class LARS(Optimizer):
    r"""LARS (You, Gitman & Ginsburg 2017, algorithm 1), with momentum.

    For tensors of 2+ dimensions: ``ratio = eta * ||p|| / (||g|| + lambda ||p||)``, ``g <- ratio * (g + lambda p)``
    (1 where a norm is 0); biases and gains (1-D) keep their plain gradient and get no decay.
    ``b <- mu b + (1 - dampening) g`` (b starts at 0), ``g <- b`` or with Nesterov ``g + mu b``;  ``p <- p - lr g``.

    Args: pytorch_optimizer's -- lr (1e-3), weight_decay (0), momentum (0.9), dampening (0), trust_coefficient eta
        (1e-3), nesterov; maximize. A group with ``layer_adaptation=False`` skips the ratio (and the decay).
    Chain: ``flip_sign, scale_by_trust_ratio(decay_in_ratio=True, min_ndim=2), heavy_ball(init="zeros")``.
    Reference implementation: ``pytorch_optimizer.LARS``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        dampening: float = 0.0,
        trust_coefficient: float = 1e-3,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        rule = chain(
            flip_sign(),
            scale_by_trust_ratio(trust_coefficient=1e-3, decay_in_ratio=True, min_ndim=2),
            heavy_ball(0.9, init="zeros"),
        )
        super().__init__(
            params,
            rule,
            lr=lr,
            fused=fused,
            weight_decay=weight_decay,
            momentum=momentum,
            dampening=dampening,
            trust_coefficient=trust_coefficient,
            nesterov=nesterov,
            maximize=maximize,
        )
