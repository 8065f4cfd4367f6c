"""Sparse gradients (``nn.Embedding(sparse=True)``) where torch takes them -- SGD, Adagrad, SparseAdam -- against
torch.optim, and torch's errors everywhere else (:mod:`ravine.optim.sparse`)."""

from __future__ import annotations

import copy

import pytest
import torch

import ravine

TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
CASES = {
    "SGD": [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.9, "nesterov": True},
            {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "maximize": True}],
    "Adagrad": [{"lr": 0.1}, {"lr": 0.1, "lr_decay": 0.05}, {"lr": 0.1, "initial_accumulator_value": 0.2},
                {"lr": 0.1, "eps": 1e-3, "maximize": True}],
    "SparseAdam": [{}, {"lr": 0.05}, {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6}, {"lr": 0.05, "maximize": True}],
}  # fmt: skip
PARAMS = [pytest.param(n, kw, id=f"{n}-{i}") for n, cases in CASES.items() for i, kw in enumerate(cases)]
BATCHES = [[1, 2, 2, 7], [0, 7], [3, 3, 3], [2, 9, 1], [], [5, 1, 8, 8]]  # repeated rows, an empty batch


def _model(dtype: torch.dtype, sparse: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    emb = torch.nn.Embedding(10, 4, sparse=sparse).to(dtype)
    lin = torch.nn.Linear(4, 1).to(dtype)
    return torch.nn.ModuleDict({"emb": emb, "lin": lin})


def _train(lib, name: str, kwargs: dict, dtype: torch.dtype, sparse: bool = True) -> list[torch.Tensor]:
    model = _model(dtype, sparse)
    emb_opt = getattr(lib, name)(model["emb"].parameters(), **copy.deepcopy(kwargs))
    dense_opt = lib.SGD(model["lin"].parameters(), lr=0.05)  # a dense parameter alongside, as in a real model
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for rows in BATCHES:
        emb_opt.zero_grad()
        dense_opt.zero_grad()
        x = model["emb"](torch.tensor(rows, dtype=torch.long))
        loss = ((model["lin"](x) - 1.0) ** 2).sum() + 0.1 * (x**2).sum()
        (sign * loss).backward()
        emb_opt.step()
        dense_opt.step()
    return [p.detach().clone() for p in model.parameters()]


def _rel(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    num = sum(((x.double() - y.double()) ** 2).sum() for x, y in zip(a, b, strict=True))
    return float((num / sum((y.double() ** 2).sum() for y in b)).sqrt())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "kwargs"), PARAMS)
def test_sparse_gradients_match_torch(name: str, kwargs: dict, dtype: torch.dtype) -> None:
    ours = _train(ravine.optim, name, kwargs, dtype)
    ref = _train(torch.optim, name, kwargs, dtype)
    assert _rel(ours, ref) <= TOL[dtype]
    assert _rel(ref, [p.detach() for p in _model(dtype, True).parameters()]) > 1e-3
    if name != "SparseAdam":
        # SGD and Adagrad: the sparse step is the dense step (rows a gradient misses do not move)
        assert _rel(_train(ravine.optim, name, kwargs, dtype, sparse=False), ours) <= TOL[dtype]


def test_rows_outside_the_gradient_keep_parameter_and_state() -> None:
    """SparseAdam is lazy: a row never in a batch has exactly its initial value and zero moments."""
    model = _model(torch.float64, True)
    before = model["emb"].weight.detach().clone()
    opt = ravine.optim.SparseAdam(model["emb"].parameters(), lr=0.1)
    for rows in BATCHES:
        opt.zero_grad()
        model["emb"](torch.tensor(rows, dtype=torch.long)).sum().backward()
        opt.step()
    untouched = 4  # in no batch
    assert torch.equal(model["emb"].weight[untouched], before[untouched])
    st = opt.state[model["emb"].weight]
    assert not st["exp_avg"][untouched].any() and not st["exp_avg_sq"][untouched].any()
    assert st["step"].item() == len(BATCHES)  # the count of steps of this parameter, as in torch


