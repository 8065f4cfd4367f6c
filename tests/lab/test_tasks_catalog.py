"""The task catalogue: each task's data split and model on the real files, and the noisy quadratic against its
recipe (DeepOBS, Schneider et al. 2019) and a float64 NumPy evaluation of its loss."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ravine.lab.tasks import TASKS
from ravine.lab.tasks.catalog import quadratic_loss, quadratic_problem

# name -> (train, val, test sizes, input shape of one example, output width)
EXPECTED = {
    "mnist-logreg": ((50_000, 10_000, 10_000), (784,), 10),
    "mnist-mlp": ((50_000, 10_000, 10_000), (784,), 10),
    "mnist-mlp-1000": ((50_000, 10_000, 10_000), (784,), 10),
    "fmnist-cnn": ((50_000, 10_000, 10_000), (1, 28, 28), 10),
    "imdb-logreg": ((20_000, 5_000, 25_000), (10_000,), 1),
    "quadratic-deep": ((800, 200, 1_000), (100,), None),
}


def test_the_catalogue_holds_the_issue_s_tasks() -> None:
    assert set(TASKS) == set(EXPECTED)


@pytest.fixture(scope="module")
def loaded(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Each data set once (IMDB's bag of words goes to the session's cache)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAVINE_CACHE", str(tmp_path_factory.getbasetemp() / "ravine-cache"))
        return {name: task.load(shared_data) for name, task in TASKS.items()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_split_sizes_shapes_and_model_outputs(loaded: dict, name: str) -> None:
    sizes, shape, width = EXPECTED[name]
    data, task = loaded[name], TASKS[name]
    assert (len(data.train), len(data.val), len(data.test)) == sizes
    assert tuple(data.train.x.shape[1:]) == shape
    torch.manual_seed(0)
    x, y = data.train.batch(torch.arange(5))
    out = task.model()(x)
    assert out.shape == ((5, width) if width else (5,))
    if width:
        assert bool(torch.isfinite(task.head.loss(out, y)))


@pytest.mark.parametrize("name", ["mnist-logreg", "imdb-logreg", "fmnist-cnn"])
def test_validation_is_carved_from_training_and_keeps_classes_in_proportion(loaded: dict, name: str) -> None:
    data = loaded[name]
    val = data.val.y.bincount().double() / len(data.val)
    train = data.train.y.bincount().double() / len(data.train)
    assert float((val - train).abs().max()) < 0.015
    # The pixel statistics agree too (a systematic every-k-th sample of MNIST would fail this).
    if data.train.x.layout == torch.strided:
        assert abs(float(data.train.x.mean()) - float(data.val.x.mean())) < 0.003


def test_mnist_inputs_are_scaled_to_the_unit_interval(loaded: dict) -> None:
    x = loaded["mnist-logreg"].train.x
    assert x.dtype == torch.float32 and float(x.min()) == 0.0 and float(x.max()) == 1.0


def test_tasks_pickle_for_worker_processes() -> None:
    for task in TASKS.values():
        again = pickle.loads(pickle.dumps(task))
        assert again.name == task.name and again.target == task.target


def test_quadratic_hessian_follows_the_deepobs_recipe() -> None:
    p = quadratic_problem()
    h = p["hessian"]
    assert h.shape == (100, 100) and np.allclose(h, h.T)
    eig = np.sort(np.linalg.eigvalsh(h))
    assert np.all((eig[:90] > 0) & (eig[:90] < 1)) and np.all((eig[90:] > 30) & (eig[90:] < 60))
    np.testing.assert_allclose(eig, np.sort(p["eigenvalues"]), rtol=1e-10, atol=1e-10)
    # The samples: N(0, 0.6^2), 1000 each, train and test different.
    assert abs(p["train"].std() - 0.6) < 0.01 and abs(p["train"].mean()) < 0.01
    assert not np.array_equal(p["train"], p["test"])


def test_quadratic_model_loss_matches_a_float64_evaluation(loaded: dict) -> None:
    task, data = TASKS["quadratic-deep"], loaded["quadratic-deep"]
    model = task.model()
    theta = np.random.default_rng(0).normal(size=100)
    with torch.no_grad():
        model.theta.copy_(torch.from_numpy(theta))
        ours = float(task.head.loss(model(data.val.x), None)) / len(data.val)
    assert ours == pytest.approx(quadratic_loss(theta, data.val.x.numpy()), rel=1e-5)
    assert float(model.theta.detach().sum()) != 100.0
    assert torch.equal(task.model().theta.detach(), torch.ones(100))  # DeepOBS starts at theta = 1


def test_quadratic_target_is_one_percent_above_the_training_minimiser_s_validation_loss(loaded: dict) -> None:
    data = loaded["quadratic-deep"]
    best = quadratic_loss(data.train.x.numpy().astype(np.float64).mean(axis=0), data.val.x.numpy())
    assert TASKS["quadratic-deep"].target.value == pytest.approx(1.01 * best, abs=1e-3)
