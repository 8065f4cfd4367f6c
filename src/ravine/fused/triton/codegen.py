"""Emit one Triton kernel from a traced step (:class:`ravine.fused.traced.Traced`): the GPU backend.

The graph is the one the C kernel is generated from; only the spelling differs. What keeps the bits equal to the
eager reference path (torch's own CUDA kernels, one correctly rounded operation at a time):

* every operand is converted to the result's type first, as in C (where torch rounds a double to a float tensor);
* constants are typed (``tl.full([], c, dtype)``): a bare float literal would be float32 in Triton even where the
  graph says double;
* float32 division is ``tl.math.div_rn`` and float32 square root ``tl.sqrt_rn`` (Triton's ``/`` and ``tl.sqrt`` may
  be approximate); float64 ``/`` and ``tl.sqrt`` are IEEE already;
* the kernel is launched with ``enable_fp_fusion=False``, so neither LLVM nor ptxas merges a multiply and an add
  into an FMA (Triton 3.9 fuses by default);
* ``max``/``min`` propagate NaN and resolve signed zeros exactly as the C macros do.

One exception is out of a kernel's hands: ``**`` on per-step doubles (Adam's ``beta ** t``) is ``rv_pow``, bound to
CUDA's libdevice ``pow`` on a GPU (within 2 ulp of double, where glibc's is within 1) and to numpy's, i.e. the C
library's, under the interpreter -- so a GPU step can differ from the reference in a float32 last bit in the rare
case where that double's error crosses a float32 rounding boundary. See docs/gpu.md.

Kernel ABI (one launch per batch, a batch being the tensors of one dtype and group structure)::

    rv_step(table, info, tiles, hyper, cnt, red0, ..., BLOCK: constexpr, ALIGNED: constexpr)

``table[t, j]`` is the address of slot j (:attr:`TritonSpec.slots`) of tensor t; ``info[t] = (numel, tiles,
group row, 0)``; ``tiles[i] = (t, k)``: program i updates elements ``[k * BLOCK, (k + 1) * BLOCK)`` of tensor t;
``hyper`` one row of float64 leaves per group; ``cnt`` one int32 counter per tensor, zero between launches: the
last program of a tensor to arrive writes its 0-dim state (the step), after every program of that tensor has read
the old value.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ravine.fused.trace import Sym
from ravine.fused.traced import Traced

TL = {"f32": "tl.float32", "f64": "tl.float64", "bf16": "tl.bfloat16", "f16": "tl.float16", "bool": "tl.int1"}


@dataclass(frozen=True)
class TritonSpec:
    """What the launcher needs: the source and the order of everything it fills in."""

    source: str
    slots: tuple[str, ...]
    storage: tuple[str, ...]  # the dtype name each slot is stored in (per element, or the 0-dim state's)
    leaves: tuple[tuple[str, int | None], ...]
    reductions: tuple[tuple[int, str], ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:20]


def emit(tr: Traced, storage: Mapping[str, str]) -> TritonSpec:
    """Triton source for ``tr``; ``storage`` gives the dtype name of every elementwise slot in memory (``p`` and
    ``g`` may be bfloat16 or float16 while the arithmetic, ``tr.dtype``, is float32)."""
    T = tr.dtype
    nodes = tr.nodes
    slot = {k: i for i, k in enumerate(tr.slots)}
    W = len(tr.slots)
    NH = max(len(tr.leaves), 1)
    scalar_slots = [s.attr for s in tr.graph.nodes if s.op == "input" and s.kind == "scalar" and s.attr in slot]
    stored = {k: storage[k] if k in storage else _input_dtype(tr, k) for k in tr.slots}

    def ty(x: Sym) -> str:
        if x.kind == "elem":
            return "bool" if x.dtype == "bool" else T
        return x.dtype

    def sname(x: Sym) -> str:
        return f"s{x.idx}"

    def ename(x: Sym) -> str:
        return f"e{x.idx}" if x.kind == "elem" else sname(x)

    ind = "\n    "
    pre: list[str] = [
        "pid = tl.program_id(0)",
        "t = tl.load(tiles + 2 * pid)",
        "k = tl.load(tiles + 2 * pid + 1)",
        "n = tl.load(info + 4 * t)",
        "H = hyper + tl.load(info + 4 * t + 2) * " + str(NH),
        f"row = table + t * {W}",
    ]
    for k in scalar_slots:
        pre.append(f"Q_{k} = tl.load(row + {slot[k]}).to(tl.pointer_type({TL[stored[k]]}))")
    for s in nodes:
        if s.kind != "scalar" or s.op == "const":
            continue
        if s.op == "input":
            name = s.attr
            if name.startswith("h") and name[1:].isdigit():
                pre.append(f"s{s.idx} = tl.load(H + {int(name[1:])})")
            elif name.startswith("r") and name[1:].isdigit():
                pre.append(f"s{s.idx} = tl.load(red{int(name[1:])}).to(tl.float64)")
            else:
                pre.append(f"s{s.idx} = tl.load(Q_{name})")
        else:
            pre.append(f"s{s.idx} = {_expr(s, sname, ty)}")
    scalar_out = {k: s for k, s in tr.outputs.items() if s.kind == "scalar"}
    if scalar_out:
        pre.append("arrived = tl.atomic_add(cnt + t, 1)")
        pre.append("if arrived == tl.load(info + 4 * t + 1) - 1:")
        for k, s in scalar_out.items():
            pre.append(f"    tl.store(Q_{k}, {_cast(s, stored[k], sname, ty)})")
        pre.append("    tl.store(cnt + t, 0)")

    elem_in = {s.attr: s for s in nodes if s.kind == "elem" and s.op == "input"}
    elem_out = {k: s for k, s in tr.outputs.items() if s.kind == "elem"}
    pre += ["start = k.to(tl.int64) * BLOCK", "offs = start + tl.arange(0, BLOCK)"]
    for k in tr.slots:
        if k in elem_in or k in elem_out:
            pre.append(f"P_{k} = tl.load(row + {slot[k]}).to(tl.pointer_type({TL[stored[k]]}))")
    aligned = [f"    P_{k} = tl.multiple_of(P_{k}, 16)" for k in tr.slots if k in elem_in or k in elem_out]

    def body(masked: bool) -> list[str]:
        m = ", mask=mask" if masked else ""
        out = []
        for k in tr.slots:
            if k in elem_in:
                load = f"tl.load(P_{k} + offs{m})"
                if stored[k] != T:
                    load += f".to({TL[T]})"
                out.append(f"e{elem_in[k].idx} = {load}")
        for s in nodes:
            if s.kind == "elem" and s.op != "input":
                out.append(f"e{s.idx} = {_expr(s, ename, ty)}")
        for k, s in elem_out.items():
            if stored[k] == "bf16":
                out += _round_bf16(ename(s), f"b{s.idx}")
                out.append(f"tl.store(P_{k} + offs, b{s.idx}.to(tl.float32, bitcast=True).to(tl.bfloat16){m})")
            else:
                out.append(f"tl.store(P_{k} + offs, {_cast(s, stored[k], ename, ty)}{m})")
        return out

    reds = "".join(f"red{j}, " for j in range(len(tr.reductions)))
    i2 = ind + "    "
    source = f"""# generated by ravine.fused.triton.codegen -- do not edit
