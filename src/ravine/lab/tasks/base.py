"""What a task is: data with a validation part carved from training, a model, a loss, metrics and a budget.

A :class:`Task` holds only module-level functions (or ``functools.partial`` of them), so it pickles by reference
and worker processes receive it as it is.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from ravine.lab.tasks import batches


@dataclass(frozen=True)
class Arrays:
    """One split: ``x`` (dense, or sparse CSR for bag-of-words) and ``y`` (labels; None for unlabelled data)."""

    x: Tensor
    y: Tensor | None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor | None]:
        """The examples at ``idx`` as model inputs (sparse CSR rows come back as a coalesced COO batch)."""
        return batches.take(self.x, idx), None if self.y is None else self.y[idx]

    def rows(self, start: int, stop: int) -> tuple[Tensor, Tensor | None]:
        """Examples ``start:stop`` as model inputs (sparse CSR stays CSR: no gather needed)."""
        return batches.rows(self.x, start, stop), None if self.y is None else self.y[start:stop]

    def select(self, idx: Tensor) -> Arrays:
        """The examples at ``idx`` as a new split in the same layout."""
        return Arrays(batches.select(self.x, idx), None if self.y is None else self.y[idx])


@dataclass(frozen=True)
class TaskData:
    """Train, validation (carved from the published training split) and test examples."""

    train: Arrays
    val: Arrays
    test: Arrays

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def subset(self, n: int | None) -> TaskData:
        """At most ``n`` examples per split, a fixed random sample of each (the same for every run)."""
        if n is None:
            return self

        def cut(a: Arrays) -> Arrays:
            return a if len(a) <= n else a.select(batches.fixed_sample(len(a), n, seed=1))

        return TaskData(cut(self.train), cut(self.val), cut(self.test))


@dataclass(frozen=True)
class Target:
    """The "speed" target: the first evaluation where ``metric`` reaches ``value`` (DeepOBS; AlgoPerf).

    ``metric`` is ``val_acc`` (reached when >= value) or ``val_loss`` (reached when <= value).
    """

    metric: Literal["val_acc", "val_loss"]
    value: float

    def reached(self, v: float | None) -> bool:
        if v is None or not math.isfinite(v):
            return False
        return v >= self.value if self.metric == "val_acc" else v <= self.value


@dataclass(frozen=True)
class Head:
    """How model outputs become a loss and a count of correct predictions.

    ``loss(out, y)`` is the sum over the batch (means are taken by the caller, so evaluation in chunks is exact);
    ``correct(out, y)`` the number of correct predictions, or None when the task has no accuracy.
    """

    name: str
    loss: Callable[[Tensor, Tensor | None], Tensor]
    correct: Callable[[Tensor, Tensor | None], Tensor] | None


def _softmax_loss(out: Tensor, y: Tensor | None) -> Tensor:
    return F.cross_entropy(out, y, reduction="sum")


def _softmax_correct(out: Tensor, y: Tensor | None) -> Tensor:
    return (out.argmax(dim=1) == y).sum()


def _sigmoid_loss(out: Tensor, y: Tensor | None) -> Tensor:
    return F.binary_cross_entropy_with_logits(out.squeeze(1), y.to(out.dtype), reduction="sum")  # type: ignore[union-attr]


def _sigmoid_correct(out: Tensor, y: Tensor | None) -> Tensor:
    return ((out.squeeze(1) > 0).long() == y).sum()


def _given_loss(out: Tensor, y: Tensor | None) -> Tensor:
    return out.sum()


SOFTMAX = Head("softmax cross-entropy", _softmax_loss, _softmax_correct)
SIGMOID = Head("logistic (sigmoid cross-entropy)", _sigmoid_loss, _sigmoid_correct)
GIVEN = Head("the model's output is the per-example loss", _given_loss, None)


@dataclass(frozen=True)
class Task:
    """A training problem the lab compares optimisers on.

    Attributes:
        name: identifier used on the command line (``mnist-logreg``).
        summary: one line for tables and ``--help``.
        load: ``load(data_dir) -> TaskData`` at full size (raises ``DataError`` if the files are missing).
        model: builds a fresh model; called under the run's seed, so its initialisation is seeded.
        head: loss and accuracy of the model's outputs.
        epochs: default budget in passes over the training part.
        lr_grid: default learning-rate grid (log-spaced), the same for every optimiser.
        target: the speed target.
        batch_size: default mini-batch size.
        l2: ``l2 / 2 * sum of squared weights`` (not biases) added to the training loss, the same for every
            optimiser (so it is part of the problem, not of the optimiser).
        evals: number of evaluation points after the start (evenly spaced in steps).
        dataset: the data set it reads (None for synthetic tasks).
        version: bump when the model, data recipe or loss changes, so stored runs are not reused.
        source: where the task comes from.
    """

    name: str
    summary: str
    load: Callable[[str | os.PathLike | None], TaskData]
    model: Callable[[], nn.Module]
    head: Head
    epochs: int
    lr_grid: tuple[float, ...]
    target: Target
    batch_size: int = 128
    l2: float = 0.0
    evals: int = 20
    dataset: str | None = None
    version: int = 1
    source: str = ""
    details: dict[str, object] = field(default_factory=dict)

    @property
    def select_metric(self) -> str:
        """The validation metric that chooses the learning rate (higher accuracy, else lower loss)."""
        return "val_acc" if self.head.correct is not None else "val_loss"

    @property
    def rank_metric(self) -> str:
        """The test metric optimisers are ranked by."""
        return "test_acc" if self.head.correct is not None else "test_loss"

    def describe(self) -> dict[str, object]:
        """A JSON-able description for results files."""
        return {
            "name": self.name,
            "summary": self.summary,
            "dataset": self.dataset,
            "head": self.head.name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "l2": self.l2,
            "lr_grid": list(self.lr_grid),
            "target": {"metric": self.target.metric, "value": self.target.value},
            "evals": self.evals,
            "version": self.version,
            "source": self.source,
            **self.details,
        }


def l2_penalty(model: nn.Module, l2: float) -> Tensor | None:
    """``l2 / 2 * sum ||W||^2`` over weight matrices and kernels (parameters with 2 or more dimensions)."""
    if l2 == 0.0:
        return None
    return 0.5 * l2 * sum(p.pow(2).sum() for p in model.parameters() if p.dim() >= 2)
