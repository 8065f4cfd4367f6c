"""Final rules that scale a whole tensor's update by one number: the last step of Adafactor and of Muon.

Both decay the parameter (decoupled, ``p * (1 - lr * weight_decay)``) and then take ``p <- p - s * u`` with a
step size ``s`` that depends on the tensor: its RMS and the step count (Adafactor), its shape (Muon). The step size
is a double computed once per tensor and the update is added with it in one operation, in torch's order, so that
these optimisers' parameters match torch's bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from ravine.rules import _checks
from ravine.rules.base import Hyper, Rule


def scalar(x: Any) -> float:
    """A 0-dim state (the step) as a Python float, as torch's ``.item()``."""
    return float(x.item()) if isinstance(x, Tensor) else float(x)


class scaled_step(Rule):
    """``p <- p * (1 - lr * weight_decay) - s * u``, ``s`` from :meth:`step_size` (a final rule; subclass it).

    Args:
        weight_decay: decoupled weight decay lambda >= 0, multiplied by ``lr`` (skipped at 0).
    """

    final = True
    supports_complex = False  # it measures the tensor as a whole

    def __init__(self, weight_decay: float = 0.0, **hyperparams: Any) -> None:
        super().__init__(weight_decay=weight_decay, **hyperparams)

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("weight_decay", h["weight_decay"])

    def step_size(self, p: Tensor, u: Tensor, state: dict, h: Hyper) -> Any:
        """The multiplier of this tensor's update, measured before the decay touches ``p``.

        A float, or a 0-dim tensor when ``lr`` is one: a tensor ``lr`` enters this arithmetic as torch's
        optimisers use it (in its own dtype), so that a run with ``lr=torch.tensor(x)`` matches torch's too.
        """
        raise NotImplementedError

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = []
        for u, p, st, h in zip(updates, params, states, groups, strict=True):
            s = self.step_size(p, u, st, h)
            wd = h["weight_decay"]
            new = p * (1 - h["lr"] * wd) if wd != 0 else p.clone()
            out.append(new.add_(u, alpha=-s))
        return out