import triton.language as tl

RV_INF = tl.constexpr(float("inf"))
RV_NAN = tl.constexpr(float("nan"))


def rv_step(table, info, tiles, hyper, cnt, {reds}BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    {ind.join(pre)}
    if ALIGNED:
    {ind.join(aligned) if aligned else "    pass"}
    if start + BLOCK <= n:
        {i2.join(body(False))}
    else:
        mask = offs < n
        {i2.join(body(True))}
"""
    storage_names = tuple(stored[k] for k in tr.slots)
    return TritonSpec(source, tr.slots, storage_names, tr.leaves, tr.reductions)


def _round_bf16(x: str, b: str) -> list[str]:
    """float32 ``x`` rounded to bfloat16 (to nearest, ties to even; NaN stays a quiet NaN), as bits of a float32
    whose low half is zero: torch's own rounding, spelled out because Triton's interpreter truncates instead. The
    conversion to bfloat16 that follows is then exact everywhere."""
    return [
        f"{b} = {x}.to(tl.uint32, bitcast=True)",
        f"{b} = tl.where({x} != {x}, 0x7FC00000, {b} + 0x7FFF + (({b} >> 16) & 1)) & 0xFFFF0000",
    ]


def _input_dtype(tr: Traced, name: str) -> str:
    for s in tr.graph.nodes:
        if s.op == "input" and s.attr == name:
            return s.dtype if s.kind == "scalar" else tr.dtype
    raise KeyError(name)


def _literal(x: float, tlt: str) -> str:
    if math.isnan(x):
        v = "RV_NAN"
    elif math.isinf(x):
        v = "RV_INF" if x > 0 else "-RV_INF"
    else:
        v = repr(float(x))  # the shortest repr reads back as the same double
    return f"tl.full([], {v}, {tlt})"


def _cast(x: Sym, rt: str, name: Callable[[Sym], str], ty: Callable[[Sym], str]) -> str:
    """``x`` as type ``rt``: typed constants, and a conversion only where the type changes."""
    if x.op == "const":
        return _literal(x.attr, TL[rt])
    if ty(x) == rt:
        return name(x)
    return f"{name(x)}.to({TL[rt]})"


def _expr(s: Sym, name: Callable[[Sym], str], ty: Callable[[Sym], str]) -> str:
    """Triton for node ``s``; the same conversions, in the same places, as :func:`ravine.fused.codegen._expr`."""
    rt = ty(s)
    op = s.op
    a = [_cast(x, rt, name, ty) for x in s.args] if op not in ("select", "where", "eq", "lt", "value") else None
    if op in ("add", "sub", "mul"):
        return f"({a[0]} {dict(add='+', sub='-', mul='*')[op]} {a[1]})"
    if op == "div":
        return f"tl.math.div_rn({a[0]}, {a[1]})" if rt == "f32" else f"({a[0]} / {a[1]})"
    if op == "neg":
        return f"(-{a[0]})"
    if op == "abs":
        return f"tl.abs({a[0]})"
    if op == "sign":
        zero = _literal(0.0, TL[rt])
        return f"(({a[0]} > {zero}).to({TL[rt]}) - ({a[0]} < {zero}).to({TL[rt]}))"
    if op == "sqrt":
        return f"tl.sqrt_rn({a[0]})" if rt == "f32" else f"tl.sqrt({a[0]})"
    if op == "pow":
        if rt != "f64":
            raise TypeError("** is only traced on double-precision scalars (apply ops.value() first)")
        return f"rv_pow({a[0]}, {a[1]})"
    if op in ("maximum", "minimum"):
        x, y = a
        cmp = ">" if op == "maximum" else "<"
        return f"tl.where({x} != {x}, {x}, tl.where({y} != {y}, {y}, tl.where({x} {cmp} {y}, {x}, {y})))"
    if op == "value":
        return _cast(s.args[0], "f64", name, ty)
    if op in ("eq", "lt"):
        if s.kind == "elem":
            # torch rounds a Python number to the tensor's dtype before comparing
            ct = ty(next(x for x in s.args if x.kind == "elem"))
        else:
            ct = "f64" if any(x.op == "const" or ty(x) == "f64" for x in s.args) else "f32"
        sym = "==" if op == "eq" else "<"
        return f"({_cast(s.args[0], ct, name, ty)} {sym} {_cast(s.args[1], ct, name, ty)})"
    if op in ("select", "where"):
        c, x, y = s.args
        return f"tl.where({name(c)}, {_cast(x, rt, name, ty)}, {_cast(y, rt, name, ty)})"
    raise TypeError(f"no Triton for op {op!r}")
