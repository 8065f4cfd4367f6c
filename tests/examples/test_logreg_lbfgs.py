"""examples/logreg_lbfgs.py: L-BFGS reaches the logistic-regression optimum scipy finds, to 1e-6 in the loss.

Small synthetic data only (a second or two); the example's MNIST run is for people, not CI.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "logreg_lbfgs.py"


def load_example():
    spec = importlib.util.spec_from_file_location("logreg_lbfgs", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


example = load_example()


@pytest.mark.parametrize(("classes", "lam"), [(2, 1e-3), (3, 1e-2), (5, 1e-1)])
def test_reaches_the_scipy_optimum_to_1e_6_in_the_loss(classes: int, lam: float) -> None:
    x, y = example.synthetic(n=300, d=8, classes=classes, seed=classes)
    result = example.compare(x, y, lam)
    assert abs(result.gap) <= 1e-6, result
    assert result.max_parameter_difference <= 1e-4, result  # strictly convex: one minimiser


def test_float32_fit_reaches_the_float64_optimum_to_1e_6() -> None:
    x, y = example.synthetic(n=300, d=8, classes=3, seed=7)
    assert abs(example.compare(x, y, 1e-2, torch.float32).gap) <= 1e-6


def test_the_reference_gradient_is_the_derivative_of_the_reference_loss() -> None:
    """The numpy reference is itself checked: its gradient against scipy's finite differences."""
    x, y = example.synthetic(n=50, d=4, classes=3, seed=1)
    theta = np.random.default_rng(0).normal(size=3 * 4 + 3)

    def loss(t):
        return example.numpy_loss_and_grad(t, x, y, 3, 0.1)[0]

    def grad(t):
        return example.numpy_loss_and_grad(t, x, y, 3, 0.1)[1]

    assert scipy.optimize.check_grad(loss, grad, theta) < 1e-6


def test_reference_loss_matches_torch_cross_entropy() -> None:
    x, y = example.synthetic(n=40, d=5, classes=4, seed=2)
    theta = np.random.default_rng(1).normal(size=4 * 5 + 4)
    w, b = torch.tensor(theta[:20].reshape(4, 5)), torch.tensor(theta[20:])
    expected = torch.nn.functional.cross_entropy(torch.tensor(x) @ w.T + b, torch.tensor(y)) + 0.05 * (
        w.square().sum() + b.square().sum()
    )
    assert example.numpy_loss_and_grad(theta, x, y, 4, 0.1)[0] == pytest.approx(float(expected), rel=1e-13)
