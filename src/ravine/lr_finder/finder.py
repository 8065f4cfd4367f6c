"""``find_lr``: the learning-rate range test (Smith 2017; fastai's ``lr_find``; torch-lr-finder), on any torch
optimiser, leaving the model, the optimiser and the random generators exactly as it found them.

The loop, for ``i = 0, 1, ...`` until ``steps`` or divergence::

    group["lr"] = lr_i  for every parameter group          (lr_i: see ravine.lr_finder.settings)
    l_i = step(model, optimizer, batch_i)                   (default: zero_grad, loss_fn(model(x), y), backward, step)
    s_i = debiased EMA of l_0 .. l_i                        (ravine.lr_finder.smoothing)
    stop if l_i is not finite, or s_i > stop_factor * min(s_0 .. s_i)

``l_i`` is the loss of batch ``i`` *before* the update made with ``lr_i`` (the convention of fastai and
torch-lr-finder), so the curve shows the effect of the rates up to ``lr_{i-1}``.

References: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017; S. Gugger, "How Do
You Find a Good Learning Rate" (2017, fastai's method); torch-lr-finder (D. Silva, 2019).
"""

from __future__ import annotations

import inspect
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ravine.lr_finder import smoothing, suggest
from ravine.lr_finder.restore import Snapshot, data_generators
from ravine.lr_finder.result import LRFinderResult
from ravine.lr_finder.settings import Mode, Sweep

StepFn = Callable[[nn.Module, torch.optim.Optimizer, Any], "Tensor | float"]
Progress = Callable[[int, int, float, float], None]  # (step done, steps planned, lr, smoothed loss)


