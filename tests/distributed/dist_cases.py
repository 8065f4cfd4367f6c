"""What the ranks of the multi-process tests run, and the single-process runs they are compared with.

Every function a rank runs is defined here, at module level, because spawned interpreters import it by name. The
model and data are small and float64, so "equal to rounding" can be checked tightly: a difference of summation
order costs ~1e-16 per step, a wrong update costs ~1e-3.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

import ravine
from ravine.rules import clip_by_global_norm, flip_sign, scale_by_adam
from ravine.schedules import cosine

STEPS = 4
TOL = dict(rtol=1e-9, atol=1e-12)  # float64: summation order costs ~1e-16 per step; a wrong update ~1e-3
# Shampoo's inverse 4th root of its statistics amplifies the ~1e-16 rounding of a gradient summed in another
# order by the statistics' conditioning: 1.5e-8 relative measured after 4 steps on 2 and 3 ranks.
LOOSER = {"Shampoo_defaults": dict(rtol=1e-6, atol=1e-9)}


def tol(name: str) -> dict:
    """How close a multi-process run of configuration ``name`` must come to one process."""
    return LOOSER.get(name, TOL)


BATCH = 12  # divisible by 1, 2, 3 and 4 ranks, and by 2 micro-batches per rank
MAX_NORM = 0.05  # below the gradients' norm (~0.3), so that clipping binds at every step


@dataclass(frozen=True)
class Spec:
    """An optimiser configuration: class and arguments (ZeRO builds it from these), and an optional torch LR
    scheduler."""

    cls: type
    kwargs: dict = field(default_factory=dict)
    scheduler: Callable | None = None
    matrices_only: bool = False  # Muon steps 2-D parameters only (its users give the rest to another optimiser)

    def __call__(self, params: list) -> tuple[torch.optim.Optimizer, Any]:
        opt = self.cls(self.select(params), **self.kwargs)
        return opt, None if self.scheduler is None else self.scheduler(opt)

    def select(self, params: list) -> list:
        return [p for p in params if p.dim() == 2] if self.matrices_only else list(params)


def _steplr(opt: torch.optim.Optimizer) -> Any:
    return torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


def _explicit() -> dict[str, Spec]:
    O = ravine.optim
    clip_rule = ravine.chain(clip_by_global_norm(MAX_NORM), flip_sign(), scale_by_adam())
    return {
        "sgd": Spec(O.SGD, dict(lr=0.1)),
        "momentum": Spec(O.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
        "nesterov": Spec(O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
        "adagrad": Spec(O.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
        "rmsprop": Spec(O.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
        "adadelta": Spec(O.Adadelta, dict(lr=1.0, weight_decay=0.01)),
        "adam": Spec(O.Adam, dict(lr=0.01)),
        "amsgrad": Spec(O.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
        "adamw": Spec(O.AdamW, dict(lr=0.01, weight_decay=0.1)),
        "nadam": Spec(O.NAdam, dict(lr=0.01)),
        "clip_adam": Spec(O.Optimizer, dict(rule=clip_rule, lr=0.01)),
        "adamw_cosine": Spec(O.AdamW, dict(lr=cosine(0.02, STEPS))),
        "momentum_steplr": Spec(O.SGD, dict(lr=0.1, momentum=0.9), _steplr),
        "lbfgs": Spec(O.LBFGS, dict(lr=0.5, max_iter=3, history_size=3)),
        "muon": Spec(O.Muon, dict(lr=0.02), matrices_only=True),
    }


def configs() -> dict[str, Spec]:
    """The table above, plus every other optimiser class ``ravine.optim`` exports, at its defaults: a class
    added later is covered without editing this file. Wrappers (:func:`wraps_another`) are not optimisers of
    parameters on their own; tests/distributed/test_wrappers.py runs them around a base optimiser."""
    out = _explicit()
    covered = {spec.cls for spec in out.values()}
    for name in ravine.optim.__all__:
        cls = getattr(ravine.optim, name)
        optimiser = isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
        if optimiser and cls not in covered and not wraps_another(cls) and not sparse_only(cls):
            out[f"{name}_defaults"] = Spec(cls)
    return out


def sparse_only(cls: type) -> bool:
    """Whether ``cls`` steps sparse gradients only (SparseAdam, as torch's): the engines here all make dense
    gradients (DDP's all-reduce, FSDP2's reduce-scatter), so it has no case; tests/optim/test_sparse.py has its."""
    return cls.__name__ == "SparseAdam"


def wraps_another(cls: type) -> bool:
    """Whether ``cls`` cannot be built from ``params`` alone: its constructor needs another optimiser (SAM's
    ``base_optimizer``, Lookahead's ``optimizer``) or other arguments without a default."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    required = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return required != ["params"]


# ZeRO shards the parameters between ranks, so a rule that reduces over all of them sees only its rank's share
# (use torch.nn.utils.clip_grad_norm_ on the model instead, see zero_rank), and L-BFGS's line search would call
# the closure a different number of times on each rank.
ZERO_EXCLUDED = ("clip_adam", "lbfgs")


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


def train(
    net: torch.nn.Module,
    factory: Callable,
    *,
    world: int = 1,
    rank: int = 0,
    micro: int = 1,
    steps: range = range(STEPS),
    opt_sched: tuple | None = None,
    clip: float | None = None,
) -> dict:
    """``steps`` of training on this rank's share of the batches; ``micro`` > 1 accumulates that many
    micro-batches per step (under DDP, all but the last inside ``no_sync``). ``opt_sched`` is an optimiser and
    scheduler to use instead of ``factory``'s; ``clip`` clips the model's gradients with torch before each step.
    Returns a snapshot (see :func:`snapshot`)."""
    opt, sched = opt_sched if opt_sched is not None else factory(list(net.parameters()))
    lbfgs = isinstance(opt, (torch.optim.LBFGS, ravine.optim.LBFGS))
    step_opt = ravine.optim.GradientAccumulation(opt, micro) if micro > 1 and not lbfgs else opt
    x, y = (local(t, rank, world) for t in data())
    norms = []
    for t in steps:
        if lbfgs:
            opt.step(lambda t=t: _closure(net, opt, x[t], y[t], world))
        else:
            for i, (xb, yb) in enumerate(zip(x[t].chunk(micro), y[t].chunk(micro), strict=True)):
                sync = i == micro - 1 or not isinstance(net, torch.nn.parallel.DistributedDataParallel)
                with contextlib.nullcontext() if sync else net.no_sync():
                    torch.nn.functional.mse_loss(net(xb), yb).backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
                step_opt.step()
                step_opt.zero_grad()
        if "clip_by_global_norm" in getattr(opt, "reports", {}):
            norms.append(float(opt.reports["clip_by_global_norm"]["norm"]))
        if sched is not None:
            sched.step()
    return zero_snapshot(net, opt) if type(opt).__name__ == "ZeroRedundancyOptimizer" else snapshot(net, opt, norms)


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
    """Parameters by name, every state tensor of the optimiser (whole, if sharded), and the clipping norms seen."""
    inner = net.module if hasattr(net, "module") else net
    out = {f"param.{k}": _whole(v) for k, v in inner.state_dict().items()}
    for pid, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                out[f"state.{pid}.{k}"] = _whole(v)
    out["norms"] = list(norms)
    return out


def _whole(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    return t.full_tensor() if hasattr(t, "full_tensor") else t.clone()


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


# -- ZeRO-1: tests/distributed/test_zero.py ---------------------------------------------------------------------
def zero(net: torch.nn.Module, spec: Spec) -> tuple[Any, Any]:
    # Imported here: it scripts torch's functional optimisers on import, with a deprecation warning for each.
    from torch.distributed.optim import ZeroRedundancyOptimizer

    opt = ZeroRedundancyOptimizer(spec.select(list(net.parameters())), optimizer_class=spec.cls, **spec.kwargs)
    return opt, None if spec.scheduler is None else spec.scheduler(opt)


def zero_snapshot(net: torch.nn.Module, opt: Any) -> dict:
    """The parameters (every rank has all of them after a step) and, on rank 0, the consolidated state dict."""
    opt.consolidate_state_dict(to=0)
    out = snapshot(net, torch.optim.SGD([torch.zeros(1)]))  # parameters only
    if dist.get_rank() == 0:
        sd = opt.state_dict()
        out["state_dict"] = sd
        out.update({f"state.{pid}.{k}": v for pid, st in sd["state"].items() for k, v in st.items()
                    if isinstance(v, torch.Tensor)})  # fmt: skip
    return out


def zero_names() -> list[str]:
    return [n for n in configs() if n not in ZERO_EXCLUDED]


def zero_rank(resume: dict | None, first: int, last: int) -> dict:
    """Every configuration with ZeroRedundancyOptimizer(optimizer_class=X), steps ``first`` to ``last - 1``.

    Without DDP: every rank computes the gradients of the whole batch itself, so they are the same bits on
    every rank and in one process, and a sharded run can be compared with one process bit for bit. ``resume``
    maps a name to a snapshot (parameters and consolidated state dict) to continue from, written by a run on
    any number of ranks.
    """
    out = {}
    for name in zero_names():
        spec = configs()[name]
        net = model()
        opt, sched = zero(net, spec)
        if resume is not None:
            net.load_state_dict({k[6:]: v for k, v in resume[name].items() if k.startswith("param.")})
            opt.load_state_dict(resume[name]["state_dict"])
            if sched is not None:
                sched.load_state_dict(resume[name]["scheduler"])
        out[name] = train(net, spec, steps=range(first, last), opt_sched=(opt, sched))
        if sched is not None:
            out[name]["scheduler"] = sched.state_dict()
    return out


def zero_ddp_rank(clip: float | None = None) -> dict:
    """Every configuration with ZeRO over DDP (each rank its share of the batch), ``STEPS`` steps; with ``clip``,
    Adam after torch's clip_grad_norm_ on the model (how to clip under ZeRO)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    names = ["adam"] if clip is not None else zero_names()
    out = {}
    for name in names:
        net = torch.nn.parallel.DistributedDataParallel(model())
        opt_sched = zero(net.module, configs()[name])
        out[name] = train(net, None, world=world, rank=rank, opt_sched=opt_sched, clip=clip)
    return out


def single_clip_with_torch(clip: float) -> dict:
    net = model()
    return train(net, configs()["adam"], clip=clip)


# -- FSDP2: tests/distributed/test_fsdp.py ----------------------------------------------------------------------
def fsdp_model() -> torch.nn.Module:
    """:func:`model` with each layer and the whole sharded by FSDP2: parameters become DTensors, sharded on
    dim 0 (unevenly on 2 and 3 ranks: 7 rows, 3 rows)."""
    from torch.distributed.fsdp import fully_shard

    net = model()
    for layer in net:
        if isinstance(layer, torch.nn.Linear):
            fully_shard(layer)
    fully_shard(net)
    return net


def fsdp_rank() -> dict:
    """Every configuration with FSDP2, each rank its share of the batch (FSDP2 averages the gradients)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for name, spec in configs().items():
        try:
            out[name] = train(fsdp_model(), spec, world=world, rank=rank)
        except RuntimeError as e:
            out[name] = {"error": str(e).splitlines()[0]}
    out["torch_lbfgs"] = _torch_lbfgs(world, rank)
    return out


def _torch_lbfgs(world: int, rank: int) -> dict:
    try:
        return train(fsdp_model(), Spec(torch.optim.LBFGS, dict(lr=0.5, max_iter=3)), world=world, rank=rank)
    except RuntimeError as e:
        return {"error": str(e).splitlines()[0]}


def fsdp_fused_rank() -> dict:
    """Adam on the same FSDP2 model and data with fused=True and fused=False: the kernel on the local shards
    must give the DTensor step's bits, and must have run (plan included)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for fused in (True, False):
        net = fsdp_model()
        opt = ravine.optim.Adam(net.parameters(), lr=0.01, fused=fused)
        snap = train(net, None, world=world, rank=rank, opt_sched=(opt, None))
        snap["execution"] = dict(opt.execution)
        snap["planned"] = opt._plan is not None
        snap["empty_shards"] = sum(p.to_local().numel() == 0 for p in net.parameters())
        out[fused] = snap
    return out


def fsdp_clip_rank() -> dict:
    """Global-norm clipping over DTensor gradients: ravine's rule against torch's clip_grad_norm_ on the same
    sharded model, step by step (the norms) and at the end (the parameters)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    ours = train(fsdp_model(), configs()["clip_adam"], world=world, rank=rank)
    net = fsdp_model()
    opt = ravine.optim.Adam(net.parameters(), lr=0.01)
    x, y = (local(t, rank, world) for t in data())
    norms = []
    for t in range(STEPS):
        torch.nn.functional.mse_loss(net(x[t]), y[t]).backward()
        total = torch.nn.utils.clip_grad_norm_(net.parameters(), MAX_NORM)
        norms.append(float(total.full_tensor() if hasattr(total, "full_tensor") else total))
        opt.step()
        opt.zero_grad()
    theirs = snapshot(net, opt, norms)
    return {"ravine": ours, "torch": theirs}


# -- distributed checkpoints: tests/distributed/test_checkpoint.py -----------------------------------------------
def dcp_names() -> list[str]:
    return [n for n in configs() if n != "lbfgs"]


def torch_twin(spec: Spec) -> Spec | None:
    """torch.optim's optimiser of the same name with the same arguments (ravine takes torch's), if there is one."""
    cls = getattr(torch.optim, spec.cls.__name__, None)
    if cls is None or spec.cls is ravine.optim.Optimizer or any(callable(v) for v in spec.kwargs.values()):
        return None
    return Spec(cls, spec.kwargs, spec.scheduler, spec.matrices_only)


def _dcp_save(net: torch.nn.Module, opt: torch.optim.Optimizer, path: str) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    dcp.save({"model": get_model_state_dict(net), "optim": get_optimizer_state_dict(net, opt)}, checkpoint_id=path)


def _dcp_load(net: torch.nn.Module, opt: torch.optim.Optimizer, path: str) -> None:
    """The load recipe of docs/distributed.md."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    sd = {"model": get_model_state_dict(net), "optim": get_optimizer_state_dict(net, opt)}
    dcp.load(sd, checkpoint_id=path)
    set_model_state_dict(net, sd["model"])
    set_optimizer_state_dict(net, opt, sd["optim"])


def dcp_save_rank(root: str, at: int) -> dict:
    """For every configuration and, where torch has one, its torch twin: FSDP2 training for ``STEPS`` steps with
    a distributed checkpoint after ``at`` of them. Returns each run's final snapshot (the checkpoint must not
    disturb the run) and its scheduler's state at the checkpoint."""
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for name in dcp_names():
        for impl, spec in (("ravine", configs()[name]), ("torch", torch_twin(configs()[name]))):
            if spec is None:
                continue
            net = fsdp_model()
            opt, sched = spec(list(net.parameters()))
            try:
                train(net, spec, world=world, rank=rank, steps=range(at), opt_sched=(opt, sched))
                _dcp_save(net, opt, f"{root}/{impl}-{name}")  # before any step, it creates the state by a step
            except RuntimeError as e:
                if impl == "ravine":
                    raise
                # torch's own limit (Adafactor's and Rprop's in-place ops on DTensors in torch 2.13): every rank
                # fails in the same op, before any collective, so the group goes on; the test names the error.
                out[f"{impl}-{name}"] = {"error": str(e).splitlines()[0][:160]}
                continue
            sched_state = None if sched is None else sched.state_dict()  # saved beside, as torch's recipes do
            snap = train(net, spec, world=world, rank=rank, steps=range(at, STEPS), opt_sched=(opt, sched))
            snap["scheduler"] = sched_state
            out[f"{impl}-{name}"] = snap
    return out


def dcp_resume_rank(root: str, at: int, schedulers: dict) -> dict:
    """Fresh FSDP2 models and ravine optimisers, loaded from the checkpoints (ravine's and torch's), trained
    from step ``at`` to the end."""
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}
    for key, sched_state in schedulers.items():
        spec = configs()[key.split("-", 1)[1]]
        net = fsdp_model()
        opt, sched = spec(list(net.parameters()))
        _dcp_load(net, opt, f"{root}/{key}")
        if sched is not None:
            sched.load_state_dict(sched_state)
        out[key] = train(net, spec, world=world, rank=rank, steps=range(at, STEPS), opt_sched=(opt, sched))
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


# -- wrappers of another optimiser: tests/distributed/test_wrappers.py ------------------------------------------
def wrappers() -> dict[str, Callable[[list], torch.optim.Optimizer]]:
    """Every exported wrapper (see :func:`wraps_another`) around a base optimiser; SAM and ASAM take a closure."""
    O = ravine.optim
    return {
        "lookahead_adam": lambda ps: O.Lookahead(O.Adam(ps, lr=0.01), k=2, alpha=0.5),
        "sam_momentum": lambda ps: O.SAM(ps, O.SGD, rho=0.05, lr=0.1, momentum=0.9),
        "asam_adam": lambda ps: O.ASAM(ps, O.Adam, lr=0.01),
    }


def train_wrapped(net: torch.nn.Module, name: str, *, world: int = 1, rank: int = 0) -> dict:
    opt = wrappers()[name](list(net.parameters()))
    x, y = (local(t, rank, world) for t in data())

    def closure(t: int) -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x[t]), y[t])
        loss.backward()  # under DDP: the gradient of the global batch, on every rank
        return loss

    for t in range(STEPS):
        if getattr(opt, "needs_closure", False):
            opt.step(lambda t=t: closure(t))
        else:
            closure(t)
            opt.step()
    # Lookahead's own state dict has its slow weights beside the base's; the parameters are what they make.
    return snapshot(net, getattr(opt, "optimizer", opt))


def wrapped_single() -> dict[str, dict]:
    return {name: train_wrapped(model(), name) for name in wrappers()}


def wrapped_ddp_rank() -> dict[str, dict]:
    rank, world = dist.get_rank(), dist.get_world_size()
    return {
        name: train_wrapped(torch.nn.parallel.DistributedDataParallel(model()), name, world=world, rank=rank)
        for name in wrappers()
    }
