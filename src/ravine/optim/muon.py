"""Muon: momentum orthogonalised by a Newton-Schulz iteration, for the weight matrices of hidden layers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim.optimizer import Optimizer
from ravine.rules import chain
from ravine.rules.orthogonal import NS_COEFFICIENTS, ema_momentum, orthogonalize, shape_scaled_step


class Muon(Optimizer):
    r"""Muon (Jordan et al., 2024), torch's ``Muon``: for 2-D weights only.

    ``B <- mu B + (1 - mu) g``;  ``U = (1 - mu) g + mu B`` (Nesterov) or ``B``;  ``O = NS_k(U)``, the Newton-Schulz
    approximation of U's orthogonal polar factor (in bfloat16);
    ``p <- p (1 - lr wd) - lr * ratio(shape) * O``.
    Every singular direction of a layer moves at the same rate. Use it for hidden layers' weight matrices and a
    standard optimiser (AdamW) for the rest -- embeddings, the output layer, biases and gains (see README, "When to
    choose which").

    Args: torch's -- lr (1e-3), weight_decay (0.1, decoupled), momentum (0.95), nesterov (True), ns_coefficients,
    eps (1e-7), ns_steps (5), adjust_lr_fn (None or "original": sqrt(max(1, A/B)); "match_rms_adamw":
    0.2 sqrt(max(A, B))).
    Chain: ``ema_momentum, orthogonalize, shape_scaled_step`` (reference path; torch's operations in its order).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        _torch_checks.tensor_lr(lr)
        req = _torch_checks.require
        req(lr >= 0.0, f"Learning rate should be >= 0 but is: {lr}")
        req(momentum >= 0.0, f"momentum should be >= 0 but is: {momentum}")
        req(weight_decay >= 0.0, f"weight decay should be >= 0 but is: {weight_decay}")
        req(
            adjust_lr_fn is None or adjust_lr_fn in ("original", "match_rms_adamw"),
            f"Adjust learning rate function {adjust_lr_fn} is not supported (use None, 'original' or "
            f"'match_rms_adamw')",
        )
        super().__init__(
            params,
            chain(ema_momentum(), orthogonalize(), shape_scaled_step()),
            lr=lr,
            fused=False,  # not elementwise: there is no kernel to build
            group_flags=(),  # torch's Muon keeps none of the global flags in its groups
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=tuple(ns_coefficients),
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        for p in self.param_groups[-1]["params"]:
            if p.ndim != 2:
                self.param_groups.pop()
                raise ValueError(
                    f"Muon only supports 2D parameters whereas we found a parameter with size: {p.size()} (give "
                    f"Muon the weight matrices and another optimiser, e.g. AdamW, the rest)"
                )