def find_lr(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], Tensor] | None,
    batches: Iterable[Any],
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    mode: Mode = "exp",
    smooth: float = 0.98,
    stop_factor: float | None = 4.0,
    skip_start: int | None = None,
    skip_end: int = 5,
    rule: str = suggest.DEFAULT_RULE,
    budget: int | None = None,
    batch_size: int | None = None,
    step: StepFn | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    sweep: Sweep | None = None,
) -> LRFinderResult:
    """Run an LR range test on ``model`` and return the curve and the suggested learning rates.

    Args:
        model: the model to train for the sweep; restored afterwards.
        optimizer: any ``torch.optim.Optimizer`` (ravine's or torch's) over ``model``'s parameters, not one whose
            ``step`` needs a closure (L-BFGS); restored afterwards.
        loss_fn: ``loss_fn(model(x), y) -> scalar tensor`` for batches ``(x, y, ...)``; ignored when ``step`` is
            given (may then be None).
        batches: a re-iterable of batches (a list, a DataLoader): the sweep calls ``iter(batches)`` again when a
            pass ends, so a short loader is cycled. A one-shot iterator is refused: the sweep would consume it.
        start, end, steps, mode, smooth, stop_factor, skip_start, skip_end, rule, budget, batch_size: the sweep
            and its suggestions (see :class:`ravine.lr_finder.Sweep`; ``budget`` is the number of steps you will
            train for, ``batch_size`` the examples per step); or pass ``sweep=Sweep(...)`` instead.
        step: a custom step, ``step(model, optimizer, batch) -> loss``: it computes the loss of ``batch``, calls
            ``backward`` and ``optimizer.step()`` (accumulation, AMP, clipping, a penalty ...) and returns the loss
            before the update. The finder sets ``group["lr"]`` before each call.
        seed: seed torch's, NumPy's and Python's generators for the sweep (dropout, augmentation), so that it
            does not depend on the caller's state; None runs on the current state. Either way every generator is
            restored afterwards.
        progress: called after each step with (steps done, steps planned, lr, smoothed loss).

    Returns:
        An :class:`LRFinderResult`: learning rates, raw and smoothed losses, why it stopped, named suggestions;
        ``result.lr`` is the rate of the default rule.

    Raises:
        ValueError: bad settings (naming the argument and its range), no batches, a closure optimiser, a loss
            that is not finite at the first step, a loss that is not a scalar.

    Example:
        >>> import torch, ravine
        >>> from ravine.lr_finder import find_lr
        >>> _ = torch.manual_seed(0)
        >>> x = torch.randn(1024, 8); y = x @ torch.ones(8, 1) + 0.5 * torch.randn(1024, 1)
        >>> batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 1024, 32)]
        >>> model = torch.nn.Linear(8, 1)
        >>> opt = ravine.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> w = model.weight.clone()
        >>> res = find_lr(model, opt, torch.nn.functional.mse_loss, batches, budget=320)
        >>> sorted(res.suggestions), res.family, res.stop
        (['calibrated', 'edge', 'minimum/10', 'steepest', 'valley'], 'sgd', 'diverged')
        >>> res.suggestion.rule.startswith("half the descent is made by lr")
        True
        >>> torch.equal(model.weight, w), opt.state == {}, opt.param_groups[0]["lr"]
        (True, True, 0.1)
    """
    if sweep is None:
        sweep = Sweep(start, end, steps, mode, smooth, stop_factor, skip_start, skip_end, rule, budget, batch_size)
    elif not isinstance(sweep, Sweep):
        raise ValueError(f"sweep must be a ravine.lr_finder.Sweep, got {type(sweep).__name__}")
    check_model(model)
    check_optimizer(optimizer, model)
    if step is None:
        if loss_fn is None or not callable(loss_fn):
            raise ValueError("loss_fn must be a callable loss_fn(outputs, targets) when no step= is given")
        step = _default_step(loss_fn)
    elif not callable(step):
        raise ValueError(f"step must be a callable step(model, optimizer, batch) -> loss, got {type(step).__name__}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be a callable or None, got {type(progress).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
    source = _Cycle(batches)
    snapshot = Snapshot(model, optimizer, data_generators(batches))
    started = time.perf_counter()
    try:
        if seed is not None:
            _seed_everything(seed)
        lrs, losses, smoothed, stop, keys = _loop(model, optimizer, step, source, sweep, progress)
    finally:
        snapshot.restore()
    return LRFinderResult.build(
        sweep,
        lrs,
        losses,
        smoothed,
        stop,
        optimizer=type(optimizer).__module__ + "." + type(optimizer).__qualname__,
        family=suggest.family(keys),
        wall_s=time.perf_counter() - started,
    )


def _loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: StepFn,
    source: _Cycle,
    sweep: Sweep,
    progress: Progress | None,
) -> tuple[list[float], list[float], list[float], str, set[str]]:
    lrs: list[float] = []
    keys: set[str] = set()
    losses: list[float] = []
    smoothed: list[float] = []
    ema = smoothing.DebiasedEMA(sweep.smooth)
    best = math.inf
    stop = "completed"
    _unschedule_lr(optimizer)
    tensor_lr = [g["lr"] if isinstance(g["lr"], Tensor) else None for g in optimizer.param_groups]
    model.train()
    for i in range(sweep.steps):
        lr = sweep.lr(i)
        for group, like in zip(optimizer.param_groups, tensor_lr, strict=True):
            group["lr"] = lr if like is None else torch.tensor(lr, dtype=like.dtype, device=like.device)
        batch = source.next()
        loss = _scalar(step(model, optimizer, batch), i)
        if i == 0:
            keys = {k for st in optimizer.state.values() for k in st}  # what the optimiser keeps: its family
        if i == 0 and not math.isfinite(loss):
            raise ValueError(
                f"the loss is {loss} at the first step (lr={lr:g}), before any update: the model, the loss_fn or "
                "the data give a non-finite loss at any learning rate; fix that first"
            )
        lrs.append(lr)
        losses.append(loss)
        if not math.isfinite(loss):
            smoothed.append(math.nan)
            stop = "non-finite"
            break
        s = ema.update(loss)
        smoothed.append(s)
        best = min(best, s)
        if progress is not None:
            progress(i + 1, sweep.steps, lr, s)
        if sweep.stop_factor is not None and s - best > (sweep.stop_factor - 1.0) * abs(best):
            stop = "diverged"
            break
    return lrs, losses, smoothed, stop, keys


