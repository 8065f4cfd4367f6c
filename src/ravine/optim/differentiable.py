"""``differentiable=True``: a step that autograd records, for meta-learning and hyperparameter gradients.

torch's ``differentiable=True`` runs the step with gradients enabled, so that the new parameters and state are
differentiable functions of the old ones, of the gradients (which may themselves carry a graph,
``backward(create_graph=True)``) and of tensor hyperparameters (``lr=torch.tensor(0.1, requires_grad=True)``).
ravine's step is already written out of place (:func:`ravine.rules.base.segment_math` assigns new values and never
writes into its inputs); with ``differentiable`` the optimiser

* takes the reference path for every parameter (the fused kernel writes memory autograd does not see),
* enables gradients for the step (:meth:`ravine.optim.Optimizer.step`),
* keeps tensor hyperparameters as tensors (:mod:`ravine.optim.hyper`) and the 0-dim state that requires grad too,
* gives the equations a copy of the parameter, so that writing the new value into the parameter (in place, as
  torch does: the caller's tensor is the one that moves) cannot change a value autograd saved for the backward
  pass, and
* replaces each state tensor by its new value instead of copying into it, for the same reason.

As in torch, the parameters must not be leaves that require grad (step a ``p = leaf.clone()``, as torch's own
tests do): an in-place update of such a leaf is an autograd error.

Reference: torch.optim's ``differentiable`` argument; Maclaurin, Duvenaud & Adams, "Gradient-based
Hyperparameter Optimization through Reversible Learning" (ICML 2015) for what it is used for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


def equation_input(p: Tensor) -> Tensor:
    """What the equations read as the parameter: a copy, since the parameter is overwritten after them."""
    return p.clone()


def store(state: dict, values: Mapping[str, Any]) -> None:
    """Replace the state by the new values (out of place), keeping each entry's dtype as ``copy_`` would."""
    for k, v in values.items():
        old = state[k]
        if v is old:
            continue
        if isinstance(v, Tensor):
            state[k] = v if v.dtype == old.dtype else v.to(old.dtype)
        else:
            state[k] = torch.full_like(old, v)
