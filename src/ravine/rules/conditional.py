"""Apply a rule only where a boolean hyperparameter of the group says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from ravine.rules import _checks
from ravine.rules.base import ElementwiseRule, Hyper


class when(ElementwiseRule):
    """``rule`` if the group's boolean ``flag`` is True (``negate=True``: if it is False), else the identity.

    NAdam uses it to place weight decay before or after the moments by ``decoupled_weight_decay``.

    Args:
        flag: name of a boolean hyperparameter, added to the group with ``default``.
        rule: an elementwise rule.
        negate: apply when the flag is False.
        default: the flag's default value.
    """

    def __init__(self, flag: str, rule: ElementwiseRule, negate: bool = False, default: bool = False) -> None:
        if not isinstance(rule, ElementwiseRule):
            raise TypeError(f"when() wraps an elementwise rule, got {type(rule).__name__}")
        if rule.final:
            # switched off, it would pass on a direction where the optimiser expects the parameter's new value
            raise TypeError(f"when() cannot wrap {rule.describe()}: it is final (it takes the whole step)")
        super().__init__(**{flag: default}, **rule.hyperparams)
        self.flag, self.rule, self.negate = flag, rule, negate
        self.state_names = rule.state_names
        self.scalar_state_names = rule.scalar_state_names
        if rule.reduce is not None:
            self.reduce = self._reduce

    def _on(self, h: Hyper) -> bool:
        return bool(h[self.flag]) != self.negate

    def options(self) -> dict[str, Any]:
        return {"flag": self.flag, "negate": self.negate, "rule": type(self.rule).__qualname__, **self.rule.options()}

    def validate(self, h: Hyper) -> None:
        _checks.flag(self.flag, h[self.flag])
        self.rule.validate(h)

    def flags(self, h: Hyper) -> dict[str, Any]:
        return {"when": self._on(h), **(self.rule.flags(h) if self._on(h) else {})}

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        return self.rule.state_keys(h) if self._on(h) else ()

    def init(self, param: Any, h: Hyper) -> dict[str, Tensor]:
        return self.rule.init(param, h) if self._on(h) else {}

    def _reduce(self, updates: Sequence[Tensor], groups: Sequence[Hyper]) -> dict[str, Any]:
        return self.rule.reduce(updates, groups)

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        return self.rule.scalars(h, t, ss, r) if self._on(h) else {}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        return self.rule.apply(u, p, s, h, c) if c["when"] else u

    def describe(self) -> str:
        return f"when({self.flag!r}{', negate=True' if self.negate else ''}, {self.rule.describe()})"


def unless(flag: str, rule: ElementwiseRule, default: bool = False) -> when:
    """``rule`` if the group's boolean ``flag`` is False."""
    return when(flag, rule, negate=True, default=default)
