"""Rules that act on the raw gradient: the sign flip for ``maximize`` and the two kinds of weight decay."""

from __future__ import annotations

from typing import Any

from ravine.rules import _checks
from ravine.rules.base import ElementwiseRule, Hyper


class flip_sign(ElementwiseRule):
    """Ascend instead of descend: ``u <- -u`` when the group's ``maximize`` is True (torch's ``maximize``).

    Args:
        maximize: default of the group's ``maximize`` flag.
    """

    def __init__(self, maximize: bool = False) -> None:
        super().__init__(maximize=maximize)

    def validate(self, h: Hyper) -> None:
        _checks.flag("maximize", h["maximize"])

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return -u if h["maximize"] else u


class add_weight_decay(ElementwiseRule):
    """L2 regularisation folded into the gradient (torch's ``weight_decay`` in SGD, Adam, Adagrad, ...).

    ``u <- u + lambda * p``. With an adaptive rule after it, the decay is rescaled too, which is why AdamW
    (:class:`add_decayed_weights`) exists.

    Args:
        weight_decay: lambda >= 0. The term is skipped at 0, as in torch, so that ``0 * inf`` cannot make a NaN.

    Reference: Hanson & Pratt (1988); Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019).
    """

    def __init__(self, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay=weight_decay)

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("weight_decay", h["weight_decay"])

    def flags(self, h: Hyper) -> dict[str, Any]:
        return {"decay": h["weight_decay"] != 0}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return u + p * h["weight_decay"] if c["decay"] else u


class add_decayed_weights(ElementwiseRule):
    """Decoupled weight decay (AdamW): ``u <- u + lambda * p``, placed *after* the adaptive scaling.

    With ``p <- p - lr * u`` this is torch's ``p <- p * (1 - lr * lambda) - lr * adam_step``, up to rounding.

    Args:
        weight_decay: lambda >= 0 (torch's AdamW default is 0.01).

    Reference: Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019), algorithm 2.
    """

    def __init__(self, weight_decay: float = 0.01) -> None:
        super().__init__(weight_decay=weight_decay)

    validate = add_weight_decay.validate
    flags = add_weight_decay.flags
    apply = add_weight_decay.apply
