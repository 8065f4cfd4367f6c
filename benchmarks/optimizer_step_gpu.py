"""Optimiser step time on a CUDA GPU: ravine's Triton kernel against every torch.optim mode and the HBM roof.

    python benchmarks/optimizer_step.py --device cuda          # calls this script's main()
    python benchmarks/optimizer_step_gpu.py --sizes 10M,100M,1B --optimizers adam,sgd --compile-budget 120

In one run: the HBM roof (copy and in-place add on 1 GiB float32 arrays, best of 20, CUDA events), then for each
size (10M, 100M, 1B parameters in ~195 GPT-like tensors, float32) and optimiser, side by side and interleaved
round by round:

* ``ravine table``: the default -- one launch over all tensors through the pointer table (``BLOCK`` elements per
  program; ``--blocks`` lists the values to try, 1024 is the library's default);
* ``ravine flat``: the same generated kernel over one flat buffer holding every parameter (the other design the
  issue asks about; here it needs no table and no per-tensor tails, but a real model would need its parameters
  copied into, or allocated as views of, one buffer);
* torch's for-loop (up to ``--loop-max`` parameters: it is launch-bound and slow), foreach, fused where torch has
  a CUDA kernel, and ``torch.compile``'d steps at ``--compile-sizes`` (100M) while ``--compile-budget`` seconds of
  compiling remain (a cold compile of one step took 26-84 s on an H100).

Each figure is the best round's mean step time (CUDA events over ``--per-round`` back-to-back steps); GB/s counts
the bytes an optimiser must move (Adam: 28 per parameter in float32); "% roof" is against the in-place add roof;
"x best torch" is torch's fastest mode divided by this one (> 1: faster). Ravine modes are checked to have taken
the Triton kernel (a silent fallback would be printed as such).

Budget (H100/H200, the defaults): about 30 s of Triton compiles, 3-4 min of timing, and ``--compile-budget`` (150 s)
of torch.compile: under 8 minutes. Memory: at 1B Adam about 70 GB (every mode keeps its own state); use
``--sizes 10M,100M`` on a smaller GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ravine
from _shapes import count, transformer_shapes
from optimizer_step import CASES, parse_size

DEV = "cuda"
DRY = False  # --dry-run: the same code on CPU tensors through Triton's interpreter, to check it before a GPU run


def sync() -> None:
    if not DRY:
        torch.cuda.synchronize()


def device_name() -> str:
    return "CPU, Triton interpreter (dry run: no figure means anything)" if DRY else torch.cuda.get_device_name()


def events_ms(fn: Callable[[], object], steps: int) -> float:
    """Mean ms per call of ``fn`` over ``steps`` back-to-back calls, by CUDA events."""
    if DRY:
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        return (time.perf_counter() - t) * 1e3 / steps
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / steps


def roof() -> dict[str, float]:
    n = 2**16 if DRY else 256 * 2**20  # 1 GiB of float32 per array
    a, b = torch.rand(n, device=DEV), torch.rand(n, device=DEV)
    out = {}
    for name, fn, nbytes in (("copy", lambda: a.copy_(b), 8), ("inplace_add", lambda: a.add_(b), 12)):
        fn()
        sync()
        out[name] = max(nbytes * n / (events_ms(fn, 1) * 1e-3) / 1e9 for _ in range(20))
    return out


def ravine_opt(name: str, params: list[torch.Tensor], block: int) -> torch.optim.Optimizer:
    """A ravine optimiser whose prepared batches use ``block`` elements per program."""
    from ravine.fused.triton import launch

    cls_name, kwargs, _, _ = CASES[name]
    opt = getattr(ravine.optim, cls_name)(params, **kwargs)
    old, launch.BLOCK = launch.BLOCK, block
    try:
        for _ in range(2):  # the general step, then the plan is built
            opt.step()
    finally:
        launch.BLOCK = old
    return opt


def make_modes(name: str, params, flat, blocks, compile_left: float, loop_ok: bool):
    """name -> step function; and the seconds spent compiling."""
    cls_name, kwargs, _, _ = CASES[name]
    torch_cls = getattr(torch.optim, cls_name)
    modes: dict[str, Callable[[], object]] = {}
    checks: dict[str, torch.optim.Optimizer] = {}
    for b in blocks:
        opt = ravine_opt(name, params, b)
        modes[f"ravine table B={b}"] = opt.step
        checks[f"ravine table B={b}"] = opt
    opt = ravine_opt(name, [flat], blocks[-1])
    modes[f"ravine flat B={blocks[-1]}"] = opt.step
    checks[f"ravine flat B={blocks[-1]}"] = opt
    if loop_ok:
        modes["torch for-loop"] = torch_cls(params, foreach=False, **kwargs).step
    modes["torch foreach"] = torch_cls(params, foreach=True, **kwargs).step
    with contextlib.suppress(RuntimeError, ValueError, TypeError):  # torch has no fused CUDA kernel for this one
        modes["torch fused"] = torch_cls(params, fused=True, **kwargs).step
    spent = 0.0
    if compile_left > 0:
        torch._dynamo.reset()
        opt = torch_cls(params, foreach=False, **kwargs)
        fn = torch.compile(opt.step)
        t = time.perf_counter()
        fn()
        sync()
        spent = time.perf_counter() - t
        modes["torch compiled"] = fn
    for label, o in checks.items():
        if o.execution["reference"] or type(o._plan).__name__ != "TritonPlan":
            print(f"  !! {label} did not take the prepared Triton step: {o.execution}, plan {type(o._plan).__name__}")
    return modes, spent


def bench_size(total: int, names, blocks, rounds, per_round, rf, compile_budget: list[float], loop_max: int):
    shapes = transformer_shapes(total)
    n = count(shapes)
    gen = torch.Generator(device=DEV).manual_seed(0)
    params = [torch.randn(s, generator=gen, device=DEV) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen, device=DEV) * 1e-2
    flat = torch.randn(n, generator=gen, device=DEV)
    flat.grad = torch.randn(n, generator=gen, device=DEV) * 1e-2
    print(f"\n## {n / 1e6:.1f}M parameters in {len(shapes)} tensors (float32, {device_name()})\n")
    print("| optimiser | mode | ms/step | GB/s | % roof | x best torch |")
    print("|---|---|---|---|---|---|")
    rows = []
    for name in names:
        try:
            t0 = time.perf_counter()
            modes, spent = make_modes(name, params, flat, blocks, compile_budget[0], n <= loop_max)
            compile_budget[0] -= spent
            for fn in modes.values():
                fn()
            sync()
            best: dict[str, list[float]] = {m: [] for m in modes}
            for _ in range(rounds):
                for m, fn in modes.items():
                    best[m].append(events_ms(fn, per_round))
            ms = {m: min(v) for m, v in best.items()}
            torch_best = min(v for m, v in ms.items() if m.startswith("torch"))
            nbytes = CASES[name][2] * n
            for m, v in ms.items():
                gbs = nbytes / (v * 1e-3) / 1e9
                print(f"| {name} | {m} | {v:.3f} | {gbs:.0f} | {100 * gbs / rf:.0f} | {torch_best / v:.2f} |")
                rows.append((n, name, m, v, gbs, torch_best / v))
            print(f"<!-- {name}: {time.perf_counter() - t0:.1f} s incl. {spent:.1f} s torch.compile -->")
            del modes
        except Exception:  # one optimiser failing must not cost the rest of a GPU session
            print(f"| {name} | FAILED | | | | |")
            traceback.print_exc()
        empty_cache()
    del params, flat
    empty_cache()
    return rows


def empty_cache() -> None:
    if not DRY:
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10M,100M,1B")
    ap.add_argument("--optimizers", default=",".join(CASES))
    ap.add_argument("--blocks", default="1024,4096", help="elements per program for the ravine modes")
    ap.add_argument("--compile-budget", type=float, default=150.0, help="seconds of torch.compile in all (0: none)")
    ap.add_argument("--compile-sizes", default="100M", help="sizes at which torch.compile'd steps are timed")
    ap.add_argument("--loop-max", default="200M", help="largest size at which torch's for-loop is timed")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    ap.add_argument("--no-compile", action="store_true", help="same as --compile-budget 0")
    ap.add_argument("--dry-run", action="store_true", help="run the code on CPU under Triton's interpreter")
    args = ap.parse_args(argv)
    if args.dry_run:
        global DEV, DRY
        DEV, DRY = "cpu", True
        from ravine.fused import triton as rt

        rt._interpret_cpu = True
    elif not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark needs a GPU (the CPU one is benchmarks/optimizer_step.py)")
    names = [s.strip() for s in args.optimizers.split(",") if s.strip()]
    blocks = [int(b) for b in args.blocks.split(",")]
    t_start = time.perf_counter()
    print(f"# ravine {ravine.__version__}, torch {torch.__version__}, {device_name()}")
    import triton

    print(f"# triton {triton.__version__}")
    r = roof()
    empty_cache()
    print(f"\nHBM roof (1 GiB arrays): copy {r['copy']:.0f} GB/s, in-place add {r['inplace_add']:.0f} GB/s")
    budget = [0.0 if args.no_compile else args.compile_budget]
    compile_at = {parse_size(s) for s in args.compile_sizes.split(",") if s.strip()}
    summary = []
    for size in args.sizes.split(","):
        total = parse_size(size)
        here = budget if total in compile_at else [0.0]
        rows = bench_size(total, names, blocks, args.rounds, args.per_round, r["inplace_add"], here,
                          parse_size(args.loop_max))  # fmt: skip
        summary += rows
    print("\n## Summary: ravine's default (table, first block) against torch's fastest mode (> 1: ravine faster)\n")
    default = f"ravine table B={blocks[0]}"
    for n, name, m, v, gbs, ratio in summary:
        if m == default:
            print(f"- {n / 1e6:g}M {name}: {v:.3f} ms, {100 * gbs / r['inplace_add']:.0f} % of roof, x{ratio:.2f}")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; torch.compile budget left {budget[0]:.0f} s")


if __name__ == "__main__":
    main()
