"""Adafactor and Muon against torch.optim's, bit for bit: their non-elementwise rules use torch's operations in
torch's order (so do their final steps), and everything else is exact.

The option matrix is ``NON_ELEMENTWISE`` in ``trajectories.py`` (optim_db's CPU inputs plus a case that changes
every option); each case runs 60 steps (bit-identical arithmetic needs no more to show) alone, with two parameter
groups, and under torch's StepLR (its steps every 70 are shortened to every 20 here), in float64 and float32.
Checkpoints resume bit for bit and move between torch and ravine both ways.
"""

from __future__ import annotations

import copy
import io

import pytest
import torch

import ravine
from trajectories import NON_ELEMENTWISE, loss_fn, make_problem, rel_error, run

MODES = {"plain": {}, "two-groups": {"groups": True}, "scheduler": {"scheduler": True}}
STEPS = 60
PARAMS = [
    pytest.param(name, kwargs, id=f"{name}-{i}") for name, (_, cases) in NON_ELEMENTWISE.items()
    for i, kwargs in enumerate(cases)
]  # fmt: skip
DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])


def _equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@DTYPES
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("name", "kwargs"), PARAMS)
def test_matches_torch_bitwise(name: str, kwargs: dict, mode: str, dtype: torch.dtype) -> None:
    shapes = NON_ELEMENTWISE[name][0]
    ours, opt = run(getattr(ravine.optim, name), kwargs, dtype, STEPS, shapes=shapes, **MODES[mode])
    ref, _ = run(getattr(torch.optim, name), kwargs, dtype, STEPS, shapes=shapes, **MODES[mode])
    assert _equal(ours, ref)
    assert opt.execution == {"fused": 0, "reference": len(shapes)}
    start, _ = run(getattr(torch.optim, name), kwargs, dtype, steps=0, shapes=shapes)
    assert rel_error(ref, start) > 1e-4  # the runs went somewhere


@pytest.mark.parametrize("name", list(NON_ELEMENTWISE))
def test_state_layout_matches_torch(name: str) -> None:
    shapes, cases = NON_ELEMENTWISE[name]
    _, ours = run(getattr(ravine.optim, name), cases[-2], torch.float64, steps=3, shapes=shapes)
    _, ref = run(getattr(torch.optim, name), cases[-2], torch.float64, steps=3, shapes=shapes)
    for st_ours, st_ref in zip(ours.state.values(), ref.state.values(), strict=True):
        # ravine counts steps for every optimiser; torch's Muon keeps no step, which is its only difference
        assert set(st_ours) - set(st_ref) <= {"step"} and set(st_ref) <= set(st_ours)
        for k, v in st_ref.items():
            assert st_ours[k].shape == v.shape and st_ours[k].dtype == v.dtype, k
    for g_ours, g_ref in zip(ours.param_groups, ref.param_groups, strict=True):
        assert set(g_ref) - {"foreach"} <= set(g_ours)  # torch's loader fills in foreach=None


def _continue(opt: torch.optim.Optimizer, params: list[torch.Tensor], data: list, sign: float, steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, data, sign).backward()
        opt.step()


@DTYPES
@pytest.mark.parametrize(("src", "dst"), [("ravine", "ravine"), ("torch", "ravine"), ("ravine", "torch")])
@pytest.mark.parametrize("name", list(NON_ELEMENTWISE))
def test_checkpoints_resume_and_move_bitwise(name: str, src: str, dst: str, dtype: torch.dtype) -> None:
    """Run 17 steps with one library, save, load into the other (or the same) and run 20 more: the result is
    the 37-step run of the first, bit for bit."""
    shapes, cases = NON_ELEMENTWISE[name]
    kwargs = cases[-2]
    lib = {"ravine": ravine.optim, "torch": torch.optim}
    straight, _ = run(getattr(lib[src], name), kwargs, dtype, 37, shapes=shapes)
    mid, opt = run(getattr(lib[src], name), kwargs, dtype, 17, shapes=shapes)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    params = [p.clone().requires_grad_() for p in mid]
    other = getattr(lib[dst], name)(params)  # every hyperparameter comes from the checkpoint
    other.load_state_dict(torch.load(buf, weights_only=False))
    _, data = make_problem(dtype, shapes=shapes)
    _continue(other, params, data, -1.0 if kwargs.get("maximize") else 1.0, 20)
    assert _equal([p.detach() for p in params], straight)


def test_adafactor_default_eps1_is_the_dtype_epsilon() -> None:
    """eps=(None, ...) regularises with finfo(dtype).eps, as torch does: float32 and float64 runs differ there."""
    for dtype in (torch.float32, torch.float64):
        p = torch.zeros(3, 4, dtype=dtype, requires_grad=True)  # a zero gradient: V_hat is all eps1-clamped
        q = p.detach().clone().requires_grad_()
        ours, ref = ravine.optim.Adafactor([p]), torch.optim.Adafactor([q])
        for x, opt in ((p, ours), (q, ref)):
            x.grad = torch.full_like(x, 1e-20)
            opt.step()
        assert torch.equal(p, q) and not torch.equal(p, torch.zeros_like(p))


def test_muon_pairs_with_adamw_as_torch_recommends() -> None:
    """torch's recipe: Muon for the hidden weight matrices, AdamW for biases and the rest -- the same result."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x, y = torch.randn(16, 6), torch.randn(16, 2)
    results = []
    for lib in (ravine.optim, torch.optim):
        model = copy.deepcopy(net)
        matrices = [p for p in model.parameters() if p.ndim == 2]
        others = [p for p in model.parameters() if p.ndim != 2]
        opts = [lib.Muon(matrices, lr=0.02), lib.AdamW(others, lr=3e-3)]
        for _ in range(30):
            for o in opts:
                o.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            for o in opts:
                o.step()
        results.append([p.detach() for p in model.parameters()])
    ravine_weights, torch_weights = results
    assert all(torch.equal(a, b) for a, b in zip(ravine_weights[::2], torch_weights[::2], strict=True))  # Muon's
    assert rel_error(ravine_weights, torch_weights) <= 1e-5  # AdamW's biases match to float32 rounding


@pytest.mark.parametrize("name", list(NON_ELEMENTWISE))
def test_step_hooks_run_once_per_step_like_torch(name: str) -> None:
    # a plain ravine Optimizer first: torch then wraps ravine's base step for hooks, which a subclass must not re-enter
    ravine.optim.Optimizer([torch.nn.Parameter(torch.ones(2))], ravine.chain(ravine.rules.flip_sign()), lr=0.1)
    counts = []
    for lib in (ravine.optim, torch.optim):
        p = torch.nn.Parameter(torch.ones(3, 4))
        opt = getattr(lib, name)([p])
        calls: list[str] = []
        opt.register_step_pre_hook(lambda *a, calls=calls: calls.append("pre"))
        opt.register_step_post_hook(lambda *a, calls=calls: calls.append("post"))
        p.grad = torch.ones_like(p)
        opt.step()
        counts.append(calls)
    assert counts[0] == counts[1] == ["pre", "post"]
