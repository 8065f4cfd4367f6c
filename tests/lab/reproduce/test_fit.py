"""One run of the paper's protocol against outside references: torch.optim.SGD driven by hand with the L2 term and
alpha / sqrt(epoch) (section 6.1), and Adam's moments written out from algorithm 1, with and without correction."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from ravine.lab.reproduce import fit, paper
from ravine.lab.reproduce.spec import Run
from ravine.lab.tasks.base import Arrays
from ravine.lab.tasks.train import stream_seed

N, EPOCHS, ALPHA, L2 = 300, 4, 0.05, 0.01  # 300 examples: 3 minibatches of 128 (the last one short) per epoch


def _data() -> Arrays:
    g = torch.Generator().manual_seed(7)
    return Arrays(torch.rand(N, 784, generator=g), torch.randint(0, 10, (N,), generator=g))


@pytest.mark.parametrize("alpha,epoch,expected", [(0.1, 1, 0.1), (0.1, 4, 0.05), (0.3, 9, 0.1), (2.0, 2, 2**0.5)])
def test_alpha_over_sqrt_epoch(alpha: float, epoch: int, expected: float) -> None:
    assert fit.alpha_at(alpha, epoch, anneal=True) == pytest.approx(expected, rel=1e-12)
    assert fit.alpha_at(alpha, epoch, anneal=False) == alpha


def test_alpha_at_refuses_epoch_zero() -> None:
    with pytest.raises(ValueError, match="epoch must be >= 1"):
        fit.alpha_at(0.1, 0, anneal=True)


def test_l2_and_annealing_match_torch_sgd_by_hand() -> None:
    exp = replace(paper.MNIST_LOGREG, l2=L2)
    data = _data()
    run = Run("mnist-logreg", "sgd", ALPHA, seed=3, epochs=EPOCHS, subset=None, eval_size=N)
    record = fit.fit(exp, run, data)

    model = torch.nn.Linear(784, 10)
    with torch.no_grad():  # the lab's logistic regression draws W then b from U(-1/sqrt(784), 1/sqrt(784))
        torch.manual_seed(stream_seed(3, 0))
        model.weight.uniform_(-1 / math.sqrt(784), 1 / math.sqrt(784))
        model.bias.uniform_(-1 / math.sqrt(784), 1 / math.sqrt(784))
    sgd = torch.optim.SGD(model.parameters(), lr=ALPHA)
    order = torch.Generator().manual_seed(stream_seed(3, 1))
    expected, objective = [], []
    for epoch in range(1, EPOCHS + 1):
        costs = []
        for group in sgd.param_groups:
            group["lr"] = ALPHA / math.sqrt(epoch)  # alpha_t = alpha / sqrt(t), t in epochs
        perm = torch.randperm(N, generator=order)
        for k in range(0, N, 128):
            idx = perm[k : k + 128]
            sgd.zero_grad()
            loss = F.cross_entropy(model(data.x[idx]), data.y[idx]) + 0.5 * L2 * model.weight.pow(2).sum()
            loss.backward()
            sgd.step()
            costs.append(float(loss.detach()))
        objective.append(math.fsum(costs) / len(costs))  # the epoch's training loss as a training loop logs it
        with torch.no_grad():
            expected.append(float(F.cross_entropy(model(data.x), data.y)))
    at_epochs = [
        c for e, c in zip(record["curve"]["epoch"], record["curve"]["train_loss"], strict=True) if e == int(e) and e > 0
    ]
    assert at_epochs == pytest.approx(expected, rel=1e-5)
    assert record["curve"]["alpha"][-1] == pytest.approx(ALPHA / 2)
    assert record["final"] == pytest.approx(expected[-1], rel=1e-5)
    # the training objective (L2 term included) of every epoch, the measure the comparisons are judged on
    assert record["curve"]["objective"] == pytest.approx(objective, rel=1e-5)
    assert record["objective_final"] == pytest.approx(objective[-1], rel=1e-5)
    assert record["objective_after_epoch_1"] == pytest.approx(objective[0], rel=1e-5)


def _adam_by_hand(
    p: torch.Tensor, grads: list[torch.Tensor], alpha: float, beta2: float, correct: bool
) -> torch.Tensor:
    """Algorithm 1 of the paper in float64; without correction m and v are used as they are."""
    p, m, v = p.double().clone(), torch.zeros_like(p, dtype=torch.float64), torch.zeros_like(p, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        g = g.double()
        m = 0.9 * m + 0.1 * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = (m / (1 - 0.9**t), v / (1 - beta2**t)) if correct else (m, v)
        p = p - alpha * m_hat / (v_hat.sqrt() + 1e-8)
    return p


@pytest.mark.parametrize("beta2", paper.STUDY_BETA2)
@pytest.mark.parametrize("correct", [True, False])
def test_study_chain_matches_algorithm_1_and_torch_adam(beta2: float, correct: bool) -> None:
    g = torch.Generator().manual_seed(1)
    start = torch.randn(50, generator=g)
    grads = [torch.randn(50, generator=g) for _ in range(30)]
    run = Run("mnist-mlp", "adam", 3e-3, 0, 1, None, 1, beta2=beta2, bias_correction=correct)
    p = start.clone().requires_grad_(True)
    opt = fit.optimizer(run, [p])
    q = start.clone().requires_grad_(True)
    ref = torch.optim.Adam([q], lr=3e-3, betas=(0.9, beta2), eps=1e-8)
    for grad in grads:
        p.grad, q.grad = grad.clone(), grad.clone()
        opt.step()
        ref.step()
    by_hand = _adam_by_hand(start, grads, 3e-3, beta2, correct)
    torch.testing.assert_close(p.detach().double(), by_hand, rtol=1e-5, atol=1e-6)
    if correct:
        torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("beta2", paper.STUDY_BETA2)
def test_uncorrected_first_step_is_larger_by_the_bias(beta2: float) -> None:
    # Section 3: at t = 1, m = (1 - beta1) g and v = (1 - beta2) g^2, so without correction the step is
    # alpha (1 - beta1) / sqrt(1 - beta2) per coordinate instead of alpha: 10x larger at beta2 = 0.9999.
    p = torch.zeros(5, requires_grad=True)
    opt = fit.optimizer(Run("mnist-mlp", "adam", 1e-3, 0, 1, None, 1, beta2=beta2, bias_correction=False), [p])
    p.grad = torch.tensor([1.0, -2.0, 3.0, 0.5, -0.1])
    opt.step()
    expected = 1e-3 * 0.1 / math.sqrt(1 - beta2)
    torch.testing.assert_close(p.detach().abs(), torch.full((5,), expected), rtol=1e-4, atol=0.0)


def test_paper_adam_defaults() -> None:
    # Section 2, algorithm 1: alpha = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 (also torch's defaults).
    opt = fit.optimizer(Run("mnist-mlp", "adam", 1e-3, 0, 1, None, 1), [torch.zeros(1, requires_grad=True)])
    group = opt.param_groups[0]
    assert (group["betas"], group["eps"], group["lr"]) == ((0.9, 0.999), 1e-8, 1e-3)


def test_same_initial_weights_for_every_optimiser() -> None:
    # Section 6: "the same parameter initialization when comparing different optimization algorithms".
    data = _data()
    costs = set()
    for name in ("adam", "adagrad", "nesterov", "rmsprop", "adadelta"):
        run = Run("mnist-logreg", name, 1e-3, seed=5, epochs=1, subset=None, eval_size=N)
        costs.add(fit.fit(paper.MNIST_LOGREG, run, data)["curve"]["train_loss"][0])
    assert len(costs) == 1


def test_cifar_cnn_has_the_papers_stages() -> None:
    # Section 6.3: c64-c64-c128-1000, 5x5 convolutions and 3x3 max pooling with stride 2, on 32x32 colour images.
    from ravine.lab.reproduce import data

    net = data.cifar_cnn()
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128] and all(c.kernel_size == (5, 5) for c in convs)
    assert all(p.kernel_size == 3 and p.stride == 2 for p in net if isinstance(p, torch.nn.MaxPool2d))
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [1000, 10]
