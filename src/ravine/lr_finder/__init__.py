"""The learning-rate range test: one short run that sweeps the rate up and says where to train.

>>> from ravine.lr_finder import find_lr
>>> result = find_lr(model, optimizer, loss_fn, batches)        # doctest: +SKIP
>>> result.lr, result.suggestions["valley"].rule                # doctest: +SKIP

The model, the optimiser and the random generators are left exactly as they were (:mod:`.restore`).
"""

from ravine.lr_finder.finder import find_lr, needs_closure
from ravine.lr_finder.result import LRFinderResult
from ravine.lr_finder.settings import Sweep
from ravine.lr_finder.suggest import DEFAULT_RULE, RULES, Suggestion

__all__ = ["DEFAULT_RULE", "RULES", "LRFinderResult", "Suggestion", "Sweep", "find_lr", "needs_closure"]
