"""A prepared Triton step never reads a tensor's value on the host, so it never waits for the device and can be
captured in a CUDA graph; and schedules that change numbers every step never add a kernel.

A host read of a tensor value (``.item()``, ``float(t)``, ``bool(t)``, ``if t:``) is the ATen op
``_local_scalar_dense`` whatever the device; a dispatch mode sees every call of it. The reference path makes such
reads (``ops.value`` of the step), which shows the check can fail.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import ravine
from ravine.fused.triton import kernels


class HostReads(TorchDispatchMode):
    """Counts host reads of tensor values while active."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _model_and_opt(fused, make):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    opt = make(model.parameters(), fused)
    x, y = torch.randn(16, 6), torch.randn(16, 1)
    return model, opt, x, y


MAKERS = {
    "adam-capturable-tensor-lr": lambda ps, fused: ravine.optim.Adam(
        ps, lr=torch.tensor(0.01), capturable=True, fused=fused
    ),
    "clip+adamw": lambda ps, fused: ravine.optim.Optimizer(
        ps, ravine.chain(ravine.rules.clip_by_global_norm(0.5), ravine.rules.scale_by_adam()), lr=0.01, fused=fused
    ),
    "nadam": lambda ps, fused: ravine.optim.NAdam(ps, lr=0.01, fused=fused),
}


@pytest.mark.parametrize("make", list(MAKERS))
def test_prepared_step_reads_nothing_on_the_host(make: str, interp) -> None:
    model, opt, x, y = _model_and_opt(None, MAKERS[make])
    counts = []
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        with HostReads() as reads:
            opt.step()
        counts.append(reads.count)
    assert type(opt._plan).__name__ == "TritonPlan"
    assert counts[1:] == [0, 0]  # the first step prepares the plan (and may read); the prepared ones do not


def test_the_check_sees_the_reference_path_read() -> None:
    model, opt, x, y = _model_and_opt(False, MAKERS["nadam"])
    torch.nn.functional.mse_loss(model(x), y).backward()
    with HostReads() as reads:
        opt.step()
    assert reads.count >= 4  # the step of each of the four parameters, read by ops.value


def test_schedules_never_add_a_kernel(interp) -> None:
    """One-cycle-like changes of lr, betas and weight decay every step: one spec, one loaded kernel."""
    model, opt, x, y = _model_and_opt(None, lambda ps, fused: ravine.optim.AdamW(ps, lr=1e-3, fused=fused))
    sizes = []
    for t in range(6):
        opt.param_groups[0]["lr"] = 1e-3 * (1 + t)
        opt.param_groups[0]["betas"] = (0.9 - 0.02 * t, 0.999 - 1e-4 * t)
        opt.param_groups[0]["weight_decay"] = 0.01 * (t + 1)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sizes.append((kernels.cache_size(), len(opt._specs)))
    assert opt.execution == {"fused": 4, "reference": 0}
    assert len(set(sizes)) == 1, sizes


def test_capturable_keeps_the_step_on_the_parameter_device() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    opt = ravine.optim.Adam([p], capturable=True, fused=False)
    p.grad = torch.ones(3)
    opt.step()
    assert opt.state[p]["step"].device == p.device and float(opt.state[p]["step"]) == 1.0
