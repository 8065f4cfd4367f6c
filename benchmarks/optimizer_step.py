"""Optimiser step time: ravine against every torch.optim mode, and against the machine's memory-bandwidth roof.

    python benchmarks/optimizer_step.py                  # 1M, 10M, 50M parameters, all optimisers, with compile
    python benchmarks/optimizer_step.py --sizes 10M --no-compile --optimizers adam,rmsprop
    python benchmarks/optimizer_step.py --device cuda    # on a GPU: benchmarks/optimizer_step_gpu.py (its options)

An optimiser step is memory-bound: per parameter it must read p, g and its state and write p and its state once
(Adam: 28 bytes in float32). The script measures the roof (copy, triad and in-place add on 256 MiB arrays), then
for each optimiser and size times ravine's default mode and torch's for-loop, foreach, fused (where torch has it)
and ``torch.compile``d step, interleaved round by round so that drift hits all alike, and prints ms/step, GB/s
(bytes the algorithm must move / time), % of the in-place roof, and the ratio to torch's fastest mode (> 1: ravine
is faster). A mode's figure is the median step time of its best round of several interleaved rounds. It also
reports the peak extra memory of a step (resident-set growth, Linux only) and the first-step cost. Figures drift
by tens of percent between runs: only the ratios inside one run mean anything.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Inductor compiles in worker processes by default; they would compete with the timed steps for the two cores.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ravine
import ravine.fused.build
from _shapes import count, transformer_shapes

# name: (torch class, kwargs, bytes moved per parameter per step in float32, torch has a CPU fused kernel)
CASES: dict[str, tuple[str, dict, int, bool]] = {
    "sgd": ("SGD", {"lr": 1e-3}, 12, True),
    "momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}, 20, True),
    "nesterov": ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, 20, True),
    "adagrad": ("Adagrad", {"lr": 1e-3}, 20, True),
    "rmsprop": ("RMSprop", {"lr": 1e-4}, 20, False),
    "adadelta": ("Adadelta", {"lr": 1e-3}, 28, False),
    "adam": ("Adam", {"lr": 1e-4}, 28, True),
    "adamw": ("AdamW", {"lr": 1e-4}, 28, True),
    "nadam": ("NAdam", {"lr": 1e-4}, 28, False),
    "adamax": ("Adamax", {"lr": 1e-4}, 28, False),
    "radam": ("RAdam", {"lr": 1e-4}, 28, False),
    "asgd": ("ASGD", {"lr": 1e-4}, 20, False),  # p, g, ax in; p, ax out
    "rprop": ("Rprop", {"lr": 1e-4}, 28, False),  # p, g, prev, step_size in; p, prev, step_size out
}

# Beyond torch.optim: name -> (bytes per parameter, ravine's step, {mode: step of the nearest torch equivalent or the
# method's own reference package}). Lion keeps one buffer like SGD momentum (20 B); schedule-free AdamW keeps z and
# v like AdamW (28 B); an EMA update reads the model and reads/writes the average (12 B).
BEYOND = ("lion", "schedulefree_adamw", "ema")


def beyond_modes(name: str, params: list[torch.Tensor]) -> tuple[int, dict[str, object]]:
    if name == "lion":
        modes: dict[str, object] = {"ravine": ravine.optim.Lion(params, lr=1e-4, weight_decay=0.1, fused=True)}
        for label, kw in (("foreach", {"foreach": True}), ("fused", {"fused": True})):
            modes[f"torch SGD momentum {label}"] = torch.optim.SGD(params, lr=1e-4, momentum=0.9, **kw)
        with contextlib.suppress(ImportError):
            import lion_pytorch

            modes["lion-pytorch"] = lion_pytorch.Lion(params, lr=1e-4, weight_decay=0.1)
        return 20, modes
    if name == "schedulefree_adamw":
        modes = {"ravine": ravine.optim.ScheduleFreeAdamW(params, lr=1e-4, fused=True)}
        for label, kw in (("foreach", {"foreach": True}), ("fused", {"fused": True})):
            modes[f"torch AdamW {label}"] = torch.optim.AdamW(params, lr=1e-4, **kw)
        with contextlib.suppress(ImportError):
            import schedulefree

            sf = schedulefree.AdamWScheduleFree(params, lr=1e-4, foreach=True)
            sf.train()
            modes["schedulefree foreach"] = sf
        return 28, modes
    if name == "ema":
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        model = torch.nn.ParameterList([torch.nn.Parameter(p.detach().clone()) for p in params])
        ours = ravine.optim.EMA(model, decay=0.999, fused=True)
        ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
        ours.update_parameters(model), ref.update_parameters(model)  # the first update copies
        return 12, {
            "ravine": lambda: ours.update_parameters(model),
            "torch AveragedModel": lambda: ref.update_parameters(model),
        }
    raise ValueError(name)


def parse_size(s: str) -> int:
    s = s.strip().upper()
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}.get(s[-1], 1)
    return int(float(s[:-1] if s[-1] in "KMG" else s) * mult)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def roof(device: str, reps: int = 20) -> dict[str, float]:
    """Bandwidth of copy (8 B/elem), triad (12 B/elem) and in-place add (12 B/elem) on 256 MiB arrays, GB/s.

    The best of ``reps`` repetitions, as STREAM reports: the roof is what the machine can do, and this kind of
    virtual machine has passing memory stalls that a median would fold into it."""
    n = 64 * 2**20
    a, b, c = (torch.rand(n, device=device) for _ in range(3))
    kernels = {
        "copy": (lambda: a.copy_(b), 8),
        "triad": (lambda: torch.add(b, c, alpha=0.5, out=a), 12),
        "inplace_add": (lambda: a.add_(b), 12),
    }
    out = {}
    for name, (fn, nbytes) in kernels.items():
        out[name] = nbytes * n / min(timed(fn, reps, device)) / 1e9
    return out


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], reps: int, device: str, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    sync(device)
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t)
    return out


def peak_rss_growth(fn: Callable[[], object]) -> float | None:
    """Peak resident-set growth (bytes) while ``fn`` runs, via /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = _status("VmRSS")
        fn()
        return max(0.0, _status("VmHWM") - before)
    except OSError:
        return None


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return float(line.split()[1]) * 1024
    raise OSError(key)


