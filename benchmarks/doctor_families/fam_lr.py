"""Families whose fault is the learning rate or its schedule: divergence, oscillation, lr too low, a schedule
that collapses the lr to ~0 (plateau), and saddles (a small init that a low lr cannot be blamed for)."""

from __future__ import annotations

from doctor_families.core import RunSpec, Verdict, family
from doctor_families.data import task
from doctor_families.recipes import collapses, diverges, oscillates, saddle, setup, too_low


# -- divergence: the lr far above the stable one -------------------------------------------------------------
@family(
    "div-mlp-mnist",
    ("divergence",),
    "mlp tanh 2x64",
    "mnist",
    "lr 1-10x a rate that already blows up",
    (("torch.momentum", 1.0), ("ravine.sgd", 5.0)),
    (1, 3, 10),
)
def _div_mlp(spec: RunSpec, doctor: bool) -> Verdict:
    return diverges(setup(spec, "mnist", "mlp", act="tanh"), doctor, calm=1 / 100)


@family(
    "div-linreg-gd",
    ("divergence",),
    "linear",
    "linreg",
    "full-batch GD at lr = c / lambda_max, c > 2",
    (("torch.sgd", 1.0), ("ravine.sgd", 1.0)),
    (2.2, 3.0, 5.0),
)
def _div_linreg(spec: RunSpec, doctor: bool) -> Verdict:
    lam = task("linreg", 1024).curvature
    return diverges(setup(spec, "linreg", "linear", n=1024, lr=spec.severity / lam, batch=1024), doctor, calm=0.2)


@family(
    "div-transformer-fashion",
    ("divergence",),
    "transformer",
    "fashion",
    "a transformer block far above its lr",
    (("torch.adam", 1.0), ("ravine.momentum", 0.3)),
    (1, 3, 10),
)
def _div_transformer(spec: RunSpec, doctor: bool) -> Verdict:
    return diverges(setup(spec, "fashion", "transformer", steps=150, batch=32), doctor, calm=1 / 300)


@family(
    "div-ramp-imdb",
    ("divergence",),
    "mlp relu 1x64",
    "imdb",
    "a warm-up that never stops: lr x g^t",
    (("torch.momentum", 0.01), ("ravine.rmsprop", 3e-4)),
    (1.05, 1.06),
)
def _div_ramp(spec: RunSpec, doctor: bool) -> Verdict:
    g = spec.severity
    return diverges(
        setup(spec, "imdb", "mlp", lr=spec.lr, depth=1, schedule=lambda t: g**t), doctor, calm=1.0, ramp=True
    )


@family(
    "div-resnet-reg",
    ("divergence",),
    "resnet 4 blocks, no norm",
    "reg",
    "a residual net far above its lr",
    (("torch.sgd", 0.1), ("ravine.nadam", 0.03)),
    (3, 10, 30),
)
def _div_resnet(spec: RunSpec, doctor: bool) -> Verdict:
    return diverges(setup(spec, "reg", "resnet", act="relu", norm=None, blocks=4, width=32), doctor, calm=1 / 100)


# -- oscillation: the lr a few times above the stable one ----------------------------------------------------
@family(
    "osc-sgd-tanh-mnist",
    ("oscillation",),
    "mlp tanh 1x64",
    "mnist",
    "plain SGD a few times above stable",
    (("torch.sgd", 1.5), ("ravine.sgd", 1.5)),
    (1.0, 1.1),
)
def _osc_sgd(spec: RunSpec, doctor: bool) -> Verdict:
    return oscillates(setup(spec, "mnist", "mlp", act="tanh", depth=1), doctor)


@family(
    "osc-rmsprop-fashion",
    ("oscillation",),
    "mlp gelu 2x64",
    "fashion",
    "RMSprop a few times above stable",
    (("torch.rmsprop", 0.01), ("ravine.rmsprop", 0.01)),
    (6, 10),
)
def _osc_rmsprop(spec: RunSpec, doctor: bool) -> Verdict:
    return oscillates(setup(spec, "fashion", "mlp", act="gelu"), doctor)


