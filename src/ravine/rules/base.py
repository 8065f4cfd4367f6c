"""Update rules and their composition.

An *update rule* turns the updates of a set of parameters (at first their gradients) into new updates, the way an
optax ``GradientTransformation`` does, but in torch's terms: state lives in ``optimizer.state[p]`` under torch's
names, and hyperparameters live in the parameter groups, where schedulers and users may change them between steps.
An optimiser is a :func:`chain` of rules followed by ``p <- p - lr * u``; the optimiser owns the learning rate.

Most rules are *elementwise*: their equations are written once, in :meth:`ElementwiseRule.apply` (per element) and
:meth:`ElementwiseRule.scalars` (per step), and the same code runs as eager PyTorch (the reference path), under
``torch.compile``, and as the generated fused kernel (:mod:`ravine.fused`). A rule that needs the whole set of
updates first -- global-norm clipping -- adds :meth:`ElementwiseRule.reduce`.

A few methods do not step along ``lr * u``: Rprop moves by ``sign(g) * step_size`` with a per-coordinate step size
it keeps, ASGD by a decaying ``eta`` it keeps and then averages the new parameter, Adafactor and Muon by a
per-tensor step size computed from the parameter or its shape. Such a rule is *final* (:attr:`Rule.final`): it
takes the whole step itself and returns the parameter's new value, and the optimiser writes that value into the
parameter instead of subtracting ``lr * u``. A final rule is the last rule of its chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ravine.rules import ops

Hyper = Mapping[str, Any]


def scalar_dtype() -> torch.dtype:
    """The dtype torch.optim stores ``step`` and other 0-dim state in (float64 only under a float64 default)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class Rule:
    """Base class of all update rules.

    Attributes:
        hyperparams: name -> default of every hyperparameter the rule reads from the parameter group.
        state_names: per-parameter state tensors shaped like the parameter (torch's names where torch has them).
        scalar_state_names: per-parameter 0-dim state (stored in :func:`scalar_dtype`).
    """

    hyperparams: dict[str, Any]
    state_names: tuple[str, ...] = ()
    scalar_state_names: tuple[str, ...] = ()
    #: True for a rule that takes the whole step itself: its output is the parameter's *new value*, ``p_new``,
    #: not a direction. The optimiser then applies no learning rate (the rule reads ``lr`` from the group if it
    #: uses it) and sets ``p <- p_new``; state the rule derives from ``p_new`` (ASGD's average) therefore sees
    #: exactly the value the parameter gets. Only the last rule of a chain may be final.
    final: bool = False
    #: False for a rule whose equations do not split a complex number into two real coordinates (a matrix
    #: factorisation or orthogonalisation); the optimiser then refuses complex parameters, as torch does.
    supports_complex: bool = True

    def __init__(self, **hyperparams: Any) -> None:
        self.hyperparams = dict(hyperparams)

    # -- structure ---------------------------------------------------------------------------------------------
    def flags(self, h: Hyper) -> dict[str, Any]:
        """Discrete decisions the equations take for these hyperparameters, e.g. ``{"decay": wd != 0}``.

        They reach :meth:`ElementwiseRule.apply` inside ``c`` and are part of a fused kernel's identity, so a
        rule never branches on a numeric hyperparameter directly (it is a symbol when the kernel is traced).
        """
        return {}

    def options(self) -> dict[str, Any]:
        """Constructor choices that are not hyperparameters (e.g. ``eps_in_sqrt``); part of a kernel's identity."""
        return {}

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        """The state this rule needs under these hyperparameters (default: all it declares)."""
        return self.state_names + self.scalar_state_names

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        """Fresh per-parameter state: zeros like the parameter, and 0-dim zeros for scalar state."""
        keys = self.state_keys(h)
        out = {k: torch.zeros_like(param, memory_format=torch.preserve_format) for k in self.state_names if k in keys}
        for k in self.scalar_state_names:
            if k in keys:
                out[k] = torch.zeros((), dtype=scalar_dtype(), device=param.device)
        return out

    def validate(self, h: Hyper) -> None:
        """Raise ``ValueError`` naming the argument if a hyperparameter is out of range."""

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        """Turn a list of updates into new updates (multi-tensor); ``groups[i]`` holds tensor i's hyperparameters.

        ``states[i]`` is the optimiser's state of parameter i; its ``step`` has already been advanced.
        """
        raise NotImplementedError

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"{type(self).__name__}({args})"

    __repr__ = describe


