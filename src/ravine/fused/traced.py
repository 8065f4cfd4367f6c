"""One optimiser step traced into a backend-neutral graph: what every kernel generator starts from.

:func:`trace_step` runs :func:`ravine.rules.base.segment_math` -- the single definition of ravine's arithmetic --
on :class:`ravine.fused.trace.Sym` values. The result, a :class:`Traced`, says everything a backend needs and
nothing about how to emit it: the graph of operations with torch's type rules, the per-tensor slots (``p``, ``g``,
the elementwise state, then the 0-dim state with the step first), the hyperparameters read as kernel arguments
(*leaves*), the reduction results the step reads, and the new value of every slot the step writes.
:mod:`ravine.fused.codegen` emits C from it, :mod:`ravine.fused.triton.codegen` Triton.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ravine.fused.trace import Graph, Sym
from ravine.rules.base import ElementwiseRule, is_final, segment_math


class TraceHyper(Mapping):
    """The parameter group as the equations see it while tracing: numbers become kernel arguments.

    Booleans and strings stay concrete (they are structure); every number, including ``lr`` and the members of
    ``betas``, becomes a double read from the group's row of ``hyper`` -- so changing it never recompiles.
    """

    def __init__(self, graph: Graph, group: Mapping[str, Any]) -> None:
        self.graph, self.group = graph, group
        self.leaves: list[tuple[str, int | None]] = []
        self._syms: dict[tuple[str, int | None], Sym] = {}

    def _leaf(self, key: str, i: int | None) -> Sym:
        k = (key, i)
        if k not in self._syms:
            self.leaves.append(k)
            self._syms[k] = self.graph.input(f"h{len(self.leaves) - 1}", "scalar", "f64", weak=True)
        return self._syms[k]

    def __getitem__(self, key: str) -> Any:
        v = self.group[key]
        if isinstance(v, (bool, str)) or v is None:
            return v
        if isinstance(v, (tuple, list)):
            return tuple(x if isinstance(x, (bool, str)) else self._leaf(key, i) for i, x in enumerate(v))
        return self._leaf(key, None)

    def __iter__(self):
        return iter(self.group)

    def __len__(self) -> int:
        return len(self.group)


def leaf_values(group: Mapping[str, Any], leaves: Sequence[tuple[str, int | None]]) -> list[float]:
    """The numbers of ``group`` in the order the kernel reads them."""
    out = []
    for key, i in leaves:
        v = group[key] if i is None else group[key][i]
        out.append(float(v))
    return out


@dataclass(frozen=True)
class Traced:
    """A traced step; see the module docstring."""

    graph: Graph
    dtype: str  # the type of elementwise values ("f32" or "f64"): what the arithmetic is done in
    slots: tuple[str, ...]  # per-tensor order: "p", "g", elem state..., "step", scalar state...
    outputs: dict[str, Sym]  # slot -> its new value, for "p" and every state the step changes
    leaves: tuple[tuple[str, int | None], ...]
    reductions: tuple[tuple[int, str], ...]  # (rule index, key) in the order of the inputs r0, r1, ...

    @property
    def nodes(self) -> list[Sym]:
        """The nodes the outputs depend on, in a valid order of evaluation."""
        need = needed(self.outputs)
        return [s for s in self.graph.nodes if s.idx in need]


def trace_step(
    rules: Sequence[ElementwiseRule],
    group: Mapping[str, Any],
    dtype: str,
    state_dtypes: Mapping[str, str],
    reductions: Mapping[int, Mapping[str, Any]],
) -> Traced:
    """Trace one step of ``rules`` for a tensor whose arithmetic is done in ``dtype`` ("f32" or "f64").

    ``state_dtypes`` gives the dtype name of each 0-dim state (``step`` included) and ``reductions`` the keys each
    reducing rule returns (their values are ignored here).
    """
    graph = Graph()
    h = TraceHyper(graph, group)
    elem_keys = [k for r in rules for k in r.state_names if k in r.state_keys(group)]
    scalar_keys = ["step"] + [k for r in rules for k in r.scalar_state_names if k in r.state_keys(group)]
    st: dict[str, Any] = {k: graph.input(k, "elem", dtype) for k in elem_keys}
    for k in scalar_keys:
        st[k] = graph.input(k, "scalar", state_dtypes[k])
    red_order = [(i, k) for i in sorted(reductions) for k in sorted(reductions[i])]
    red = {i: {} for i in reductions}
    for j, (i, k) in enumerate(red_order):
        red[i][k] = graph.input(f"r{j}", "scalar", "f64")
    p = graph.input("p", "elem", dtype)
    g = graph.input("g", "elem", dtype)
    inputs = dict(st)
    result = segment_math(rules, g, p, st, group, h, red, first=True, last=True)
    # a final rule's result is the new parameter (ravine.rules.base.Rule.final), anything else the step to subtract
    outputs = {"p": result if is_final(rules) else p - result}
    outputs.update({k: v for k, v in st.items() if v is not inputs[k]})
    slots = ("p", "g", *elem_keys, *scalar_keys)
    return Traced(graph, dtype, slots, outputs, tuple(h.leaves), tuple(red_order))


def needed(outputs: Mapping[str, Sym]) -> set[int]:
    """Indices of the nodes that ``outputs`` depend on."""
    seen: set[int] = set()
    stack = list(outputs.values())
    while stack:
        s = stack.pop()
        if s.idx in seen:
            continue
        seen.add(s.idx)
        stack.extend(a for a in s.args if isinstance(a, Sym))
    return seen


def carried_scalars(nodes: Sequence[Sym]) -> list[int]:
    """The per-tensor scalars that the elementwise part reads (constants excepted), by node index."""
    return sorted({a.idx for s in nodes if s.kind == "elem" for a in s.args if a.kind == "scalar" and a.op != "const"})
