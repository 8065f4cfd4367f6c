"""Distributed checkpoints (``torch.distributed.checkpoint``) and ravine's optimisers.

``get_optimizer_state_dict`` / ``set_optimizer_state_dict`` need the optimiser's state to exist, so on an optimiser
that has not stepped yet they create it by calling ``step()`` with zero gradients and every learning rate set to
0 (``torch.distributed.checkpoint.state_dict._init_optim_state``). torch's optimisers count that step: the first
real step then uses t = 2 in Adam's bias correction, and coupled weight decay puts ``wd * p`` into the moments
(pytorch#164929), so a checkpoint taken before training changes the training. ravine recognises that call and
only creates the state, exactly as a first step would find it (t = 0, zero moments); nothing is counted, no
schedule advances, no parameter moves.

The state it creates has the keys torch's optimiser of the same name has, because a distributed checkpoint loads
exactly the keys of the state it loads into: torch's SGD keeps no step count, so ravine's SGD leaves ``step`` out
until its first real step, and a checkpoint of torch's SGD loads into it. (The count itself means nothing to SGD
but "not the first step", which a loaded momentum buffer already says; after a resume it restarts at 1.)
"""

from __future__ import annotations

from typing import Any

import torch

from ravine.distributed import dtensor


def initialising_step(optimizer: torch.optim.Optimizer) -> bool:
    """Whether a ``step()`` (without closure) is that state-creating call: the optimiser has no state yet, every
    group's learning rate is 0, and every gradient is zero."""
    if optimizer.state:
        return False
    groups = optimizer.param_groups
    if not groups or not all(_is_zero(g.get("lr")) for g in groups):
        return False
    seen = False
    for g in groups:
        for p in g["params"]:
            grad = p.grad
            if grad is None:
                continue
            seen = True
            local = grad._local_tensor if dtensor.is_dtensor(grad) else grad
            if local.is_sparse or local.is_meta or bool(local.any()):
                return False
    return seen


def create_shaped_state(optimizer: Any, state_like: Any) -> None:
    """After the state-creating call: also create the state that a rule makes only at a tensor's first step
    because its shape depends on the tensor's (Adafactor's factored moments, Shampoo's per-dimension matrices).

    A distributed checkpoint loads exactly the keys of the state it loads into, so state that does not exist yet
    would silently stay fresh after a resume. Which keys are missing is decided on meta tensors (the same answer on
    every rank); a DTensor parameter's state is made whole, as the whole-tensor step keeps it
    (:func:`ravine.distributed.dtensor.whole_update`).
    """
    rule = optimizer.rule
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is None or p not in optimizer.state:
                continue
            state = optimizer.state[p]
            base = state_like(optimizer, p)
            probe = torch.empty(base.shape, dtype=base.dtype, device="meta")
            missing = [k for k in rule.init(probe, group) if k not in state]
            if not missing:
                continue
            whole = base.full_tensor() if dtensor.is_dtensor(base) else base
            fresh = rule.init(whole.detach(), group)
            for k in missing:
                state[k] = fresh[k]


def lr_dependent_keys(rule: Any, group: dict, like: torch.Tensor) -> list[str]:
    """The state keys whose initial value follows the learning rate (ASGD's ``eta``, Rprop's ``step_size``):
    those a state made at the state-creating call's lr of 0 holds wrongly. Found by initialising a one-element
    tensor of ``like``'s rank at two rates."""
    tiny = torch.zeros((1,) * like.dim(), dtype=like.dtype)
    at0, at1 = rule.init(tiny, {**group, "lr": 0.0}), rule.init(tiny, {**group, "lr": 1.0})
    return [k for k in at0 if k in at1 and not torch.equal(at0[k], at1[k])]


def refresh_lr_dependent_state(optimizer: Any, state_like: Any) -> None:
    """Before the first real step or a ``state_dict()`` that follows the state-creating call (DCP has put the
    learning rates back by then): remake the state whose initial value follows the learning rate, at the group's
    rate, exactly as a first step would have made it. Loaded state is never touched (``load_state_dict`` forgets
    which parameters were made at lr 0)."""
    made = optimizer._made_at_zero_lr
    if not made:
        return
    rule = optimizer.rule
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in made or p not in optimizer.state:
                continue
            base = state_like(optimizer, p)
            keys = lr_dependent_keys(rule, group, base)
            if keys:
                fresh = rule.init(base, group)
                state = optimizer.state[p]
                for k in keys:
                    state[k] = fresh[k]
    made.clear()


# torch.optim classes whose per-parameter state has no "step"
STEPLESS_IN_TORCH = frozenset({"SGD", "Muon"})


def match_torch_keys(optimizer: Any) -> None:
    """After the state-creating call: drop ``step`` where torch's namesake keeps none, remembering that those
    parameters have not stepped (so that their first real step still counts as the first)."""
    if type(optimizer).__name__ not in STEPLESS_IN_TORCH:
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            st = optimizer.state.get(p)
            if st is not None and st.pop("step", None) is not None:
                optimizer._unstepped.add(id(p))


def _is_zero(lr: Any) -> bool:
    if isinstance(lr, torch.Tensor):
        return lr.numel() == 1 and not lr.is_meta and float(lr) == 0.0
    return isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr == 0.0
