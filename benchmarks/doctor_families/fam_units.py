"""Families whose fault lives in the units and gradients: exploding and vanishing gradients, dead and saturated
units, and the two co-occurring pairs (deep sigmoid: saturation + vanishing; deep ReLU: exploding + divergence)."""

from __future__ import annotations

import math

from doctor_families import models
from doctor_families.core import RunSpec, Verdict, family
from doctor_families.data import task
from doctor_families.recipes import dies, explodes, saturates, setup, vanishes

HE = math.sqrt(2)


def _sane(arch: str, data: str, **kw: object):
    t = task(data)
    return lambda: models.build(arch, t.d_in, t.d_out, **kw)  # type: ignore[arg-type]


# -- exploding gradients ------------------------------------------------------------------------------------
@family(
    "expl-rnn-relu-seq",
    ("exploding_gradients",),
    "rnn relu 32",
    "seq",
    "recurrent weights g x orthogonal, clipped",
    (("torch.sgd", 0.01), ("ravine.adam", 1e-3)),
    (1.8, 2.2, 2.6),
)
def _expl_rnn(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "seq", "rnn_relu", lr=spec.lr, d=8, width=32, gain=spec.severity, clip=1.0)
    return explodes(s, doctor, _sane("rnn_relu", "seq", d=8, width=32, gain=0.9))


@family(
    "expl-deeprelu-mnist",
    ("exploding_gradients",),
    "mlp relu 10x64",
    "mnist",
    "g x He's init scale, clipped",
    (("torch.momentum", 1e-3), ("ravine.sgd", 1e-3)),
    (2.0, 2.5, 3.0),
)
def _expl_deep(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "mlp", lr=spec.lr, act="relu", depth=10, gain=spec.severity * HE, clip=1.0)
    return explodes(s, doctor, _sane("mlp", "mnist", act="relu", depth=10, gain=HE))