@family(
    "osc-adam-spirals",
    ("oscillation",),
    "mlp tanh 2x32",
    "spirals",
    "Adam a few times above stable",
    (("torch.adam", 0.2), ("ravine.adam", 0.2)),
    (1, 2),
)
def _osc_adam(spec: RunSpec, doctor: bool) -> Verdict:
    return oscillates(setup(spec, "spirals", "mlp", act="tanh", width=32, steps=300), doctor)


@family(
    "osc-momentum-logreg-mnist",
    ("oscillation",),
    "linear",
    "mnist",
    "heavy ball 0.9 at a high lr",
    (("torch.momentum", 5.0), ("ravine.momentum", 5.0)),
    (1, 1.5),
)
def _osc_logreg(spec: RunSpec, doctor: bool) -> Verdict:
    return oscillates(setup(spec, "mnist", "linear", batch=128), doctor)


@family(
    "osc-adam-imdb",
    ("oscillation",),
    "mlp relu 1x32",
    "imdb",
    "Adam on bag-of-words at a high lr",
    (("torch.adam", 0.2), ("ravine.adam", 0.2)),
    (1, 1.5),
)
def _osc_imdb(spec: RunSpec, doctor: bool) -> Verdict:
    return oscillates(setup(spec, "imdb", "mlp", act="gelu", depth=1, width=32, n=4096), doctor)


# -- lr too low: 10x the lr ends far lower ---------------------------------------------------------------------
@family(
    "low-sgd-mnist",
    ("lr_too_low",),
    "mlp relu 2x64",
    "mnist",
    "SGD / heavy ball at a tiny lr",
    (("torch.sgd", 1e-2), ("ravine.momentum", 1e-3)),
    (1, 0.5),
)
def _low_sgd(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "mnist", "mlp", act="relu"), doctor)


@family(
    "low-adam-cnn-fashion",
    ("lr_too_low",),
    "cnn relu",
    "fashion",
    "Adam / AdamW on a CNN at a tiny lr",
    (("torch.adam", 5e-5), ("ravine.adamw", 5e-5)),
    (1, 0.5),
)
def _low_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "fashion", "cnn", act="relu", batch=32), doctor)


@family(
    "low-rmsprop-lstm-seq",
    ("lr_too_low",),
    "lstm 32",
    "seq",
    "RMSprop on an LSTM at a tiny lr",
    (("torch.rmsprop", 1e-4), ("ravine.rmsprop", 1e-4)),
    (1, 0.5),
)
def _low_lstm(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "seq", "lstm", d=8, width=32), doctor)


@family(
    "low-linear-imdb",
    ("lr_too_low",),
    "linear",
    "imdb",
    "logistic regression on bag-of-words, tiny lr",
    (("torch.sgd", 1e-2), ("ravine.adagrad", 1e-3)),
    (1, 0.5),
)
def _low_imdb(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "imdb", "linear"), doctor, factor=30)  # a linear model gains slowly


@family(
    "low-transformer-seq",
    ("lr_too_low",),
    "transformer",
    "seq",
    "Adam / Lion on a transformer, tiny lr",
    (("torch.adam", 1e-4), ("ravine.lion", 3e-5)),
    (1, 0.5),
)
def _low_transformer(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "seq", "transformer", d=8), doctor)


# -- plateau: a schedule drives the lr to ~0 mid-run --------------------------------------------------------
@family(
    "plat-collapse-mnist",
    ("plateau",),
    "mlp relu 2x64",
    "mnist",
    "step schedule cuts the lr to ~0 at 30%",
    (("torch.momentum", 0.05), ("ravine.adam", 1e-3)),
    (1e-6, 0.0),
)
def _collapse_mlp(spec: RunSpec, doctor: bool) -> Verdict:
    c = spec.severity
    s = setup(spec, "mnist", "mlp", lr=spec.lr, act="relu", steps=300, schedule=lambda t: 1.0 if t < 90 else c)
    return collapses(s, doctor, 0.3)


@family(
    "plat-collapse-lstm-seq",
    ("plateau",),
    "lstm 32",
    "seq",
    "exponential decay to ~0 from 15% of the run",
    (("torch.adam", 3e-3), ("ravine.rmsprop", 3e-4)),
    (0.7, 0.5),
)
def _collapse_lstm(spec: RunSpec, doctor: bool) -> Verdict:
    g = spec.severity
    s = setup(
        spec, "seq", "lstm", lr=spec.lr, d=8, width=32, steps=300, schedule=lambda t: 1.0 if t < 45 else g ** (t - 45)
    )
    return collapses(s, doctor, 0.15)