def make_modes(name: str, params: list[torch.Tensor], device: str, compile_: bool) -> dict[str, object]:
    cls_name, kwargs, _, has_fused = CASES[name]
    torch_cls = getattr(torch.optim, cls_name)
    modes: dict[str, object] = {"ravine": getattr(ravine.optim, cls_name)(params, **kwargs)}
    modes["torch for-loop"] = torch_cls(params, foreach=False, **kwargs)
    modes["torch foreach"] = torch_cls(params, foreach=True, **kwargs)
    if has_fused or device == "cuda":
        with contextlib.suppress(RuntimeError, ValueError, TypeError):  # torch has no fused kernel for this device
            modes["torch fused"] = torch_cls(params, fused=True, **kwargs)
    if compile_:
        # A fresh dynamo cache per optimiser: compiled steps of earlier optimisers would otherwise count towards
        # dynamo's recompile limit (8), after which it silently runs the step eagerly.
        torch._dynamo.reset()
        opt = torch_cls(params, foreach=False, **kwargs)
        modes["torch compiled"] = (opt, torch.compile(opt.step))
    return modes


def step_fn(mode: object) -> Callable[[], object]:
    if callable(mode) and not hasattr(mode, "step"):
        return mode
    return mode[1] if isinstance(mode, tuple) else mode.step


def first_step_cost(name: str, params: list[torch.Tensor], compile_: bool) -> dict[str, float]:
    """Seconds to the first fused ravine step with a cold and a warm kernel cache, and torch.compile's cold start."""
    cls_name, kwargs, _, _ = CASES[name]
    out = {}
    old = os.environ.get("RAVINE_CACHE")
    with tempfile.TemporaryDirectory() as d:
        os.environ["RAVINE_CACHE"] = d
        ravine.fused.build._futures.clear()
        for label in ("ravine cold cache", "ravine warm cache"):
            ravine.fused.build._futures.clear()
            t = time.perf_counter()
            opt = getattr(ravine.optim, cls_name)(params, fused=True, **kwargs)
            opt.step()
            out[label] = time.perf_counter() - t
    if old is None:
        os.environ.pop("RAVINE_CACHE", None)
    else:
        os.environ["RAVINE_CACHE"] = old
    ravine.fused.build._futures.clear()
    if compile_:
        torch._dynamo.reset()
        opt = getattr(torch.optim, cls_name)(params, foreach=False, **kwargs)
        fn = torch.compile(opt.step)
        t = time.perf_counter()
        fn()
        out["torch.compile cold"] = time.perf_counter() - t
    return out


