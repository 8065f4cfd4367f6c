"""Families whose fault is in the data (shuffled labels, no learnable signal, too few examples: plateau and
overfitting) and the hard healthy families (small batches, clipping, warm-up spikes, converged-flat runs)."""

from __future__ import annotations

from dataclasses import replace

from doctor_families.core import RunSpec, Verdict, family
from doctor_families.data import task
from doctor_families.recipes import healthy, no_signal, overfits, setup


# -- plateau: nothing to learn -----------------------------------------------------------------------------
@family(
    "plat-shuffled-mnist",
    ("plateau",),
    "mlp relu 2x64",
    "mnist",
    "labels shuffled apart from the images",
    (("torch.adam", 1e-3), ("ravine.momentum", 0.05)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _shuffled_mnist(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "mlp", lr=spec.lr, act="relu", label_noise=1.0)
    return no_signal(s, doctor, replace(s, label_noise=0.0))


@family(
    "plat-shuffled-imdb",
    ("plateau",),
    "mlp relu 1x32",
    "imdb",
    "review labels shuffled",
    (("torch.rmsprop", 3e-4), ("ravine.adam", 3e-4)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _shuffled_imdb(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "imdb", "mlp", lr=spec.lr, act="relu", depth=1, width=32, n=8192, label_noise=1.0)
    return no_signal(s, doctor, replace(s, label_noise=0.0))


@family(
    "plat-parity",
    ("plateau",),
    "mlp tanh 1x64",
    "parity",
    "parity of 10 bits: no gradient signal",
    (("torch.adam", 1e-3), ("ravine.sgd", 0.1)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _parity(spec: RunSpec, doctor: bool) -> Verdict:
    return no_signal(setup(spec, "parity", "mlp", lr=spec.lr, act="tanh", depth=1, n=4096), doctor, None)


@family(
    "plat-shuffled-cnn-fashion",
    ("plateau",),
    "cnn relu",
    "fashion",
    "image labels shuffled, CNN",
    (("torch.adamw", 1e-3), ("ravine.rmsprop", 1e-3)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _shuffled_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "fashion", "cnn", lr=spec.lr, act="relu", batch=32, label_noise=1.0)
    return no_signal(s, doctor, replace(s, label_noise=0.0))


# -- overfitting: too few examples for the model ------------------------------------------------------------
@family(
    "over-mnist-small",
    ("overfitting",),
    "mlp relu 2x256",
    "mnist",
    "128-256 images, a wide MLP, many epochs",
    (("torch.adam", 1e-3), ("ravine.adamw", 1e-3)),
    (128, 256),
)
def _over_mnist(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "mlp", n=int(spec.severity), lr=spec.lr, act="relu", width=256, steps=400, eval_every=25)
    return overfits(s, doctor)


@family(
    "over-imdb-small",
    ("overfitting",),
    "mlp relu 1x64",
    "imdb",
    "200-400 reviews, 2,000 words",
    (("torch.adam", 1e-3), ("ravine.rmsprop", 1e-3)),
    (200, 400),
)
def _over_imdb(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "imdb", "mlp", n=int(spec.severity), lr=spec.lr, act="relu", depth=1, steps=300, eval_every=20)
    return overfits(s, doctor)


@family(
    "over-regnoisy",
    ("overfitting",),
    "mlp gelu 2x128",
    "regnoisy",
    "40-80 noisy points, full batch",
    (("torch.adam", 3e-3), ("ravine.adam", 3e-3)),
    (40, 80),
)
def _over_reg(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec,
        "regnoisy",
        "mlp",
        n=int(spec.severity),
        lr=spec.lr,
        act="gelu",
        width=128,
        steps=800,
        batch=1000,
        eval_every=50,
    )
    return overfits(s, doctor)


@family(
    "over-fashion-noisy-labels",
    ("overfitting",),
    "mlp relu 1x256",
    "fashion",
    "512 images, 30-50% label noise",
    (("torch.momentum", 0.1), ("ravine.adam", 1e-3)),
    (0.3, 0.5),
)
def _over_noise(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec,
        "fashion",
        "mlp",
        n=512,
        lr=spec.lr,
        act="relu",
        depth=1,
        width=256,
        steps=500,
        eval_every=25,
        label_noise=spec.severity,
    )
    return overfits(s, doctor)


@family(
    "over-cnn-mnist",
    ("overfitting",),
    "cnn relu",
    "mnist",
    "128 images, a CNN",
    (("torch.adam", 3e-3), ("ravine.momentum", 0.05)),
    (64, 128),
)
def _over_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "cnn", n=int(spec.severity), lr=spec.lr, act="relu", steps=400, batch=32, eval_every=25)
    return overfits(s, doctor)


# -- healthy, and hard ----------------------------------------------------------------------------------------
@family(
    "ok-adam-spirals",
    (),
    "mlp gelu 2x32",
    "spirals",
    "Adam on 2-d spirals, evaluated (flagged before)",
    (("torch.adam", 0.01), ("ravine.adam", 0.01)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_spirals(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "spirals", "mlp", act="gelu", width=32, steps=400, eval_every=50), doctor)


@family(
    "ok-smallbatch-mnist",
    (),
    "mlp relu 1x64",
    "mnist",
    "batches of 4: noisy",
    (("torch.sgd", 0.03), ("ravine.momentum", 0.01)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_small(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "mnist", "mlp", act="relu", depth=1, batch=4, steps=400), doctor, progress=0.7)


@family(
    "ok-lstm-seq",
    (),
    "lstm 32",
    "seq",
    "Adam / AdamW on an LSTM",
    (("torch.adam", 3e-3), ("ravine.adamw", 3e-3)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_lstm(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "seq", "lstm", d=8, width=32, steps=300), doctor)


@family(
    "ok-transformer-fashion",
    (),
    "transformer",
    "fashion",
    "a transformer block, evaluated",
    (("torch.adamw", 1e-3), ("ravine.adam", 1e-3)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_transformer(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "fashion", "transformer", steps=200, batch=32, eval_every=50), doctor)


@family(
    "ok-resnet-norm-cls",
    (),
    "resnet 4 blocks, layer norm",
    "cls",
    "a normalised residual net",
    (("torch.momentum", 0.05), ("ravine.nadam", 1e-3)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_resnet(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "cls", "resnet", act="relu", norm="layer", blocks=4, width=32), doctor, progress=0.6)


@family(
    "ok-cnn-mnist",
    (),
    "cnn relu",
    "mnist",
    "a CNN, evaluated",
    (("torch.momentum", 0.02), ("ravine.adam", 1e-3)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "mnist", "cnn", act="relu", batch=32, eval_every=50), doctor)


@family(
    "ok-clipped-imdb",
    (),
    "mlp relu 1x64",
    "imdb",
    "clipping active on most steps",
    (("torch.sgd", 0.5), ("ravine.rmsprop", 3e-4)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_clipped(spec: RunSpec, doctor: bool) -> Verdict:
    return healthy(setup(spec, "imdb", "mlp", act="relu", depth=1, n=4096, clip=0.1), doctor, progress=0.7)


@family(
    "ok-warmup-spike-fashion",
    (),
    "mlp gelu 2x64",
    "fashion",
    "10x the lr for 10 steps: a spike, then recovery",
    (("torch.momentum", 0.02), ("ravine.adam", 1e-3)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_spike(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "fashion", "mlp", act="gelu", steps=300, schedule=lambda t: 10.0 if 60 <= t < 70 else 1.0)
    return healthy(s, doctor)


@family(
    "ok-converged-linreg",
    (),
    "linear",
    "linreg",
    "full-batch GD to the noise floor: converged and flat",
    (("torch.sgd", 0.5), ("ravine.sgd", 0.5)),
    (1.0,),
    seeds=(0, 1, 2),
)
def _ok_converged(spec: RunSpec, doctor: bool) -> Verdict:
    lam = task("linreg", 1024).curvature
    return healthy(setup(spec, "linreg", "linear", n=1024, lr=spec.lr / lam, batch=1024, steps=300), doctor)
