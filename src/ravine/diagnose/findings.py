"""What the doctor concludes: :class:`Finding` (a named problem with its evidence and advice) and :class:`Report`.

Both are plain, JSON-able records: ``json.dumps(report.to_json())`` works, and ``Report.from_json`` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = (
    "divergence",
    "exploding_gradients",
    "vanishing_gradients",
    "dead_units",
    "saturation",
    "plateau",
    "lr_too_low",
    "oscillation",
    "overfitting",
    "saddle",
)
"""The ten problems the doctor names (the contract: these strings exactly)."""

SEVERITIES: tuple[str, ...] = ("info", "warning", "error")
"""``info``: worth knowing, not a problem; ``warning``: a problem that costs the run; ``error``: the run failed."""

_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Finding:
    """One problem found in a run.

    Attributes:
        kind: one of :data:`KINDS`.
        severity: one of :data:`SEVERITIES`.
        first_step: first step where the evidence holds.
        last_step: last step where it holds (the last step seen, if it still holds at the end).
        message: one line for people ("loss became NaN at step 412").
        evidence: the numbers behind the verdict (JSON-able scalars, strings and short lists).
        advice: what to try, most promising first, with this run's optimiser and numbers.
    """

    kind: str
    severity: str
    first_step: int
    last_step: int
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    advice: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}; got {self.severity!r}")
        if self.last_step < self.first_step:
            raise ValueError(f"last_step ({self.last_step}) must be >= first_step ({self.first_step})")

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for error."""
        return _RANK[self.severity]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict with the fields above."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "first_step": int(self.first_step),
            "last_step": int(self.last_step),
            "message": self.message,
            "evidence": {k: _plain(v) for k, v in self.evidence.items()},
            "advice": list(self.advice),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_json`."""
        return cls(
            kind=data["kind"],
            severity=data["severity"],
            first_step=int(data["first_step"]),
            last_step=int(data["last_step"]),
            message=data.get("message", ""),
            evidence=dict(data.get("evidence", {})),
            advice=tuple(data.get("advice", ())),
        )


@dataclass(frozen=True)
class Skipped:
    """A check the doctor could not run, and why (``check`` is a kind or a measurement)."""

    check: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}


@dataclass(frozen=True)
class Report:
    """The doctor's verdict on a run.

    Attributes:
        findings: the problems found, worst first.
        skipped: the checks that could not run for lack of data, with the reason.
        steps: number of training steps seen.
        meta: what the doctor knew about the run (optimiser and its settings, layers, source log).
    """

    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    steps: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no finding is a warning or an error."""
        return all(f.severity == "info" for f in self.findings)

    @property
    def worst(self) -> str | None:
        """The highest severity among the findings (None without findings)."""
        return max((f.severity for f in self.findings), key=_RANK.__getitem__, default=None)

    def kinds(self, min_severity: str = "warning") -> list[str]:
        """The kinds found at ``min_severity`` or above, worst first."""
        if min_severity not in _RANK:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}; got {min_severity!r}")
        return [f.kind for f in self.findings if f.rank >= _RANK[min_severity]]

    def to_json(self) -> dict[str, Any]:
        """``{"findings": [...], "skipped": [...], "steps": n, "meta": {...}}``, ready for ``json.dumps``."""
        return {
            "findings": [f.to_json() for f in self.findings],
            "skipped": [s.to_json() for s in self.skipped],
            "steps": int(self.steps),
            "meta": {k: _plain(v) for k, v in self.meta.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """Inverse of :meth:`to_json`."""
        return cls(
            findings=tuple(Finding.from_json(f) for f in data.get("findings", ())),
            skipped=tuple(Skipped(s["check"], s["reason"]) for s in data.get("skipped", ())),
            steps=int(data.get("steps", 0)),
            meta=dict(data.get("meta", {})),
        )

    def __str__(self) -> str:
        if not self.findings:
            return f"no problems found in {self.steps} steps"
        lines = [f"{f.severity:7s} {f.kind:20s} steps {f.first_step}-{f.last_step}: {f.message}" for f in self.findings]
        return "\n".join(lines)


def sort_findings(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Worst first, then by first step."""
    return tuple(sorted(findings, key=lambda f: (-f.rank, f.first_step, KINDS.index(f.kind))))


def _plain(v: Any) -> Any:
    """A JSON-able version of ``v``: numpy scalars to Python, non-finite floats to strings, tuples to lists."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v
