"""``ravine.optim.Optimizer``: a torch.optim optimiser made from an update rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from ravine.distributed import checkpoint
from ravine.fused import codegen
from ravine.optim import execute, precision, scheduled
from ravine.rules import _checks
from ravine.rules.base import Rule, chain, scalar_dtype

#: What torch's ``__setstate__`` assumes for a switch that a checkpoint of an older torch version lacks.
TORCH_FLAG_DEFAULTS: dict[str, Any] = {
    "foreach": None,
    "maximize": False,
    "capturable": False,
    "differentiable": False,
    "fused": None,
}


class Optimizer(torch.optim.Optimizer):
    """``p <- p - lr * rule(grad)`` as a drop-in ``torch.optim.Optimizer``.

    The rule (usually a :func:`ravine.chain`) turns gradients into an update direction; the optimiser owns the
    learning rate. Every hyperparameter the rule declares lives in the parameter groups and is read at each step,
    so ``group["lr"] = x``, per-group overrides and any ``torch.optim.lr_scheduler`` work as with torch.optim.

    Args:
        params: parameters or parameter groups, as for any torch optimiser.
        rule: an update rule or chain of rules; a list or tuple of rules is chained.
        lr: learning rate >= 0: a float, a 1-element tensor, or a schedule (a callable ``step -> lr`` such as
            ``ravine.schedules.cosine(1e-3, 10_000)``). Any other numeric hyperparameter, or a member of ``betas``,
            may be a schedule too (see :mod:`ravine.optim.scheduled`).
        fused: ``None`` (default) uses the fused kernel: on CPU the C kernel once it is built, building it in the
            background and taking the bit-identical reference path meanwhile; on CUDA the Triton kernel when
            Triton is installed (:mod:`ravine.fused.triton`). ``True`` builds it before the first step and
            requires it; ``False`` always takes the reference path.
        foreach: accepted as torch accepts it and kept in the groups; ravine has one implementation of each step,
            so it changes nothing (torch's per-tensor and multi-tensor loops compute the same step).
        differentiable: record the step with autograd, as torch's ``differentiable=True``: every parameter takes
            the reference path, out of the fused kernel, with gradients enabled, so the new parameters and state
            are functions of the old ones, of the gradients and of tensor hyperparameters
            (:mod:`ravine.optim.differentiable`). Read per group (``group["differentiable"]``), as torch does.
        group_flags: which of the four flags the groups record (torch's keys for a torch-named class, see
            :data:`ravine.optim._compat.GROUP_FLAGS`).
        capturable: keep the step counter on the parameters' device from the first step, as torch's
            ``capturable=True`` does, so that the step can be captured in a CUDA graph (the Triton kernel moves
            it there in any case; capturing needs the Triton kernel and one eager step first, see docs/gpu.md).
        state_dtype: ``None`` (torch's choice: the parameter's dtype) or ``torch.float32``: bfloat16/float16
            parameters then keep float32 state and are updated in float32, rounded once per step
            (:mod:`ravine.optim.precision`).
        **hyperparams: defaults for the rule's hyperparameters (``betas=(0.9, 0.95)``, ...).

    State: ``optimizer.state[p]`` holds ``step`` (a 0-dim float tensor, as in torch) and each rule's state under
    its torch name, so ``state_dict()`` has torch's layout (see README, "State dict"). ``optimizer.reports``
    holds what reducing rules measured in the last step (e.g. the pre-clip gradient norm).

    Example:
        >>> import torch, ravine
        >>> from ravine.rules import clip_by_global_norm, scale_by_adam, add_decayed_weights
        >>> model = torch.nn.Linear(3, 1)
        >>> opt = ravine.optim.Optimizer(model.parameters(), ravine.chain(
        ...     clip_by_global_norm(1.0), scale_by_adam(betas=(0.9, 0.95)), add_decayed_weights(0.1)), lr=1e-3)
        >>> model(torch.ones(2, 3)).sum().backward(); _ = opt.step()
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        rule: Rule | Iterable[Rule],
        lr: float | Tensor = 1e-3,
        *,
        fused: bool | None = None,
        capturable: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        group_flags: tuple[str, ...] = ("differentiable",),
        state_dtype: torch.dtype | None = None,
        **hyperparams: Any,
    ) -> None:
        if not isinstance(rule, Rule):
            rule = chain(*rule)
        if fused not in (None, True, False):
            raise ValueError(f"fused must be None, True or False, got {fused!r}")
        unknown = sorted(set(hyperparams) - set(rule.hyperparams))
        if unknown:
            raise TypeError(
                f"unknown hyperparameter(s) {', '.join(unknown)} for {rule.describe()}; "
                f"it takes lr, {', '.join(rule.hyperparams) or 'nothing else'}"
            )
        _checks.flag("capturable", capturable)
        _checks.flag("differentiable", differentiable)
        if foreach not in (None, True, False):
            raise ValueError(f"foreach must be None, True or False, got {foreach!r}")
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable` (use fused=None or False)")
        precision.check(state_dtype)
        self.rule = rule
        self.fused = fused
        self.capturable = capturable
        self.state_dtype = state_dtype
        self.reports: dict[str, dict[str, Any]] = {}
        self.execution: dict[str, int] = {"fused": 0, "reference": 0}
        self._segments = execute.segments(rule)
        self._specs: dict[tuple, codegen.KernelSpec] = {}
        self._plan = None  # ravine.fused.plan.Plan once the steady state is reached
        self._last_reductions: dict[int, dict] = {}
        self._unstepped: set[int] = set()  # ids of parameters whose state a checkpoint created (see .step)
        self._made_at_zero_lr: set[int] = set()  # the same, until their lr-dependent state is remade (see .step)
        self._differentiable = differentiable
        every = {"foreach": foreach, "capturable": capturable, "differentiable": differentiable, "fused": fused}
        # the flags torch's class keeps in its groups live there too (its state_dict layout); fused and capturable
        # are the optimiser's (self.fused, self.capturable), differentiable is read per group
        flags = {k: every[k] for k in group_flags}
        super().__init__(params, {"lr": lr, **rule.hyperparams, **hyperparams, **flags})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        scheduled.extract(group)
        lr = group["lr"]
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError(f"lr as a tensor must have 1 element, got shape {tuple(lr.shape)}")
        _checks.non_negative("lr", lr)
        self.rule.validate(group)

    def _sparse_mode(self, group: Mapping[str, Any]) -> str | None:
        """How this optimiser takes a sparse gradient in ``group``: ``"rows"``, ``"dense"`` or ``None`` (refused);
        see :mod:`ravine.optim.sparse`. torch's SGD, Adagrad and SparseAdam take them; the others refuse."""
        return None

    @property
    def differentiable(self) -> bool:
        """Whether a group asks for an autograd-visible step (``differentiable=True``)."""
        return any(g.get("differentiable", self._differentiable) for g in self.param_groups)

    def step(self, closure: Callable[[], float] | None = None) -> Any:  # type: ignore[override]
        """Update the parameters once; ``closure`` re-evaluates the loss, as in torch.optim."""
        with torch.set_grad_enabled(self.differentiable):
            return self._step(closure)

    def _step(self, closure: Callable[[], float] | None) -> Any:
        initialising = closure is None and not torch.compiler.is_compiling() and not self.differentiable
        if initialising and checkpoint.initialising_step(self):
            # torch.distributed.checkpoint creating the state: create it, count nothing (pytorch#164929)
            execute.gather(self)
            checkpoint.create_shaped_state(self, precision.state_like)
            checkpoint.match_torch_keys(self)
            self._made_at_zero_lr = {id(p) for g in self.param_groups for p in g["params"] if p in self.state}
            return None
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if scheduled.advance(group):
                self.rule.validate(group)
                _checks.non_negative("lr", group["lr"])
        checkpoint.refresh_lr_dependent_state(self, precision.state_like)
        self.execution = execute.run_step(self)
        if self._unstepped:
            self._unstepped.clear()
        for group in self.param_groups:
            scheduled.finish(group)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """torch's, after remaking state that a checkpoint's state-creating call made at lr 0 (see .step)."""
        checkpoint.refresh_lr_dependent_state(self, precision.state_like)
        return super().state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """torch's loader, except that 0-dim state keeps its saved dtype and value (torch casts it to the
        parameter's dtype), so that a resumed run continues bit for bit."""
        saved = {
            (pid, k): v
            for pid, st in state_dict["state"].items()
            for k, v in st.items()
            if isinstance(v, Tensor) and v.dim() == 0 and k in self.rule.scalar_state_names
        }
        live = scheduled.live(self.param_groups)
        self._unstepped.clear()  # the loaded state says whether its parameters have stepped
        self._made_at_zero_lr.clear()  # and holds its own values
        super().load_state_dict(state_dict)
        scheduled.keep_live(self.param_groups, live)
        for group in self.param_groups:
            # how this optimiser executes is its own choice, not the checkpoint's (README, "State dict")
            for k in ("fused", "capturable"):
                if k in group:
                    group[k] = getattr(self, k)
        ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        by_id = dict(zip(ids, params, strict=True))
        for (pid, k), v in saved.items():
            st = self.state[by_id[pid]]
            # the saved tensor itself: a float64 scalar (schedule-free's weight_sum) cast to a float32 parameter's
            # dtype and back would have lost its low bits
            st[k] = v.detach().to(st[k].device).clone()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """As torch's optimisers do for checkpoints of older torch versions (back to 1.12, and other libraries):
        a hyperparameter the saved group lacks gets its "off" value -- the rule's default, torch's for the
        global flags -- and a ``step`` (or other 0-dim state) saved as a Python number becomes a 0-dim tensor."""
        super().__setstate__(state)
        rule = self.__dict__.get("rule")
        if rule is None:  # unpickling: torch's __getstate__ keeps only defaults, state and param_groups
            return
        for group in self.param_groups:
            for k, v in {**TORCH_FLAG_DEFAULTS, **rule.hyperparams}.items():
                if k in self.defaults:
                    group.setdefault(k, v)
        for st in self.state.values():
            for k in ("step", *rule.scalar_state_names):
                if k in st and not isinstance(st[k], Tensor):
                    st[k] = torch.tensor(float(st[k]), dtype=scalar_dtype())

    # -- used by ravine.optim.execute ------------------------------------------------------------------------
    def _report(self, rule: Rule, values: Mapping[str, Any]) -> None:
        self.reports[type(rule).__name__] = dict(values)

    def _group_key(self, group: Mapping[str, Any]) -> tuple:
        """What decides the equations of a group: booleans, strings, the rules' flags, the state they keep."""
        fixed = tuple(sorted((k, v) for k, v in group.items() if isinstance(v, (bool, str)) or v is None))
        return (fixed, tuple(sorted(self.rule.flags(group).items())), self.rule.state_keys(group))

    def _structure_key(
        self, group: Mapping[str, Any], dtype: torch.dtype, state: Mapping[str, Tensor], group_key: tuple | None = None
    ) -> tuple:
        scalars = tuple(sorted((k, state[k].dtype) for k in self._scalar_keys() if k in state))
        return (group_key if group_key is not None else self._group_key(group), dtype, scalars)

    def _scalar_keys(self) -> tuple[str, ...]:
        return ("step", *self.rule.scalar_state_names)

    def _spec(
        self,
        key: tuple,
        seg: execute.Segment,
        group: Mapping[str, Any],
        dtype: torch.dtype,
        state: Mapping[str, Tensor],
        reductions: Mapping[int, Mapping[str, Any]],
    ) -> codegen.KernelSpec:
        full = (key, tuple((i, tuple(sorted(r))) for i, r in reductions.items()))
        spec = self._specs.get(full)
        if spec is None:
            dtypes = {k: state[k].dtype for k in self._scalar_keys() if k in state}
            spec = codegen.trace(seg.rules, group, dtype, dtypes, reductions)
            self._specs[full] = spec
        return spec

    def _label(self, dtype: torch.dtype) -> str:
        return f"{type(self).__name__} ({str(dtype).replace('torch.', '')})"
