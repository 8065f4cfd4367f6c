"""torch.optim's global flags (``foreach``, ``fused``, ``capturable``, ``differentiable``): checked once, with
torch's messages, and handed to :class:`ravine.optim.Optimizer`, which keeps them in the parameter groups.

What each means in ravine (README, "Optimisers"):

* ``foreach`` -- torch's choice between its per-tensor and multi-tensor loops, which compute the same step.
  ravine has one implementation (the rule chain, fused where elementwise), so every value gives the same run;
  it is recorded in the groups, as torch records it, and tested to change nothing.
* ``fused`` -- ravine's generated kernel (``None``: when it is built; ``True``: required; ``False``: never).
* ``capturable`` -- keep the step counter on the parameters' device (CUDA graphs).
* ``differentiable`` -- the step is recorded by autograd (:mod:`ravine.optim.differentiable`).
"""

from __future__ import annotations

from typing import Any

_FOUR = ("foreach", "capturable", "differentiable", "fused")
#: The flags each torch class keeps in its parameter groups, and ravine's twin with it: exactly torch's keys, so
#: that torch.distributed.checkpoint (which loads only keys the checkpoint has) takes torch's checkpoints.
GROUP_FLAGS: dict[str, tuple[str, ...]] = {
    "Adam": _FOUR,
    "AdamW": _FOUR,
    "SGD": ("foreach", "differentiable", "fused"),
    "Adagrad": ("foreach", "differentiable", "fused"),
    "Adafactor": ("foreach",),
    **{n: _FOUR[:3] for n in ("RMSprop", "Adadelta", "NAdam", "Adamax", "RAdam", "ASGD", "Rprop")},
}


def torch_flags(
    name: str,
    foreach: bool | None = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
) -> dict[str, Any]:
    """Check the flags as torch does; returns the keyword arguments for :class:`ravine.optim.Optimizer`, with the
    flags torch's class ``name`` records in its groups (``group_flags``)."""
    if foreach not in (None, True, False):
        raise ValueError(f"{name}: foreach must be None, True or False, got {foreach!r}")
    if capturable not in (True, False):
        raise ValueError(f"{name}: capturable must be True or False, got {capturable!r}")
    if differentiable not in (True, False):
        raise ValueError(f"{name}: differentiable must be True or False, got {differentiable!r}")
    if fused and differentiable:
        # torch's message; ravine's kernel writes in place, outside autograd
        raise RuntimeError("`fused` does not support `differentiable` (use fused=None or False)")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    return {
        "foreach": foreach,
        "capturable": capturable,
        "differentiable": differentiable,
        "fused": fused,
        "group_flags": GROUP_FLAGS[name],
    }
