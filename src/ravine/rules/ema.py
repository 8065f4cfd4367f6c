"""The exponential moving average of weights as a rule, so that it runs as one fused kernel over a model."""

from __future__ import annotations

from typing import Any

from ravine.rules import _checks
from ravine.rules.base import ElementwiseRule, Hyper
from ravine.rules.schedule_free import lerp


class ema_toward(ElementwiseRule):
    """``p <- lerp(p, u, 1 - decay)`` = ``decay * p + (1 - decay) * u`` (a final rule: it returns the new p).

    Here ``p`` is the averaged copy and ``u`` -- the "gradient" slot -- the live model's tensor, so one fused call
    averages a whole model. The lerp is torch's (``a + w (b - a)`` below w = 1/2, ``b - (b - a)(1 - w)`` above), as
    ``torch.optim.swa_utils.get_ema_multi_avg_fn`` computes it with ``torch._foreach_lerp_``.

    Args:
        decay: in [0, 1] (0.999 in get_ema_multi_avg_fn).
    """

    final = True

    def __init__(self, decay: float = 0.999) -> None:
        super().__init__(decay=decay)

    def validate(self, h: Hyper) -> None:
        _checks.closed_unit_interval("decay", h["decay"])

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        return {"w": 1 - h["decay"]}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return lerp(p, u, c["w"])
