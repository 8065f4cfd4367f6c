"""Sparse gradients (``nn.Embedding(sparse=True)``), where torch.optim takes them: SGD, Adagrad, SparseAdam.

A sparse COO gradient touches a few rows of a large parameter. An optimiser says per group how it takes one
(:meth:`ravine.optim.Optimizer._sparse_mode`):

* ``"rows"`` -- the rule chain runs on the gradient's rows only: the rows of the parameter and of every state
  tensor are gathered, stepped by the same equations as a dense step (:func:`ravine.rules.base.segment_math`),
  and written back. The other rows do not move. This is SparseAdam's definition (its moments change only where
  the gradient is), and for SGD without momentum and for Adagrad it is exactly the dense step, since a zero
  gradient leaves those rows, and their state, as they are.
* ``"dense"`` -- the gradient is made dense first. SGD with momentum needs it: torch's (sparse) momentum buffer
  decays in every row it has ever stored, so rows outside this gradient move too. The buffer is kept dense.
* ``None`` -- the optimiser refuses sparse gradients, with torch's error type (RuntimeError).

Reference: torch.optim's ``SGD``, ``Adagrad`` (``_make_sparse``) and ``SparseAdam``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from ravine.rules.base import ElementwiseRule, segment_math, write_back


def densify_state(state: dict) -> None:
    """Make sparse state dense: torch's SGD keeps a sparse momentum buffer, which a checkpoint brings along."""
    for k, v in state.items():
        if isinstance(v, Tensor) and v.is_sparse:
            state[k] = v.to_dense()


def rows_step(
    rules: Sequence[ElementwiseRule],
    p: Tensor,
    g: Tensor,
    state: dict,
    group: Mapping[str, Any],
    h: Mapping[str, Any],
    *,
    first: bool,
    final: bool,
) -> None:
    """One step of ``p`` on the rows of the sparse gradient ``g`` (the ``"rows"`` mode above)."""
    g = g.coalesce()  # one value per row, so gathering and writing back are both plain indexing
    at = tuple(g.indices())
    values = {k: v[at] if v.shape == p.shape else v for k, v in state.items()}
    p_rows = p[at]
    r = segment_math(rules, g.values(), p_rows, values, group, h, {}, first=first, last=True)
    for k, v in values.items():
        old = state[k]
        if old.shape == p.shape:
            old.index_put_(at, v.to(old.dtype))
        elif v is not old:
            write_back({k: old}, {k: v})
    p.index_put_(at, r if final else p_rows - r)
