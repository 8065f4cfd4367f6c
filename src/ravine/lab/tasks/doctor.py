"""Every task run goes through the training doctor (:mod:`ravine.diagnose`) when it is installed.

The doctor watches the run through four calls -- ``after_backward(loss)``, ``after_step()``,
``on_eval(train=..., val=...)`` and ``report()`` -- and its findings (kind, severity, first and last step,
evidence, advice) are stored with the run. Without :mod:`ravine.diagnose` the findings are recorded as None
("not examined"), never as an empty list ("nothing found").
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

FIELDS = ("kind", "severity", "first_step", "last_step", "message", "evidence", "advice")


class NoDoctor:
    """Stands in when ravine.diagnose is not importable: every call does nothing, findings are None."""

    def after_backward(self, loss: torch.Tensor, closure: Callable[[], torch.Tensor] | None = None) -> None:
        pass

    def after_step(self) -> None:
        pass

    def on_eval(self, train: dict[str, float | None], val: dict[str, float | None]) -> None:
        pass

    def findings(self) -> None:
        return None


class Examined:
    """Wraps a ``ravine.diagnose.Doctor`` and turns its report into plain records."""

    def __init__(self, doctor: Any) -> None:
        self.doctor = doctor

    def after_backward(self, loss: torch.Tensor, closure: Callable[[], torch.Tensor] | None = None) -> None:
        # The closure (the batch's objective, forward only) lets the doctor probe the curvature when a verdict
        # hinges on it (saddle or stall, edge of stability); it is never called otherwise.
        self.doctor.after_backward(loss, closure=closure)

    def after_step(self) -> None:
        self.doctor.after_step()

    def on_eval(self, train: dict[str, float | None], val: dict[str, float | None]) -> None:
        # A task without accuracy (the quadratic) reports acc None: the doctor takes only measured metrics.
        self.doctor.on_eval(
            train={k: v for k, v in train.items() if v is not None},
            val={k: v for k, v in val.items() if v is not None},
        )

    def findings(self) -> list[dict[str, Any]]:
        report = self.doctor.report()
        return [{f: jsonable(getattr(x, f, None)) for f in FIELDS} for x in report.findings]


def attach(model: nn.Module, optimizer: torch.optim.Optimizer) -> NoDoctor | Examined:
    """A doctor for this run: ``ravine.diagnose.Doctor(model, optimizer)``, or :class:`NoDoctor`."""
    try:
        diagnose = importlib.import_module("ravine.diagnose")
    except ImportError:
        return NoDoctor()
    with warnings.catch_warnings():
        # Linear models (the logistic regressions) have no activations to watch; the report says which checks
        # it skipped, so the warning would only repeat that in every worker's output.
        warnings.simplefilter("ignore", diagnose.NoActivationsWarning)
        return Examined(diagnose.Doctor(model, optimizer, echo=False))


def jsonable(v: Any) -> Any:
    """``v`` as JSON-able data: tensors and numpy scalars become numbers, non-finite floats None."""
    if isinstance(v, torch.Tensor):
        v = v.item() if v.numel() == 1 else v.tolist()
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict)):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return str(v)