class ElementwiseRule(Rule):
    """A rule whose update of each element depends only on that element (and per-step scalars).

    Subclasses write the equations once:

    * ``scalars(h, t, ss, r)`` -> dict of per-step scalars; ``t`` is the step (1 at the first update), ``ss`` the
      rule's 0-dim state (assign to update it), ``r`` what :meth:`reduce` returned;
    * ``apply(u, p, s, h, c)`` -> the new update; ``u`` the incoming update, ``p`` the parameter before this step,
      ``s`` the rule's state tensors (assign to update them), ``c`` the scalars and the rule's :meth:`flags`.

    Only ``+ - * /``, ``**`` on scalars, and :mod:`ravine.rules.ops` may be used, so that the fused kernel is
    generated from the same code.
    """

    def scalars(self, h: Hyper, t: Any, ss: dict, r: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    reduce = None  # a rule that needs the whole set of updates first defines reduce(updates, groups) -> dict

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        reductions = {0: self.reduce(updates, groups)} if self.reduce is not None else {}
        out = []
        for u, p, state, group in zip(updates, params, states, groups, strict=True):
            values = dict(state)
            out.append(segment_math((self,), u, p, values, group, group, reductions, first=False, last=False))
            write_back(state, values)
        return out


def segment_math(
    rules: Sequence[ElementwiseRule],
    u: Any,
    p: Any,
    st: dict,
    group: Hyper,
    h: Hyper,
    reductions: Mapping[int, Mapping[str, Any]],
    *,
    first: bool,
    last: bool,
) -> Any:
    """The equations of one parameter's step through ``rules``: the single definition of ravine's arithmetic.

    The eager reference path runs it on tensors; :mod:`ravine.fused.codegen` runs it on symbols to generate the
    fused kernel, so both compute the same operations in the same order. ``st`` maps state names to values and
    is updated functionally (new values are assigned, never written in place); ``group`` is the concrete
    parameter group, which takes the structural decisions; ``h`` is what the equations read hyperparameters
    from (the group itself, or symbols). With ``first`` the step counter advances; with ``last`` the result is
    ``lr * u``, the amount to subtract from ``p`` -- or, when the last rule is :attr:`~Rule.final`, its output
    unchanged: the parameter's new value (see :func:`is_final`).
    """
    if first:
        st["step"] = st["step"] + 1
    t = ops.value(st["step"])
    for i, rule in enumerate(rules):
        keys = rule.state_keys(group)
        ss = {k: st[k] for k in rule.scalar_state_names if k in keys}
        c = rule.flags(group)
        c.update(rule.scalars(h, t, ss, reductions.get(i, {})))
        st.update(ss)
        s = {k: st[k] for k in rule.state_names if k in keys}
        u = rule.apply(u, p, s, h, c)
        st.update(s)
    if not last or rules[-1].final:
        return u
    return u * h["lr"]


def is_final(rules: Sequence[Rule]) -> bool:
    """Whether the result of the last of ``rules`` is the parameter's new value rather than ``lr * u`` to subtract."""
    return bool(rules) and rules[-1].final


def write_back(state: dict, values: Mapping[str, Any]) -> None:
    """Copy the new values that :func:`segment_math` assigned into the optimiser's state tensors.

    A Python number (a 0-dim state a rule sets from per-step double arithmetic, like ASGD's ``eta``) is rounded
    to the state's dtype, as the kernel's store and torch's ``copy_`` of a float do.
    """
    for k, v in values.items():
        old = state[k]
        if v is old:
            continue
        if isinstance(v, Tensor):
            old.copy_(v)
        else:
            old.fill_(v)


class Chain(Rule):
    """Rules applied one after the other; see :func:`chain`."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        flat: list[Rule] = []
        for r in rules:
            if not isinstance(r, Rule):
                raise TypeError(f"chain() takes update rules, got {type(r).__name__}")
            flat.extend(r.rules if isinstance(r, Chain) else [r])
        self.rules = tuple(flat)
        merged: dict[str, Any] = {}
        owner: dict[str, Rule] = {}
        for r in flat:
            for k, v in r.hyperparams.items():
                if k in merged and merged[k] != v:
                    raise ValueError(
                        f"hyperparameter {k!r} is set to {merged[k]!r} by {owner[k].describe()} and to {v!r} by "
                        f"{r.describe()}; rules that share a name share one value in the parameter group"
                    )
                merged.setdefault(k, v)
                owner.setdefault(k, r)
        for r in flat[:-1]:
            if r.final:
                raise ValueError(
                    f"{r.describe()} takes the whole step (it is final), so it must be the last rule of the chain"
                )
        seen: dict[str, Rule] = {}
        for r in flat:
            for k in r.state_names + r.scalar_state_names:
                if k in seen or k == "step":
                    raise ValueError(
                        f"state {k!r} is kept by both {seen.get(k, 'the optimiser')} and {r.describe()}; "
                        f"give one of them another state name"
                    )
                seen[k] = r
        self.hyperparams = merged
        self.final = bool(flat) and flat[-1].final
        self.supports_complex = all(r.supports_complex for r in flat)
        self.state_names = tuple(k for r in flat for k in r.state_names)
        self.scalar_state_names = tuple(k for r in flat for k in r.scalar_state_names)

    def flags(self, h: Hyper) -> dict[str, Any]:
        return {f"{i}.{k}": v for i, r in enumerate(self.rules) for k, v in r.flags(h).items()}

    def options(self) -> dict[str, Any]:
        return {f"{i}.{type(r).__qualname__}.{k}": v for i, r in enumerate(self.rules) for k, v in r.options().items()}

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        return tuple(k for r in self.rules for k in r.state_keys(h))

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for r in self.rules:
            out.update(r.init(param, h))
        return out

    def validate(self, h: Hyper) -> None:
        for r in self.rules:
            r.validate(h)

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = list(updates)
        for r in self.rules:
            out = r.update(out, params, states, groups)
        return out

    def describe(self) -> str:
        return "chain(" + ", ".join(r.describe() for r in self.rules) + ")"

    __repr__ = describe


def chain(*rules: Rule) -> Chain:
    """Compose update rules: the output of each is the input of the next.

    Example:
        >>> import ravine
        >>> rule = ravine.chain(ravine.rules.clip_by_global_norm(1.0), ravine.rules.scale_by_adam())
        >>> [type(r).__name__ for r in rule.rules]
        ['clip_by_global_norm', 'scale_by_adam']
    """
    return Chain(rules)
