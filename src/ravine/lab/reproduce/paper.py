"""Section 6 of Kingma & Ba (ICLR 2015) as published: what each experiment trains, and where the paper says so.

Every field of :class:`Experiment` that the paper fixes carries the place in the paper it comes from; a field the
paper leaves open says "ravine's choice" and why. The defaults are sized for a CPU (the whole run in under an hour
on two cores); :class:`~ravine.lab.reproduce.spec.Settings` changes the horizon (``--epochs``) and the seeds.

Paper facts used here (section numbers of arXiv:1412.6980v9, the ICLR 2015 version):

* Section 2, algorithm 1: the default settings alpha = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8.
* Section 6, opening paragraph: the same parameter initialisation for every optimiser; hyper-parameters (learning
  rate, momentum) searched over a dense grid, results reported for the best setting.
* Section 6.1: L2-regularised multi-class logistic regression on MNIST's 784-dimensional pixel vectors, the
  stepsize annealed as alpha_t = alpha / sqrt(t), minibatch 128, compared with SGD with Nesterov momentum and
  Adagrad (figure 1 left: Adam converges like SGD with momentum, both faster than Adagrad). IMDB reviews as
  bag-of-words vectors of the 10,000 most frequent words, highly sparse, 50 % dropout noise on the features
  (after Wang & Manning 2013); Adagrad beats SGD with Nesterov momentum by a large margin and Adam converges as
  fast as Adagrad (figure 1 right, which also shows RMSProp).
* Section 6.2: two fully connected hidden layers of 1000 ReLU units, minibatch 128; figure 2a, with dropout, compares
  Adagrad, RMSProp, SGD with Nesterov momentum, AdaDelta and Adam, and Adam converges best.
* Section 6.3: a CNN on CIFAR-10 (c64-c64-c128-1000: three stages of 5x5 convolutions and 3x3 max pooling with
  stride 2, then 1000 ReLU units), minibatch 128; figure 3 compares Adagrad, SGD with Nesterov momentum and Adam,
  with and without dropout: Adam and SGD converge clearly faster than Adagrad. Training cost over the first three
  epochs (left panel) and over 45 epochs (right).
* Section 6.4: the effect of the bias-correction terms: beta1 in [0, 0.9], beta2 in {0.99, 0.999, 0.9999},
  log10(alpha) in [-5, ..., -1], a variational auto-encoder; figure 4 shows the loss after 10 and after 100
  epochs with and without correction: beta2 close to 1 leads to instabilities without correction, mostly in the
  first epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PAPER = "Kingma & Ba, Adam: A Method for Stochastic Optimization, ICLR 2015 (arXiv:1412.6980)"

#: Section 6.1-6.3: "minibatch size of 128" in every experiment.
BATCH_SIZE = 128
#: Section 2, algorithm 1: the paper's default (beta1, beta2) and epsilon, used for every Adam run of 6.1-6.3.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: ravine's log grid for alpha (half-decades from 1e-4 to 1): the paper's grid is "dense" but not listed (section
#: 6); it spans every optimiser's usual range (Adam near 1e-3, SGD-N and AdaDelta near 0.1-1).
ALPHA_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
#: Section 6.4: the second-moment decay rates of the bias-correction study (beta1 = 0.9, its largest value).
STUDY_BETA1 = 0.9
STUDY_BETA2 = (0.99, 0.999, 0.9999)
#: Section 6.4 sweeps log10(alpha) over -5..-1; ravine keeps the half of it where an MLP trains (1e-4..1e-2) to fit
#: a CPU budget, in half-decades so that alpha = 3e-3 (where the judging re-run saw collapse) is on it.
STUDY_ALPHAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
#: A run "collapsed" when its training cost is no better than half the cost of guessing uniformly among the ten
#: classes (ln 10 / 2 ~ 1.15): fixed before any run, from the loss scale alone (a trained MNIST MLP is near 0.1).
COLLAPSE_LOSS = math.log(10) / 2

# Optimiser names of ravine's registry (ravine.optim.registry) and how the paper names them in its legends.
LEGEND = {
    "adam": "Adam",
    "nesterov": "SGDNesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSProp",
    "adadelta": "AdaDelta",
}


@dataclass(frozen=True)
class Experiment:
    """One comparison of section 6: a model, its data, the optimisers of its figure and its budget.

    Attributes:
        name: identifier (``mnist-logreg``), also the data's cache key in worker processes.
        title: one line for tables and figures.
        figure: the paper's figure it reproduces (``1 left``).
        dataset: ``mnist``, ``imdb``, ``fashion-mnist`` or ``cifar-10``.
        model: ``logreg``, ``logreg-sparse``, ``mlp``, ``cnn-small`` (28x28 grey) or ``cnn-cifar``.
        optimizers: registry names, in the order of the paper's legend.
        epochs: the default horizon (the paper trains far longer: see ``paper_epochs``).
        paper_epochs: the horizon of the paper's figure (epochs on its x axis), for ``--epochs``.
        tune_epochs: the budget alpha is chosen on (section 6: the best setting of a grid search is reported). The
            logistic regressions are cheap, so they are tuned over their whole default horizon (the best setting of
            the run that is reported); the networks over one epoch, for CPU time (ravine's choice).
        subset: training examples used (None: the lab's whole training part); ravine's choice, for CPU time.
        l2: ``l2 / 2 * ||W||^2`` on weight matrices added to the training cost (0: none).
        input_dropout: dropout on the inputs (IMDB's "dropout noise", section 6.1).
        dropout: dropout after hidden layers (the MLP of figure 2a, the CNN's fully connected layer).
        anneal: alpha_t = alpha / sqrt(t) with t the epoch (section 6.1), else constant alpha.
        log_y: the figure's training cost axis is logarithmic (figures 2 and 3; figure 1 is linear).
        claims_after: epochs at which claims are checked besides the end (1: "after epoch 1").
        source: where the choices come from.
    """

    name: str
    title: str
    figure: str
    dataset: str
    model: str
    optimizers: tuple[str, ...]
    epochs: int
    paper_epochs: int
    tune_epochs: int
    subset: int | None
    l2: float = 0.0
    input_dropout: float = 0.0
    dropout: float = 0.0
    anneal: bool = False
    log_y: bool = False
    source: str = ""


MNIST_LOGREG = Experiment(
    name="mnist-logreg",
    title="L2-regularised logistic regression on MNIST",
    figure="1 left",
    dataset="mnist",
    model="logreg",
    optimizers=("adagrad", "nesterov", "adam"),
    epochs=10,
    paper_epochs=45,
    tune_epochs=10,
    subset=None,
    # Section 6.1 says "L2-regularized" without the weight; 1e-4 is the lab's mnist-logreg value (ravine's choice).
    l2=1e-4,
    anneal=True,
    source="section 6.1, figure 1 (left)",
)

IMDB_LOGREG = Experiment(
    name="imdb-logreg",
    title="logistic regression on IMDB bag of words (10,000 words), 50 % input dropout",
    figure="1 right",
    dataset="imdb",
    model="logreg-sparse",
    optimizers=("adagrad", "rmsprop", "nesterov", "adam"),
    epochs=10,
    paper_epochs=160,
    tune_epochs=10,
    subset=None,
    input_dropout=0.5,
    # Section 6.1 anneals alpha for "our logistic regression experiments", which includes IMDB.
    anneal=True,
    source="section 6.1, figure 1 (right); Maas et al. (2011) for the data",
)

MNIST_MLP = Experiment(
    name="mnist-mlp",
    title="MLP 784-1000-1000-10 (ReLU, dropout 0.5) on MNIST",
    figure="2a",
    dataset="mnist",
    model="mlp",
    optimizers=("adagrad", "rmsprop", "nesterov", "adadelta", "adam"),
    epochs=10,
    paper_epochs=200,
    tune_epochs=1,
    # 20,000 of the 50,000 training images: an epoch of the 1000-1000 MLP costs ~5 s on one core instead of ~13 s.
    subset=20_000,
    # Figure 2a is "dropout stochastic regularization"; the rate is not given, 0.5 is Srivastava et al.'s.
    dropout=0.5,
    log_y=True,
    source="section 6.2, figure 2a",
)

FMNIST_CNN = Experiment(
    name="fmnist-cnn",
    title="CNN (conv16-conv32-linear) on Fashion-MNIST, the stand-in for the CIFAR-10 CNN",
    figure="3",
    dataset="fashion-mnist",
    model="cnn-small",
    optimizers=("adagrad", "nesterov", "adam"),
    epochs=10,
    paper_epochs=45,
    tune_epochs=1,
    subset=20_000,
    log_y=True,
    source="section 6.3, figure 3 (CIFAR-10); Fashion-MNIST (Xiao et al. 2017) stands in when CIFAR-10 is absent",
)

CIFAR_CNN = Experiment(
    name="cifar10-cnn",
    title="CNN c64-c64-c128-1000 (5x5 conv, 3x3 max pool stride 2, dropout 0.5 on the dense layer) on CIFAR-10",
    figure="3",
    dataset="cifar-10",
    model="cnn-cifar",
    optimizers=("adagrad", "nesterov", "adam"),
    epochs=5,
    paper_epochs=45,
    tune_epochs=1,
    subset=10_000,
    dropout=0.5,
    log_y=True,
    source="section 6.3, figure 3 (the paper whitens the inputs; ravine scales them to [0, 1])",
)


@dataclass(frozen=True)
class Study:
    """The bias-correction study of section 6.4 (figure 4), on the MLP of :data:`MNIST_MLP` (see its source).

    The paper trains a VAE; the judging re-run of issue 19 used the MNIST MLP, and so does ravine (the lab has no
    VAE). Loss after the first epoch stands for the paper's "10 epochs" panel, loss at the end for its "100".
    """

    name: str = "bias-correction"
    title: str = "bias correction on the MNIST MLP: beta1 = 0.9, beta2 in {0.99, 0.999, 0.9999}"
    figure: str = "4"
    base: Experiment = MNIST_MLP
    beta1: float = STUDY_BETA1
    beta2s: tuple[float, ...] = STUDY_BETA2
    alphas: tuple[float, ...] = STUDY_ALPHAS
    epochs: int = 3
    paper_epochs: int = 100
    # 5,000 images (40 steps an epoch): 60 runs of the 1000-1000 MLP fit the CPU budget; ravine's choice. The
    # uncorrected bias is largest in the first steps (1 - beta2^t is 0.004 at t = 40 for beta2 = 0.9999).
    subset: int | None = 5_000
    seeds: int = 2
    source: str = "section 6.4, figure 4 (a VAE there; the MNIST MLP here)"


BIAS_CORRECTION = Study()


def comparisons(cifar: bool) -> tuple[Experiment, ...]:
    """The comparison experiments, with the CIFAR-10 CNN when its data is present, else the Fashion-MNIST one."""
    return (MNIST_LOGREG, IMDB_LOGREG, MNIST_MLP, CIFAR_CNN if cifar else FMNIST_CNN)
