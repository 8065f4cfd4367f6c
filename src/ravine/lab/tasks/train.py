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

Progress = Callable[[int, int], None]

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
        return _run(task, data, spec, progress)


def _run(task: Task, data: TaskData, spec: RunSpec, progress: Progress | None) -> dict[str, Any]:
    wall0 = time.perf_counter()
    torch.manual_seed(stream_seed(spec.seed, _STREAM_INIT))
    model = task.model()
    model.train()
    optimizer = registry.build(spec.optimizer, model.parameters(), lr=spec.lr)
    order = torch.Generator().manual_seed(stream_seed(spec.seed, _STREAM_ORDER))
    n = len(data.train)
    batch = n if spec.batch_size is None else min(spec.batch_size, n)
    per_epoch = math.ceil(n / batch)
    total = spec.epochs * per_epoch
    schedule = schedules.build(spec.schedule, spec.lr, total)
    doctor = doctors.attach(model, optimizer)
    train_eval = train_eval_part(data)
    at = eval_steps(total, task.evals)
    curve: dict[str, list] = {k: [] for k in ("step", "epoch", "lr", "batch_loss", *METRICS)}
    state = {"train_s": 0.0, "reached_step": None, "reached_s": None, "diverged_step": None, "last_lr": spec.lr}
    batch_sum, batch_count = 0.0, 0

    def record(step: int) -> bool:
        """Evaluate at ``step``; False if the run diverged."""
        nonlocal batch_sum, batch_count
        values = dict(zip(("train_loss", "train_acc"), evaluate(model, task, train_eval), strict=True))
        values |= dict(zip(("val_loss", "val_acc"), evaluate(model, task, data.val), strict=True))
        values |= dict(zip(("test_loss", "test_acc"), evaluate(model, task, data.test), strict=True))
        curve["step"].append(step)
        curve["epoch"].append(step / per_epoch)
        curve["lr"].append(state["last_lr"])
        curve["batch_loss"].append(batch_sum / batch_count if batch_count else None)
        for k in METRICS:
            curve[k].append(values[k])
        batch_sum, batch_count = 0.0, 0
        doctor.on_eval(
            train={"loss": values["train_loss"], "acc": values["train_acc"]},
            val={"loss": values["val_loss"], "acc": values["val_acc"]},
        )
        if state["reached_step"] is None and task.target.reached(values[task.target.metric]):
            state["reached_step"], state["reached_s"] = step, state["train_s"]
        initial = curve["train_loss"][0]
        loss = values["train_loss"]
        return loss is not None and not (initial is not None and loss > DIVERGENCE_FACTOR * initial)

    ok = record(0)
    step, last_report = 0, time.perf_counter()
    while ok and step < total:
        perm = torch.randperm(n, generator=order)
        for b in range(per_epoch):
            t0 = time.perf_counter()
            if schedule is not None:
                state["last_lr"] = float(schedule(step))
                for group in optimizer.param_groups:
                    group["lr"] = state["last_lr"]
            x, y = data.train.batch(perm[b * batch : (b + 1) * batch])
            optimizer.zero_grad(set_to_none=True)
            objective = task.head.loss(model(x), y) / len(perm[b * batch : (b + 1) * batch])
            penalty = l2_penalty(model, task.l2)
            if penalty is not None:
                objective = objective + penalty
            objective.backward()
            doctor.after_backward(objective.detach())
            optimizer.step()
            doctor.after_step()
            step += 1
            value = float(objective.detach())
            state["train_s"] += time.perf_counter() - t0
            batch_sum, batch_count = batch_sum + value, batch_count + 1
            if not math.isfinite(value):
                ok = False
            elif step in at:
                ok = record(step)
            if not ok:
                state["diverged_step"] = step
                if curve["step"][-1] != step:
                    record(step)
                break
            if progress is not None and time.perf_counter() - last_report > 0.5:
                progress(step, total)
                last_report = time.perf_counter()
    if progress is not None:
        progress(step, total)
    return {
        "format": FORMAT,
        "key": spec.key(),
        "spec": spec.to_dict(),
        "curve": {k: [doctors.jsonable(v) for v in vs] for k, vs in curve.items()},
        "final": {k: doctors.jsonable(curve[k][-1]) for k in METRICS},
        "diverged": state["diverged_step"] is not None,
        "diverged_step": state["diverged_step"],
        "target": {
            "metric": task.target.metric,
            "value": task.target.value,
            "reached_step": state["reached_step"],
            "reached_s": state["reached_s"],
        },
        "steps": step,
        "steps_per_epoch": per_epoch,
        "sizes": data.sizes(),
        "wall_s": time.perf_counter() - wall0,
        "train_s": state["train_s"],
        "findings": doctor.findings(),
        "torch": torch.__version__,
        "ravine": ravine.__version__,
        "torch_threads": torch.get_num_threads(),
    }
