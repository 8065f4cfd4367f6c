"""Learning-rate (and momentum) schedules: pure closed-form functions of the step, checked when built.

Three ways to use one::

    opt = ravine.optim.AdamW(params, lr=warmup(cosine(3e-4, 9_000), 1_000))   # a ravine optimiser
    sched = ScheduleLR(torch_opt, warmup(cosine(3e-4, 9_000), 1_000))          # any torch optimiser
    lr = cosine(3e-4, 9_000)(step)                                              # call it

A schedule is evaluated at the number of steps already taken (0 at the first step); it is a small value object
(equal by value, picklable), so it is saved with the optimiser and resuming needs only the step count.

Importing this package registers the schedule classes with ``torch.serialization.add_safe_globals``, so that
checkpoints holding them load with ``torch.load``'s default ``weights_only=True``.
"""

import torch

from ravine.schedules.base import Schedule, values
from ravine.schedules.combine import join, warmup
from ravine.schedules.cycle import cycle_momentum, one_cycle
from ravine.schedules.decay import (
    constant,
    cosine,
    exponential,
    inverse_sqrt,
    linear,
    multistep,
    polynomial,
    step_decay,
)
from ravine.schedules.plateau import ReduceOnPlateau
from ravine.schedules.torch_lr import ScheduleLR

SCHEDULE_CLASSES = (
    constant,
    step_decay,
    multistep,
    exponential,
    cosine,
    linear,
    polynomial,
    inverse_sqrt,
    warmup,
    join,
    one_cycle,
    cycle_momentum,
    ReduceOnPlateau,
)

torch.serialization.add_safe_globals(list(SCHEDULE_CLASSES))

__all__ = [
    "SCHEDULE_CLASSES",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleLR",
    "constant",
    "cosine",
    "cycle_momentum",
    "exponential",
    "inverse_sqrt",
    "join",
    "linear",
    "multistep",
    "one_cycle",
    "polynomial",
    "step_decay",
    "values",
    "warmup",
]
