"""torch's own optimizer test matrix run against ravine's classes, torch's class beside each.

``torch.testing._internal.common_optimizers.optim_db`` lists, per torch.optim class, the constructor inputs its
tests run -- with every global flag it supports (``foreach``, ``fused``, ``differentiable``) added one at a time
(``_get_optim_inputs_including_global_cliquey_kwargs``) -- and the inputs that must fail. Here each input is run
on a small model by ravine's class of the same name and by torch's, and the trajectories are compared; state dicts
move from one to the other mid-run; complex parameters, hooks and named parameters behave as in torch.

Genuine exceptions, each with its reason (``EXCEPTIONS``):

* LBFGS with ``line_search_fn="strong_wolfe"``: ravine's line search is its own (Nocedal & Wright 3.5/3.6 with
  Fletcher's sectioning, tests/optim/test_lbfgs.py checks it against the Wolfe conditions and scipy); it takes
  other trial steps than torch's, so the run is compared by the loss it reaches, not by its iterates.
* Tensor hyperparameters: ravine's elementwise optimisers read a tensor ``lr``/``betas`` as its number, on the
  reference path as in the fused kernel (:mod:`ravine.optim.hyper`); torch does its per-step scalar arithmetic in
  the tensor's dtype (float32). Those runs agree with torch's to float32 rounding (``TENSOR_TOL``), and with
  torch's float runs to the usual tolerance (tests/optim/test_tensor_hyperparams.py).
* ``differentiable=True`` in Adam, AdamW and NAdam: torch then computes the bias corrections from its float32
  step tensor (``FLOAT32_STEP``); ravine's differentiable step is its ordinary step. Agreement to float32 rounding
  (tests/optim/test_differentiable.py compares the Jacobians under a float64 default dtype, where both agree).
* State dicts: a differentiable run's state holds non-leaf tensors, which torch cannot deep-copy (skipped); after
  a ravine NAdam checkpoint is loaded into torch, torch casts ``mu_product`` to the parameters' dtype (ravine keeps
  the saved float32), so that run continues to 1e-10 (``NADAM_CAST``). ravine's SGD keeps a ``step`` count that
  torch's does not (torch's loader ignores it), so ravine's state has entries where torch's has none.
* Error inputs where torch raises only because of a limit of its implementation, which ravine lifts
  (``LIFTED``): a tensor ``lr`` or ``betas`` with ``foreach=True``, betas of mixed types (a float and a tensor).
  ravine runs them (read as numbers, as any other value), and the run is checked against the float run.
"""

from __future__ import annotations

import copy
import re
import warnings

import pytest
import torch

import ravine

co = pytest.importorskip("torch.testing._internal.common_optimizers", reason="needs expecttest (the test extra)")

INFOS = {info.optim_cls.__name__: info for info in co.optim_db}
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
TENSOR_TOL = 1e-6
NADAM_CAST = 1e-10
STEPS = 5
LIFTED = ("as a Tensor is not supported for capturable=False and foreach=True", "betas must be either both floats")
# torch's differentiable Adam, AdamW and NAdam compute their bias corrections from the float32 step tensor
FLOAT32_STEP = ("Adam", "AdamW", "NAdam")
EXCEPTIONS = {("LBFGS", "strong_wolfe"): "ravine's own strong-Wolfe line search: compared by the loss reached"}


def _cases(dtype: torch.dtype) -> list:
    out = []
    for name, info in INFOS.items():
        for inp in co._get_optim_inputs_including_global_cliquey_kwargs("cpu", dtype, info):
            out.append(pytest.param(name, inp.kwargs, id=f"{name}-{inp.desc}"))
    return out


def _init(name: str, dtype: torch.dtype) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if name == "SparseAdam":
        return [torch.randn(10, 3, generator=g, dtype=dtype)]
    shapes = [(4, 3), (2, 4)] if name == "Muon" else [(4, 3), (4,), (2, 4)]  # Muon steps matrices only
    return [torch.randn(s, generator=g, dtype=dtype) for s in shapes]


