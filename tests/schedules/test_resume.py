"""Resume is exact: stop, save, load into fresh objects, continue == an uninterrupted run, bit for bit.

Every schedule (tests/schedules/conftest.py), stopped around each of its boundaries (warm-up end, join
boundaries, milestones, horizon), two ways: ``lr=schedule`` in a ravine optimiser (AdamW; Adam with a scheduled
beta1 for one_cycle) and ``ScheduleLR`` driving torch's AdamW (its beta1 too for one_cycle). Checkpoints go
through ``torch.save`` and ``torch.load`` with its default ``weights_only=True``. ReduceOnPlateau gets a metric
every 3 steps; after resuming, the *new* plateau object the program built is the one that receives metrics.
"""

from __future__ import annotations

import functools
import io
import subprocess
import sys

import pytest
import torch

import ravine
from ravine.schedules import ReduceOnPlateau, ScheduleLR, cosine, one_cycle, warmup

from .conftest import EXAMPLES, STEPS


def _roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf)


def _data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(80, 5, generator=g, dtype=torch.float64)
    return X, X @ torch.linspace(-1, 1, 5, dtype=torch.float64) + 0.1 * torch.randn(
        80, generator=g, dtype=torch.float64
    )


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _ravine(net, s):
    betas = (s.momentum, 0.999) if isinstance(s, one_cycle) else (0.9, 0.999)
    opt = ravine.optim.AdamW(net.parameters(), lr=s, betas=betas, weight_decay=0.1, fused=False)
    return opt, None


def _torch(net, s):
    opt = torch.optim.AdamW(net.parameters(), lr=0.0, weight_decay=0.1)
    return opt, ScheduleLR(opt, s, momentum=s.momentum if isinstance(s, one_cycle) else None)


def run(factory, path, stop=None, load_scheduler_first=False):
    """lr (and beta1) used at each step, and the final parameters."""
    X, y = _data()
    make = _ravine if path == "ravine" else _torch
    s = factory()
    net = _net(1)
    opt, sched = make(net, s)
    used = []
    for k in range(STEPS):
        if k == stop:
            ckpt = _roundtrip({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched and sched.state_dict()})
            s = factory()  # a fresh program: everything is built again from code, then loaded
            net = _net(2)
            opt, sched = make(net, s)
            net.load_state_dict(ckpt["net"])
            if load_scheduler_first and sched:
                sched.load_state_dict(ckpt["sched"])
            opt.load_state_dict(ckpt["opt"])
            if sched and not load_scheduler_first:
                sched.load_state_dict(ckpt["sched"])
        batch = slice(8 * (k % 10), 8 * (k % 10) + 8)
        loss = ((net(X[batch]).squeeze(1) - y[batch]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        used.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]))
        if sched:
            sched.step()
        if isinstance(s, ReduceOnPlateau) and (k + 1) % 3 == 0:
            s.step(loss.item())
    return used, [p.detach().clone() for p in net.parameters()]


@functools.cache
def uninterrupted(name, path):
    return run(EXAMPLES[name][0], path)


@pytest.mark.parametrize("path", ["ravine", "ScheduleLR"])
def test_resume_is_exact(resume_case, path):
    name, factory, stop = resume_case
    ref_used, ref_params = uninterrupted(name, path)
    used, params = run(factory, path, stop)
    assert used == ref_used
    assert all(torch.equal(a, b) for a, b in zip(params, ref_params, strict=True))
    assert len({u[0] for u in used}) > 1 or name == "constant"  # the schedule did move


def test_runs_are_sensitive_to_the_schedule():
    """The comparison above can fail: a schedule one step off gives other parameters."""
    _, a = uninterrupted("warmup_cosine", "ravine")
    _, b = run(lambda: warmup(cosine(0.1, total_steps=30), steps=9, start_factor=0.1), "ravine")
    assert not all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", ["warmup_cosine", "plateau", "one_cycle"])
def test_schedule_lr_resume_in_either_order(name):
    """Loading ScheduleLR's state before the optimiser's gives the same run (torch's schedulers need the
    optimiser loaded first, or restore a stale lr)."""
    ref_used, ref_params = uninterrupted(name, "ScheduleLR")
    used, params = run(EXAMPLES[name][0], "ScheduleLR", EXAMPLES[name][1][-1], load_scheduler_first=True)
    assert used == ref_used
    assert all(torch.equal(a, b) for a, b in zip(params, ref_params, strict=True))


def test_plateau_state_is_small_and_plain():
    """Five plain numbers, the same as the fields of torch's ReduceLROnPlateau after the same reports."""
    s = EXAMPLES["plateau"][0]()
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=s.lr)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1)
    for m in (1.0, 0.9, 0.95, 0.97, 0.99, 0.98):
        s.step(m)
        ref.step(m)
    state = _roundtrip(s.state_dict())
    assert state == {
        "lr_now": opt.param_groups[0]["lr"],
        "best": ref.best,
        "num_bad_epochs": ref.num_bad_epochs,
        "cooldown_counter": ref.cooldown_counter,
        "last_epoch": ref.last_epoch,
    }
    assert state["lr_now"] < s.lr
    fresh = EXAMPLES["plateau"][0]()
    fresh.load_state_dict(state)
    assert fresh == s
    with pytest.raises(ValueError, match="keys"):
        fresh.load_state_dict({"lr_now": 0.1})


def test_a_fresh_process_loads_the_checkpoint(tmp_path):
    """``import ravine`` registers the schedule classes with torch, so torch.load(weights_only=True) works."""
    net = _net(1)
    opt = ravine.optim.AdamW(net.parameters(), lr=EXAMPLES["join"][0](), fused=False)
    torch.save(opt.state_dict(), tmp_path / "ckpt.pt")
    code = f"import torch, ravine; print(torch.load({str(tmp_path / 'ckpt.pt')!r})['param_groups'][0]['schedules'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == repr({"lr": EXAMPLES["join"][0]()})
