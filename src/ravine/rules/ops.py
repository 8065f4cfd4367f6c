"""The few functions an update rule may call besides + - * / and **.

A rule's equations are written once, with these functions and Python operators, and then run on three kinds of
values:

* ``torch.Tensor`` -- the reference path (eager PyTorch, and what ``torch.compile`` traces);
* ``float`` -- per-step scalars such as Adam's bias corrections, computed in double precision like torch does;
* :class:`ravine.fused.trace.Sym` -- symbols, from which the fused kernel is generated.

Every function here therefore dispatches on the type of its arguments and has the same rounding on every path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ravine.distributed.dtensor import is_dtensor
from ravine.fused.guard import is_plain

Value = Any  # torch.Tensor | float | Sym


def _is_sym(x: object) -> bool:
    return hasattr(x, "__ravine_sym__")


def _sym_of(*xs: object) -> Any:
    for x in xs:
        if _is_sym(x):
            return x
    return None


def sqrt(x: Value) -> Value:
    """The correctly rounded square root.

    torch's eager CPU ``sqrt`` goes through MKL VML, which is off by one ulp in about 0.6 % of float32 elements
    (measured with torch 2.13). The fused kernel uses the IEEE instruction, so the reference path does too: on CPU
    it asks numpy, whose ``sqrt`` is the hardware instruction. CUDA and compiled code are already IEEE-exact.
    numpy only ever sees plain tensors: a DTensor (FSDP2) takes the same route on its local shard, and any other
    tensor subclass (FakeTensor, a ``__torch_dispatch__`` wrapper) gets ``torch.sqrt``, which it understands.
    """
    s = _sym_of(x)
    if s is not None:
        return s.apply("sqrt", x)
    if isinstance(x, torch.Tensor):
        if x.requires_grad or torch.compiler.is_compiling():
            return torch.sqrt(x)
        if is_plain(x):
            return _ieee_sqrt(x) if _numpy_sqrt_ok(x) else torch.sqrt(x)
        if is_dtensor(x) and not any(pl.is_partial() for pl in x.placements) and _numpy_sqrt_ok(x._local_tensor):
            # Elementwise, so the root of each shard is the root of the DTensor: the same bits as one process.
            return type(x).from_local(
                _ieee_sqrt(x._local_tensor), x.device_mesh, x.placements, shape=x.shape, stride=x.stride()
            )
        return torch.sqrt(x)
    return math.sqrt(x)


def _numpy_sqrt_ok(x: torch.Tensor) -> bool:
    return is_plain(x) and x.is_cpu and x.layout is torch.strided and x.dtype in (torch.float32, torch.float64)


def _ieee_sqrt(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    # resolve_neg: a real tensor can carry a lazy negation (torch.imag of a conjugate view); numpy cannot read it.
    np.sqrt(x.resolve_neg().contiguous().numpy(), out=out.numpy())
    return out


def maximum(a: Value, b: Value) -> Value:
    """Elementwise maximum; NaN if either side is NaN (torch.maximum's rule)."""
    return _extremum("maximum", torch.maximum, torch.clamp_min, max, a, b)


def minimum(a: Value, b: Value) -> Value:
    """Elementwise minimum; NaN if either side is NaN."""
    return _extremum("minimum", torch.minimum, torch.clamp_max, min, a, b)


def _extremum(name: str, both: Any, one: Any, py: Any, a: Value, b: Value) -> Value:
    s = _sym_of(a, b)
    if s is not None:
        return s.apply(name, a, b)
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return both(a, b)
    if isinstance(a, torch.Tensor):
        return one(a, b)  # a Python number is rounded to the tensor's dtype, as the kernel does
    if isinstance(b, torch.Tensor):
        return one(b, a)
    return math.nan if math.isnan(a) or math.isnan(b) else py(a, b)


def abs(x: Value) -> Value:
    """``|x|``, elementwise (NaN stays NaN)."""
    s = _sym_of(x)
    if s is not None:
        return s.apply("abs", x)
    if isinstance(x, torch.Tensor):
        return torch.abs(x)
    return math.fabs(x)


def sign(x: Value) -> Value:
    """-1, 0 or +1 by the sign of ``x``, elementwise; ``sign(-0.0) = 0`` and ``sign(NaN) = 0`` (torch.sign's rule)."""
    s = _sym_of(x)
    if s is not None:
        return s.apply("sign", x)
    if isinstance(x, torch.Tensor):
        return torch.sign(x)
    return float((x > 0) - (x < 0))


def clamp(x: Value, lo: Value, hi: Value) -> Value:
    """``min(max(x, lo), hi)``, NaN-propagating."""
    return minimum(maximum(x, lo), hi)


def select(cond: Value, a: Value, b: Value) -> Value:
    """``a if cond else b`` for per-step scalars (``torch.where`` when the step is a tensor, as under compile)."""
    s = _sym_of(cond, a, b)
    if s is not None:
        return s.apply("select", cond, a, b)
    if isinstance(cond, torch.Tensor):
        # Python numbers become float64 0-dim tensors: like a Python float, they do not promote the tensor they
        # later meet, and they are rounded to its dtype only then.
        def lift(x: Value) -> torch.Tensor:
            return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64, device=cond.device)

        return torch.where(cond, lift(a), lift(b))
    return a if cond else b


def where(cond: Value, a: Value, b: Value) -> Value:
    """``a`` where ``cond`` holds, else ``b``, per element (``torch.where``); ``cond`` is a comparison of tensors.

    At least one of ``a``, ``b`` must be a tensor: it gives the result its dtype, and a Python number on the
    other side is rounded to that dtype (torch's rule for a number meeting a tensor). For per-step scalars use
    :func:`select`.
    """
    s = _sym_of(cond, a, b)
    if s is not None:
        return s.apply("where", cond, a, b)
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        raise TypeError("where() needs a tensor on at least one side (it sets the dtype); use select() for scalars")
    return torch.where(cond, a, b)


def equal(a: Value, b: Value) -> Value:
    """``a == b`` as a value that :func:`select` (scalars) or :func:`where` (tensors) accepts."""
    s = _sym_of(a, b)
    if s is not None:
        return s.apply("eq", a, b)
    return a == b


def less(a: Value, b: Value) -> Value:
    """``a < b`` as a value that :func:`select` (scalars) or :func:`where` (tensors) accepts.

    A Python number compared with a tensor is first rounded to the tensor's dtype, as torch does.
    """
    s = _sym_of(a, b)
    if s is not None:
        return s.apply("lt", a, b)
    return a < b


def greater(a: Value, b: Value) -> Value:
    """``a > b``; see :func:`less`."""
    return less(b, a)


def value(x: Value) -> Value:
    """Read a stored 0-dim state (the step, NAdam's mu_product) as a Python float, like torch's ``_get_value``.

    Arithmetic after this point is double precision, as in torch.optim; under ``torch.compile`` the tensor is kept
    so that no graph break is needed, and so it is for tensors without values (meta, FakeTensor), which torch's
    own operations carry through where ``.item()`` would raise.
    """
    s = _sym_of(x)
    if s is not None:
        return s.apply("value", x)
    if isinstance(x, torch.Tensor):
        if torch.compiler.is_compiling() or (not is_plain(x) and _is_fake(x)) or x.is_meta or x.requires_grad:
            return x  # a value in an autograd graph (a differentiable step, ravine.optim.differentiable) stays one
        return x.item()
    return float(x)


def _is_fake(x: torch.Tensor) -> bool:
    from torch._subclasses.fake_tensor import is_fake

    return is_fake(x)
