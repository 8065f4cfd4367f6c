"""One run of the paper's protocol: seeded weights, shuffled minibatches of 128, the stepsize schedule of section
6.1, and the training cost measured at the start, four times in the first epoch and after every epoch.

Why not the task lab's run (:mod:`ravine.lab.tasks.train`): the paper's protocol needs an optimiser the lab's run
spec cannot name (the bias-correction study's ``scale_by_adam`` chain with its own beta2) and a stepsize that
changes per epoch; everything else (seed streams, thread pinning, evaluation in chunks, models, losses) is the lab's.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

import ravine
from ravine.lab.reproduce import data as datasets
from ravine.lab.reproduce import paper
from ravine.lab.reproduce.spec import RUN_FORMAT, Run, finite_or_none
from ravine.lab.tasks.base import Arrays, Head, l2_penalty
from ravine.lab.tasks.train import EVAL_CHUNK, stream_seed, torch_threads
from ravine.optim import Optimizer, registry
from ravine.rules import scale_by_adam

#: A training cost above this multiple of the initial one stops the run as diverged (the lab's factor).
DIVERGENCE_FACTOR = 10.0
#: Evaluations inside the first epoch (at quarters), so that the first-epoch panels have a shape.
FIRST_EPOCH_POINTS = 4
_STREAM_INIT, _STREAM_ORDER = 0, 1


def alpha_at(alpha: float, epoch: int, anneal: bool) -> float:
    """The stepsize during epoch ``epoch`` (1, 2, ...): alpha_t = alpha / sqrt(t), t the epoch (section 6.1), or
    alpha when not annealed (the MLP and CNN experiments, sections 6.2-6.3, use a constant alpha)."""
    if epoch < 1:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    return alpha / math.sqrt(epoch) if anneal else alpha


def optimizer(run: Run, params: Any) -> torch.optim.Optimizer:
    """The optimiser of ``run``.

    The study (``run.beta2`` set) builds ``Optimizer(params, scale_by_adam(betas=(0.9, beta2),
    bias_correction=...))``: both arms are the same chain, so that the switch is the only difference
    (section 6.4). Everything else comes from ravine's registry with torch's defaults; Adam uses the paper's
    defaults (section 2: beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, which are also torch's).
    """
    if run.beta2 is not None:
        rule = scale_by_adam(
            betas=(paper.STUDY_BETA1, run.beta2), eps=paper.ADAM_EPS, bias_correction=run.bias_correction
        )
        return Optimizer(params, rule, lr=run.alpha)
    extra: dict[str, Any] = {"betas": paper.ADAM_BETAS, "eps": paper.ADAM_EPS} if run.optimizer == "adam" else {}
    return registry.build(run.optimizer, params, lr=run.alpha, **extra)


@torch.no_grad()
def training_cost(model: nn.Module, head: Head, data: Arrays) -> float:
    """Mean loss of ``model`` on ``data`` in eval mode (no dropout), in fixed chunks so that the sum is exact."""
    model.eval()
    total = 0.0
    for start in range(0, len(data), EVAL_CHUNK):
        x, y = data.rows(start, min(start + EVAL_CHUNK, len(data)))
        total += float(head.loss(model(x), y))
    model.train()
    return total / len(data)


def objective(model: nn.Module, head: Head, l2: float, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """The minibatch training cost: mean loss plus ``l2 / 2 * ||W||^2`` on the weight matrices (section 6.1)."""
    cost = head.loss(model(x), y) / x.shape[0]
    penalty = l2_penalty(model, l2)
    return cost if penalty is None else cost + penalty


def fit(exp: paper.Experiment, run: Run, train: Arrays, anneal: bool | None = None) -> dict[str, Any]:
    """Train ``exp``'s model on ``train`` as ``run`` says and return its record (JSON-able).

    Args:
        exp: the experiment (model, loss, l2, schedule).
        run: the run (optimiser, alpha, seed, epochs, evaluation sample).
        train: the training examples (``run.subset`` of them already taken).
        anneal: override ``exp.anneal`` (None: the experiment's).

    Returns:
        ``{"format", "key", "run", "curve": {"epoch", "step", "alpha", "train_loss", "batch_loss", "objective"},
        "final", "after_epoch_1", "objective_final", "objective_after_epoch_1", "diverged", "diverged_epoch",
        "steps", "wall_s", ...}``. Two measures of the training cost:

        * the training objective as the run minimised it, the mean of the minibatch costs (with the L2 term and
          under dropout): ``curve["objective"][e - 1]`` over epoch ``e`` (``objective_final``,
          ``objective_after_epoch_1``), and ``batch_loss`` since the previous evaluation point;
        * the negative log-likelihood of the fixed evaluation sample in eval mode, without dropout and without the
          L2 term, at that instant: ``train_loss`` (``final``, ``after_epoch_1``).
    """
    anneal = exp.anneal if anneal is None else anneal
    head = datasets.head(exp)
    sample = datasets.cost_sample(train, run.eval_size)
    t0 = time.perf_counter()
    with torch_threads(run.threads):
        # Section 6: "the same parameter initialization when comparing different optimization algorithms": the
        # weights depend on the seed alone, never on the optimiser.
        torch.manual_seed(stream_seed(run.seed, _STREAM_INIT))
        model = datasets.model(exp)
        model.train()
        opt = optimizer(run, model.parameters())
        order = torch.Generator().manual_seed(stream_seed(run.seed, _STREAM_ORDER))
        n = len(train)
        per_epoch = math.ceil(n / paper.BATCH_SIZE)
        # The study reads epoch ends only (figure 4): its runs skip the quarter points, a third of their cost
        # (evaluating never draws random numbers, so the training itself is the same either way).
        points = 0 if run.beta2 is not None else FIRST_EPOCH_POINTS
        inside = {round(per_epoch * k / points) for k in range(1, points)} - {0, per_epoch}
        curve: dict[str, list] = {k: [] for k in ("epoch", "step", "alpha", "train_loss", "batch_loss")}
        losses: list[float] = []
        # The objective of each finished epoch, the mean of its minibatch costs: what a training loop logs as
        # "the training loss of epoch e", and what the comparisons are judged and tuned on.
        epoch_costs: list[float] = []
        epoch_objective: list[float | None] = []
        step, diverged_epoch = 0, None

        def measure(alpha: float) -> bool:
            loss = finite_or_none(training_cost(model, head, sample))
            curve["epoch"].append(step / per_epoch)
            curve["step"].append(step)
            curve["alpha"].append(alpha)
            curve["train_loss"].append(loss)
            curve["batch_loss"].append(finite_or_none(math.fsum(losses) / len(losses)) if losses else None)
            losses.clear()
            first = curve["train_loss"][0]
            return loss is not None and not (first is not None and loss > DIVERGENCE_FACTOR * first)

        ok = measure(alpha_at(run.alpha, 1, anneal))
        for epoch in range(1, run.epochs + 1):
            if not ok:
                break
            alpha = alpha_at(run.alpha, epoch, anneal)
            for group in opt.param_groups:
                group["lr"] = alpha
            perm = torch.randperm(n, generator=order)
            for b in range(per_epoch):
                x, y = train.batch(perm[b * paper.BATCH_SIZE : (b + 1) * paper.BATCH_SIZE])
                opt.zero_grad(set_to_none=True)
                cost = objective(model, head, exp.l2, x, y)
                cost.backward()
                opt.step()
                step += 1
                losses.append(float(cost.detach()))
                epoch_costs.append(losses[-1])
                if not math.isfinite(losses[-1]):
                    ok = False
                    break
                if epoch == 1 and step in inside and not (ok := measure(alpha)):
                    break
            if ok:
                epoch_objective.append(finite_or_none(math.fsum(epoch_costs) / len(epoch_costs)))
                ok = measure(alpha)
            epoch_costs.clear()
            if not ok:
                diverged_epoch = epoch
                if curve["step"][-1] != step:
                    measure(alpha)
    curve["objective"] = epoch_objective
    return _record(run, curve, per_epoch, step, diverged_epoch, len(train), len(sample), time.perf_counter() - t0)


def _record(
    run: Run, curve: dict[str, list], per_epoch: int, steps: int, diverged: int | None, n: int, m: int, wall: float
) -> dict[str, Any]:
    objective = curve["objective"]

    def at_epoch(e: float) -> float | None:
        # The cost after epoch e; a run that diverged before it has none (None reads as "diverged").
        for epoch, loss in zip(curve["epoch"], curve["train_loss"], strict=True):
            if abs(epoch - e) < 1e-9:
                return loss
        return None

    return {
        "format": RUN_FORMAT,
        "key": run.key(),
        "run": {**run.__dict__},
        "curve": curve,
        "final": at_epoch(run.epochs) if diverged is None else None,
        "after_epoch_1": at_epoch(1.0),
        "objective_final": objective[run.epochs - 1] if diverged is None and len(objective) >= run.epochs else None,
        "objective_after_epoch_1": objective[0] if objective else None,
        "diverged": diverged is not None,
        "diverged_epoch": diverged,
        "steps": steps,
        "steps_per_epoch": per_epoch,
        "train_examples": n,
        "cost_examples": m,
        "wall_s": wall,
        "torch": torch.__version__,
        "ravine": ravine.__version__,
    }
