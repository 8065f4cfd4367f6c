"""torch.optim's constructor checks with torch's own messages (scripts and torch's test matrix match on them),
each followed by the allowed range, as every ravine error gives it.

They run before the parameters are looked at, as torch's do. A schedule (a callable, :mod:`ravine.optim.scheduled`)
in place of a number is checked by the optimiser at each step instead.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ravine.rules import _checks


def _scheduled(v: Any) -> bool:
    return callable(v) and not isinstance(v, (Tensor, type))


def require(ok: Any, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok`` (a comparison, which NaN fails)."""
    if not ok:
        raise ValueError(message)


def tensor_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(
            f"Tensor lr must be 1-element (lr must be a number or a 1-element tensor, got shape {tuple(lr.shape)})"
        )


def at_least(label: str, name: str, v: Any, lo: float = 0.0) -> None:
    """torch's ``Invalid <label>: v`` unless ``v >= lo``."""
    if not _scheduled(v):
        require(v >= lo, f"Invalid {label}: {v} ({name} must be in [{lo:g}, inf))")


def lr(value: Any) -> None:
    tensor_lr(value)
    at_least("learning rate", "lr", value)


def betas(b: Any) -> None:
    b = _checks.pair("betas", b)
    for i in (0, 1):
        if not _scheduled(b[i]):
            require(0.0 <= b[i] < 1.0, f"Invalid beta parameter at index {i}: {b[i]} (betas[{i}] must be in [0, 1))")
        if isinstance(b[i], Tensor) and b[i].numel() != 1:
            raise ValueError(f"Tensor betas[{i}] must be 1-element (got shape {tuple(b[i].shape)})")


def lr_betas_eps_decay(lr_: Any, betas_: Any, eps: Any, weight_decay: Any) -> None:
    """The checks of torch's Adam family (Adam, AdamW, NAdam, Adamax, RAdam): lr, eps, both betas, weight_decay.

    torch's Adam also refuses betas of mixed types (a float and a tensor) and tensor lr or betas with
    ``foreach=True``: limits of its implementation, which ravine does not have (both read numbers,
    :mod:`ravine.optim.hyper`)."""
    lr(lr_)
    at_least("epsilon value", "eps", eps)
    betas(betas_)
    at_least("weight_decay value", "weight_decay", weight_decay)
