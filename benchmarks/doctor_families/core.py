"""Families, the runs they expand into, what a run's verification established, and the split by family.

A *family* is one fault mechanism on one architecture / data pair; it expands over severity x seed x optimiser
into runs. Thresholds may be chosen on the ``dev`` families only; the ``heldout`` families are scored once.
The split is a stable hash of the family's name, so no family can be moved by hand. Each family draws

    u = int(sha256("ravine-doctor-families-v1:" + name)[:8], 16) / 16**8

and, within its group (its first label; ``healthy``; ``co-occurring`` for two labels), the round(0.4 n)
families with the largest u (at least one) are held out, the rest are dev. Stratifying by group keeps every
kind in both splits; a plain threshold on u left all eight ``lr_too_low`` families in dev.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from doctor_families.loop import Run

SALT = "ravine-doctor-families-v1:"
DEV_SHARE = 0.6
SPLITS = ("dev", "heldout")


def draw(family: str) -> float:
    """The family's uniform draw u in [0, 1) (see the module docstring)."""
    return int(hashlib.sha256((SALT + family).encode()).hexdigest()[:8], 16) / 16**8


def group_of(labels: tuple[str, ...]) -> str:
    """The stratum of a family with ``labels``: its label, ``healthy`` or ``co-occurring``."""
    return "healthy" if not labels else labels[0] if len(labels) == 1 else "co-occurring"


def split_of(family: str) -> str:
    """``dev`` or ``heldout`` for the registered family named ``family`` (see the module docstring)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be a registered family name; got {family!r}")
    group = group_of(FAMILIES[family].labels)
    peers = sorted((f.name for f in FAMILIES.values() if group_of(f.labels) == group), key=draw, reverse=True)
    held = max(1, round((1 - DEV_SHARE) * len(peers)))
    return "heldout" if family in peers[:held] else "dev"


@dataclass(frozen=True)
class RunSpec:
    """One run of a family: the optimiser (with its base lr), the severity of the fault, the seed."""

    family: str
    optimiser: str
    lr: float
    severity: float
    seed: int

    @property
    def name(self) -> str:
        return f"{self.family}/{self.optimiser}/sev{self.severity:g}/seed{self.seed}"


@dataclass
class Verdict:
    """What the independent measurements established about one run.

    ``labels``: kind -> evidence that it holds; ``failed``: kind -> why a claimed label did not hold (the run is
    then dropped); ``absent``: kind -> evidence that it does not hold (a forbidden pair).
    """

    run: Run
    labels: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)

    def claim(self, kind: str, holds: bool, evidence: str) -> None:
        """Record the measurement behind label ``kind``."""
        (self.labels if holds else self.failed)[kind] = evidence

    def exclude(self, kind: str, holds: bool, evidence: str) -> None:
        """Record a measurement showing ``kind`` absent (a forbidden pair) when ``holds``."""
        if holds:
            self.absent[kind] = evidence


@dataclass(frozen=True)
class Family:
    """A fault mechanism on one architecture / data pair, and how each of its runs is built and verified.

    ``labels`` are the kinds every run must show (empty: a healthy family); ``optimisers`` pairs each
    optimiser with its base lr; ``build(spec, doctor)`` trains the run (under the doctor if asked) and verifies it.
    """

    name: str
    labels: tuple[str, ...]
    arch: str
    data: str
    about: str
    optimisers: tuple[tuple[str, float], ...]
    severities: tuple[float, ...]
    build: Callable[[RunSpec, bool], Verdict]
    seeds: tuple[int, ...] = (0, 1)

    @property
    def split(self) -> str:
        """``dev`` or ``heldout``; ``unlisted`` for a family built outside the registry (a test's)."""
        return split_of(self.name) if FAMILIES.get(self.name) is self else "unlisted"

    def runs(self) -> list[RunSpec]:
        """Every run: optimiser x severity x seed (seeds offset per optimiser so no two runs share one)."""
        out = []
        for k, (opt, lr) in enumerate(self.optimisers):
            for sev in self.severities:
                for s in self.seeds:
                    out.append(RunSpec(self.name, opt, lr, sev, 1000 * k + s))
        return out


FAMILIES: dict[str, Family] = {}
Build = Callable[[RunSpec, bool], Verdict]


def family(
    name: str,
    labels: tuple[str, ...],
    arch: str,
    data: str,
    about: str,
    optimisers: tuple[tuple[str, float], ...],
    severities: tuple[float, ...],
    seeds: tuple[int, ...] = (0, 1),
) -> Callable[[Build], Build]:
    """Register the decorated ``build(spec, doctor) -> Verdict`` as a family (``doctor``: attach the doctor)."""

    def register(build: Build) -> Build:
        if name in FAMILIES:
            raise ValueError(f"family {name!r} is registered twice")
        FAMILIES[name] = Family(name, labels, arch, data, about, optimisers, severities, build, seeds)
        return build

    return register
