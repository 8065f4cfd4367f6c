"""Generate one fused C kernel from a chain of rules, by tracing :func:`ravine.rules.base.segment_math`.

The kernel does, for a batch of tensors of one dtype, exactly what the eager reference path does -- the same
operations in the same order, with torch's type rules -- but in one pass over memory: each element of ``p``,
``g`` and the state is read once and written once. Floating-point contraction is off (``-ffp-contract=off``), so
no FMA changes a rounding, and the square root is the IEEE one, as in :func:`ravine.rules.ops.sqrt`.

Kernel ABI::

    void rv_step(int64_t n, const int64_t* numel, void* const* ptrs, const int32_t* group_of,
                 const double* hyper, const double* red, double* scratch, int nthreads)

``ptrs`` holds, per tensor, the addresses of ``p, g``, the elementwise state and then the 0-dim state (the
step first), in :attr:`KernelSpec.slots` order; ``hyper`` one row of :attr:`KernelSpec.leaves` per parameter
group; ``red`` the reduction results; ``scratch`` ``n * len(spec.carried)`` doubles of workspace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ravine.fused.trace import Graph, Sym
from ravine.rules.base import ElementwiseRule, is_final, segment_math

CTYPE = {"f32": "float", "f64": "double", "bool": "int"}
DTYPE_NAME = {torch.float32: "f32", torch.float64: "f64"}
# Below this many elements in all, one thread does the step: starting a thread team costs microseconds on an idle
# machine and milliseconds on a busy one, more than the work (64K Adam elements take ~0.1 ms on one core).
PARALLEL_MIN = 1 << 16


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
class KernelSpec:
    """What the engine needs to call a generated kernel."""

    source: str
    slots: tuple[str, ...]  # per-tensor pointer order: "p", "g", elem state..., "step", scalar state...
    leaves: tuple[tuple[str, int | None], ...]
    reductions: tuple[tuple[int, str], ...]  # (rule index, key) in the order of ``red``
    carried: int  # per-tensor scalars handed from the serial prelude to the parallel loop

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:20]


def trace(
    rules: Sequence[ElementwiseRule],
    group: Mapping[str, Any],
    dtype: torch.dtype,
    state_dtypes: Mapping[str, torch.dtype],
    reductions: Mapping[int, Mapping[str, Any]],
) -> KernelSpec:
    """Trace one step of ``rules`` for a tensor of ``dtype`` and emit its kernel.

    ``state_dtypes`` gives the dtype of each 0-dim state (``step`` included) and ``reductions`` the keys each
    reducing rule returns (their values are ignored here).
    """
    T = DTYPE_NAME[dtype]
    graph = Graph()
    h = TraceHyper(graph, group)
    elem_keys = [k for r in rules for k in r.state_names if k in r.state_keys(group)]
    scalar_keys = ["step"] + [k for r in rules for k in r.scalar_state_names if k in r.state_keys(group)]
    st: dict[str, Any] = {k: graph.input(k, "elem", T) for k in elem_keys}
    for k in scalar_keys:
        st[k] = graph.input(k, "scalar", DTYPE_NAME[state_dtypes[k]])
    red_order = [(i, k) for i in sorted(reductions) for k in sorted(reductions[i])]
    red = {i: {} for i in reductions}
    for j, (i, k) in enumerate(red_order):
        red[i][k] = graph.input(f"r{j}", "scalar", "f64")
    p = graph.input("p", "elem", T)
    g = graph.input("g", "elem", T)
    inputs = dict(st)
    result = segment_math(rules, g, p, st, group, h, red, first=True, last=True)
    # a final rule's result is the new parameter (ravine.rules.base.Rule.final), anything else the step to subtract
    outputs = {"p": result if is_final(rules) else p - result}
    outputs.update({k: v for k, v in st.items() if v is not inputs[k]})
    slots = ("p", "g", *elem_keys, *scalar_keys)
    stored = {k: v.dtype for k, v in inputs.items()}
    source, carried = _emit(graph, slots, outputs, stored, T, len(h.leaves), len(red_order))
    return KernelSpec(source, slots, tuple(h.leaves), tuple(red_order), carried)


def _needed(outputs: Mapping[str, Sym]) -> set[int]:
    seen: set[int] = set()
    stack = list(outputs.values())
    while stack:
        s = stack.pop()
        if s.idx in seen:
            continue
        seen.add(s.idx)
        stack.extend(a for a in s.args if isinstance(a, Sym))
    return seen


def _literal(x: float) -> str:
    if x != x:
        return "NAN"
    if x in (float("inf"), float("-inf")):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    return x.hex()  # a C99 hex literal: exact


def _expr(s: Sym, name: Any, ctype_of: Any) -> str:
    """C for node ``s`` whose operands are named by ``name``; operands are converted to the result's type first,
    which is where torch rounds a double scalar to a float tensor's precision."""
    rt = ctype_of(s)
    a = [f"(({rt}){name(x)})" for x in s.args] if s.op not in ("select", "where", "eq", "lt", "value") else None
    op = s.op
    if op in ("add", "sub", "mul", "div"):
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
        return f"{a[0]} {sym} {a[1]}"
    if op == "neg":
        return f"-{a[0]}"
    if op == "abs":
        return f"{'fabsf' if rt == 'float' else 'fabs'}({a[0]})"
    if op == "sign":
        # torch.sign: 0 for NaN and for -0.0
        return f"({rt})(({a[0]} > 0) - ({a[0]} < 0))"
    if op == "sqrt":
        return f"{'sqrtf' if rt == 'float' else 'sqrt'}({a[0]})"
    if op == "pow":
        if rt != "double":
            raise TypeError("** is only traced on double-precision scalars (apply ops.value() first)")
        return f"pow({a[0]}, {a[1]})"
    if op == "maximum":
        return f"RV_MAX({a[0]}, {a[1]})"
    if op == "minimum":
        return f"RV_MIN({a[0]}, {a[1]})"
    if op == "value":
        return f"(double){name(s.args[0])}"
    if op in ("eq", "lt") and s.kind == "elem":
        # torch rounds a Python number to the tensor's dtype before comparing
        ct = ctype_of(next(x for x in s.args if x.kind == "elem"))
        sym = "==" if op == "eq" else "<"
        return f"(({ct}){name(s.args[0])} {sym} ({ct}){name(s.args[1])})"
    if op in ("eq", "lt"):
        ct = "double" if any(ctype_of(x) == "double" for x in s.args) else "float"
        sym = "==" if op == "eq" else "<"
        return f"(({ct}){name(s.args[0])} {sym} ({ct}){name(s.args[1])})"
    if op in ("select", "where"):
        c, x, y = s.args
        return f"({name(c)} ? ({rt}){name(x)} : ({rt}){name(y)})"
    raise TypeError(f"no C for op {op!r}")


