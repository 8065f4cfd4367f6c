"""One training run: seeded, evaluated at evenly spaced steps, watched by the doctor, returned as a plain record.

Reproducibility: the run fixes torch's thread count, seeds the initial weights (torch's global generator, which
dropout then continues), and draws the data order from its own generator; each stream's seed is derived from the
run's seed with ``numpy.random.SeedSequence``. Two runs of the same spec on the same machine and torch build give
the same bits, whichever process runs them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

import ravine
from ravine.lab.tasks import batches
from ravine.lab.tasks import doctor as doctors
from ravine.lab.tasks import schedule as schedules
from ravine.lab.tasks.base import Arrays, Task, TaskData, l2_penalty
from ravine.lab.tasks.spec import FORMAT, RunSpec
from ravine.optim import registry
from ravine.optim.schedule_free import _ScheduleFree as ScheduleFree

Progress = Callable[[int, int], None]  # (steps done, steps planned): at the start, every 0.5 s, at the end

DIVERGENCE_FACTOR = 10.0  # an evaluation train loss above 10x the initial one counts as divergence
EVAL_CHUNK = 2048
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
_STREAM_INIT, _STREAM_ORDER = 0, 1


def stream_seed(seed: int, stream: int) -> int:
    """An independent 63-bit seed for one random stream of a run (NumPy's SeedSequence, NEP 19)."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0] >> np.uint64(1))


@contextmanager
def torch_threads(n: int):
    """Run with ``n`` intra-op threads, restoring the previous number afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def warm_up() -> None:
    """Pay once per process what the first optimiser would otherwise pay inside its run's timing: torch imports
    its compiler stack (seconds) the first time any optimiser is constructed."""
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, data: Arrays) -> tuple[float, float | None]:
    """Mean loss and accuracy (None without one) of ``model`` on ``data``, in eval mode, in fixed chunks."""
    model.eval()
    loss_sum, correct = 0.0, 0
    n = len(data)
    for start in range(0, n, EVAL_CHUNK):
        x, y = data.rows(start, min(start + EVAL_CHUNK, n))
        out = model(x)
        loss_sum += float(task.head.loss(out, y))
        if task.head.correct is not None:
            correct += int(task.head.correct(out, y))
    model.train()
    loss = loss_sum / n
    return (loss if math.isfinite(loss) else None), (correct / n if task.head.correct is not None else None)


def eval_steps(total: int, evals: int) -> list[int]:
    """Evenly spaced evaluation steps from 0 to ``total`` inclusive (at most ``evals`` after the start)."""
    return sorted({round(total * k / evals) for k in range(evals + 1)})


def train_eval_part(data: TaskData) -> Arrays:
    """The training examples the train loss is measured on: a fixed sample as large as the validation part."""
    n = min(len(data.train), len(data.val))
    return data.train.select(batches.fixed_sample(len(data.train), n, seed=2))


def run(task: Task, data: TaskData, spec: RunSpec, progress: Progress | None = None) -> dict[str, Any]:
    """Train ``task``'s model on ``data`` as ``spec`` says and return the run's record (JSON-able).

    Returns:
        ``{"key", "spec", "curve", "final", "diverged", "diverged_step", "target", "steps", "wall_s",
        "train_s", "findings", ...}``; ``curve`` holds ``step``, ``epoch``, ``lr``, ``batch_loss`` (mean
        training objective since the previous point) and the metrics of :data:`METRICS` at each evaluation.
    """
    with torch_threads(spec.threads):
        r = _Run(task, data, spec)
        r.train(progress)
        return r.record()


class _Run:
    """The state of one run between evaluations; :meth:`train` runs it, :meth:`record` reports it."""

    def __init__(self, task: Task, data: TaskData, spec: RunSpec) -> None:
        self.wall0 = time.perf_counter()
        self.task, self.data, self.spec = task, data, spec
        torch.manual_seed(stream_seed(spec.seed, _STREAM_INIT))
        self.model = task.model()
        self.model.train()
        self.optimizer = registry.build(spec.optimizer, self.model.parameters(), lr=spec.lr)
        self.order = torch.Generator().manual_seed(stream_seed(spec.seed, _STREAM_ORDER))
        n = len(data.train)
        self.batch = n if spec.batch_size is None else min(spec.batch_size, n)
        self.per_epoch = math.ceil(n / self.batch)
        self.total = spec.epochs * self.per_epoch
        self.schedule = schedules.build(spec.schedule, spec.lr, self.total)
        self.doctor = doctors.attach(self.model, self.optimizer)
        self.train_eval = train_eval_part(data)
        self.at = set(eval_steps(self.total, task.evals))
        self.curve: dict[str, list] = {k: [] for k in ("step", "epoch", "lr", "batch_loss", *METRICS)}
        self.step, self.lr, self.train_s = 0, spec.lr, 0.0
        self.batch_losses: list[float] = []
        self.reached: tuple[int, float] | None = None
        self.diverged_step: int | None = None

    def train(self, progress: Progress | None) -> None:
        """Epochs of shuffled mini-batches until the budget is spent or the run diverges."""
        if progress is not None:
            progress(0, self.total)
        ok = self.evaluate()
        last_report = time.perf_counter()
        while ok and self.step < self.total:
            perm = torch.randperm(len(self.data.train), generator=self.order)
            for b in range(self.per_epoch):
                value = self.update(perm[b * self.batch : (b + 1) * self.batch])
                ok = math.isfinite(value) and (self.step not in self.at or self.evaluate())
                if not ok:
                    self.diverged_step = self.step
                    if self.curve["step"][-1] != self.step:
                        self.evaluate()
                    break
                if progress is not None and time.perf_counter() - last_report > 0.5:
                    progress(self.step, self.total)
                    last_report = time.perf_counter()
        if progress is not None:
            progress(self.step, self.total)

    def update(self, idx: torch.Tensor) -> float:
        """One optimiser step on the examples ``idx``; returns the training objective before the step."""
        t0 = time.perf_counter()
        if self.schedule is not None:
            self.lr = float(self.schedule(self.step))
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr
        x, y = self.data.train.batch(idx)
        self.optimizer.zero_grad(set_to_none=True)
        objective = self.task.head.loss(self.model(x), y) / len(idx)
        penalty = l2_penalty(self.model, self.task.l2)
        if penalty is not None:
            objective = objective + penalty
        objective.backward()
        self.doctor.after_backward(objective.detach(), closure=lambda: self._loss(x, y, idx))
        if getattr(self.optimizer, "needs_closure", False):  # SAM: the loss again, at the perturbed weights
            self.optimizer.step(lambda: self._objective(x, y, idx).backward())
        else:
            self.optimizer.step()
        self.doctor.after_step()
        self.step += 1
        value = float(objective.detach())
        self.train_s += time.perf_counter() - t0
        self.batch_losses.append(value)
        return value

    def _objective(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        return self._loss(x, y, idx)

    def _loss(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        objective = self.task.head.loss(self.model(x), y) / len(idx)
        penalty = l2_penalty(self.model, self.task.l2)
        return objective if penalty is None else objective + penalty

    def evaluate(self) -> bool:
        """Measure every metric at the current step; False if the run has diverged.

        A schedule-free optimiser is measured at its average x (``optimizer.eval()``), where the method says it
        converges, and put back to y for training."""
        swap = isinstance(self.optimizer, ScheduleFree)
        if swap:
            self.optimizer.eval()
        try:
            return self._evaluate()
        finally:
            if swap:
                self.optimizer.train()

    def _evaluate(self) -> bool:
        values = dict(zip(("train_loss", "train_acc"), evaluate(self.model, self.task, self.train_eval), strict=True))
        values |= dict(zip(("val_loss", "val_acc"), evaluate(self.model, self.task, self.data.val), strict=True))
        values |= dict(zip(("test_loss", "test_acc"), evaluate(self.model, self.task, self.data.test), strict=True))
        c = self.curve
        c["step"].append(self.step)
        c["epoch"].append(self.step / self.per_epoch)
        c["lr"].append(self.lr)
        c["batch_loss"].append(math.fsum(self.batch_losses) / len(self.batch_losses) if self.batch_losses else None)
        for k in METRICS:
            c[k].append(values[k])
        self.batch_losses = []
        self.doctor.on_eval(
            train={"loss": values["train_loss"], "acc": values["train_acc"]},
            val={"loss": values["val_loss"], "acc": values["val_acc"]},
        )
        if self.reached is None and self.task.target.reached(values[self.task.target.metric]):
            self.reached = (self.step, self.train_s)
        initial, loss = c["train_loss"][0], values["train_loss"]
        return loss is not None and not (initial is not None and loss > DIVERGENCE_FACTOR * initial)

    def record(self) -> dict[str, Any]:
        """The finished run as a JSON-able record."""
        return {
            "format": FORMAT,
            "key": self.spec.key(),
            "spec": self.spec.to_dict(),
            "curve": {k: [doctors.jsonable(v) for v in vs] for k, vs in self.curve.items()},
            "final": {k: doctors.jsonable(self.curve[k][-1]) for k in METRICS},
            "diverged": self.diverged_step is not None,
            "diverged_step": self.diverged_step,
            "target": {
                "metric": self.task.target.metric,
                "value": self.task.target.value,
                "reached_step": None if self.reached is None else self.reached[0],
                "reached_s": None if self.reached is None else self.reached[1],
            },
            "steps": self.step,
            "steps_per_epoch": self.per_epoch,
            "sizes": self.data.sizes(),
            "wall_s": time.perf_counter() - self.wall0,
            "train_s": self.train_s,
            "findings": self.doctor.findings(),
            "torch": torch.__version__,
            "ravine": ravine.__version__,
            "torch_threads": torch.get_num_threads(),
        }