def _loss(name: str, ps: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "SparseAdam":
        e = torch.nn.functional.embedding(torch.tensor([1, 2, 2, 5]), ps[0], sparse=True)
        return (e**2).sum() / 2 + e.sum()
    w1, b1, w2 = (ps[0], 0.0, ps[1]) if name == "Muon" else ps
    return ((torch.tanh(x @ w1.T + b1) @ w2.T - y) ** 2).mean()


def trajectory(lib, name: str, kwargs: dict, dtype: torch.dtype, steps: int = STEPS, swap_after: int | None = None):
    """The parameters after ``steps`` steps and the losses; with ``swap_after`` the run moves to the other
    library's class through ``state_dict`` after that many steps."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 3, generator=g, dtype=dtype), torch.randn(8, 2, generator=g, dtype=dtype)
    diff = kwargs.get("differentiable", False)
    leaves = [p.clone().requires_grad_() for p in _init(name, dtype)]
    ps = [p.clone() for p in leaves] if diff else leaves  # a differentiable step writes into non-leaves
    opt = getattr(lib, name)(ps, **copy.deepcopy(kwargs))
    losses = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _loss(name, ps, x, y)
        if diff:
            for p, gp in zip(ps, torch.autograd.grad(loss, ps), strict=True):
                p.grad = gp
        else:
            loss.backward()
        return loss

    for k in range(steps):
        if k == swap_after:
            other = torch.optim if lib is ravine.optim else ravine.optim
            new = getattr(other, name)(ps, **copy.deepcopy(kwargs))
            new.load_state_dict(copy.deepcopy(opt.state_dict()))
            opt = new
        if name == "LBFGS":
            losses.append(float(opt.step(closure)))
        else:
            losses.append(float(closure()))
            opt.step()
    return [p.detach().clone() for p in ps], losses


def _rel(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    num = sum(((x.double() - y.double()) ** 2).sum() for x, y in zip(a, b, strict=True))
    return float((num / sum((y.double() ** 2).sum() for y in b)).sqrt())


def _tensor_hyper(kwargs: dict) -> bool:
    vals = [kwargs.get("lr"), *kwargs.get("betas", ())]
    return any(isinstance(v, torch.Tensor) for v in vals)


def _tol(name: str, kwargs: dict, dtype: torch.dtype) -> float:
    if _tensor_hyper(kwargs) and name not in ("LBFGS", "Muon", "Adafactor"):
        return max(TOL[dtype], TENSOR_TOL)  # see the module docstring
    if kwargs.get("differentiable") and name in FLOAT32_STEP:
        return max(TOL[dtype], TENSOR_TOL)
    return TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "kwargs"), _cases(torch.float64))
def test_every_optim_db_input_follows_torchs_trajectory(name: str, kwargs: dict, dtype: torch.dtype) -> None:
    ours, our_losses = trajectory(ravine.optim, name, kwargs, dtype)
    ref, ref_losses = trajectory(torch.optim, name, kwargs, dtype)
    start = _init(name, dtype)
    assert _rel(ref, start) > 1e-4  # the run moved
    if (name, kwargs.get("line_search_fn")) in EXCEPTIONS:
        assert our_losses[-1] <= ref_losses[0] and abs(our_losses[-1] - ref_losses[-1]) <= 0.05 * ref_losses[0]
        return
    assert _rel(ours, ref) <= _tol(name, kwargs, dtype)


@pytest.mark.parametrize("swap", ["torch->ravine", "ravine->torch"])
@pytest.mark.parametrize(("name", "kwargs"), _cases(torch.float64))
def test_state_dict_moves_between_torch_and_ravine_mid_run(name: str, kwargs: dict, swap: str) -> None:
    if (name, kwargs.get("line_search_fn")) in EXCEPTIONS:
        pytest.skip(EXCEPTIONS[(name, "strong_wolfe")])
    if kwargs.get("differentiable"):
        pytest.skip("a differentiable run's state holds non-leaf tensors, which torch cannot deep-copy")
    first = torch.optim if swap == "torch->ravine" else ravine.optim
    moved, _ = trajectory(first, name, kwargs, torch.float64, swap_after=2)
    straight, _ = trajectory(first, name, kwargs, torch.float64)
    tol = NADAM_CAST if (name, swap) == ("NAdam", "ravine->torch") else _tol(name, kwargs, torch.float64)
    assert _rel(moved, straight) <= tol


def _error_cases() -> list:
    out = []
    for name, info in INFOS.items():
        if info.optim_error_inputs_func is None:
            continue
        for case in info.optim_error_inputs_func(device="cpu", dtype=torch.float32):
            out.append(pytest.param(name, case, id=f"{name}-{case.optimizer_error_input.desc}"))
    return out


def _raise(cls: type, case) -> None:
    inp = case.optimizer_error_input
    if case.error_on == co.OptimizerErrorEnum.CONSTRUCTION_ERROR:
        cls(inp.params, **inp.kwargs)
    else:
        cls(inp.params, **inp.kwargs).step()


@pytest.mark.parametrize(("name", "case"), _error_cases())
def test_error_inputs_fail_as_in_torch(name: str, case) -> None:
    """The exception type and torch's message (its regex); torch's class is run too, as the control."""
    for lib in (torch.optim, ravine.optim):
        cls = getattr(lib, name)
        if lib is ravine.optim and any(s in case.error_regex for s in LIFTED):
            # ravine lifts this limit of torch's implementation: the input runs, as its float values do
            kwargs = case.optimizer_error_input.kwargs
            floats = {k: (tuple(map(float, v)) if k == "betas" else float(v)) if k in ("lr", "betas") else v
                      for k, v in kwargs.items()}  # fmt: skip
            runs = [trajectory(lib, name, kw, torch.float64)[0] for kw in (kwargs, floats)]
            assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
            continue
        if issubclass(case.error_type, Warning):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                _raise(cls, case)
            assert any(issubclass(w.category, case.error_type) and re.search(case.error_regex, str(w.message))
                       for w in seen), (lib.__name__, case.optimizer_error_input.desc)  # fmt: skip
        else:
            with pytest.raises(case.error_type, match=case.error_regex):
                _raise(cls, case)


COMPLEX = [n for n, info in INFOS.items() if info.supports_complex and n not in ("LBFGS", "Muon")]


@pytest.mark.parametrize("name", COMPLEX)
def test_complex_parameters_as_torch(name: str) -> None:
    """A complex parameter is two real coordinates (view_as_real); the runs agree (torch's test_complex_2d)."""
    runs = []
    for lib in (ravine.optim, torch.optim):
        torch.manual_seed(0)
        z = torch.randn(5, 3, dtype=torch.complex128, requires_grad=True)
        opt = getattr(lib, name)([z])
        for _ in range(STEPS):
            opt.zero_grad()
            (z.abs() ** 2 + z.real * 0.5).sum().backward()
            opt.step()
        runs.append(z.detach())
    assert torch.allclose(runs[0], runs[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(INFOS))
def test_hooks_and_named_parameters_as_torch(name: str) -> None:
    """Step pre/post hooks, state-dict and load-state-dict hooks run as in torch; named parameters give the
    groups' ``param_names`` and the state dict torch writes."""
    records = []
    for lib in (torch.optim, ravine.optim):
        calls: list[str] = []
        ps = [torch.nn.Parameter(p) for p in _init(name, torch.float64)]
        opt = getattr(lib, name)([(f"p{i}", p) for i, p in enumerate(ps)])
        opt.register_step_pre_hook(lambda *a, calls=calls: calls.append("pre"))
        opt.register_step_post_hook(lambda *a, calls=calls: calls.append("post"))
        opt.register_state_dict_pre_hook(lambda *a, calls=calls: calls.append("sd_pre"))
        opt.register_state_dict_post_hook(lambda o, sd, calls=calls: calls.append("sd_post"))
        opt.register_load_state_dict_pre_hook(lambda *a, calls=calls: calls.append("load_pre"))
        opt.register_load_state_dict_post_hook(lambda *a, calls=calls: calls.append("load_post"))
        x, y = torch.ones(8, 3, dtype=torch.float64), torch.zeros(8, 2, dtype=torch.float64)

        def closure(opt=opt, ps=ps, x=x, y=y) -> torch.Tensor:
            opt.zero_grad()
            loss = _loss(name, ps, x, y)
            loss.backward()
            return loss

        opt.step(closure) if name == "LBFGS" else (closure(), opt.step())
        sd = opt.state_dict()
        opt.load_state_dict(sd)
        records.append((calls, [g["param_names"] for g in sd["param_groups"]], set(sd["state"])))
    assert records[0][:2] == records[1][:2]
    assert records[0][2] <= records[1][2]  # ravine's SGD also counts steps (see the module docstring)


@pytest.mark.parametrize("name", [n for n, info in INFOS.items() if "foreach" in info.supported_impls])
def test_foreach_changes_nothing(name: str) -> None:
    """ravine has one implementation per step: foreach=None, True and False give the same run, bit for bit."""
    runs = [trajectory(ravine.optim, name, {"foreach": f}, torch.float64)[0] for f in (None, True, False)]
    assert all(torch.equal(a, b) for run in runs[1:] for a, b in zip(runs[0], run, strict=True))
