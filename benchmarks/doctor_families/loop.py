"""One training run of the family benchmark, with or without the doctor, from a frozen :class:`Setup`.

The loop is the issue's contract and nothing more: ``after_backward(loss)`` before clipping (with
``batch=(x, y)`` and ``Doctor(..., loss_fn=...)`` where the doctor accepts them), ``after_step()`` after the
step, ``on_eval(train=..., val=...)`` at each evaluation. Runs without the doctor are the
counterfactuals that verify labels (same seed, same batches, one thing changed).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from _doctor_runs import layer_grad_norms
from doctor_families.data import Task
from doctor_families.optimisers import make
from ravine.diagnose import Doctor, Report, Trace

# Where the doctor's API takes the loss function and the batch (so that it can probe curvature without a
# closure), the benchmark passes them, as the lab does; with an older doctor it passes only the loss.
_TAKES_BATCH = (
    "loss_fn" in inspect.signature(Doctor).parameters and "batch" in inspect.signature(Doctor.after_backward).parameters
)


@dataclass(frozen=True)
class Setup:
    """Everything that decides a run: the task, the model factory, the optimiser and its lr, the loop."""

    task: Task
    model: Callable[[], nn.Module]
    optimiser: str
    lr: float
    seed: int
    steps: int = 200
    batch: int = 64
    schedule: Callable[[int], float] | None = None  # multiplier on lr at step t
    clip: float | None = None
    eval_every: int | None = None
    label_noise: float = 0.0  # fraction of training labels permuted among themselves (1.0: a shuffled-label bug)


@dataclass
class Run:
    """What a run left: losses, raw gradient norms, evaluations, the model, and the doctor's report and trace."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    evals: list[tuple[int, float, float]] = field(default_factory=list)  # (step, train loss, val loss)
    snapshots: dict[int, float] = field(default_factory=dict)  # measure(model) at chosen steps
    init_ratio: float = math.nan  # first / last layer gradient norm before training
    init_norm: float = math.nan  # raw gradient norm of the weight matrices before training
    report: Report | None = None
    trace: Trace | None = None

    def final(self, k: int = 20) -> float:
        """Median of the last ``k`` losses (inf if any of the last 3 is non-finite)."""
        tail = self.losses[-k:]
        if not all(math.isfinite(v) for v in tail[-3:]):
            return math.inf
        return float(torch.tensor([v for v in tail if math.isfinite(v)]).median())

    def first(self, k: int = 5) -> float:
        return float(torch.tensor(self.losses[:k]).median())

    def best(self, k: int = 10) -> float:
        """The lowest median over consecutive blocks of ``k`` finite losses."""
        vals = [v for v in self.losses if math.isfinite(v)]
        if not vals:
            return math.inf
        return min(float(torch.tensor(vals[i : i + k]).median()) for i in range(0, max(1, len(vals) - k + 1), k))

    def at(self, lo: float, hi: float) -> float:
        """Median loss over the fraction ``[lo, hi)`` of the run."""
        n = len(self.losses)
        part = [v for v in self.losses[int(lo * n) : max(int(hi * n), int(lo * n) + 1)] if math.isfinite(v)]
        return float(torch.tensor(part).median()) if part else math.inf


def _labels(task: Task, noise: float, seed: int) -> Tensor:
    if noise <= 0:
        return task.y
    g = torch.Generator().manual_seed(seed + 11)
    pick = torch.randperm(len(task.y), generator=g)[: int(noise * len(task.y))]
    y = task.y.clone()
    y[pick] = task.y[pick[torch.randperm(len(pick), generator=g)]]
    return y


def train(
    s: Setup,
    *,
    doctor: bool = True,
    watch: dict[int, Callable[[nn.Module], float]] | None = None,
) -> Run:
    """Train ``s`` for ``s.steps`` steps; with ``doctor`` the doctor watches at its defaults.

    ``watch`` maps a step to a measurement taken on the model before that step (an independent check, e.g. the
    dead fraction before a burst of high lr).
    """
    torch.manual_seed(s.seed)
    model = s.model()
    x, y = s.task.x, _labels(s.task, s.label_noise, s.seed)
    g0 = layer_grad_norms(model, s.task.loss(model(x[:512]), y[:512]))
    first, last = g0[0], g0[-1]
    run = Run(model, init_ratio=first / last if last > 0 else (math.nan if first == 0 else math.inf))
    run.init_norm = math.hypot(*g0)
    opt = make(s.optimiser, model.parameters(), s.lr)
    extra = {"loss_fn": s.task.loss} if _TAKES_BATCH else {}
    d = Doctor(model, opt, echo=False, **extra) if doctor else None
    g = torch.Generator().manual_seed(s.seed + 7)
    full = s.batch >= len(x)
    params = [p for p in model.parameters() if p.requires_grad]

    def evaluate(t: int) -> None:
        model.eval()
        with torch.no_grad():
            tr = float(s.task.loss(model(x[:1000]), y[:1000]))
            va = float(s.task.loss(model(s.task.xv), s.task.yv))
        model.train()
        run.evals.append((t, tr, va))
        if d is not None:
            d.on_eval(train={"loss": tr}, val={"loss": va}, step=t)

    if s.eval_every:
        evaluate(0)
    for t in range(s.steps):
        if watch and t in watch:
            run.snapshots[t] = watch[t](model)
        if s.schedule is not None:
            for group in opt.param_groups:
                group["lr"] = s.lr * s.schedule(t)
        if full:
            xb, yb = x, y
        else:
            i = torch.randint(0, len(x), (s.batch,), generator=g)
            xb, yb = x[i], y[i]
        opt.zero_grad()
        loss = s.task.loss(model(xb), yb)
        loss.backward()
        if d is not None:
            d.after_backward(loss, batch=(xb, yb)) if _TAKES_BATCH else d.after_backward(loss)
        norms = torch._foreach_norm([p.grad for p in params if p.grad is not None])
        run.grad_norms.append(float(torch.linalg.vector_norm(torch.stack(norms))))
        if s.clip is not None:
            nn.utils.clip_grad_norm_(params, s.clip)
        opt.step()
        if d is not None:
            d.after_step()
        run.losses.append(loss.item())
        if s.eval_every and ((t + 1) % s.eval_every == 0 or t == s.steps - 1):
            evaluate(t + 1)
    if d is not None:
        run.report = d.report()
        run.trace = d.trace
        d.close()
    return run
