"""Drop-in ``torch.optim`` optimisers, each a chain of :mod:`ravine.rules`."""

from ravine.optim.accumulate import GradientAccumulation
from ravine.optim.adafactor import Adafactor
from ravine.optim.adam import Adam, AdamW, NAdam
from ravine.optim.adam_variants import Adamax, RAdam
from ravine.optim.adaptive import Adadelta, Adagrad, RMSprop
from ravine.optim.asgd import ASGD
from ravine.optim.groups import param_groups_without_decay
from ravine.optim.lbfgs import LBFGS
from ravine.optim.muon import Muon
from ravine.optim.optimizer import Optimizer
from ravine.optim.rprop import Rprop
from ravine.optim.sgd import SGD

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "GradientAccumulation",
    "Muon",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "param_groups_without_decay",
]