@pytest.mark.parametrize("direction", ["torch->ravine", "ravine->torch"])
def test_sparse_adam_checkpoints_move_between_torch_and_ravine(direction: str) -> None:
    """torch keeps SparseAdam's step as a Python int, ravine as a 0-dim tensor; each loads the other's."""
    src, dst = (torch.optim, ravine.optim) if direction == "torch->ravine" else (ravine.optim, torch.optim)
    runs = []
    for switch in (False, True):
        model = _model(torch.float64, True)
        opt = src.SparseAdam(model["emb"].parameters(), lr=0.05)
        for k, rows in enumerate(BATCHES):
            if switch and k == 3:
                new = dst.SparseAdam(model["emb"].parameters(), lr=0.05)
                new.load_state_dict(copy.deepcopy(opt.state_dict()))
                opt = new
            opt.zero_grad()
            model["emb"](torch.tensor(rows, dtype=torch.long)).pow(2).sum().backward()
            opt.step()
        runs.append(model["emb"].weight.detach())
    assert _rel([runs[1]], [runs[0]]) <= 1e-15


@pytest.mark.parametrize("name", ["SGD", "Adagrad"])
def test_weight_decay_with_sparse_gradients_fails_as_in_torch(name: str) -> None:
    for lib in (torch.optim, ravine.optim):
        emb = torch.nn.Embedding(5, 2, sparse=True)
        opt = getattr(lib, name)(emb.parameters(), lr=0.1, weight_decay=0.1)
        emb(torch.tensor([1, 2])).sum().backward()
        with pytest.raises(RuntimeError):
            opt.step()


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adadelta", "NAdam", "RAdam", "Adamax", "ASGD", "Rprop"])
def test_other_optimisers_refuse_sparse_gradients_as_torch(name: str) -> None:
    for lib in (torch.optim, ravine.optim):
        emb = torch.nn.Embedding(5, 2, sparse=True)
        opt = getattr(lib, name)(emb.parameters())
        emb(torch.tensor([1, 2])).sum().backward()
        with pytest.raises(RuntimeError, match="does not support sparse gradients"):
            opt.step()


def test_sparse_adam_refuses_what_torch_refuses() -> None:
    for lib in (torch.optim, ravine.optim):
        p = torch.nn.Parameter(torch.ones(3, 2))
        opt = lib.SparseAdam([p])
        p.grad = torch.ones(3, 2)
        with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
            opt.step()
        with pytest.raises(ValueError, match="SparseAdam requires dense parameter tensors"):
            lib.SparseAdam([torch.ones(3, 2).to_sparse().requires_grad_()])
        with pytest.raises(ValueError, match="SparseAdam does not support complex parameters"):
            lib.SparseAdam([torch.ones(2, dtype=torch.complex64, requires_grad=True)])
        with pytest.raises(ValueError, match="Invalid learning rate"):
            lib.SparseAdam([p], lr=0.0)


def test_torchs_sparse_momentum_buffer_loads_and_continues() -> None:
    """torch's SGD keeps a sparse momentum buffer for sparse gradients; ravine keeps it dense, from a checkpoint too."""
    runs = []
    for switch in (False, True):
        model = _model(torch.float64, True)
        opt = torch.optim.SGD(model["emb"].parameters(), lr=0.1, momentum=0.9)
        for k, rows in enumerate(BATCHES):
            if switch and k == 3:
                assert opt.state[model["emb"].weight]["momentum_buffer"].is_sparse
                new = ravine.optim.SGD(model["emb"].parameters(), lr=0.1, momentum=0.9)
                new.load_state_dict(copy.deepcopy(opt.state_dict()))
                opt = new
            opt.zero_grad()
            model["emb"](torch.tensor(rows, dtype=torch.long)).pow(2).sum().backward()
            opt.step()
        runs.append(model["emb"].weight.detach())
    assert _rel([runs[1]], [runs[0]]) <= 1e-15
