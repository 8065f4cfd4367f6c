"""A run's identity: everything that determines its result, and a key that names it in the run store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import torch

import ravine

FORMAT = "ravine.task-run/1"


@dataclass(frozen=True)
class RunSpec:
    """One training run.

    Attributes:
        task: task name.
        optimizer: registry name (``adam``) or ``torch.<Name>``.
        lr: the (peak) learning rate.
        seed: seeds the initial weights, the data order and dropout, each from its own stream.
        epochs: passes over the training part.
        batch_size: examples per step; None for full batch (gradient descent).
        schedule: a schedule spec (``cosine``) applied to ``lr``, or None for a constant rate.
        subset: at most this many examples per split (quick runs), or None.
        threads: torch's intra-op threads during the run (results can depend on it, so it is fixed and recorded).
        task_version: the task's version number, so stored runs of an older task are not reused.
    """

    task: str
    optimizer: str
    lr: float
    seed: int
    epochs: int
    batch_size: int | None
    schedule: str | None = None
    subset: int | None = None
    threads: int = 1
    task_version: int = 1

    def key(self) -> str:
        """A hash of the spec, the record format and the torch and ravine versions (16 hex digits)."""
        ident = {"spec": asdict(self), "format": FORMAT, "torch": torch.__version__, "ravine": ravine.__version__}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]

    def label(self) -> str:
        """Short human-readable name: ``adam lr=0.001 seed 1``."""
        return f"{self.optimizer} lr={self.lr:g} seed {self.seed}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