def _emit(
    graph: Graph,
    slots: Sequence[str],
    outputs: Mapping[str, Sym],
    stored: Mapping[str, str],
    T: str,
    n_hyper: int,
    n_red: int,
):
    need = _needed(outputs)
    nodes = [s for s in graph.nodes if s.idx in need]
    TT = CTYPE[T]

    def ctype_of(s: Sym) -> str:
        if s.kind == "elem":
            return CTYPE["bool"] if s.dtype == "bool" else TT
        return CTYPE[s.dtype]

    slot = {k: i for i, k in enumerate(slots)}
    W = len(slots)
    # Scalars that the elementwise part reads are computed once per tensor in the serial prelude.
    carried = sorted(
        {a.idx for s in nodes if s.kind == "elem" for a in s.args if a.kind == "scalar" and a.op != "const"}
    )
    carry_pos = {idx: j for j, idx in enumerate(carried)}

    def sname(x: Sym) -> str:
        if x.op == "const":
            return _literal(x.attr)
        return f"s{x.idx}"

    pre: list[str] = []
    for s in nodes:
        if s.kind != "scalar" or s.op == "const":
            continue
        ct = CTYPE[s.dtype]
        if s.op == "input":
            name = s.attr
            if name.startswith("h"):
                pre.append(f"const double s{s.idx} = H[{int(name[1:])}];")
            elif name.startswith("r") and name[1:].isdigit():
                pre.append(f"const double s{s.idx} = red[{int(name[1:])}];")
            else:
                pre.append(f"const {ct} s{s.idx} = *({ct}*)ptrs[t * {W} + {slot[name]}];")
        else:
            pre.append(f"const {ct} s{s.idx} = {_expr(s, sname, ctype_of)};")
    for k, s in outputs.items():
        if s.kind == "scalar":
            # stored in the slot's own dtype: a rule may set a float32 state from double arithmetic (ASGD's eta)
            ct = CTYPE[stored[k]]
            pre.append(f"*({ct}*)ptrs[t * {W} + {slot[k]}] = ({ct}){sname(s)};")
    for idx, j in carry_pos.items():
        pre.append(f"scratch[t * {len(carried)} + {j}] = (double)s{idx};")

    loop_head: list[str] = []
    body: list[str] = []
    elem_inputs = {s.attr: s for s in nodes if s.kind == "elem" and s.op == "input"}
    elem_outputs = {k: s for k, s in outputs.items() if s.kind == "elem"}
    for k in slots:
        if k not in elem_inputs and k not in elem_outputs:
            continue
        qual = "" if k in elem_outputs else "const "
        loop_head.append(f"{qual}{TT}* restrict P_{k} = ({qual}{TT}*)ptrs[t * {W} + {slot[k]}];")
        if k in elem_inputs:
            body.append(f"const {TT} e{elem_inputs[k].idx} = P_{k}[i];")
    for idx, j in carry_pos.items():
        ct = CTYPE[graph.nodes[idx].dtype]
        loop_head.append(f"const {ct} s{idx} = ({ct})scratch[t * {len(carried)} + {j}];")

    def ename(x: Sym) -> str:
        if x.kind == "elem":
            return f"e{x.idx}"
        return sname(x)

    for s in nodes:
        if s.kind == "elem" and s.op != "input":
            body.append(f"const {ctype_of(s)} e{s.idx} = {_expr(s, ename, ctype_of)};")
    for k, s in elem_outputs.items():
        body.append(f"P_{k}[i] = {ename(s)};")

    ind = "\n        "
    source = f"""// generated by ravine.fused.codegen -- do not edit
#include <math.h>
#include <stdint.h>
#define RV_MAX(a, b) ((a) != (a) ? (a) : ((b) != (b) ? (b) : ((a) > (b) ? (a) : (b))))
#define RV_MIN(a, b) ((a) != (a) ? (a) : ((b) != (b) ? (b) : ((a) < (b) ? (a) : (b))))

int rv_step(int64_t n, const int64_t* numel, void* const* ptrs, const int32_t* group_of,
            const double* hyper, const double* red, double* scratch, int nthreads) {{
    (void)red;
    int64_t total = 0;
    for (int64_t t = 0; t < n; t++) {{
        const double* H = hyper + (int64_t)group_of[t] * {max(n_hyper, 1)};
        (void)H;
        {ind.join(pre)}
        total += numel[t];
    }}
{_loops(loop_head, body, ind)}    return 0;
}}
"""
    return source, len(carried)


def _loops(loop_head: list[str], body: list[str], ind: str) -> str:
    """One thread team for the whole step; each tensor is split evenly between the threads, without a barrier
    between tensors (``nowait``: elements are independent). Measured against handing out contiguous chunks of
    the concatenated tensors, this is 4-14 % faster at 10M-50M parameters on the 2-core build machine."""
    return f"""#pragma omp parallel num_threads(nthreads) if(total >= {PARALLEL_MIN})
    for (int64_t t = 0; t < n; t++) {{
        {ind.join(loop_head)}
        #pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < numel[t]; i++) {{
            {(ind + "    ").join(body)}
        }}
    }}
"""
