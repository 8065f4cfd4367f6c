"""What the doctor costs: step time of an MNIST MLP with and without ``Doctor`` at its defaults.

Both loops run the same model, data and optimiser; they alternate in blocks so that load from other processes
on a shared machine hits both alike. Reported: the ratio of median block times and the median of the ratios
of adjacent blocks. Goal: <= 5% extra step time. The run is long (the default is 9 x 2 x 1500 steps, about
13 epochs of MNIST) because the doctor samples densely at first and then every step / 100 steps.

Run:  PYTHONPATH=src nice -n 10 python benchmarks/doctor_overhead.py [--steps 600] [--rounds 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _idx
from ravine.diagnose import Doctor


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


INSIDE = [0.0]  # seconds spent inside the doctor's two calls


def block(
    m: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    batch: int,
    doctor: Doctor | None,
    start: int,
) -> float:
    """Seconds for ``steps`` training steps (batches taken in order, as a data loader would)."""
    n = len(x)
    clock = time.perf_counter
    t0 = clock()
    for t in range(start, start + steps):
        i = (t * batch) % (n - batch)
        xb, yb = x[i : i + batch], y[i : i + batch]
        opt.zero_grad()
        loss = F.cross_entropy(m(xb), yb)
        loss.backward()
        if doctor is not None:
            a = clock()
            doctor.after_backward(loss)
            INSIDE[0] += clock() - a
        opt.step()
        if doctor is not None:
            a = clock()
            doctor.after_step()
            INSIDE[0] += clock() - a
    return clock() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500, help="steps per timed block")
    ap.add_argument("--rounds", type=int, default=9, help="blocks per variant")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = _idx.load("mnist")
    torch.manual_seed(0)
    plain, watched = model(), model()
    watched.load_state_dict(plain.state_dict())
    opt_plain = torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9)
    opt_watched = torch.optim.SGD(watched.parameters(), lr=0.05, momentum=0.9)
    doctor = Doctor(watched, opt_watched, echo=False)
    block(plain, opt_plain, x, y, 50, args.batch, None, 0)  # warm-up: allocator, kernels
    block(watched, opt_watched, x, y, 50, args.batch, doctor, 0)
    times: dict[str, list[float]] = {"plain": [], "doctor": []}
    INSIDE[0] = 0.0
    step = 50
    for r in range(args.rounds):
        order = ("plain", "doctor") if r % 2 == 0 else ("doctor", "plain")
        for name in order:
            m, o, d = (plain, opt_plain, None) if name == "plain" else (watched, opt_watched, doctor)
            times[name].append(block(m, o, x, y, args.steps, args.batch, d, step))
        step += args.steps
    report = doctor.report()
    doctor.close()
    p, d = statistics.median(times["plain"]), statistics.median(times["doctor"])
    paired = sorted(b / a for a, b in zip(times["plain"], times["doctor"], strict=True))
    per = args.steps
    print(
        f"MNIST MLP 784-256-256-10, batch {args.batch}, SGD momentum, {args.threads} thread(s), "
        f"{args.rounds} blocks of {args.steps} steps each"
    )
    print(f"  without the doctor: {1e3 * p / per:.3f} ms/step (median block)")
    print(f"  with the doctor:    {1e3 * d / per:.3f} ms/step (median block)")
    print(
        f"  overhead: {100 * (d / p - 1):+.1f}% from the median blocks; median of the {len(paired)} paired "
        f"block ratios {100 * (statistics.median(paired) - 1):+.1f}% (range {100 * (paired[0] - 1):+.1f}% to "
        f"{100 * (paired[-1] - 1):+.1f}%)   (goal <= +5%)"
    )
    inside = INSIDE[0] / (args.rounds * args.steps)
    print(
        f"  time inside after_backward + after_step: {1e6 * inside:.1f} us/step = {100 * inside * per / p:.1f}% "
        "of a plain step (load-independent; leaves out the hooked forward passes, every step / 20)"
    )
    print(
        f"  spread: plain {min(times['plain']) / per * 1e3:.3f}-{max(times['plain']) / per * 1e3:.3f} ms, "
        f"doctor {min(times['doctor']) / per * 1e3:.3f}-{max(times['doctor']) / per * 1e3:.3f} ms"
    )
    print(f"  the doctor's verdict on this run: {report.kinds() or 'no problems'}")


if __name__ == "__main__":
    main()
