"""The optimisers beyond torch.optim against their own reference implementations from PyPI.

Every case runs 200 steps (60 without ``--full``: the light form CI runs) from the same seeded start on shapes
held out from development (``beyond_refs``) and compares all parameters to 1e-12 relative in float64 and 1e-6 in
float32; most agree bit for bit, because the rules
follow the reference's operations (stated per case where they do not). References: ``lion-pytorch``,
``schedulefree``, ``pytorch_optimizer`` (Lion, Lamb, LARS, Shampoo, Lookahead, SAM) -- all in the ``test`` extra.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
import torch

import ravine
from beyond_refs import need, run
from ravine.fused import build
from trajectories import rel_error

TOL = {torch.float64: 1e-12, torch.float32: 1e-6}
DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])


@pytest.fixture
def steps(full: bool) -> int:
    return 200 if full else 60


def _sf(module: str, cls: str):
    """A schedulefree optimiser put in train mode, as its README requires before the first step."""

    def make(params: list, **kw: Any) -> torch.optim.Optimizer:
        opt = getattr(need(module), cls)(params, **kw)
        opt.train()
        return opt

    return make


def _po(cls: str, **fixed: Any):
    def make(params: list, **kw: Any) -> torch.optim.Optimizer:
        return getattr(need("pytorch_optimizer"), cls)(params, **fixed, **kw)

    return make


def _lion_pytorch(params: list, **kw: Any) -> torch.optim.Optimizer:
    return need("lion_pytorch").Lion(params, **kw)


# (ravine class, reference factory, constructor options); options are the same on both sides unless the
# reference needs its own spelling (then a pair: ravine's, the reference's). Learning rates keep the runs away from
# the minimum: there, trust-ratio methods take fixed-length steps, bounce, and amplify one rounding (torch's
# add-with-alpha is a fused multiply-add on CPU, ravine's kernel has none) to 1e-4 in float32 within 200 steps.
CASES: dict[str, tuple[Any, Any, list]] = {
    "Lion/lion-pytorch": (
        ravine.optim.Lion,
        _lion_pytorch,
        [{"lr": 0.01}, {"lr": 0.01, "betas": (0.95, 0.98), "weight_decay": 0.5}],
    ),
    "Lion/pytorch_optimizer": (
        ravine.optim.Lion,
        _po("Lion"),
        [{"lr": 0.02, "weight_decay": 0.1}, {"lr": 0.01, "maximize": True}],
    ),
    "ScheduleFreeAdamW": (
        ravine.optim.ScheduleFreeAdamW,
        _sf("schedulefree", "AdamWScheduleFree"),
        [
            {"lr": 0.01},
            {"lr": 0.02, "warmup_steps": 20, "weight_decay": 0.01, "betas": (0.8, 0.99)},
            {"lr": 0.01, "r": 1.0, "weight_lr_power": 1.0, "eps": 1e-6},
        ],
    ),
    "ScheduleFreeSGD": (
        ravine.optim.ScheduleFreeSGD,
        _sf("schedulefree", "SGDScheduleFree"),
        [{"lr": 0.05}, {"lr": 0.1, "momentum": 0.7, "warmup_steps": 15, "weight_decay": 0.02}],
    ),
    "LAMB/pytorch_optimizer": (
        ravine.optim.LAMB,
        _po("Lamb", weight_decouple=False, adam_debias=True),
        [
            ({"lr": 0.01, "bias_correction": False, "clamp_value": 10.0, "trust_eps": 1e-6}, {"lr": 0.01}),
            (
                {
                    "lr": 0.005,
                    "weight_decay": 0.01,
                    "eps": 1e-4,
                    "bias_correction": False,
                    "clamp_value": 10.0,
                    "trust_eps": 1e-4,
                },
                {"lr": 0.005, "weight_decay": 0.01, "eps": 1e-4},
            ),
        ],
    ),
    "LARS": (
        ravine.optim.LARS,
        _po("LARS"),
        [
            {"lr": 0.5, "trust_coefficient": 0.01},
            {"lr": 0.5, "weight_decay": 0.01, "momentum": 0.8, "dampening": 0.1, "trust_coefficient": 0.02},
            {"lr": 0.1, "nesterov": True, "trust_coefficient": 0.01},
        ],
    ),
    "Shampoo": (
        ravine.optim.Shampoo,
        _po("Shampoo"),
        [{"lr": 0.05}, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01, "preconditioning_compute_steps": 3}],
    ),
}

PARAMS = [
    pytest.param(name, opts, id=f"{name}-{i}")
    for name, (_, _, options) in CASES.items()
    for i, opts in enumerate(options)
]


@pytest.mark.slow
@DTYPES
@pytest.mark.parametrize(("name", "opts"), PARAMS)
def test_matches_reference(name: str, opts: Any, dtype: torch.dtype, steps: int) -> None:
    ours_cls, ref, _ = CASES[name]
    mine, theirs = opts if isinstance(opts, tuple) else (opts, opts)
    sign = -1.0 if mine.get("maximize") else 1.0
    ref_run, _ = run(lambda p: ref(p, **theirs), dtype, steps, sign=sign)
    ours, _ = run(lambda p: ours_cls(p, **mine), dtype, steps, sign=sign)
    assert rel_error(ours, ref_run) <= TOL[dtype]
    start, _ = run(lambda p: ref(p, **theirs), dtype, steps=0)
    assert rel_error(ref_run, start) > 1e-2  # the runs went somewhere


@DTYPES
def test_schedule_free_eval_point_matches_reference(dtype: torch.dtype) -> None:
    """eval() moves the parameters to the average x exactly as the reference does, and train() back to y."""
    kw = {"lr": 0.02, "warmup_steps": 5}
    for ours_cls, ref in (
        (ravine.optim.ScheduleFreeAdamW, _sf("schedulefree", "AdamWScheduleFree")),
        (ravine.optim.ScheduleFreeSGD, _sf("schedulefree", "SGDScheduleFree")),
    ):
        x_ref, _ = run(lambda p, ref=ref: ref(p, **kw), dtype, 120, after=lambda o: o.eval())
        x_ours, opt = run(lambda p, c=ours_cls: c(p, **kw), dtype, 120, after=lambda o: o.eval())
        assert rel_error(x_ours, x_ref) <= TOL[dtype]
        with pytest.raises(RuntimeError, match="train"):
            opt.step()
        y, _ = run(lambda p, c=ours_cls: c(p, **kw), dtype, 120)
        opt.train()
        back = [p.detach() for g in opt.param_groups for p in g["params"]]
        assert rel_error(back, y) <= (1e-14 if dtype == torch.float64 else 1e-6)  # two lerps' rounding
        assert rel_error(x_ours, y) > 1e-4  # x and y are different points


def _po_sam(params: list, norm_dtype: torch.dtype | None = None, **kw: Any) -> torch.optim.Optimizer:
    return need("pytorch_optimizer").SAM(params, torch.optim.SGD, **kw)


@pytest.mark.slow
@DTYPES
@pytest.mark.parametrize("adaptive", [False, True], ids=["SAM", "ASAM"])
def test_sam_matches_reference(adaptive: bool, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch, steps: int) -> None:
    """Two evaluations per step through the closure. pytorch_optimizer sums the squared norms in float32 even for
    float64 parameters; with that sum kept in the parameters' dtype (patched below) it agrees to 1e-12."""
    sam_mod = need("pytorch_optimizer.optimizer.sam")
    if dtype == torch.float64:

        def norm_sq(param_groups, device=None, *, weight_adaptive=False):
            gs = [
                p.grad * p.abs() if weight_adaptive and g.get("adaptive") else p.grad
                for g in param_groups
                for p in g["params"]
                if p.grad is not None
            ]
            return torch.stack(torch._foreach_norm(gs)).square_().sum().reshape(1)

        monkeypatch.setattr(sam_mod, "get_global_gradient_norm", norm_sq)
    kw = {"rho": 0.1, "adaptive": adaptive, "lr": 0.05, "momentum": 0.9}
    ref, _ = run(lambda p: sam_mod.SAM(p, torch.optim.SGD, **kw), dtype, steps, closure=True)
    ours, _ = run(lambda p: ravine.optim.SAM(p, torch.optim.SGD, **kw), dtype, steps, closure=True)
    assert rel_error(ours, ref) <= TOL[dtype]
    plain, _ = run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), dtype, steps)
    assert rel_error(ours, plain) > 1e-5  # the perturbation changed the run


