"""GradientAccumulation: k micro-batches of B follow the trajectory of one batch of k B (mean loss).

Tolerance: the two runs differ only in how the gradient sum is associated (autograd sums k micro-batch means,
then ravine divides by k; one batch takes the mean of k B terms at once), an error of a few ulp per step
(~1e-16 relative in float64) that the optimiser's dynamics carry forward. Over 20 steps the largest difference
seen is 2e-14 of the parameters' scale (SGD with momentum 0.9, which amplifies it most), so the float64 bound is
1e-12 relative to each tensor's largest entry; for float32, 1e-5 (seen: 2e-7, Adam). A run that counts
micro-steps instead of real steps (a torch scheduler stepped per micro-batch, accelerate#963) misses it by
~1e-3. The exact check is against the same optimiser fed the hand-made sum ``(g_1 + ... + g_k) / k``: bit for
bit.
"""

from __future__ import annotations

import pytest
import torch

import ravine
from ravine.optim import GradientAccumulation
from ravine.schedules import ScheduleLR, cosine, step_decay, warmup

B, STEPS = 8, 20


def _net(dtype=torch.float64):
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).to(dtype)


def _data(n, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return X.to(dtype), X.sum(1, keepdim=True).sin().to(dtype)


def _loss(net, x, y):
    return ((net(x) - y) ** 2).mean()


# (id, optimiser factory -> (optimiser, torch scheduler or None))
OPTIMISERS = [
    (
        "ravine-AdamW-warmup-cosine",
        lambda p: (ravine.optim.AdamW(p, lr=warmup(cosine(0.01, 15), 5), weight_decay=0.1, fused=False), None),
    ),
    (
        "ravine-SGD-nesterov-step-decay",
        lambda p: (
            ravine.optim.SGD(
                p, lr=step_decay(0.1, 5, 0.5), momentum=0.9, nesterov=True, weight_decay=0.01, fused=False
            ),
            None,
        ),
    ),
    (
        "torch-Adam-ScheduleLR",
        lambda p: (o := torch.optim.Adam(p, lr=0.0, weight_decay=0.01), ScheduleLR(o, warmup(cosine(0.01, 15), 5))),
    ),
    ("torch-SGD-momentum", lambda p: (torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01), None)),
]


def big_batches(make, k, dtype=torch.float64):
    X, y = _data(k * B * STEPS, dtype)
    net = _net(dtype)
    opt, sched = make(net.parameters())
    for s in range(STEPS):
        rows = slice(s * k * B, (s + 1) * k * B)
        opt.zero_grad()
        _loss(net, X[rows], y[rows]).backward()
        opt.step()
        if sched:
            sched.step()
    return net, opt


def micro_batches(make, k, dtype=torch.float64, scheduler_per_micro_step=False):
    X, y = _data(k * B * STEPS, dtype)
    net = _net(dtype)
    inner, sched = make(net.parameters())
    opt = GradientAccumulation(inner, k)
    for i in range(k * STEPS):
        rows = slice(i * B, (i + 1) * B)
        opt.zero_grad()
        _loss(net, X[rows], y[rows]).backward()
        opt.step()
        if sched and (opt.stepped or scheduler_per_micro_step):
            sched.step()
    return net, opt


