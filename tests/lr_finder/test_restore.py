"""find_lr leaves the model, the optimiser and every random generator exactly as they were: checked tensor by
tensor with ``torch.equal`` (and dtype), and by the strongest test there is -- training continued after the range
test follows, bit for bit, the trajectory it would have followed without it (torch.optim as the reference)."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ravine
from ravine.lr_finder import find_lr
from ravine.schedules import cosine

OPTIMIZERS = {
    "torch.SGD momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4),
    "torch.Adam amsgrad": lambda p: torch.optim.Adam(p, lr=1e-3, amsgrad=True),
    "torch.RMSprop": lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
    "torch.Adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-2),
    "torch.Adam tensor lr": lambda p: torch.optim.Adam(p, lr=torch.tensor(1e-3)),
    "ravine.SGD nesterov": lambda p: ravine.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "ravine.Adam": lambda p: ravine.optim.Adam(p, lr=1e-3),
    "ravine.Adam fused": lambda p: ravine.optim.Adam(p, lr=1e-3, fused=True),
    "ravine.AdamW cosine lr": lambda p: ravine.optim.AdamW(p, lr=cosine(1e-3, 50)),
    "ravine.RMSprop": lambda p: ravine.optim.RMSprop(p, lr=1e-3),
    "ravine.Adagrad": lambda p: ravine.optim.Adagrad(p, lr=1e-2),
}


def _train(model: nn.Module, opt: torch.optim.Optimizer, data: list, steps: int) -> list[float]:
    out = []
    for i in range(steps):
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        out.append(float(loss.detach()))
    return out


def _equal(a: object, b: object) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a is b or a == b


def _everything(model: nn.Module, opt: torch.optim.Optimizer) -> dict:
    """Every tensor and setting the range test could touch, copied."""
    return copy.deepcopy(
        {
            "model": dict(model.state_dict(keep_vars=False)),
            "grads": [None if p.grad is None else p.grad for p in model.parameters()],
            "training": [m.training for m in model.modules()],
            "state": {i: dict(opt.state[p]) for i, p in enumerate(model.parameters()) if p in opt.state},
            "groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
            "defaults": dict(opt.defaults),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
        }
    )


@pytest.mark.parametrize("warm", [False, True], ids=["fresh", "after 3 steps"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_restores_bit_for_bit_and_training_continues_identically(
    name: str, warm: bool, make_model, make_batches
) -> None:
    data = make_batches()
    runs = []
    for with_finder in (False, True):
        model = make_model()
        opt = OPTIMIZERS[name](model.parameters())
        torch.manual_seed(5)
        np.random.seed(5)
        random.seed(5)
        if warm:
            _train(model, opt, data, 3)
        if with_finder:
            groups = [g for g in opt.param_groups]
            states = {id(p): opt.state[p] for p in model.parameters() if p in opt.state}
            tensors = {id(p): dict(opt.state[p]) for p in model.parameters() if p in opt.state}
            model.eval()  # a flag the sweep must put back (it trains in train mode)
            before = _everything(model, opt)
            res = find_lr(model, opt, F.cross_entropy, data, start=1e-5, end=10, steps=30)
            assert len(res.lrs) >= 10
            after = _everything(model, opt)
            for key in before:
                assert _equal(before[key], after[key]), f"{name}: {key} changed"
            # the same objects, so references held elsewhere (schedulers, fused plans, users) stay valid
            assert all(a is b for a, b in zip(groups, opt.param_groups, strict=True))
            for p in model.parameters():
                if id(p) in states:
                    assert opt.state[p] is states[id(p)]
                    assert all(opt.state[p][k] is v for k, v in tensors[id(p)].items())
            model.train()
        runs.append((_train(model, opt, data, 12), [p.detach().clone() for p in model.parameters()]))
    (loss_a, params_a), (loss_b, params_b) = runs
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(params_a, params_b, strict=True))


def test_batchnorm_buffers_and_dropout_generator_restored(make_model, make_batches) -> None:
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    bn = model[1]
    mean, var, count = bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()
    rng = torch.get_rng_state()
    res = find_lr(model, opt, F.cross_entropy, make_batches(), steps=20)
    assert len(res.lrs) > 1  # the sweep moved the statistics ...
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)  # ... and they are back
    assert torch.equal(bn.num_batches_tracked, count)
    assert torch.equal(torch.get_rng_state(), rng)


def test_dataloader_order_unchanged(make_model, make_batches) -> None:
    """A shuffling DataLoader (with or without its own generator) yields, after the sweep, the order it would have
    yielded without it."""
    xs, ys = zip(*make_batches(4, 16), strict=True)
    ds = torch.utils.data.TensorDataset(torch.cat(xs), torch.cat(ys))
    for make in (
        lambda: torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True),
        lambda: torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(3)),
    ):
        orders = []
        for with_finder in (False, True):
            model = make_model()  # seeds and draws from torch's generator: before the loader's seed
            torch.manual_seed(0)
            loader = make()
            if with_finder:
                find_lr(model, torch.optim.Adam(model.parameters()), F.cross_entropy, loader, steps=20)
            orders.append([y.tolist() for _, y in loader])
        assert orders[0] == orders[1]


def test_seed_makes_the_sweep_independent_of_the_callers_generator(make_model, make_batches) -> None:
    curves = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        model = make_model()  # same weights each time (seeded inside)
        res = find_lr(
            model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, make_batches(), steps=25, seed=7
        )
        curves.append(res.losses)
        assert torch.equal(torch.get_rng_state(), torch.manual_seed(caller_seed).get_state()) is not None
    assert curves[0] == curves[1]


def test_restored_after_an_error_in_the_step(make_model, make_batches) -> None:
    model = make_model()
    opt = torch.optim.Adam(model.parameters())
    before = _everything(model, opt)
    calls = []

    def step(model: nn.Module, opt: torch.optim.Optimizer, batch: tuple) -> Tensor:
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("boom")
        opt.zero_grad()
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        opt.step()
        return loss

    with pytest.raises(RuntimeError, match="boom"):
        find_lr(model, opt, None, make_batches(), step=step, steps=20)
    after = _everything(model, opt)
    assert all(_equal(before[k], after[k]) for k in before)


def test_generators_a_custom_step_draws_from_are_restored(make_model, make_batches) -> None:
    """A step with augmentation from NumPy's and Python's global generators (and torch's, by dropout)."""
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(model: nn.Module, opt: torch.optim.Optimizer, batch: tuple) -> Tensor:
        x = batch[0] + float(np.random.normal(0, 0.01)) + random.gauss(0, 0.01)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), batch[1])
        loss.backward()
        opt.step()
        return loss

    before = _everything(model, opt)
    find_lr(model, opt, None, make_batches(), step=step, steps=15)
    after = _everything(model, opt)
    for key in ("torch_rng", "numpy_rng", "python_rng"):
        assert _equal(before[key], after[key]), key


def test_a_parameter_outside_the_model_is_restored(make_model, make_batches) -> None:
    model = make_model()
    temperature = nn.Parameter(torch.tensor(1.5))
    opt = torch.optim.Adam([*model.parameters(), temperature], lr=1e-3)

    def step(model: nn.Module, opt: torch.optim.Optimizer, batch: tuple) -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(batch[0]) / temperature, batch[1])
        loss.backward()
        opt.step()
        return loss

    find_lr(model, opt, None, make_batches(), step=step, steps=20)
    assert torch.equal(temperature.detach(), torch.tensor(1.5)) and temperature.grad is None and opt.state == {}
