"""What the ranks of the multi-process tests run, and the single-process runs they are compared with.

Every function a rank runs is defined here, at module level, because spawned interpreters import it by name. The
model and data are small and float64, so "equal to rounding" can be checked tightly: a difference of summation
order costs ~1e-16 per step, a wrong update costs ~1e-3.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

import ravine
from ravine.rules import clip_by_global_norm, flip_sign, scale_by_adam
from ravine.schedules import cosine

STEPS = 4
BATCH = 12  # divisible by 1, 2, 3 and 4 ranks, and by 2 micro-batches per rank
MAX_NORM = 0.05  # below the gradients' norm (~0.3), so that clipping binds at every step

Factory = Callable[[list], tuple[torch.optim.Optimizer, Any]]


def _explicit() -> dict[str, Factory]:
    O = ravine.optim
    return {
        "sgd": lambda ps: (O.SGD(ps, lr=0.1), None),
        "momentum": lambda ps: (O.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), None),
        "nesterov": lambda ps: (O.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), None),
        "adagrad": lambda ps: (O.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.01), None),
        "rmsprop": lambda ps: (O.RMSprop(ps, lr=0.01, centered=True, momentum=0.5), None),
        "adadelta": lambda ps: (O.Adadelta(ps, lr=1.0, weight_decay=0.01), None),
        "adam": lambda ps: (O.Adam(ps, lr=0.01), None),
        "amsgrad": lambda ps: (O.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.01), None),
        "adamw": lambda ps: (O.AdamW(ps, lr=0.01, weight_decay=0.1), None),
        "nadam": lambda ps: (O.NAdam(ps, lr=0.01), None),
        "clip_adam": lambda ps: (
            O.Optimizer(ps, ravine.chain(clip_by_global_norm(MAX_NORM), flip_sign(), scale_by_adam()), lr=0.01),
            None,
        ),
        "adamw_cosine": lambda ps: (O.AdamW(ps, lr=cosine(0.02, STEPS)), None),
        "momentum_steplr": _with_steplr,
        "lbfgs": lambda ps: (O.LBFGS(ps, lr=0.5, max_iter=3, history_size=3), None),
    }


def _with_steplr(ps: list) -> tuple[torch.optim.Optimizer, Any]:
    opt = ravine.optim.SGD(ps, lr=0.1, momentum=0.9)
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


def configs() -> dict[str, Factory]:
    """The table above, plus every other optimiser class ``ravine.optim`` exports, at its defaults: a class
    added later is covered without editing this file."""
    out = _explicit()
    covered = {type(f(_probe())[0]) for f in out.values()}
    for name in ravine.optim.__all__:
        cls = getattr(ravine.optim, name)
        if (
            isinstance(cls, type)
            and issubclass(cls, torch.optim.Optimizer)
            and cls is not ravine.optim.Optimizer
            and cls not in covered
        ):
            out[f"{name}_defaults"] = lambda ps, cls=cls: (cls(ps), None)
    return out


def _probe() -> list:
    return [torch.nn.Parameter(torch.zeros(1))]


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    return m.double()


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, BATCH, 5, generator=g, dtype=torch.float64)
    return x, torch.sin(x @ torch.randn(5, 3, generator=g, dtype=torch.float64))


def local(t: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous share of a global batch (the batch dimension is 1)."""
    n = t.shape[1] // world
    return t[:, rank * n : (rank + 1) * n]


def train(net: torch.nn.Module, factory: Factory, *, world: int = 1, rank: int = 0, micro: int = 1) -> dict:
    """``STEPS`` steps on this rank's share of the batches; ``micro`` > 1 accumulates that many micro-batches
    per step (under DDP, all but the last inside ``no_sync``). Returns a snapshot (see :func:`snapshot`)."""
    opt, sched = factory(list(net.parameters()))
    lbfgs = isinstance(opt, (torch.optim.LBFGS, ravine.optim.LBFGS))
    step_opt = ravine.optim.GradientAccumulation(opt, micro) if micro > 1 and not lbfgs else opt
    x, y = (local(t, rank, world) for t in data())
    norms = []
    for t in range(STEPS):
        if lbfgs:
            opt.step(lambda t=t: _closure(net, opt, x[t], y[t], world))
        else:
            for i, (xb, yb) in enumerate(zip(x[t].chunk(micro), y[t].chunk(micro), strict=True)):
                sync = i == micro - 1 or not isinstance(net, torch.nn.parallel.DistributedDataParallel)
                with contextlib.nullcontext() if sync else net.no_sync():
                    torch.nn.functional.mse_loss(net(xb), yb).backward()
                step_opt.step()
                step_opt.zero_grad()
        if "clip_by_global_norm" in getattr(opt, "reports", {}):
            norms.append(float(opt.reports["clip_by_global_norm"]["norm"]))
        if sched is not None:
            sched.step()
    return snapshot(net, opt, norms)


def _closure(net: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, world: int):
    # L-BFGS decides from the loss: every rank must see the same one, the loss of the global batch.
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(net(x), y)
    loss.backward()
    if world > 1:
        loss = loss.detach().clone()
        dist.all_reduce(loss)
        loss /= world
    return loss


def snapshot(net: torch.nn.Module, opt: torch.optim.Optimizer, norms: list[float] = ()) -> dict:
    """Parameters by name, every state tensor of the optimiser, and the clipping norms seen."""
    inner = net.module if hasattr(net, "module") else net
    out = {f"param.{k}": v.detach().clone() for k, v in inner.state_dict().items()}
    for pid, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                out[f"state.{pid}.{k}"] = v.detach().clone()
    out["norms"] = list(norms)
    return out


def single(micro: int = 1) -> dict[str, dict]:
    """Every configuration in one process on the global batches."""
    return {name: train(model(), f, micro=micro) for name, f in configs().items()}


def ddp_rank(micro: int) -> dict[str, dict]:
    """Every configuration under DistributedDataParallel on this rank's share of each batch."""
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for name, f in configs().items():
        net = torch.nn.parallel.DistributedDataParallel(model())
        out[name] = train(net, f, world=world, rank=rank, micro=micro)
    return out


# -- for tests/distributed/test_launch.py -----------------------------------------------------------------------
def group_facts() -> dict:
    import os

    t = torch.tensor([dist.get_rank()])
    dist.all_reduce(t)
    return {
        "rank": dist.get_rank(),
        "world": dist.get_world_size(),
        "backend": dist.get_backend(),
        "env_rank": os.environ["RANK"],
        "sum": int(t),
    }


def fail_on(rank: int, how: str, others_wait: bool = True) -> None:
    if dist.get_rank() != rank:
        if others_wait:
            dist.barrier()  # wait in a collective the failing rank never joins
        return
    if how == "raise":
        raise ValueError(f"rank {rank} says no")
    if how == "segfault":
        import ctypes

        ctypes.string_at(0)
    if how == "hang":
        import time

        time.sleep(600)
