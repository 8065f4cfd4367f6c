"""Lion: the sign of an interpolated momentum (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")."""

from __future__ import annotations

from typing import Any

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper


class scale_by_lion(ElementwiseRule):
    """Lion's direction: ``u <- sign(beta1 * m + (1 - beta1) * u)``, then ``m <- beta2 * m + (1 - beta2) * u``.

    Every coordinate moves by exactly lr (plus decay), so the update has the norm of a sign vector: Lion needs a
    learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger (the paper, section 5). The two betas
    play different roles: beta1 mixes the current gradient into the *step*, beta2 is the memory of the *state*.

    Args:
        betas: (beta1, beta2), each in [0, 1] (the paper's (0.9, 0.99)).

    State: ``exp_avg`` (m).

    Reference: Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023, algorithm 2.
    """

    state_names = ("exp_avg",)

    def __init__(self, betas: tuple[float, float] = (0.9, 0.99)) -> None:
        super().__init__(betas=tuple(betas) if isinstance(betas, list) else betas)

    def validate(self, h: Hyper) -> None:
        b1, b2 = _checks.pair("betas", h["betas"])
        _checks.closed_unit_interval("betas[0]", b1)
        _checks.closed_unit_interval("betas[1]", b2)

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        beta1, beta2 = h["betas"]
        m = s["exp_avg"]
        direction = ops.sign(m * beta1 + u * (1 - beta1))
        s["exp_avg"] = m * beta2 + u * (1 - beta2)
        return direction


class decoupled_step(ElementwiseRule):
    """The last step of a decoupled-decay method, as a final rule: ``p <- p * (1 - lr * lambda) - lr * u``.

    The same equation as ``add_decayed_weights`` followed by the optimiser's ``p - lr * u``, rounded as the
    reference implementations of Lion (and torch's AdamW) compute it: the decay multiplies p first.

    Args:
        weight_decay: lambda >= 0 (skipped at 0).
    """

    final = True

    def __init__(self, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay=weight_decay)

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("weight_decay", h["weight_decay"])

    def flags(self, h: Hyper) -> dict[str, Any]:
        return {"decay": h["weight_decay"] != 0}

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        return {"keep": 1 - h["lr"] * h["weight_decay"]}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return (p * c["keep"] if c["decay"] else p) - u * h["lr"]
