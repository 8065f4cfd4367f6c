"""Symbols for tracing a chain of rules into one expression graph.

A rule's ``scalars`` and ``apply`` are ordinary Python over ``+ - * / **`` and :mod:`ravine.rules.ops`. Called with
:class:`Sym` values instead of tensors and floats, they record the graph that :mod:`ravine.fused.codegen` turns
into C. Each symbol carries the type rules torch applies to the same expression:

* ``elem`` values are tensors of the parameter's dtype; a scalar meeting one is rounded to that dtype.
* ``scalar`` values are per-step numbers. A *weak* scalar is a Python float (double precision); a *strong* one is a
  stored 0-dim tensor (the step, NAdam's ``mu_product``) and keeps its dtype when it meets a weak one.

Nodes are interned, so the same sub-expression written twice is computed once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Graph:
    """Nodes in creation order (a valid topological order) and the interning table."""

    nodes: list[Sym] = field(default_factory=list)
    table: dict[tuple, Sym] = field(default_factory=dict)

    def node(self, op: str, args: tuple, kind: str, dtype: str, weak: bool, attr: Any = None) -> Sym:
        key = (op, tuple(a.idx if isinstance(a, Sym) else ("c", a) for a in args), kind, dtype, weak, attr)
        found = self.table.get(key)
        if found is not None:
            return found
        s = Sym(self, op, args, kind, dtype, weak, attr, len(self.nodes))
        self.nodes.append(s)
        self.table[key] = s
        return s

    def const(self, x: float) -> Sym:
        return self.node("const", (), "scalar", "f64", True, float(x))

    def input(self, name: str, kind: str, dtype: str, weak: bool = False) -> Sym:
        return self.node("input", (), kind, dtype, weak, name)


class Sym:
    """A traced value. Arithmetic builds graph nodes; comparisons go through :mod:`ravine.rules.ops`."""

    __ravine_sym__ = True
    __slots__ = ("args", "attr", "dtype", "graph", "idx", "kind", "op", "weak")

    def __init__(self, graph: Graph, op: str, args: tuple, kind: str, dtype: str, weak: bool, attr: Any, idx: int):
        self.graph, self.op, self.args = graph, op, args
        self.kind, self.dtype, self.weak, self.attr, self.idx = kind, dtype, weak, attr, idx

    def __repr__(self) -> str:
        return f"Sym#{self.idx}({self.op}, {self.kind}, {self.dtype}{', weak' if self.weak else ''})"

    def __bool__(self) -> bool:
        raise TypeError(
            "a traced hyperparameter cannot decide Python control flow; declare the decision in the rule's "
            "`flags` so that it becomes part of the kernel's structure"
        )

    def _lift(self, x: Any) -> Sym:
        if isinstance(x, Sym):
            return x
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise TypeError(f"cannot combine a traced value with {type(x).__name__}")
        return self.graph.const(x)

    def apply(self, op: str, *xs: Any) -> Sym:
        args = tuple(self._lift(x) for x in xs)
        if op == "value":
            (a,) = args
            if a.kind != "scalar":
                raise TypeError("value() reads a stored scalar, not a tensor")
            return self.graph.node("value", args, "scalar", "f64", True)
        if op in ("eq", "lt"):
            kind, dtype, weak = _result_type(args)
            if kind == "elem":
                return self.graph.node(op, args, "elem", "bool", False)
            return self.graph.node(op, args, "scalar", "bool", True)
        if op == "select":
            cond, a, b = args
            if cond.kind != "scalar":
                raise TypeError("select() chooses between per-step scalars; use where() for tensors")
            kind, dtype, weak = _result_type((a, b))
            return self.graph.node(op, args, kind, dtype, weak)
        if op == "where":
            cond, a, b = args
            if cond.kind != "elem" or cond.dtype != "bool":
                raise TypeError("where() takes a comparison of tensors as its condition; use select() for scalars")
            kind, dtype, weak = _result_type((a, b))
            if kind != "elem":
                raise TypeError("where() needs a tensor on at least one side (it sets the dtype)")
            return self.graph.node(op, args, kind, dtype, weak)
        kind, dtype, weak = _result_type(args)
        if op == "pow" and kind != "scalar":
            raise TypeError("** is for per-step scalars only (it is not correctly rounded in every libm)")
        return self.graph.node(op, args, kind, dtype, weak)

    def __add__(self, o: Any) -> Sym:
        return self.apply("add", self, o)

    def __radd__(self, o: Any) -> Sym:
        return self.apply("add", o, self)

    def __sub__(self, o: Any) -> Sym:
        return self.apply("sub", self, o)

    def __rsub__(self, o: Any) -> Sym:
        return self.apply("sub", o, self)

    def __mul__(self, o: Any) -> Sym:
        return self.apply("mul", self, o)

    def __rmul__(self, o: Any) -> Sym:
        return self.apply("mul", o, self)

    def __truediv__(self, o: Any) -> Sym:
        return self.apply("div", self, o)

    def __rtruediv__(self, o: Any) -> Sym:
        return self.apply("div", o, self)

    def __pow__(self, o: Any) -> Sym:
        return self.apply("pow", self, o)

    def __rpow__(self, o: Any) -> Sym:
        return self.apply("pow", o, self)

    def __neg__(self) -> Sym:
        return self.apply("neg", self)


def _result_type(args: tuple[Sym, ...]) -> tuple[str, str, bool]:
    """torch's promotion for the cases rules meet: tensors win, strong scalars beat weak ones, f64 beats f32."""
    elems = [a for a in args if a.kind == "elem"]
    if any(a.dtype == "bool" for a in elems):
        raise TypeError("a comparison of tensors is a condition for where(), not a number")
    if elems:
        return "elem", elems[0].dtype, False
    strong = [a for a in args if not a.weak]
    if not strong:
        return "scalar", "f64", True
    dtype = "f64" if any(a.dtype == "f64" for a in strong) else "f32"
    return "scalar", dtype, False
