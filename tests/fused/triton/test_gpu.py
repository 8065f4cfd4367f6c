"""On a CUDA device: the compiled Triton kernels against the reference path, CUDA graphs, and the kernel cache.

These run only where a GPU is present (``benchmarks/gpu_check.sh`` runs them there); elsewhere they are skipped
and the interpreter tests stand in for them. On a GPU the claim is at most 1 ulp per float32 element after the
whole run, not equality: the per-step doubles from ``beta ** t`` come from libdevice's ``pow`` (within 2 ulp of
double) where the reference path uses the C library's (see docs/gpu.md); every other operation is rounded as
torch rounds it, so equality is expected for all but rare elements, and the tests report how many differ.
"""

from __future__ import annotations

import functools

import pytest
import torch

import ravine
from fused.triton._compare import same_bits, ulps
from ravine.fused import triton as rt
from trajectories import CASES, loss_fn, make_problem

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and rt.importable()), reason="needs a CUDA device and triton (none here)"
)
DEV = "cuda"


def _run_cuda(cls, kwargs: dict, fused, steps: int = 40, dtype=torch.float32):
    init, data = make_problem(dtype, 0)
    params = [p.to(DEV).requires_grad_() for p in init]
    data = [(w.to(DEV), c.to(DEV)) for w, c in data]
    opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": kwargs.get("lr", 1e-3) / 3}], fused=fused,
              **kwargs)  # fmt: skip
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, data, sign).backward()
        opt.step()
    return [p.detach().cpu() for p in params], opt


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [pytest.param(n, kw, id=f"{n}-{i}") for n, cases in CASES.items() for i, kw in enumerate(cases)],
)
def test_optimisers_within_one_ulp(name: str, kwargs: dict) -> None:
    cls = getattr(ravine.optim, name)
    ref, _ = _run_cuda(cls, kwargs, fused=False)
    got, opt = _run_cuda(cls, kwargs, fused=None)
    assert opt.execution == {"fused": 4, "reference": 0}
    assert type(opt._plan).__name__ == "TritonPlan"
    differ = 0
    for a, b in zip(ref, got, strict=True):
        assert ulps(a, b) <= 1, (name, kwargs)
        differ += int((a != b).sum())
    print(f"{name} {kwargs}: {differ} of {sum(a.numel() for a in ref)} elements differ in the last bit")


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_dtypes(dtype: torch.dtype) -> None:
    kwargs = {"lr": 0.01, "weight_decay": 0.05}
    extra = {"state_dtype": torch.float32} if dtype == torch.bfloat16 else {}
    cls = functools.partial(ravine.optim.Adam, **extra)
    ref, _ = _run_cuda(cls, kwargs, fused=False, dtype=dtype)
    got, opt = _run_cuda(cls, kwargs, fused=None, dtype=dtype)
    assert opt.execution == {"fused": 4, "reference": 0}
    for a, b in zip(ref, got, strict=True):
        if dtype == torch.float64:
            torch.testing.assert_close(a, b, rtol=1e-14, atol=0)
        else:
            assert (a.float() - b.float()).abs().max() <= 2 * torch.finfo(dtype).eps * b.float().abs().max()


def test_misaligned_parameters() -> None:
    """Parameters that are views at odd offsets take the kernel without 16-byte alignment hints."""
    base = torch.zeros(1 + 1000 + 333, device=DEV)
    ps = [torch.nn.Parameter(base[1:1001].view(40, 25)), torch.nn.Parameter(base[1001:].clone()[0:333])]
    qs = [torch.nn.Parameter(p.detach().clone()) for p in ps]
    a = ravine.optim.Adam(ps, lr=0.1)
    b = ravine.optim.Adam(qs, lr=0.1, fused=False)
    for t in range(5):
        for p, q in zip(ps, qs, strict=True):
            p.grad = torch.sin(p.detach() + t)
            q.grad = torch.sin(q.detach() + t)
        a.step()
        b.step()
    assert a.execution["reference"] == 0
    assert not a._plan.batches[0][0].aligned
    for p, q in zip(ps, qs, strict=True):
        assert ulps(p.detach().cpu(), q.detach().cpu()) <= 1


def _graph_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 1)).to(DEV)
    lr = torch.tensor(1e-3, device=DEV)
    opt = ravine.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, capturable=True)
    return model, opt, lr


def test_cuda_graph_of_a_whole_training_step_matches_eager() -> None:
    """Forward, backward and the ravine step captured in one CUDA graph (torch's recipe: warm-up steps on a side
    stream, then capture); replays equal the same steps run eagerly, and an lr held in a device tensor is read at
    every replay."""
    x = torch.randn(128, 64, device=DEV)
    y = torch.randn(128, 1, device=DEV)
    warm, replays = 3, 6
    eager, opt_e, lr_e = _graph_model()
    for i in range(warm + replays):
        lr_e.fill_(1e-3 * (1 + (i >= warm) * (i - warm)))
        opt_e.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(eager(x), y).backward()
        opt_e.step()

    model, opt, lr = _graph_model()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(warm):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    for i in range(replays):
        lr.fill_(1e-3 * (1 + i))
        graph.replay()
    torch.cuda.synchronize()
    for a, b in zip(eager.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    steps = {float(st["step"]) for st in opt.state.values()}
    assert steps == {float(warm + replays)}


def test_capture_without_a_prepared_step_is_refused() -> None:
    model, opt, _ = _graph_model()
    x = torch.randn(8, 64, device=DEV)
    torch.nn.functional.mse_loss(model(x), torch.zeros(8, 1, device=DEV)).backward()
    graph = torch.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="captured in a CUDA graph"), torch.cuda.graph(graph):
        opt.step()


def test_schedules_never_compile_again() -> None:
    """lr and betas change every step: Triton's own cache of compiled kernels does not grow after the first."""
    from ravine.fused.triton import kernels

    params = [torch.nn.Parameter(torch.randn(1000, device=DEV)) for _ in range(3)]
    opt = ravine.optim.Adam(params, lr=1e-3)
    sizes = []
    for t in range(6):
        opt.param_groups[0]["lr"] = 1e-3 * (t + 1)
        opt.param_groups[0]["betas"] = (0.9 - 0.01 * t, 0.999)
        for p in params:
            p.grad = torch.randn_like(p)
        opt.step()
        compiled = 0
        for (_src, interp), fn in kernels._cache.items():
            if not interp:
                compiled += sum(len(c[0]) for c in fn.device_caches.values())
        sizes.append((kernels.cache_size(), compiled))
    assert opt.execution == {"fused": 3, "reference": 0}
    assert len(set(sizes[1:])) == 1, sizes


def test_same_bits_helper_on_device() -> None:
    a = torch.tensor([1.0, float("nan"), -0.0], device=DEV)
    assert same_bits(a.cpu(), a.cpu()) and not same_bits(a.cpu(), torch.tensor([1.0, float("nan"), 0.0]))
