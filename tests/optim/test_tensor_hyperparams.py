"""A tensor ``lr`` or ``betas`` (torch accepts 1-element tensors) gives the run of the float of the same value.

ravine's elementwise optimisers read tensor hyperparameters as numbers on both paths (:mod:`ravine.optim.hyper`),
so the reference path and the fused kernel agree and a tensor run is the float run bit for bit; that run is
torch's float run (to the parity tolerance) and torch's tensor run to float32 rounding of torch's per-step scalars
(the tolerance torch's own tensor-lr test uses). L-BFGS keeps the tensor, as torch does, and is torch's bit for bit.
"""

from __future__ import annotations

import functools

import pytest
import torch

import ravine
from trajectories import loss_fn, make_problem, rel_error, run

TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
LR = {"SGD": 0.05, "Adagrad": 0.1, "RMSprop": 0.01, "Adadelta": 1.0, "ASGD": 0.02, "Rprop": 0.01}
WITH_BETAS = ("Adam", "AdamW", "NAdam", "Adamax", "RAdam")
NAMES = [*LR, *WITH_BETAS]


def _f32(x: float) -> float:
    return float(torch.tensor(x))  # the value a default-dtype tensor holds


def _cases(name: str) -> list[tuple[str, dict, dict]]:
    """(id, tensor kwargs, float kwargs of the same values)."""
    lr = LR.get(name, 0.01)
    out = [("lr", {"lr": torch.tensor(lr)}, {"lr": _f32(lr)})]
    if name in WITH_BETAS:
        b = (0.8, 0.99)
        out.append(
            ("betas", {"lr": lr, "betas": tuple(map(torch.tensor, b))}, {"lr": lr, "betas": tuple(map(_f32, b))})
        )
    if name in ("Adam", "AdamW"):
        # 1-element tensors of any shape, as in torch's optim_db ("Tensor lr, Tensor betas"; only Adam squeezes)
        b = (0.8, 0.99)
        shaped = {"lr": torch.tensor([lr]), "betas": (torch.tensor([[[b[0]]]]), torch.tensor([[b[1]]]))}
        out.append(("shaped", shaped, {"lr": _f32(lr), "betas": tuple(map(_f32, b))}))
    return out


PARAMS = [pytest.param(n, t, f, id=f"{n}-{i}") for n in NAMES for i, t, f in _cases(n)]


@pytest.mark.parametrize("fused", [False, None], ids=["reference", "kernel"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "tensor_kw", "float_kw"), PARAMS)
def test_tensor_hyperparameters_run_as_their_floats(name, tensor_kw, float_kw, dtype, fused) -> None:
    cls = functools.partial(getattr(ravine.optim, name), fused=fused)
    ours, _ = run(cls, tensor_kw, dtype, 60)
    as_float, _ = run(cls, float_kw, dtype, 60)
    assert all(torch.equal(a, b) for a, b in zip(ours, as_float, strict=True))
    torch_float, _ = run(getattr(torch.optim, name), float_kw, dtype, 60)
    assert rel_error(ours, torch_float) <= TOL[dtype]
    torch_tensor, _ = run(getattr(torch.optim, name), tensor_kw, dtype, 60)
    assert rel_error(ours, torch_tensor) <= 1e-5
    start, _ = run(cls, float_kw, dtype, 0)
    assert rel_error(ours, start) > 1e-3


def _lbfgs_run(lib, lr, dtype: torch.dtype, line_search_fn=None) -> list[torch.Tensor]:
    init, data = make_problem(dtype)
    params = [p.clone().requires_grad_() for p in init]
    opt = lib.LBFGS(params, lr=lr.clone() if isinstance(lr, torch.Tensor) else lr, line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = loss_fn(params, data)
        loss.backward()
        return loss

    for _ in range(25):
        opt.step(closure)
    return [p.detach() for p in params]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "lr",
    [torch.tensor(1e-3), torch.tensor([1e-3]), torch.tensor(1e-3, dtype=torch.float64), torch.tensor(0.5)],
    ids=["f32", "1-d", "f64", "f32-large"],
)
def test_lbfgs_tensor_lr_is_torchs_bit_for_bit(lr: torch.Tensor, dtype: torch.dtype) -> None:
    """torch multiplies min(1, 1/|g|_1) by the lr tensor, so a float64 lr with float32 parameters gives a float64
    first step; ravine read the lr as a number and rounded that step to float32 (issue 13)."""
    ours = _lbfgs_run(ravine.optim, lr, dtype)
    ref = _lbfgs_run(torch.optim, lr, dtype)
    assert all(torch.equal(a, b) for a, b in zip(ours, ref, strict=True))
    assert rel_error(ref, make_problem(dtype)[0]) > 1e-3
