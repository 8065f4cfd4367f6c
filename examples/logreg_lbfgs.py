"""Full-batch logistic regression with ravine.optim.LBFGS, checked against the optimum scipy finds.

The loss is multinomial logistic regression (softmax cross-entropy, the binary case being two classes) with an
L2 penalty on all parameters,

    L(W, b) = (1/n) sum_i [ logsumexp_k (W x_i + b)_k - (W x_i + b)_{y_i} ] + (lam/2) (||W||^2 + ||b||^2),

a strictly convex function (a "cup"): it has one minimiser, and any two solvers that converge must agree on it.
The reference is scipy.optimize.minimize (L-BFGS-B) on a numpy transcription of L and its gradient
``(1/n) (P - Y)^T X + lam W`` (P the softmax probabilities, Y the one-hot labels), written independently of torch.

Run:
    PYTHONPATH=src python examples/logreg_lbfgs.py                      # synthetic data, a few seconds
    PYTHONPATH=src python examples/logreg_lbfgs.py --mnist ../shared/data/mnist --n 10000
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.optimize
import scipy.special
import torch

import ravine
import ravine.lab.data


@dataclass
class Result:
    """The two solutions and what they cost (plain data)."""

    loss: float
    reference_loss: float
    gap: float  # loss - reference_loss
    max_parameter_difference: float
    evaluations: int
    iterations: int
    seconds: float
    reference_evaluations: int
    reference_seconds: float


def synthetic(n: int = 600, d: int = 20, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping Gaussian blobs, one per class (so the unpenalised problem is not separable either)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (classes, d))
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.normal(0.0, 1.5, (n, d))
    return x, y


def load_mnist(directory: str | Path, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` MNIST training images (pixels scaled to [0, 1]) and labels, read and checksum-verified by
    :func:`ravine.lab.data.load_mnist` (``directory`` holds the idx files or a ``mnist/`` folder with them)."""
    train = ravine.lab.data.load_mnist(directory).train
    images, labels = train.x.reshape(len(train), -1).numpy(), train.y.numpy()
    n = len(labels) if n is None else n
    return images[:n].astype(np.float64) / 255.0, labels[:n].astype(np.int64)


def numpy_loss_and_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray, classes: int, lam: float):
    """L and its gradient in numpy, for the reference solver; theta = [W.ravel(), b]."""
    n, d = x.shape
    w, b = theta[: classes * d].reshape(classes, d), theta[classes * d :]
    z = x @ w.T + b
    log_norm = scipy.special.logsumexp(z, axis=1)
    loss = np.mean(log_norm - z[np.arange(n), y]) + lam / 2 * theta @ theta
    p = np.exp(z - log_norm[:, None])
    p[np.arange(n), y] -= 1.0
    p /= n
    grad = np.concatenate([(p.T @ x + lam * w).ravel(), p.sum(axis=0) + lam * b])
    return loss, grad


def reference_optimum(x: np.ndarray, y: np.ndarray, classes: int, lam: float) -> tuple[np.ndarray, float, int]:
    """scipy's L-BFGS-B run to its tightest tolerances: (theta, loss, evaluations)."""
    theta0 = np.zeros(classes * x.shape[1] + classes)
    options = {"maxcor": 20, "gtol": 1e-12, "ftol": 1e-16, "maxiter": 20000, "maxfun": 40000}
    res = scipy.optimize.minimize(
        numpy_loss_and_grad, theta0, args=(x, y, classes, lam), jac=True, method="L-BFGS-B", options=options
    )
    return res.x, float(res.fun), int(res.nfev)


def fit(x: np.ndarray, y: np.ndarray, classes: int, lam: float, dtype: torch.dtype = torch.float64):
    """ravine's L-BFGS on the same loss in torch: (theta, loss, evaluations, iterations)."""
    inputs, targets = torch.as_tensor(x, dtype=dtype), torch.as_tensor(y)
    weight = torch.zeros(classes, x.shape[1], dtype=dtype, requires_grad=True)
    bias = torch.zeros(classes, dtype=dtype, requires_grad=True)
    opt = ravine.optim.LBFGS(
        [weight, bias], history_size=10, max_iter=1000, max_eval=2000, tolerance_grad=1e-9, tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )  # fmt: skip

    def loss_fn() -> torch.Tensor:
        logits = inputs @ weight.T + bias
        penalty = weight.square().sum() + bias.square().sum()
        return torch.nn.functional.cross_entropy(logits, targets) + lam / 2 * penalty

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        loss = float(loss_fn())
    theta = torch.cat([weight.detach().reshape(-1), bias.detach()]).double().numpy()
    state = opt.state[weight]
    return theta, loss, state["func_evals"], state["n_iter"]


def compare(x: np.ndarray, y: np.ndarray, lam: float = 1e-2, dtype: torch.dtype = torch.float64) -> Result:
    """Fit with ravine and with scipy; the record says how far apart the two optima are."""
    classes = int(y.max()) + 1
    fit(x[:8], y[:8], classes, lam, dtype)  # untimed: the first torch call pays a one-off start-up (~0.8 s)
    start = time.perf_counter()
    theta, loss, evals, iters = fit(x, y, classes, lam, dtype)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    ref_theta, ref_loss, ref_evals = reference_optimum(x, y, classes, lam)
    ref_seconds = time.perf_counter() - start
    return Result(
        loss=loss,
        reference_loss=ref_loss,
        gap=loss - ref_loss,
        max_parameter_difference=float(np.abs(theta - ref_theta).max()),
        evaluations=evals,
        iterations=iters,
        seconds=seconds,
        reference_evaluations=ref_evals,
        reference_seconds=ref_seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", help="directory with the MNIST idx files (default: synthetic data)")
    parser.add_argument("--n", type=int, default=None, help="number of training examples to use")
    parser.add_argument("--lam", type=float, default=1e-2, help="L2 penalty (default 1e-2)")
    parser.add_argument("--float32", action="store_true", help="fit in float32 (the reference stays float64)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = load_mnist(args.mnist, args.n) if args.mnist else synthetic(n=args.n or 600)
    result = compare(x, y, args.lam, torch.float32 if args.float32 else torch.float64)
    for key, value in asdict(result).items():
        print(f"{key:26s} {value:.10g}" if isinstance(value, float) else f"{key:26s} {value}")
    print("agree to 1e-6 in the loss" if abs(result.gap) <= 1e-6 else "DO NOT agree to 1e-6 in the loss")


if __name__ == "__main__":
    main()