@family(
    "plat-collapse-cnn-fashion",
    ("plateau",),
    "cnn relu",
    "fashion",
    "a cosine schedule that ends at 30%",
    (("torch.momentum", 0.05), ("ravine.adamw", 1e-3)),
    (0.3, 0.2),
)
def _collapse_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    import math

    end = spec.severity * 300
    s = setup(
        spec,
        "fashion",
        "cnn",
        lr=spec.lr,
        act="relu",
        steps=300,
        batch=32,
        schedule=lambda t: 0.5 * (1 + math.cos(math.pi * t / end)) if t < end else 0.0,
    )
    return collapses(s, doctor, spec.severity)


# -- saddle: small init at the origin's saddle -------------------------------------------------------------
@family(
    "saddle-deeplinear-lowrank",
    ("saddle",),
    "deep linear 3x8",
    "lowrank",
    "deep linear net from a tiny init, GD",
    (("torch.sgd", 0.1), ("ravine.sgd", 0.1)),
    (1e-2, 3e-3),
)
def _saddle_deeplinear(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec, "lowrank", "deeplinear", n=1024, lr=spec.lr, depth=3, width=8, scale=spec.severity, batch=1024, steps=300
    )
    return saddle(s, doctor)


@family(
    "saddle-tanh-momentum-reg",
    ("saddle",),
    "mlp tanh 1x16",
    "reg",
    "small-init tanh MLP with momentum",
    (("torch.momentum", 0.02), ("ravine.momentum", 0.01)),
    (1e-3, 1e-5),
)
def _saddle_tanh(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec,
        "reg",
        "mlp",
        lr=spec.lr,
        act="tanh",
        depth=1,
        width=16,
        gain=spec.severity,
        bias=0.0,
        batch=256,
        steps=300,
    )
    return saddle(s, doctor)


@family(
    "saddle-deeplinear-reg",
    ("saddle",),
    "deep linear 4x8",
    "reg",
    "4-layer linear net from a tiny init",
    (("torch.sgd", 0.2), ("ravine.sgd", 0.1)),
    (3e-2, 1e-2),
)
def _saddle_deeplinear4(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec, "reg", "deeplinear", n=1024, lr=spec.lr, depth=4, width=8, scale=spec.severity, batch=1024, steps=300
    )
    return saddle(s, doctor)


@family(
    "saddle-tanh-spirals",
    ("saddle",),
    "mlp tanh 1x32",
    "spirals",
    "small-init tanh classifier, SGD",
    (("torch.sgd", 0.5), ("ravine.momentum", 0.05)),
    (1e-3, 1e-5),
)
def _saddle_spirals(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec,
        "spirals",
        "mlp",
        lr=spec.lr,
        act="tanh",
        depth=1,
        width=32,
        gain=spec.severity,
        bias=0.0,
        batch=256,
        steps=300,
    )
    return saddle(s, doctor)


@family(
    "low-sgd-resnet-reg",
    ("lr_too_low",),
    "resnet 4 blocks, layer norm",
    "reg",
    "a normalised residual net, tiny lr",
    (("torch.sgd", 3e-3), ("ravine.nadam", 3e-5)),
    (1, 0.5),
)
def _low_resnet(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "reg", "resnet", act="gelu", norm="layer", blocks=4, width=32), doctor)


@family(
    "low-gru-seq",
    ("lr_too_low",),
    "gru 32",
    "seq",
    "heavy ball / Adam on a GRU at a tiny lr",
    (("torch.momentum", 3e-3), ("ravine.adam", 3e-4)),
    (1, 0.5),
)
def _low_gru(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "seq", "gru", d=8, width=32), doctor)


@family(
    "low-spirals-adagrad",
    ("lr_too_low",),
    "mlp gelu 2x32",
    "spirals",
    "Adagrad / RMSprop at a tiny lr",
    (("torch.adagrad", 1e-2), ("ravine.rmsprop", 3e-4)),
    (1, 0.5),
)
def _low_spirals(spec: RunSpec, doctor: bool) -> Verdict:
    return too_low(setup(spec, "spirals", "mlp", act="gelu", width=32, steps=500), doctor)
