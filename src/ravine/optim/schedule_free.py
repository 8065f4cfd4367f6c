"""Schedule-free SGD and AdamW (Defazio et al., NeurIPS 2024): no learning-rate schedule, evaluate at the average.

In training mode the parameters hold ``y``, where gradients are taken; :meth:`eval` moves them to ``x``, the
average that the theory says converges (evaluate, and save checkpoints, there), :meth:`train` moves them back:

    x = y + (z - y) (1 - 1/beta)   (eval);    y = x + (z - x) (1 - beta)   (train)

**BatchNorm**: running statistics collected during training belong to ``y``, not ``x``. The reference package's
advice, which ravine repeats: before evaluating, put the model in train mode, call ``optimizer.eval()``, run a few
dozen training batches forward under ``torch.no_grad()`` to recompute the statistics at ``x``, then
``model.eval()``. Models without BatchNorm (LayerNorm, GroupNorm) need nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from ravine.optim.optimizer import Optimizer
from ravine.rules import add_weight_decay, chain, flip_sign
from ravine.rules.schedule_free import scale_by_corrected_rms, schedule_free_step

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class _ScheduleFree(Optimizer):
    """The train/eval swap both schedule-free optimisers share; ``_beta(group)`` is the interpolation weight."""

    def _beta(self, group: dict[str, Any]) -> float:
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        param_group.setdefault("train_mode", True)  # ravine starts in train mode (see the class docstrings)
        super().add_param_group(param_group)

    @torch.no_grad()
    def _swap(self, train: bool) -> None:
        for group in self.param_groups:
            if group["train_mode"] == train:
                continue
            beta = self._beta(group)
            weight = 1 - beta if train else 1 - 1 / beta
            for p in group["params"]:
                z = self.state[p].get("z")
                if z is not None:
                    p.lerp_(z.to(p.device), weight)
            group["train_mode"] = train

    def train(self) -> None:
        """Parameters to ``y`` (where gradients are taken); call before training steps."""
        self._swap(True)

    def eval(self) -> None:
        """Parameters to ``x`` (the average); call before evaluating and before saving a checkpoint."""
        self._swap(False)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:  # type: ignore[override]
        for group in self.param_groups:
            if not group["train_mode"]:
                raise RuntimeError(
                    f"{type(self).__name__}.step() in eval mode: the parameters hold the average x, not y; call "
                    "optimizer.train() before training steps and optimizer.eval() before evaluating"
                )
        return super().step(closure)


class ScheduleFreeSGD(_ScheduleFree):
    r"""Schedule-free SGD (Defazio et al., "The Road Less Scheduled", NeurIPS 2024, algorithm 1 with SGD).

    ``g`` at ``y`` (+ lambda y);  ``c_t = w_t / sum w``;  ``y <- (1 - c_t) y + c_t z + lr_t (beta (1 - c_t) - 1) g``;
    ``z <- z - lr_t g``;  evaluate at ``x = y + (z - y)(1 - 1/beta)`` (:meth:`eval`). ``lr_t`` ramps up linearly
    over ``warmup_steps``; ``w_t = t^r * max(lr_1..lr_t)^weight_lr_power``. No decay schedule is needed: the average
    plays its role.

    Args: the reference's -- lr (1.0), momentum beta (0.9, in (0, 1)), weight_decay (L2, at y; 0), warmup_steps
        (0), r (0), weight_lr_power (2); maximize; ``fused``.
    Chain: ``flip_sign, add_weight_decay, schedule_free_step`` (elementwise: one fused kernel).
    Differences from the ``schedulefree`` package: ravine starts in train mode (the reference requires a
    ``train()`` call first; before the first step both modes hold the same point), and does not overwrite
    ``p.grad``.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        rule = chain(flip_sign(), add_weight_decay(), schedule_free_step("momentum"))
        super().__init__(
            params,
            rule,
            lr=lr,
            fused=fused,
            momentum=momentum,
            weight_decay=weight_decay,
            warmup_steps=warmup_steps,
            r=r,
            weight_lr_power=weight_lr_power,
            maximize=maximize,
        )

    def _beta(self, group: dict[str, Any]) -> float:
        return group["momentum"]


class ScheduleFreeAdamW(_ScheduleFree):
    r"""Schedule-free AdamW (Defazio et al., "The Road Less Scheduled", NeurIPS 2024, algorithm 1 with Adam).

    ``v <- beta2 v + (1 - beta2) g^2``;  ``u = g / (sqrt(v / (1 - beta2^t)) + eps) + lambda y`` (decay at y);
    ``c_t = w_t / sum w``;  ``y <- (1 - c_t) y + c_t z + lr_t (beta1 (1 - c_t) - 1) u``;  ``z <- z - lr_t u``;
    evaluate at ``x = y + (z - y)(1 - 1/beta1)`` (:meth:`eval`). There is no first moment: beta1 is the
    interpolation between z and x, which acts as momentum. ``lr_t`` and ``w_t`` as in :class:`ScheduleFreeSGD`.

    Args: the reference's -- lr (0.0025), betas ((0.9, 0.999); betas[0] in (0, 1)), eps (1e-8), weight_decay (0),
        warmup_steps (0), r (0), weight_lr_power (2); maximize; ``fused``.
    Chain: ``flip_sign, scale_by_corrected_rms, add_weight_decay, schedule_free_step`` (elementwise: one fused
    kernel).
    Differences from the ``schedulefree`` package: as :class:`ScheduleFreeSGD`.
    """

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        rule = chain(flip_sign(), scale_by_corrected_rms(), add_weight_decay(), schedule_free_step("betas"))
        super().__init__(
            params,
            rule,
            lr=lr,
            fused=fused,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            warmup_steps=warmup_steps,
            r=r,
            weight_lr_power=weight_lr_power,
            maximize=maximize,
        )

    def _beta(self, group: dict[str, Any]) -> float:
        return group["betas"][0]