@pytest.mark.slow
@DTYPES
@pytest.mark.parametrize(
    "inner",
    [
        pytest.param(lambda p: torch.optim.Adam(p, lr=0.05), id="torch.Adam"),
        pytest.param(lambda p: ravine.optim.SGD(p, lr=0.05, momentum=0.9), id="ravine.SGD"),
    ],
)
def test_lookahead_matches_reference(inner: Any, dtype: torch.dtype, steps: int) -> None:
    po = need("pytorch_optimizer")
    ref, _ = run(lambda p: po.Lookahead(inner(p), k=6, alpha=0.6), dtype, steps)
    ours, _ = run(lambda p: ravine.optim.Lookahead(inner(p), k=6, alpha=0.6), dtype, steps)
    assert rel_error(ours, ref) <= TOL[dtype]
    plain, _ = run(inner, dtype, steps)
    assert rel_error(ours, plain) > 1e-5


@DTYPES
@pytest.mark.parametrize("use_buffers", [False, True])
def test_ema_matches_averaged_model(use_buffers: bool, dtype: torch.dtype) -> None:
    """Against torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn, buffers included. torch's lerp is a
    fused multiply-add on CPU and ravine's kernel has none, so an update may differ by one rounding; the average
    contracts old errors by ``decay`` per update, so they never add up past a few roundings (bound below)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3)).to(dtype)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.95), use_buffers=use_buffers)
    ours = ravine.optim.EMA(model, decay=0.95, use_buffers=use_buffers, fused=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 6, dtype=dtype), torch.randn(64, 3, dtype=dtype)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        ref.update_parameters(model)
        ours.update_parameters(model)
    ulp = torch.finfo(dtype).eps
    for a, b in zip(ours.state_dict().values(), ref.state_dict().values(), strict=True):
        if a.is_floating_point():
            bound = 4 * ulp * (1 / (1 - 0.95)) * b.abs().max().clamp(min=1)  # sum of decay^k roundings
            assert (a - b).abs().max() <= bound
        else:
            assert torch.equal(a, b)
    if build.toolchain() is not None:
        assert ours._avg.execution["fused"] > 0
    assert not torch.equal(ours.module[0].weight, model[0].weight)


# -- the fused kernel computes the reference path's bits -----------------------------------------------------

FUSED = {
    "Lion": (ravine.optim.Lion, {"lr": 0.01, "weight_decay": 0.3, "betas": (0.9, 0.95)}),
    "ScheduleFreeAdamW": (ravine.optim.ScheduleFreeAdamW, {"lr": 0.02, "warmup_steps": 7, "weight_decay": 0.01}),
    "ScheduleFreeSGD": (ravine.optim.ScheduleFreeSGD, {"lr": 0.05, "r": 0.5, "weight_decay": 0.01}),
}


@pytest.mark.skipif(build.toolchain() is None, reason="no C compiler: only the reference path exists")
@DTYPES
@pytest.mark.parametrize("name", list(FUSED))
def test_fused_is_bitwise(name: str, dtype: torch.dtype) -> None:
    cls, kw = FUSED[name]
    ref, opt_ref = run(lambda p: cls(p, fused=False, **kw), dtype, 60)
    fused, opt = run(lambda p: cls(p, fused=True, **kw), dtype, 60)
    assert opt.execution["reference"] == 0 and opt.execution["fused"] == len(ref)
    for a, b in zip(ref, fused, strict=True):
        assert torch.equal(a, b)
    for sa, sb in zip(opt_ref.state.values(), opt.state.values(), strict=True):
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k


# -- resume: state_dict mid-run -> a new optimiser -> continue == uninterrupted, bit for bit -------------------

RESUME = {
    "Lion": lambda p: ravine.optim.Lion(p, lr=0.01, weight_decay=0.1),
    "ScheduleFreeAdamW": lambda p: ravine.optim.ScheduleFreeAdamW(p, lr=0.02, warmup_steps=10),
    "ScheduleFreeSGD": lambda p: ravine.optim.ScheduleFreeSGD(p, lr=0.05, warmup_steps=10),
    "LAMB": lambda p: ravine.optim.LAMB(p, lr=0.01, weight_decay=0.01),
    "LARS": lambda p: ravine.optim.LARS(p, lr=0.5, trust_coefficient=0.01),
    "Shampoo": lambda p: ravine.optim.Shampoo(p, lr=0.05, momentum=0.5, preconditioning_compute_steps=4),
    "Lookahead": lambda p: ravine.optim.Lookahead(ravine.optim.Adam(p, lr=0.05), k=7),
    "SAM": lambda p: ravine.optim.SAM(p, ravine.optim.SGD, lr=0.05, momentum=0.9),
}


@DTYPES
@pytest.mark.parametrize("name", list(RESUME))
def test_resume_is_exact(name: str, dtype: torch.dtype) -> None:
    make, closure = RESUME[name], name == "SAM"
    whole, _ = run(make, dtype, 40, closure=closure)
    _, opt = run(make, dtype, 23, closure=closure)  # 23: mid-way between two Lookahead syncs
    saved = copy.deepcopy(opt.state_dict())
    params = [p.detach().clone().requires_grad_() for g in opt.param_groups for p in g["params"]]
    fresh = make(params)
    fresh.load_state_dict(saved)
    rest, _ = run(lambda _: fresh, dtype, 17, closure=closure, start=params)
    for a, b in zip(whole, rest, strict=True):
        assert torch.equal(a, b)


# -- bad hyperparameters -------------------------------------------------------------------------------------

BAD = [
    (ravine.optim.Lion, {"betas": (1.5, 0.99)}, r"betas\[0\] must be in \[0, 1\]"),
    (ravine.optim.Lion, {"weight_decay": -1}, r"weight_decay must be in \[0, inf\)"),
    (ravine.optim.Lion, {"lr": -1e-3}, r"lr must be in \[0, inf\)"),
    (ravine.optim.ScheduleFreeAdamW, {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \(0, 1\)"),
    (ravine.optim.ScheduleFreeAdamW, {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\)"),
    (ravine.optim.ScheduleFreeSGD, {"momentum": 0.0}, r"momentum must be in \(0, 1\)"),
    (ravine.optim.ScheduleFreeSGD, {"warmup_steps": -3}, r"warmup_steps must be in \[0, inf\)"),
    (ravine.optim.LAMB, {"eps": -1.0}, r"eps must be in \[0, inf\)"),
    (ravine.optim.LAMB, {"clamp_value": 0.0}, r"clamp_value must be in \(0, inf\)"),
    (ravine.optim.LARS, {"trust_coefficient": 0.0}, r"trust_coefficient must be in \(0, inf\)"),
    (ravine.optim.LARS, {"dampening": 2.0}, r"dampening must be in \[0, 1\]"),
    (ravine.optim.Shampoo, {"preconditioning_compute_steps": 0}, r"preconditioning_compute_steps must be"),
    (ravine.optim.Shampoo, {"matrix_eps": 0.0}, r"matrix_eps must be in \(0, inf\)"),
    (ravine.optim.Shampoo, {"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
    (functools.partial(ravine.optim.SAM, base_optimizer=torch.optim.SGD, lr=0.1), {"rho": -0.1}, r"rho must be"),
]


@pytest.mark.parametrize(("cls", "kw", "match"), BAD, ids=[f"{i}" for i in range(len(BAD))])
def test_bad_hyperparameters_raise(cls: Any, kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls([torch.zeros(3, requires_grad=True)], **kw)


def test_wrapper_arguments_raise() -> None:
    p = [torch.zeros(3, requires_grad=True)]
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, inf\)"):
        ravine.optim.Lookahead(torch.optim.SGD(p, lr=0.1), k=0)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        ravine.optim.Lookahead(torch.optim.SGD(p, lr=0.1), alpha=1.5)
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\]"):
        ravine.optim.EMA(torch.nn.Linear(2, 2), decay=1.5)
    with pytest.raises(ValueError, match="needs a closure"):
        ravine.optim.SAM(p, torch.optim.SGD, lr=0.1).step()
