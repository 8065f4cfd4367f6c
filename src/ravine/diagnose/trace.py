"""The record of a run that the detectors read: named series of ``(step, value)`` plus facts about the setup.

The live :class:`~ravine.diagnose.Doctor` fills a :class:`Trace` as training goes; the log readers build one from
a JSONL, CSV or TensorBoard file. The detectors only ever see a ``Trace``, so a finished run is diagnosed by the
same code as a live one, from whatever subset of the series its log holds.

Series names (``/`` separates a per-layer or per-activation series from its layer):

=====================  ==========================================================================================
``loss``               training loss of each step's mini-batch
``lr``                 learning rate the step used (the largest over parameter groups)
``grad_norm``          global L2 norm of the raw gradient, before any clipping
``grad_nonfinite``     1 at steps whose gradient held inf or NaN
``param_nonfinite``    1 at checks where a parameter held inf or NaN
``update_ratio``       ||w_{t+1} - w_t|| / ||w_t|| over the weight matrices (sampled steps)
``weight_norm``        ||w_t|| over the weight matrices (sampled steps)
``step_agreement``     cos(-g_{t+1}, w_{t+1} - w_t): does the next gradient still point along the step?
``update_cosine``      cos(w_{t+2} - w_{t+1}, w_{t+1} - w_t): does the next update go the same way (sampled)?
``step_probe_0``, ``step_probe_half``, ``step_probe_full``  a batch's loss before its step, after half of it
                       (the step at half the lr) and after all of it (sampled, with a closure)
``grad_norm/L``        gradient norm of layer ``L``'s weights (sampled)
``update_ratio/L``     update ratio of layer ``L`` (sampled)
``zero_fraction/A``    fraction of activation ``A``'s outputs in its flat region (sampled batches)
``dead_fraction/A``    fraction of ``A``'s units flat on every input of a window
``saturated_fraction/A``  fraction of ``A``'s values in the saturated range
``stuck_fraction/A``   fraction of ``A``'s units saturated on every input of a window
``error_rms/A``        RMS of the backpropagated error dL/da at activation ``A``'s output (sampled)
``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``, ``val_<metric>``  evaluation results
``hessian_max``, ``hessian_min``   extreme Hessian eigenvalues on a batch (curvature probe)
``edge_ratio``         sharpness of the preconditioned update over the optimiser's stability limit (>1: unstable)
=====================  ==========================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LOSS = "loss"
LR = "lr"
GRAD_NORM = "grad_norm"
GRAD_NONFINITE = "grad_nonfinite"
PARAM_NONFINITE = "param_nonfinite"
UPDATE_RATIO = "update_ratio"
WEIGHT_NORM = "weight_norm"
STEP_AGREEMENT = "step_agreement"
UPDATE_COSINE = "update_cosine"
PROBE_L0, PROBE_HALF, PROBE_FULL = "step_probe_0", "step_probe_half", "step_probe_full"
ZERO_FRACTION = "zero_fraction"
DEAD_FRACTION = "dead_fraction"
SATURATED_FRACTION = "saturated_fraction"
STUCK_FRACTION = "stuck_fraction"
ERROR_RMS = "error_rms"
HESSIAN_MAX = "hessian_max"
HESSIAN_MIN = "hessian_min"
EDGE_RATIO = "edge_ratio"


@dataclass
class Column:
    """One series: parallel lists of integer steps and float values (NaN and inf kept as such)."""

    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)


class Trace:
    """Named ``(step, value)`` series and a JSON-able ``meta`` dict (optimiser, layers, activations).

    Example:
        >>> t = Trace()
        >>> t.add("loss", 0, 2.3); t.add("loss", 1, 2.1)
        >>> t.get("loss")[1].tolist()
        [2.3, 2.1]
    """

    def __init__(self, meta: dict[str, Any] | None = None) -> None:
        self.columns: dict[str, Column] = {}
        self.meta: dict[str, Any] = dict(meta or {})
        self._arrays: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}

    def add(self, name: str, step: int, value: float) -> None:
        """Append one value of series ``name`` at ``step``."""
        col = self.columns.get(name)
        if col is None:
            col = self.columns[name] = Column()
        col.steps.append(int(step))
        col.values.append(float(value))

    def extend(self, name: str, steps: Iterable[int], values: Iterable[float]) -> None:
        """Append many values of series ``name``."""
        col = self.columns.setdefault(name, Column())
        col.steps.extend(int(s) for s in steps)
        col.values.extend(float(v) for v in values)

    def has(self, name: str) -> bool:
        """Whether series ``name`` holds at least one value."""
        col = self.columns.get(name)
        return col is not None and len(col) > 0

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of series ``name`` as int64 and float64 arrays, sorted by step (empty if absent)."""
        col = self.columns.get(name)
        if col is None or not col.steps:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cached = self._arrays.get(name)
        if cached is not None and cached[0] == len(col.steps):  # series only grow: same length, same data
            return cached[1], cached[2]
        steps = np.asarray(col.steps, dtype=np.int64)
        values = np.asarray(col.values, dtype=np.float64)
        if steps.size > 1 and np.any(steps[1:] < steps[:-1]):
            order = np.argsort(steps, kind="stable")
            steps, values = steps[order], values[order]
        steps.flags.writeable = values.flags.writeable = False
        self._arrays[name] = (len(col.steps), steps, values)
        return steps, values

    def names(self, prefix: str = "") -> list[str]:
        """Names of the non-empty series that start with ``prefix``."""
        return [n for n, c in self.columns.items() if n.startswith(prefix) and len(c)]

    def layers(self, prefix: str) -> dict[str, str]:
        """``{layer: series name}`` for the per-layer series ``prefix/layer``."""
        return {n[len(prefix) + 1 :]: n for n in self.names(prefix + "/")}

    @property
    def last_step(self) -> int:
        """The largest step of any series (-1 for an empty trace)."""
        return max((max(c.steps) for c in self.columns.values() if c.steps), default=-1)

    def copy(self) -> Trace:
        """A copy whose series can grow without changing this trace."""
        t = Trace(meta=dict(self.meta))
        t.columns = {n: Column(list(c.steps), list(c.values)) for n, c in self.columns.items()}
        return t

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; non-finite values become the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
        return {
            "meta": self.meta,
            "columns": {
                n: {"steps": c.steps, "values": [encode_float(v) for v in c.values]} for n, c in self.columns.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trace:
        """Inverse of :meth:`to_json`."""
        t = cls(meta=data.get("meta", {}))
        for name, col in data.get("columns", {}).items():
            t.extend(name, col["steps"], [decode_float(v) for v in col["values"]])
        return t


def encode_float(v: float) -> float | str:
    """``v`` unchanged if finite, else ``"nan"`` / ``"inf"`` / ``"-inf"`` (strict JSON has no NaN)."""
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def decode_float(v: Any) -> float:
    """Inverse of :func:`encode_float`; also accepts numbers given as strings."""
    if isinstance(v, str):
        return float(v.strip().lower().replace("infinity", "inf"))
    return float(v)
