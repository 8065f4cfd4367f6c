"""Drop-in ``torch.optim`` optimisers, each a chain of :mod:`ravine.rules`."""

from ravine.optim.accumulate import GradientAccumulation
from ravine.optim.adam import Adam, AdamW, NAdam
from ravine.optim.adaptive import Adadelta, Adagrad, RMSprop
from ravine.optim.groups import param_groups_without_decay
from ravine.optim.lbfgs import LBFGS
from ravine.optim.optimizer import Optimizer
from ravine.optim.sgd import SGD

__all__ = [
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "GradientAccumulation",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "param_groups_without_decay",
]
