"""Heavy-ball momentum and its Nesterov form."""

from __future__ import annotations

from typing import Any

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper


class heavy_ball(ElementwiseRule):
    """Momentum: a decaying sum of past updates (torch's SGD ``momentum``, ``dampening``, ``nesterov``).

    ``b <- mu * b + (1 - dampening) * u``;  ``u <- b``, or with Nesterov ``u <- u + mu * b``.

    Args:
        momentum: mu >= 0. At 0 the rule passes updates through and keeps no buffer, as torch does.
        dampening: in [0, 1]; ``None`` makes it a constant 0 instead of a group hyperparameter.
        nesterov: Nesterov's look-ahead form (needs momentum > 0 and dampening 0); ``None`` makes it constant False.
        init: ``"first_update"`` (torch): the buffer starts as the first update itself, undamped;
            ``"zeros"`` (optax ``trace``): the buffer starts at 0, so the first update is damped.
        lr_in_buffer: Keras's form: the buffer accumulates steps, ``b <- mu b + lr u``, and ``p <- p - b``
            (Nesterov: ``p <- p - (mu b + lr u)``). The same run as torch's at a constant lr; when lr changes, the
            buffer keeps the old steps at their old size. The rule is then *final* (it returns the new p).

    State: ``momentum_buffer``.

    References: Polyak (1964), "Some methods of speeding up the convergence of iteration methods";
    Sutskever et al. (ICML 2013), "On the importance of initialization and momentum in deep learning".
    """

    state_names = ("momentum_buffer",)

    def __init__(
        self,
        momentum: float = 0.9,
        dampening: float | None = 0.0,
        nesterov: bool | None = False,
        init: str = "first_update",
        lr_in_buffer: bool = False,
    ) -> None:
        _checks.choice("init", init, ("first_update", "zeros"))
        hyper: dict[str, Any] = {"momentum": momentum}
        if dampening is not None:
            hyper["dampening"] = dampening
        if nesterov is not None:
            hyper["nesterov"] = nesterov
        super().__init__(**hyper)
        self.init_mode = init
        self.lr_in_buffer = self.final = bool(lr_in_buffer)

    def options(self) -> dict[str, Any]:
        return {
            "init": self.init_mode,
            "lr_in_buffer": self.lr_in_buffer,
            "fixed": tuple(k for k in ("dampening", "nesterov") if k not in self.hyperparams),
        }

    def _dampening(self, h: Hyper) -> Any:
        return h["dampening"] if "dampening" in self.hyperparams else 0.0

    def _nesterov(self, h: Hyper) -> bool:
        return bool(h["nesterov"]) if "nesterov" in self.hyperparams else False

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("momentum", h["momentum"])
        if "dampening" in self.hyperparams:
            _checks.closed_unit_interval("dampening", h["dampening"])
        if "nesterov" in self.hyperparams:
            _checks.flag("nesterov", h["nesterov"])
            if h["nesterov"] and (h["momentum"] <= 0 or self._dampening(h) != 0):
                raise ValueError(
                    f"nesterov=True requires momentum > 0 and dampening = 0, got momentum={h['momentum']}, "
                    f"dampening={self._dampening(h)}"
                )

    def flags(self, h: Hyper) -> dict[str, Any]:
        return {"on": h["momentum"] != 0, "nesterov": self._nesterov(h)}

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        return self.state_names if h["momentum"] != 0 else ()

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        mu, keep = h["momentum"], 1 - self._dampening(h)
        if self.init_mode == "first_update":
            # b starts at zero, so (0, 1) on the first step gives torch's b = u exactly.
            first = ops.equal(t, 1)
            return {"decay": ops.select(first, 0.0, mu), "keep": ops.select(first, 1.0, keep)}
        return {"decay": mu, "keep": keep}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        if self.lr_in_buffer:
            step = u * h["lr"]
            if c["on"]:
                b = s["momentum_buffer"] * c["decay"] + step * c["keep"]
                s["momentum_buffer"] = b
                step = b * h["momentum"] + step if c["nesterov"] else b
            return p - step
        if not c["on"]:
            return u
        b = s["momentum_buffer"] * c["decay"] + u * c["keep"]
        s["momentum_buffer"] = b
        return u + b * h["momentum"] if c["nesterov"] else b
