"""The textbook equations, computed by hand in Python floats for a few steps, against the rules.

References: Kingma & Ba (2015) algorithm 1 (Adam); Duchi et al. (2011) (Adagrad, diagonal form); Polyak (1964) /
torch's SGD documentation (momentum); Zeiler (2012) algorithm 1 (Adadelta). A scalar parameter and a fixed
gradient sequence make every intermediate quantity explicit.
"""

from __future__ import annotations

import math

import pytest
import torch

import ravine

GRADS = [0.5, -1.25, 2.0, 0.75]


def _drive(opt_cls, **kwargs) -> list[float]:
    """Feed GRADS to a scalar float64 parameter starting at 1.0; return the parameter after each step."""
    p = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    opt = opt_cls([p], **kwargs)
    out = []
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.item())
    return out


@pytest.mark.parametrize("fused", [False, True])
def test_adam_bias_correction(fused: bool) -> None:
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    m = v = 0.0
    x, expected = 1.0, []
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        x -= lr * m_hat / (math.sqrt(v_hat) + eps)
        expected.append(x)
    # At t = 1 bias correction makes the step lr * g / (|g| + eps): lr * sign(g) up to eps (the paper, section 2.1).
    assert expected[0] == pytest.approx(1.0 - lr, abs=lr * eps / abs(GRADS[0]) * 1.01)
    assert _drive(ravine.optim.Adam, lr=lr, fused=fused) == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("fused", [False, True])
def test_adagrad_accumulation(fused: bool) -> None:
    lr, eps = 0.5, 1e-10
    G, x, expected = 0.0, 1.0, []
    for g in GRADS:
        G += g * g
        x -= lr * g / (math.sqrt(G) + eps)
        expected.append(x)
    # The first Adagrad step is lr * sign(g): G = g^2.
    assert expected[0] == pytest.approx(1.0 - lr, abs=1e-9)
    assert _drive(ravine.optim.Adagrad, lr=lr, fused=fused) == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("fused", [False, True])
def test_momentum_velocity(fused: bool) -> None:
    lr, mu, damp = 0.1, 0.9, 0.25
    b, x, expected = None, 1.0, []
    for g in GRADS:
        b = g if b is None else mu * b + (1 - damp) * g
        x -= lr * b
        expected.append(x)
    got = _drive(ravine.optim.SGD, lr=lr, momentum=mu, dampening=damp, fused=fused)
    assert got == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("fused", [False, True])
def test_adadelta_two_running_averages(fused: bool) -> None:
    rho, eps = 0.95, 1e-6
    Eg2 = Edx2 = 0.0
    x, expected = 1.0, []
    for g in GRADS:
        Eg2 = rho * Eg2 + (1 - rho) * g * g  # accumulate gradient
        dx = -math.sqrt(Edx2 + eps) / math.sqrt(Eg2 + eps) * g  # compute update
        Edx2 = rho * Edx2 + (1 - rho) * dx * dx  # accumulate update
        x += dx  # apply (torch's lr = 1)
        expected.append(x)
    got = _drive(ravine.optim.Adadelta, lr=1.0, rho=rho, eps=eps, fused=fused)
    assert got == pytest.approx(expected, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("fused", [False, True])
def test_nesterov_lookahead(fused: bool) -> None:
    """Sutskever et al.'s Nesterov momentum in torch's form: step with g + mu * b, where b is the new buffer."""
    lr, mu = 0.1, 0.9
    b, x, expected = None, 1.0, []
    for g in GRADS:
        b = g if b is None else mu * b + g
        x -= lr * (g + mu * b)
        expected.append(x)
    got = _drive(ravine.optim.SGD, lr=lr, momentum=mu, nesterov=True, fused=fused)
    assert got == pytest.approx(expected, rel=1e-14, abs=1e-15)
