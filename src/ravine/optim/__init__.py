"""Drop-in ``torch.optim`` optimisers, each a chain of :mod:`ravine.rules`."""

from ravine.optim.accumulate import GradientAccumulation
from ravine.optim.adafactor import Adafactor
from ravine.optim.adam import Adam, AdamW, NAdam
from ravine.optim.adam_variants import Adamax, RAdam
from ravine.optim.adaptive import Adadelta, Adagrad, RMSprop
from ravine.optim.asgd import ASGD
from ravine.optim.ema import EMA
from ravine.optim.groups import param_groups_without_decay
from ravine.optim.lbfgs import LBFGS
from ravine.optim.lion import Lion
from ravine.optim.lookahead import Lookahead
from ravine.optim.muon import Muon
from ravine.optim.optimizer import Optimizer
from ravine.optim.rprop import Rprop
from ravine.optim.sam import ASAM, SAM
from ravine.optim.schedule_free import ScheduleFreeAdamW, ScheduleFreeSGD
from ravine.optim.sgd import SGD
from ravine.optim.shampoo import Shampoo
from ravine.optim.sparse_adam import SparseAdam
from ravine.optim.trust_ratio import LAMB, LARS

__all__ = [
    "ASAM",
    "ASGD",
    "EMA",
    "LAMB",
    "LARS",
    "LBFGS",
    "SAM",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "GradientAccumulation",
    "Lion",
    "Lookahead",
    "Muon",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "ScheduleFreeAdamW",
    "ScheduleFreeSGD",
    "Shampoo",
    "SparseAdam",
    "param_groups_without_decay",
]