@family(
    "expl-resnet-cls",
    ("exploding_gradients",),
    "resnet 8 blocks, no norm",
    "cls",
    "residual branches at g x He",
    (("torch.adam", 1e-3), ("ravine.momentum", 1e-3)),
    (2.0, 3.0),
)
def _expl_resnet(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(
        spec, "cls", "resnet", lr=spec.lr, act="relu", norm=None, blocks=8, width=32, gain=spec.severity * HE, clip=1.0
    )
    return explodes(s, doctor, _sane("resnet", "cls", act="relu", norm=None, blocks=8, width=32, gain=0.3))


@family(
    "expl-rnn-tanh-mnist",
    ("exploding_gradients",),
    "rnn tanh 32",
    "mnist",
    "rows as a sequence, g x orthogonal",
    (("torch.adam", 1e-3), ("ravine.rmsprop", 1e-3)),
    (2.5, 3.5),
)
def _expl_rnn_tanh(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "rnn_tanh", lr=spec.lr, d=28, width=32, gain=spec.severity, clip=1.0, steps=150)
    return explodes(s, doctor, _sane("rnn_tanh", "mnist", d=28, width=32, gain=0.9))


# -- vanishing gradients ------------------------------------------------------------------------------------
@family(
    "van-sigmoid-mnist",
    ("vanishing_gradients",),
    "mlp sigmoid, depth 6-10",
    "mnist",
    "deep sigmoid MLP",
    (("torch.sgd", 0.1), ("ravine.momentum", 0.05)),
    (6, 8, 10),
)
def _van_mnist(spec: RunSpec, doctor: bool) -> Verdict:
    return vanishes(setup(spec, "mnist", "mlp", lr=spec.lr, act="sigmoid", depth=int(spec.severity)), doctor)


@family(
    "van-sigmoid-imdb",
    ("vanishing_gradients",),
    "mlp sigmoid, depth 6-10",
    "imdb",
    "deep sigmoid on words",
    (("torch.momentum", 0.05), ("ravine.sgd", 0.1)),
    (6, 8, 10),
)
def _van_imdb(spec: RunSpec, doctor: bool) -> Verdict:
    return vanishes(setup(spec, "imdb", "mlp", lr=spec.lr, act="sigmoid", width=32, depth=int(spec.severity)), doctor)


@family(
    "van-tanh-small-reg",
    ("vanishing_gradients",),
    "mlp tanh, depth 8-12",
    "reg",
    "deep tanh at 0.2x Glorot",
    (("torch.momentum", 0.05), ("ravine.sgd", 0.1)),
    (8, 10, 12),
)
def _van_tanh(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "reg", "mlp", lr=spec.lr, act="tanh", width=32, depth=int(spec.severity), gain=0.2)
    return vanishes(s, doctor)


@family(
    "van-sigmoid-spirals",
    ("vanishing_gradients",),
    "mlp sigmoid, depth 8-12",
    "spirals",
    "deep sigmoid, RMSprop",
    (("torch.rmsprop", 1e-3), ("ravine.nadam", 1e-3)),
    (8, 10, 12),
)
def _van_spirals(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "spirals", "mlp", lr=spec.lr, act="sigmoid", width=32, depth=int(spec.severity))
    return vanishes(s, doctor)


# -- dead units ---------------------------------------------------------------------------------------------
@family(
    "dead-bias-mnist",
    ("dead_units",),
    "mlp relu 2x64",
    "mnist",
    "hidden biases initialised negative",
    (("torch.sgd", 0.05), ("ravine.adam", 1e-3)),
    (2.0, 4.0),
)
def _dead_bias(spec: RunSpec, doctor: bool) -> Verdict:
    return dies(setup(spec, "mnist", "mlp", lr=spec.lr, act="relu", bias=-spec.severity), doctor)


@family(
    "dead-burst-fashion",
    ("dead_units",),
    "mlp relu 2x64",
    "fashion",
    "killed mid-run: 20 steps at 30-300x lr",
    (("torch.adam", 1e-3), ("ravine.adamw", 1e-3)),
    (30, 100, 300),
)
def _dead_burst(spec: RunSpec, doctor: bool) -> Verdict:
    k = spec.severity
    s = setup(spec, "fashion", "mlp", lr=spec.lr, act="relu", steps=250, schedule=lambda t: k if 60 <= t < 80 else 1.0)
    return dies(s, doctor, alive_at=60)


@family(
    "dead-highlr-cls",
    ("dead_units",),
    "mlp relu 2x64",
    "cls",
    "SGD at a high lr kills units from the start",
    (("torch.sgd", 1.0), ("ravine.momentum", 0.2)),
    (4, 8, 16),
)
def _dead_highlr(spec: RunSpec, doctor: bool) -> Verdict:
    return dies(setup(spec, "cls", "mlp", act="relu"), doctor, alive_at=1)


@family(
    "dead-bias-cnn-mnist",
    ("dead_units",),
    "cnn relu",
    "mnist",
    "conv biases initialised negative",
    (("torch.momentum", 0.01), ("ravine.adam", 1e-3)),
    (1.0, 2.0),
)
def _dead_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    return dies(setup(spec, "mnist", "cnn", lr=spec.lr, act="relu", bias=-spec.severity, batch=32), doctor)


# -- saturation ---------------------------------------------------------------------------------------------
@family(
    "sat-tanh-init-mnist",
    ("saturation",),
    "mlp tanh 2x64",
    "mnist",
    "weights g x Glorot's scale",
    (("torch.sgd", 0.01), ("ravine.adam", 1e-3)),
    (6, 12, 18),
)
def _sat_tanh(spec: RunSpec, doctor: bool) -> Verdict:
    return saturates(setup(spec, "mnist", "mlp", lr=spec.lr, act="tanh", gain=spec.severity), doctor)


@family(
    "sat-sigmoid-unscaled-fashion",
    ("saturation",),
    "mlp sigmoid 2x64",
    "fashion",
    "pixels not scaled to [0, 1]",
    (("torch.adam", 1e-3), ("ravine.rmsprop", 1e-3)),
    (255, 50),
)
def _sat_unscaled(spec: RunSpec, doctor: bool) -> Verdict:
    return saturates(setup(spec, "fashion", "mlp", lr=spec.lr, act="sigmoid", scale_inputs=spec.severity), doctor)


@family(
    "sat-hardtanh-bias-cls",
    ("saturation",),
    "mlp hardtanh 2x64",
    "cls",
    "hidden biases initialised at +b",
    (("torch.momentum", 0.05), ("ravine.sgd", 0.05)),
    (2.0, 3.0, 5.0),
)
def _sat_hardtanh(spec: RunSpec, doctor: bool) -> Verdict:
    return saturates(setup(spec, "cls", "mlp", lr=spec.lr, act="hardtanh", bias=spec.severity), doctor)


@family(
    "sat-tanh-cnn-fashion",
    ("saturation",),
    "cnn tanh",
    "fashion",
    "conv weights g x Glorot's scale",
    (("torch.sgd", 0.01), ("ravine.adam", 1e-3)),
    (8, 16),
)
def _sat_cnn(spec: RunSpec, doctor: bool) -> Verdict:
    return saturates(setup(spec, "fashion", "cnn", lr=spec.lr, act="tanh", gain=spec.severity, batch=32), doctor)


# -- co-occurring faults ------------------------------------------------------------------------------------
@family(
    "co-sigmoid-sat-van-mnist",
    ("saturation", "vanishing_gradients"),
    "mlp sigmoid 6x64",
    "mnist",
    "deep sigmoid, hidden biases at +b: saturated, so the error vanishes",
    (("torch.sgd", 0.1), ("ravine.adam", 1e-3)),
    (6.0, 8.0),
)
def _co_sigmoid(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "mlp", lr=spec.lr, act="sigmoid", depth=6, bias=spec.severity)
    return vanishes(s, doctor, labels=("saturation", "vanishing_gradients"))


@family(
    "co-tanh-sat-van-reg",
    ("saturation", "vanishing_gradients"),
    "mlp tanh 8x32",
    "reg",
    "deep tanh, hidden biases at +b: saturated and vanishing",
    (("torch.momentum", 0.01), ("ravine.rmsprop", 1e-3)),
    (3.5, 5.0),
)
def _co_tanh(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "reg", "mlp", lr=spec.lr, act="tanh", depth=8, width=32, bias=spec.severity)
    return vanishes(s, doctor, labels=("saturation", "vanishing_gradients"))


@family(
    "co-relu-expl-div-reg",
    ("exploding_gradients", "divergence"),
    "mlp relu 10x64",
    "reg",
    "deep ReLU at g x He, unclipped: explodes and diverges",
    (("torch.sgd", 1e-3), ("ravine.momentum", 1e-3)),
    (2.0, 2.5),
)
def _co_relu_reg(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "reg", "mlp", lr=spec.lr, act="relu", depth=10, gain=spec.severity * HE)
    return explodes(
        s, doctor, _sane("mlp", "reg", act="relu", depth=10, gain=HE), labels=("exploding_gradients", "divergence")
    )


@family(
    "co-relu-expl-div-mnist",
    ("exploding_gradients", "divergence"),
    "mlp relu 12x64",
    "mnist",
    "deep ReLU at g x He, unclipped, heavy ball",
    (("torch.momentum", 1e-2), ("ravine.sgd", 3e-2)),
    (2.0, 2.5),
)
def _co_relu_mnist(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "mnist", "mlp", lr=spec.lr, act="relu", depth=12, gain=spec.severity * HE)
    return explodes(
        s, doctor, _sane("mlp", "mnist", act="relu", depth=12, gain=HE), labels=("exploding_gradients", "divergence")
    )


@family(
    "dead-burst-sgd-mnist",
    ("dead_units",),
    "mlp relu 2x64",
    "mnist",
    "killed mid-run: 10 steps at 100-1000x lr",
    (("torch.momentum", 0.01), ("ravine.sgd", 0.05)),
    (100, 1000),
)
def _dead_burst_sgd(spec: RunSpec, doctor: bool) -> Verdict:
    k = spec.severity
    s = setup(spec, "mnist", "mlp", lr=spec.lr, act="relu", steps=250, schedule=lambda t: k if 80 <= t < 90 else 1.0)
    return dies(s, doctor, alive_at=80)


@family(
    "dead-bias-imdb",
    ("dead_units",),
    "mlp relu 2x32",
    "imdb",
    "hidden biases initialised negative, words",
    (("torch.rmsprop", 1e-3), ("ravine.momentum", 0.05)),
    (1.0, 3.0),
)
def _dead_imdb(spec: RunSpec, doctor: bool) -> Verdict:
    return dies(setup(spec, "imdb", "mlp", lr=spec.lr, act="relu", width=32, bias=-spec.severity), doctor)


@family(
    "dead-burst-adam-resnet-cls",
    ("dead_units",),
    "resnet 3 blocks, no norm",
    "cls",
    "ReLU branches killed mid-run by 20 steps at 100x lr",
    (("torch.adam", 1e-3), ("ravine.radam", 1e-3)),
    (100, 300),
)
def _dead_resnet(spec: RunSpec, doctor: bool) -> Verdict:
    k = spec.severity
    s = setup(
        spec,
        "cls",
        "resnet",
        lr=spec.lr,
        act="relu",
        norm=None,
        blocks=3,
        width=32,
        steps=250,
        schedule=lambda t: k if 60 <= t < 80 else 1.0,
    )
    return dies(s, doctor, alive_at=60)


@family(
    "expl-deeprelu-cls",
    ("exploding_gradients",),
    "mlp relu 8x32",
    "cls",
    "8 ReLU layers at g x He, Adam, clipped",
    (("torch.adam", 1e-3), ("ravine.lion", 1e-4)),
    (2.5, 3.5),
)
def _expl_cls(spec: RunSpec, doctor: bool) -> Verdict:
    s = setup(spec, "cls", "mlp", lr=spec.lr, act="relu", depth=8, width=32, gain=spec.severity * HE, clip=1.0)
    return explodes(s, doctor, _sane("mlp", "cls", act="relu", depth=8, width=32, gain=HE))
