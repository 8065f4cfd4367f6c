"""A separate interpreter that runs optimiser steps on odd inputs, for tests/fused/test_fuzz_inputs.py.

If a step crashes the interpreter (a segfault in the fused kernel), only this process dies: the test sees the
pipe close and fails with the case that did it. Protocol: length-prefixed pickles on stdin/stdout; each request is
a case (a dict, see ``build``), each answer ``{mode: outcome}`` for the modes ravine fused=False, fused=None,
fused=True and torch.optim, where an outcome is ``("ok", {name: tensor})`` or ``("error", type, message)``.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import sys
import traceback
import warnings
from typing import Any

import torch

import ravine
from ravine.rules import clip_by_global_norm, scale_by_adam

STEPS = 4
MUTATE_AT = 2  # after the plan has been built (step 1 builds it, step 2 runs it)


class FnTensor(torch.Tensor):
    """A ``__torch_function__`` subclass with real storage (it keeps torch's semantics)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return super().__torch_function__(func, types, args, kwargs or {})


def optimizers(name: str, params: list, fused: Any) -> tuple[Any, Any]:
    """(ravine optimiser or None for torch, a function run before each step: torch-side clipping)."""
    torch_side = fused == "torch"
    if name == "adam_amsgrad":
        cls = torch.optim.Adam if torch_side else ravine.optim.Adam
        kw = dict(lr=0.05, amsgrad=True, weight_decay=0.01)
    elif name == "sgd_nesterov":
        cls = torch.optim.SGD if torch_side else ravine.optim.SGD
        kw = dict(lr=0.05, momentum=0.9, nesterov=True)
    elif name == "nadam":
        cls = torch.optim.NAdam if torch_side else ravine.optim.NAdam
        kw = dict(lr=0.05)
    elif name == "rmsprop_centered":
        cls = torch.optim.RMSprop if torch_side else ravine.optim.RMSprop
        kw = dict(lr=0.01, centered=True, momentum=0.5)
    elif name == "clip_adam":
        if torch_side:
            opt = torch.optim.Adam(params, lr=0.05, betas=(0.9, 0.999), eps=1e-8)

            def clip() -> None:
                torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], 0.5, foreach=False)

            return opt, clip
        from ravine.rules import flip_sign

        rule = ravine.chain(clip_by_global_norm(0.5), flip_sign(), scale_by_adam())
        return ravine.optim.Optimizer(params, rule, lr=0.05, fused=fused), None
    else:
        raise ValueError(name)
    if torch_side:
        return cls(params, foreach=False, **kw), None
    return cls(params, fused=fused, **kw), None


def layout(v: torch.Tensor, how: str) -> torch.Tensor:
    """A tensor equal to ``v`` (values and shape) with the memory layout ``how``."""
    if how == "transposed" and v.dim() >= 2:
        return v.transpose(0, 1).contiguous().transpose(0, 1)
    if how == "strided" and v.dim() >= 1:
        buf = torch.zeros(*v.shape[:-1], 2 * v.shape[-1], dtype=v.dtype)
        x = buf[..., ::2]
        x.copy_(v)
        return x
    if how == "offset":
        buf = torch.zeros(v.numel() + 3, dtype=v.dtype)
        x = buf[3:].view(v.shape)
        x.copy_(v)
        return x
    if how == "expanded" and v.numel() > 0:
        return v.reshape(-1)[:1].expand(v.shape)  # every element the first one; stride 0
    if how == "neg":
        return torch._neg_view(-v)  # value v, carried as "negate on read"
    if how == "conj" and v.is_complex():
        return v.conj_physical().conj()
    return v.clone()


def _mesh():
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    if not dist.is_initialized():
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    return init_device_mesh("cpu", (1,))


def wrap(v: torch.Tensor, kind: str, is_grad: bool) -> torch.Tensor:
    if kind == "dtensor" or (kind == "dtensor_mixed" and not is_grad):
        from torch.distributed.tensor import DTensor, Replicate, Shard

        placement = Shard(0) if v.dim() >= 1 else Replicate()
        return DTensor.from_local(v, _mesh(), [placement], shape=v.shape, stride=v.stride())
    if kind == "dtensor_mixed":  # the gradient is replicated while the parameter is sharded
        from torch.distributed.tensor import DTensor, Replicate

        return DTensor.from_local(v, _mesh(), [Replicate()], shape=v.shape, stride=v.stride())
    if kind == "twotensor":
        from torch.testing._internal.two_tensor import TwoTensor

        return TwoTensor(v, v.clone())
    if kind == "fnsub":
        return v.as_subclass(FnTensor)
    if kind == "meta":
        return v.to("meta")
    return v


def plain(t: Any) -> Any:
    """A comparable plain CPU copy (None where no values exist: meta and fake tensors)."""
    if not isinstance(t, torch.Tensor):
        return t
    from ravine.distributed.dtensor import is_dtensor

    if is_dtensor(t):
        t = t.full_tensor()
    if type(t).__name__ == "TwoTensor":
        t = t.a
    if type(t).__name__ == "FakeTensor" or t.is_meta:
        return ("novalues", tuple(t.shape), str(t.dtype))
    return t.as_subclass(torch.Tensor).detach().resolve_neg().resolve_conj().clone()


def grad_value(p0: torch.Tensor, t: int) -> torch.Tensor:
    return torch.sin(p0 * (t + 1)) + 0.1 * t


