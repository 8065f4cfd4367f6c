"""torch.optim's constructor checks with torch's own messages (scripts and torch's test matrix match on them),
each followed by the allowed range, as every ravine error gives it."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def require(ok: Any, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok`` (a comparison, which NaN fails)."""
    if not ok:
        raise ValueError(message)


def tensor_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(
            f"Tensor lr must be 1-element (lr must be a number or a 1-element tensor, got shape {tuple(lr.shape)})"
        )


def lr_betas_eps_decay(lr: Any, betas: Any, eps: Any, weight_decay: Any) -> None:
    """The checks of torch's Adam family (Adamax, RAdam): lr, eps, both betas, weight_decay."""
    tensor_lr(lr)
    require(lr >= 0.0, f"Invalid learning rate: {lr} (lr must be in [0, inf))")
    require(eps >= 0.0, f"Invalid epsilon value: {eps} (eps must be in [0, inf))")
    require(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]} (betas[0] must be in [0, 1))")
    require(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]} (betas[1] must be in [0, 1))")
    require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay} (weight_decay must be in [0, inf))")