def _unschedule_lr(optimizer: torch.optim.Optimizer) -> None:
    """A ravine optimiser whose lr is a schedule would overwrite the sweep's rates: take the lr schedules out of
    the groups for the sweep (a new dict; the snapshot puts the original back). Other scheduled hyperparameters
    keep following their schedules."""
    for group in optimizer.param_groups:
        schedules = group.get("schedules")
        if isinstance(schedules, dict) and "lr" in schedules:
            group["schedules"] = {k: v for k, v in schedules.items() if k != "lr"}


def _scalar(loss: Any, i: int) -> float:
    if isinstance(loss, Tensor):
        if loss.numel() != 1:
            raise ValueError(
                f"the loss must be a scalar, got a tensor of shape {tuple(loss.shape)} at step {i}; reduce it "
                "(mean or sum) in loss_fn or step"
            )
        return float(loss.detach())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    raise ValueError(f"the loss must be a scalar tensor or a number, got {type(loss).__name__} at step {i}")


def _default_step(loss_fn: Callable[[Any, Any], Tensor]) -> StepFn:
    def step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: Any) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                f"batches must yield (inputs, targets, ...) for the default step, got {type(batch).__name__}; "
                "pass step=... to handle other batches"
            )
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(batch[0]), batch[1])
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor, got {shape}; reduce it (mean or sum)")
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


class _Cycle:
    """Batches from a re-iterable, starting a new pass when one ends."""

    def __init__(self, batches: Iterable[Any]) -> None:
        if isinstance(batches, Iterator) or (hasattr(batches, "__next__") and iter(batches) is batches):
            raise ValueError(
                "batches is a one-shot iterator (iter(batches) is batches): the sweep would consume it; pass a "
                "re-iterable such as a list or a DataLoader"
            )
        if not isinstance(batches, Iterable):
            raise ValueError(
                f"batches must be a re-iterable of batches (a list, a DataLoader), got {type(batches).__name__}"
            )
        self.batches = batches
        self.it: Iterator[Any] | None = None

    def next(self) -> Any:
        for fresh in (False, True):
            if self.it is None or fresh:
                self.it = iter(self.batches)
            try:
                return next(self.it)
            except StopIteration:
                continue
        raise ValueError("batches is empty: the range test needs at least one batch")


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def check_model(model: Any) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def check_optimizer(optimizer: Any, model: nn.Module | None = None) -> None:
    """Refuse what a range test cannot drive: non-optimisers, and optimisers whose step needs a closure."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        hint = (
            "; for ravine.optim.GradientAccumulation pass its .optimizer and accumulate in step="
            if hasattr(optimizer, "micro_batches")
            else ""
        )
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}{hint}")
    if needs_closure(optimizer):
        raise ValueError(
            f"optimizer {type(optimizer).__name__} needs a closure in step() (L-BFGS and other line-search "
            "methods): its step length comes from the line search, not from a learning rate, so an LR range test "
            "does not apply; use line_search_fn='strong_wolfe' with lr=1"
        )
    for group in optimizer.param_groups:
        if "lr" not in group:
            raise ValueError(
                f"optimizer {type(optimizer).__name__} has a parameter group without 'lr': nothing to sweep"
            )
    if model is not None:
        own = {id(p) for p in model.parameters()}
        if not any(id(p) in own for g in optimizer.param_groups for p in g["params"]):
            raise ValueError("optimizer does not hold any parameter of model: build it from model.parameters()")


def needs_closure(optimizer: torch.optim.Optimizer | type) -> bool:
    """True for L-BFGS (torch's or ravine's) and any optimiser (instance or class) whose ``step`` has no default
    for ``closure``."""
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    if issubclass(cls, torch.optim.LBFGS) or cls.__name__ == "LBFGS":
        return True
    try:
        param = inspect.signature(cls.step).parameters.get("closure")
    except (TypeError, ValueError):
        return False
    return param is not None and param.default is inspect.Parameter.empty