def bench_size(total: int, names: list[str], device: str, compile_: bool, rounds: int, per_round: int, rf: float):
    shapes = transformer_shapes(total)
    n = count(shapes)
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).to(device) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen).to(device) * 1e-2
    print(f"\n## {n / 1e6:.1f}M parameters in {len(shapes)} tensors (float32, {device})\n")
    print("| optimiser | mode | ms/step | GB/s | % of roof | torch best / this | peak extra MB |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for name in names:
        if name in BEYOND:
            per, modes = beyond_modes(name, params)
            nbytes = per * n
        else:
            nbytes = CASES[name][2] * n
            modes = make_modes(name, params, device, compile_)
        fns = {m: step_fn(o) for m, o in modes.items()}
        for fn in fns.values():  # warm up: state allocated, kernels built, graphs compiled
            for _ in range(3):
                fn()
        ravine_opt = modes["ravine"]
        for _ in range(200 if hasattr(ravine_opt, "execution") else 0):  # wait for the background kernel build
            if ravine_opt.execution["fused"] > 0 or device != "cpu":
                break
            time.sleep(0.05)
            ravine_opt.step()
        # Rounds interleave the modes; each mode's figure is its best round (the median within a round). On this
        # kind of virtual machine memory stalls of a second or more come and go; the best round is the figure least
        # touched by them, and the interleaving gives every mode the same chances.
        rounds_ms: dict[str, list[float]] = {m: [] for m in fns}
        for _ in range(rounds):
            for m, fn in fns.items():
                rounds_ms[m].append(median_ms(timed(fn, per_round, device, warmup=1)))
        ms = {m: min(v) for m, v in rounds_ms.items()}
        best_torch = min(v for m, v in ms.items() if m != "ravine")
        peaks = {m: (peak_rss_growth(fns[m]) if device == "cpu" else None) for m in fns}
        for m, v in ms.items():
            gbs = nbytes / (v * 1e-3) / 1e9
            peak = peaks[m]
            peak_s = f"{peak / 2**20:.0f}" if peak is not None else "n/a"
            mark = " **" if m == "ravine" else ""
            print(
                f"| {name} | {m}{mark} | {v:.2f} | {gbs:.0f} | {100 * gbs / rf:.0f} | {best_torch / v:.2f} | {peak_s} |"
            )
            rows.append((name, m, v, gbs, best_torch / v))
        del modes, fns
    return rows


def main() -> None:
    argv = sys.argv[1:]
    if "--device=cuda" in argv or any(a == "--device" and b == "cuda" for a, b in itertools.pairwise(argv)):
        import optimizer_step_gpu

        return optimizer_step_gpu.main(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,10M,50M")
    ap.add_argument("--optimizers", default=",".join((*CASES, *BEYOND)))
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (each costs 20-40 s to build)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=6)
    args = ap.parse_args()
    names = [s.strip() for s in args.optimizers.split(",") if s.strip()]
    unknown = [s for s in names if s not in CASES and s not in BEYOND]
    if unknown:
        sys.exit(f"unknown optimizer(s) {unknown}; known: {', '.join((*CASES, *BEYOND))}")
    compile_ = not args.no_compile
    print(f"# ravine {ravine.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    r = roof(args.device)
    print(
        f"\nRoof (256 MiB arrays): copy {r['copy']:.0f} GB/s, triad {r['triad']:.0f} GB/s, "
        f"in-place add {r['inplace_add']:.0f} GB/s (the reference for '% of roof')"
    )
    summary = []
    for size in args.sizes.split(","):
        rows = bench_size(parse_size(size), names, args.device, compile_, args.rounds, args.per_round, r["inplace_add"])
        summary += [(size, *row) for row in rows if row[1] == "ravine"]
    print("\n## Summary: ravine's default mode against torch's fastest mode (> 1: ravine faster)\n")
    for size, name, _, v, gbs, ratio in summary:
        print(
            f"- {size} {name}: {v:.2f} ms, {gbs:.0f} GB/s ({100 * gbs / r['inplace_add']:.0f} % of roof), x{ratio:.2f}"
        )
    if args.device == "cpu":
        print("\n## First step (seconds)\n")
        params = [torch.randn(s) for s in transformer_shapes(1_000_000)]
        for p in params:
            p.grad = torch.randn_like(p)
        for name in [n for n in names if n in CASES][: 3 if compile_ else None]:
            costs = first_step_cost(name, params, compile_)
            print(f"- {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in costs.items()))


if __name__ == "__main__":
    main()
