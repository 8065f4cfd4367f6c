"""The data and models of the section 6 experiments, built from the task lab's loaders and model builders.

Data: the lab's training part of each published training split (MNIST and Fashion-MNIST 50,000 images, IMDB
20,000 reviews: the lab holds the rest out for validation, and the paper's cost is a training cost, so the held-out
part is simply not used); an experiment's ``subset`` is a fixed sample of it, the same for every run and machine.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from ravine.lab.data import load_cifar10
from ravine.lab.data.sources import CIFAR10, DataError, locate
from ravine.lab.reproduce import paper
from ravine.lab.tasks import batches, catalog, models
from ravine.lab.tasks.base import SIGMOID, SOFTMAX, Arrays, Head

#: Section 6.1: each review is a bag of words over "the first 10,000 most frequent words".
IMDB_WORDS = 10_000
#: Section 6.2: "two fully connected hidden layers with 1000 hidden units each".
MLP_HIDDEN = 1000


def cifar_present(data_dir: str | None) -> bool:
    """Whether CIFAR-10's archive is where ravine looks for data (then the CNN runs on it, as in section 6.3)."""
    try:
        locate(CIFAR10, data_dir)
    except DataError:
        return False
    return True


def _cifar_train(data_dir: str | None) -> Arrays:
    data = load_cifar10(data_dir)
    return Arrays(data.train.x.to(torch.float32) / 255.0, data.train.y)


@functools.lru_cache(maxsize=2)
def training_set(dataset: str, data_dir: str | None) -> Arrays:
    """The lab's training part of ``dataset`` (cached per process: worker processes load each one once)."""
    if dataset == "mnist":
        return catalog.load_image_task(data_dir, "mnist", flat=True).train
    if dataset == "fashion-mnist":
        return catalog.load_image_task(data_dir, "fashion-mnist", flat=False).train
    if dataset == "imdb":
        return catalog.load_imdb_task(data_dir, vocab_size=IMDB_WORDS).train
    if dataset == "cifar-10":
        return _cifar_train(data_dir)
    raise ValueError(f"unknown dataset {dataset!r}")


def examples(exp: paper.Experiment, subset: int | None, data_dir: str | None) -> Arrays:
    """The training examples of ``exp``: all of its data set's training part, or a fixed sample of ``subset``."""
    full = training_set(exp.dataset, data_dir)
    if subset is None or subset >= len(full):
        return full
    return full.select(batches.fixed_sample(len(full), subset, seed=1))


def cost_sample(train: Arrays, size: int) -> Arrays:
    """The fixed training examples the cost is measured on (all of them when there are no more than ``size``)."""
    if len(train) <= size:
        return train
    return train.select(batches.fixed_sample(len(train), size, seed=2))


def head(exp: paper.Experiment) -> Head:
    """Binary logistic loss for IMDB's sentiment, softmax cross-entropy for the ten-class image sets."""
    return SIGMOID if exp.dataset == "imdb" else SOFTMAX


def cifar_cnn(dropout: float = 0.5) -> nn.Module:
    """Section 6.3's c64-c64-c128-1000: three stages of 5x5 convolution, ReLU and 3x3 max pooling with stride 2,
    then 1000 ReLU units (dropout on them) and the ten-way output; padding keeps 32x32 inputs at 15, 7, 3 pixels."""
    stages: list[nn.Module] = []
    width = 3
    for channels in (64, 64, 128):
        stages += [nn.Conv2d(width, channels, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2)]
        width = channels
    return nn.Sequential(
        *stages,
        nn.Flatten(),
        nn.Linear(128 * 3 * 3, 1000),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(1000, 10),
    )


def model(exp: paper.Experiment) -> nn.Module:
    """A fresh model for ``exp`` (initialised from torch's global generator, which the run seeds)."""
    if exp.model == "logreg":
        return models.logistic_regression(784, 10)
    if exp.model == "logreg-sparse":
        return models.logistic_regression(IMDB_WORDS, 1, input_dropout=exp.input_dropout)
    if exp.model == "mlp":
        return models.mlp(784, MLP_HIDDEN, 10, dropout=exp.dropout)
    if exp.model == "cnn-small":
        return models.small_cnn(10)
    if exp.model == "cnn-cifar":
        return cifar_cnn(exp.dropout)
    raise ValueError(f"unknown model {exp.model!r}")
