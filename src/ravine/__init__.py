"""ravine: optimisers, schedules, a comparison lab and a training doctor for PyTorch."""

from ravine import optim, rules, schedules
from ravine.rules import chain

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "chain", "optim", "rules", "schedules"]