def rel_diff(a, b):
    return max(
        ((p - q).abs().max() / q.abs().max()).item() for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("make", [o[1] for o in OPTIMISERS], ids=[o[0] for o in OPTIMISERS])
def test_same_trajectory_as_one_big_batch(make, k):
    big, big_opt = big_batches(make, k)
    small, opt = micro_batches(make, k)
    assert rel_diff(small, big) <= 1e-12
    assert opt.param_groups[0]["lr"] == big_opt.param_groups[0]["lr"]


def test_float32_to_its_precision():
    make = OPTIMISERS[0][1]
    big, _ = big_batches(make, 4, torch.float32)
    small, _ = micro_batches(make, 4, torch.float32)
    assert rel_diff(small, big) <= 1e-5


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_counting_micro_steps_would_be_caught():
    """The bound above is tight enough to see a scheduler stepped per micro-batch (accelerate#963)."""
    make = OPTIMISERS[2][1]
    big, _ = big_batches(make, 4)
    wrong, _ = micro_batches(make, 4, scheduler_per_micro_step=True)
    assert rel_diff(wrong, big) > 1e-6


@pytest.mark.parametrize("make", [o[1] for o in OPTIMISERS], ids=[o[0] for o in OPTIMISERS])
def test_bit_for_bit_with_the_hand_made_mean(make):
    k = 3
    X, y = _data(k * B * STEPS)
    net_b = _net()
    opt_b, sched_b = make(net_b.parameters())
    net_a, _ = micro_batches(make, k)
    for s in range(STEPS):
        total = None
        for j in range(k):
            rows = slice((s * k + j) * B, (s * k + j + 1) * B)
            grads = torch.autograd.grad(_loss(net_b, X[rows], y[rows]), list(net_b.parameters()))
            total = list(grads) if total is None else [t + g for t, g in zip(total, grads, strict=True)]
        for p, t in zip(net_b.parameters(), total, strict=True):
            p.grad = t / k
        opt_b.step()
        if sched_b:
            sched_b.step()
    assert all(torch.equal(p, q) for p, q in zip(net_a.parameters(), net_b.parameters(), strict=True))


def test_everything_counts_real_steps():
    k, n = 4, 22
    X, y = _data(n * B)
    net = _net()
    s = warmup(cosine(0.01, 15), 5)
    opt = GradientAccumulation(ravine.optim.Adam(net.parameters(), lr=s, fused=False), k)
    stepped = []
    for i in range(n):
        opt.zero_grad()
        _loss(net, X[i * B : (i + 1) * B], y[i * B : (i + 1) * B]).backward()
        opt.step()
        stepped.append(opt.stepped)
    assert stepped == [(i + 1) % k == 0 for i in range(n)] and opt.micro_step == n % k
    group = opt.param_groups[0]
    assert group["scheduled_steps"] == n // k and group["lr"] == s(n // k - 1)
    assert all(opt.state[p]["step"].item() == n // k for p in net.parameters())


def test_one_micro_batch_is_the_optimiser_itself():
    make = OPTIMISERS[0][1]
    big, _ = big_batches(make, 1)
    small, _ = micro_batches(make, 1)
    assert all(torch.equal(p, q) for p, q in zip(small.parameters(), big.parameters(), strict=True))


@pytest.mark.parametrize("reset", ["optimizer", "model", "set_to_none=False ok"])
def test_resetting_gradients_between_micro_batches(reset):
    X, y = _data(4 * B)
    net = _net()
    opt = GradientAccumulation(torch.optim.SGD(net.parameters(), lr=0.1), 4)
    _loss(net, X[:B], y[:B]).backward()
    opt.step()
    if reset == "optimizer":
        opt.optimizer.zero_grad()
    elif reset == "model":
        net.zero_grad()
    else:
        opt.zero_grad(set_to_none=False)  # the wrapper's: waits for the real step
    _loss(net, X[B : 2 * B], y[B : 2 * B]).backward()
    if reset.endswith("ok"):
        opt.step()
    else:
        with pytest.raises(RuntimeError, match="zero_grad\\(\\) on the GradientAccumulation wrapper"):
            opt.step()


def test_parameters_without_gradient_in_some_micro_batches():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = GradientAccumulation(torch.optim.SGD([a, b], lr=1.0), 2)
    a.sum().backward()
    opt.step()
    (a.sum() + b.sum()).backward()  # b's gradient appears in the second micro-batch only
    opt.step()
    assert opt.stepped and torch.equal(a, torch.zeros(2)) and torch.equal(b, torch.full((2,), 0.5))


def test_closure_runs_every_micro_batch():
    w = torch.nn.Parameter(torch.ones(1))
    calls = []

    def closure():
        calls.append(1)
        loss = (w**2).sum()
        loss.backward()
        return loss

    opt = GradientAccumulation(torch.optim.SGD([w], lr=0.25), 2)
    assert opt.step(closure).item() == 1.0 and not opt.stepped
    opt.step(closure)
    assert len(calls) == 2 and opt.stepped and w.item() == 0.5  # mean gradient 2, step 0.25 * 2


def test_state_dict_between_real_steps_only():
    X, y = _data(8 * B)
    net = _net()
    opt = GradientAccumulation(ravine.optim.AdamW(net.parameters(), lr=cosine(0.01, 10), fused=False), 2)
    _loss(net, X[:B], y[:B]).backward()
    opt.step()
    with pytest.raises(RuntimeError, match="after 1 of 2 micro-batches"):
        opt.state_dict()
    _loss(net, X[B : 2 * B], y[B : 2 * B]).backward()
    opt.step()
    state = opt.state_dict()
    fresh = GradientAccumulation(ravine.optim.AdamW(_net().parameters(), lr=cosine(0.01, 10), fused=False), 2)
    fresh.load_state_dict(state)
    assert fresh.param_groups[0]["scheduled_steps"] == 1
    with pytest.raises(ValueError, match="micro_batches"):
        GradientAccumulation(ravine.optim.AdamW(_net().parameters()), 4).load_state_dict(state)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"micro_batches": 0}, ValueError, "micro_batches must be an integer >= 1"),
        ({"micro_batches": 2.0}, ValueError, "micro_batches"),
        ({"micro_batches": True}, ValueError, "micro_batches"),
        ({"micro_batches": 2, "average": 1}, ValueError, "average"),
        ({"micro_batches": 2, "optimizer": "sgd"}, TypeError, "optimizer"),
    ],
)
def test_bad_input(kw, error, match):
    kw.setdefault("optimizer", torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1))
    with pytest.raises(error, match=match):
        GradientAccumulation(**kw)
