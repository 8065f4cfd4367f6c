"""What schedules, ScheduleLR and GradientAccumulation cost, against their torch counterparts, side by side.

Run: ``PYTHONPATH=src python benchmarks/bench_schedules.py [--repeat 7]``. Prints the median time per call of
each item and its ratio to the reference measured in the same run (ratio > 1: ravine is slower).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch.optim import lr_scheduler as L

import ravine
from ravine.optim import GradientAccumulation
from ravine.schedules import ScheduleLR, cosine, join, linear, one_cycle, warmup


def paired(ours: Callable[[], object], ref: Callable[[], object], calls: int, repeat: int) -> tuple[float, float]:
    """Median seconds per call of each, timed in alternating blocks of ``calls`` calls so that a busy machine
    slows both alike."""
    ours(), ref()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((ours, times[0]), (ref, times[1])):
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            out.append((time.perf_counter() - t) / calls)
    return statistics.median(times[0]), statistics.median(times[1])


def _sgd(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def bench_evaluation(repeat: int) -> list[tuple[str, float, float]]:
    """Evaluating a schedule at a step vs torch's scheduler computing its next value (get_lr within step)."""
    rows = []
    pairs = [
        ("cosine(k)", cosine(0.1, 10**9), lambda: L.CosineAnnealingLR(_sgd(), 10**9)),
        ("one_cycle(k)", one_cycle(0.1, 10**9), lambda: L.OneCycleLR(_sgd(), 0.1, total_steps=10**9)),
        (
            "warmup(cosine)(k)",
            warmup(cosine(0.1, 10**9), 100),
            lambda: L.SequentialLR(
                o := _sgd(), [L.LinearLR(o, 0.1, 1.0, 100), L.CosineAnnealingLR(o, 10**9)], milestones=[100]
            ),
        ),
        ("join(3 parts)(k)", join([linear(0, 0.1, 10), cosine(0.1, 100), cosine(0.01, 10**9)], [10, 110]), None),
    ]
    for name, sched, make_torch in pairs:
        k = iter(range(10**9))
        ts = make_torch() if make_torch else None
        ours, ref = paired(lambda s=sched, k=k: s(next(k)), ts.step if ts else float, 20_000, repeat)
        rows.append((name + (" vs torch scheduler.step()" if ts else ""), ours, ref if ts else float("nan")))
    return rows


def bench_schedule_lr(repeat: int) -> list[tuple[str, float, float]]:
    o1, o2 = _sgd(), _sgd()
    ours = ScheduleLR(o1, cosine(0.1, 10**9))
    ref = L.CosineAnnealingLR(o2, 10**9)
    return [("ScheduleLR.step() vs CosineAnnealingLR.step()", *paired(ours.step, ref.step, 20_000, repeat))]


def _train_step(opt, net, x):
    opt.zero_grad()
    net(x).square().mean().backward()
    opt.step()


def bench_optimiser(repeat: int) -> list[tuple[str, float, float]]:
    """A whole training step of a small MLP, where per-step overhead is most visible."""
    rows = []
    x = torch.randn(32, 64)
    for size in (64, 1024):
        torch.manual_seed(0)
        net_a = torch.nn.Sequential(torch.nn.Linear(64, size), torch.nn.Tanh(), torch.nn.Linear(size, 1))
        net_b = torch.nn.Sequential(torch.nn.Linear(64, size), torch.nn.Tanh(), torch.nn.Linear(size, 1))
        sched = warmup(cosine(1e-3, 10**9), 100)
        a = ravine.optim.AdamW(net_a.parameters(), lr=sched, fused=False)
        b = ravine.optim.AdamW(net_b.parameters(), lr=1e-3, fused=False)
        times = paired(
            lambda a=a, n=net_a: _train_step(a, n, x), lambda b=b, n=net_b: _train_step(b, n, x), 200, repeat
        )
        rows.append((f"AdamW step, lr=warmup(cosine) vs lr=float (hidden {size})", *times))
    return rows


def bench_accumulation(repeat: int) -> list[tuple[str, float, float]]:
    """k = 4 micro-batches per step: the wrapper vs a hand-written loop that steps every 4th backward."""
    x = torch.randn(8, 64)
    torch.manual_seed(0)
    net_a = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Tanh(), torch.nn.Linear(256, 1))
    net_b = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Tanh(), torch.nn.Linear(256, 1))
    acc = GradientAccumulation(torch.optim.AdamW(net_a.parameters(), lr=1e-4), 4)
    plain = torch.optim.AdamW(net_b.parameters(), lr=1e-4)
    count = [0]

    def wrapped():
        net_a(x).square().mean().backward()
        acc.step()
        acc.zero_grad()

    def by_hand():
        net_b(x).square().mean().backward()
        count[0] += 1
        if count[0] % 4 == 0:
            for p in net_b.parameters():
                p.grad.div_(4)
            plain.step()
            plain.zero_grad()

    return [("GradientAccumulation micro-step vs hand-written loop", *paired(wrapped, by_hand, 400, repeat))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # torch's "scheduler.step() before optimizer.step()" would be timed too
    print(f"torch {torch.__version__}, 1 thread; median of {args.repeat} timings")
    print(f"{'item':66s} {'ravine':>10s} {'reference':>10s} {'ratio':>7s}")
    for bench in (bench_evaluation, bench_schedule_lr, bench_optimiser, bench_accumulation):
        for name, ours, ref in bench(args.repeat):
            ratio = ours / ref if ref == ref else float("nan")
            print(f"{name:66s} {ours * 1e6:8.2f}us {ref * 1e6:8.2f}us {ratio:7.2f}")


if __name__ == "__main__":
    main()