def mutate(what: str, params: list, opt: Any, case: dict) -> None:
    p0, p1 = params
    st = opt.state[p0]
    elem = [k for k, v in st.items() if isinstance(v, torch.Tensor) and v.dim() > 0]
    if what == "grad_alias_p":
        p0.grad = p0.data
    elif what == "grad_alias_other":
        p0.grad = p1.data
    elif what == "grad_shared":
        p1.grad = p0.grad
    elif what == "grad_alias_state" and elem:
        p0.grad = st[elem[0]]
    elif what.startswith("grad_layout:") and p0.grad is not None:
        p0.grad = layout(p0.grad.detach().clone(), what.split(":")[1])
    elif what == "grad_resize" and p0.grad is not None:
        p0.grad.resize_(p0.grad.numel() + 5)
    elif what == "grad_none":
        p0.grad = None
    elif what == "data_other_shape":
        p0.data = torch.zeros(p0.numel() + 2, dtype=p0.dtype)
    elif what == "data_other_shape_regrad":
        p0.data = torch.zeros(p0.numel() + 2, dtype=p0.dtype)
        p0.grad = torch.ones_like(p0.data)
    elif what == "data_noncontiguous":
        p0.data = layout(p0.data.clone(), "transposed")
    elif what == "state_set" and elem:
        st[elem[0]].set_(st[elem[0]].clone())  # same tensor object, new memory
    elif what == "state_noncontiguous" and elem:
        st[elem[0]] = layout(st[elem[0]].clone(), "strided")
    elif what == "state_dtype" and elem:
        other = {torch.float64: torch.float32, torch.complex64: torch.complex128, torch.complex128: torch.complex64}
        st[elem[0]] = st[elem[0]].to(other.get(st[elem[0]].dtype, torch.float64))
    elif what == "state_shape" and elem:
        st[elem[0]] = torch.zeros(st[elem[0]].numel() + 1, dtype=st[elem[0]].dtype)
    elif what == "step_int":
        st["step"] = st["step"].to(torch.int64)


def run(case: dict, mode: Any) -> tuple:
    """One scenario: build the inputs, ``STEPS`` steps with a mutation after ``MUTATE_AT``, the final values."""
    torch.manual_seed(0)
    dtype = getattr(torch, case["dtype"])
    fake = case["subclass"] == "fake"
    ctx = contextlib.nullcontext()
    if fake:
        from torch._subclasses.fake_tensor import FakeTensorMode

        ctx = FakeTensorMode()
    with ctx:
        v = torch.randn(case["shape"], dtype=torch.float64).to(dtype)
        p0 = torch.nn.Parameter(wrap(layout(v, case["p_layout"]), case["subclass"], False))
        p1 = torch.nn.Parameter(torch.randn(case["shape"], dtype=torch.float64).to(dtype))
        params = [p0, p1]
        opt, before = optimizers(case["optimizer"], params, mode)
        for t in range(STEPS):
            with torch.no_grad():
                g0 = grad_value(plain_value(p0), t)
                p0.grad = wrap(layout(g0, case["g_layout"]), case["subclass"], True)
                p1.grad = grad_value(p1.detach(), t)
            if t == MUTATE_AT:
                mutate(case["mutation"], params, opt, case)
            if before is not None:
                before()
            opt.step()
        out = {"p0": plain(p0), "p1": plain(p1)}
        for i, p in enumerate(params):
            for k, s in opt.state[p].items():
                out[f"state{i}.{k}"] = plain(s)
        return out


def plain_value(p: torch.Tensor) -> torch.Tensor:
    """The parameter's values as a plain tensor of the same kind (meta and fake stay what they are)."""
    from ravine.distributed.dtensor import is_dtensor

    d = p.detach()
    if is_dtensor(d):
        return d.to_local().clone()
    if type(d).__name__ == "TwoTensor":
        return d.a.clone()
    if isinstance(d, FnTensor):
        return d.as_subclass(torch.Tensor).clone()
    return d.resolve_neg().resolve_conj().clone()


def warm(case: dict) -> None:
    """Build the kernel this case would use, so that fused=None really takes it."""
    dtype = getattr(torch, case["dtype"])
    if dtype.is_complex:
        dtype = torch.float32 if dtype == torch.complex64 else torch.float64
    if dtype not in (torch.float32, torch.float64):
        return
    ps = [torch.nn.Parameter(torch.randn(3, dtype=dtype)) for _ in range(2)]
    opt, _ = optimizers(case["optimizer"], ps, True)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.step()


def answer(case: dict) -> dict:
    out = {}
    warm(case)
    for mode in (False, None, True, "torch"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[str(mode)] = ("ok", run(case, mode))
        except Exception as e:  # every Python-level error is an acceptable outcome to report, not a crash
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            out[str(mode)] = ("error", type(e).__name__, last[:500])
    return out


def main() -> None:  # pragma: no cover - a separate process
    torch.set_num_threads(1)
    rd, wr = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the pipe
    while True:
        head = rd.read(8)
        if len(head) < 8:
            return
        case = pickle.loads(rd.read(struct.unpack("<Q", head)[0]))
        blob = pickle.dumps(answer(case))
        wr.write(struct.pack("<Q", len(blob)) + blob)
        wr.flush()


if __name__ == "__main__":
    main()
