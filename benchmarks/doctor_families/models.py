"""The architectures of the family benchmark: MLPs, a small CNN, RNN/LSTM, a transformer block, residual nets.

All are CPU-sized (a few thousand to ~100k parameters) so a 200-step run takes about a second. ``gain`` rescales
weight matrices to std ``gain / sqrt(fan_in)`` (He's ReLU scale is ``sqrt(2)``, Glorot's tanh scale about 1);
``bias`` sets hidden biases, the two knobs most faults below turn.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from _doctor_runs import mlp
from _doctor_scenarios import DeepLinear

Act = Callable[[], nn.Module]
ACTS: dict[str, Act] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "hardtanh": nn.Hardtanh,
}


def _rescale(model: nn.Module, gain: float | None, bias: float | None) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            if gain is not None:
                nn.init.normal_(m.weight, 0.0, gain / math.sqrt(m.weight[0].numel()))
            if bias is not None and m.bias is not None:
                nn.init.constant_(m.bias, bias)
    return model


class CNN(nn.Module):
    """Two stride-2 3x3 convolutions (8 and 16 channels) on 28x28 images, a linear head."""

    def __init__(self, act: str, out: int, gain: float | None = None, bias: float | None = None) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2), ACTS[act](), nn.Conv2d(8, 16, 3, stride=2), ACTS[act](), nn.Flatten()
        )
        self.head = nn.Linear(16 * 6 * 6, out)
        _rescale(self.body, gain, bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x.view(-1, 1, 28, 28)))


class Recurrent(nn.Module):
    """An RNN (tanh or ReLU), LSTM or GRU over a sequence, a linear head on the last state.

    Flat inputs of 784 pixels are read as 28 rows of 28; ``gain`` scales the orthogonal recurrent matrix.
    """

    def __init__(self, cell: str, d: int, h: int, out: int, gain: float | None = None) -> None:
        super().__init__()
        self.d = d
        kinds = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
        extra = {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}
        self.rnn = kinds[cell](d, h, batch_first=True, **extra)
        if gain is not None:
            for name, p in self.rnn.named_parameters():
                if name.startswith("weight_hh"):
                    for chunk in p.data.split(h):
                        nn.init.orthogonal_(chunk, gain=gain)
        self.head = nn.Linear(h, out)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x.view(len(x), -1, self.d))
        return self.head(out[:, -1])


class Transformer(nn.Module):
    """One pre-norm transformer encoder block (2 heads, width 32) over the input cut into tokens, mean-pooled."""

    def __init__(self, d_token: int, out: int, width: int = 32, gain: float | None = None) -> None:
        super().__init__()
        self.d_token = d_token
        self.embed = nn.Linear(d_token, width)
        self.block = nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.head = nn.Linear(width, out)
        if gain is not None:
            _rescale(self, gain, None)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block(self.embed(x.view(len(x), -1, self.d_token))).mean(1))


class Residual(nn.Module):
    """``h + W2 act(W1 norm(h))`` blocks between a linear stem and head; ``norm`` is None, 'layer' or 'batch'."""

    def __init__(
        self, d_in: int, width: int, blocks: int, out: int, act: str, norm: str | None, gain: float | None = None
    ) -> None:
        super().__init__()
        self.stem = nn.Linear(d_in, width)
        norms = {None: nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}
        self.blocks = nn.ModuleList(
            nn.Sequential(
                norms[norm](width) if norm else nn.Identity(),
                nn.Linear(width, width),
                ACTS[act](),
                nn.Linear(width, width),
            )
            for _ in range(blocks)
        )
        self.head = nn.Linear(width, out)
        if gain is not None:
            for b in self.blocks:
                _rescale(b, gain, None)

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for b in self.blocks:
            h = h + b(h)
        return self.head(h)


def build(arch: str, d_in: int, d_out: int, **kw: float | int | str | None) -> nn.Module:
    """The model ``arch`` for inputs of size ``d_in``.

    ``arch``: ``linear``; ``mlp`` (``act``, ``depth`` hidden layers of ``width``); ``cnn``; ``rnn_tanh``,
    ``rnn_relu``, ``lstm``, ``gru`` (``width``; ``d`` = features per step); ``transformer`` (``d`` = features per
    token); ``resnet`` (``blocks``, ``norm``); ``deeplinear`` (``depth``, ``scale``: std of every weight).
    """
    gain, bias = kw.get("gain"), kw.get("bias")
    act, width = str(kw.get("act", "relu")), int(kw.get("width", 64))  # type: ignore[arg-type]
    if arch == "linear":
        return _rescale(nn.Linear(d_in, d_out), gain, bias)  # type: ignore[arg-type]
    if arch == "mlp":
        depth = int(kw.get("depth", 2))  # type: ignore[arg-type]
        return mlp([d_in] + [width] * depth + [d_out], ACTS[act], gain=gain, bias=bias)  # type: ignore[arg-type]
    if arch == "cnn":
        return CNN(act, d_out, gain, bias)  # type: ignore[arg-type]
    if arch in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
        return Recurrent(arch, int(kw.get("d", 28)), width, d_out, gain)  # type: ignore[arg-type]
    if arch == "transformer":
        return Transformer(int(kw.get("d", 28)), d_out, gain=gain)  # type: ignore[arg-type]
    if arch == "resnet":
        blocks = int(kw.get("blocks", 4))  # type: ignore[arg-type]
        return Residual(d_in, width, blocks, d_out, act, kw.get("norm"), gain)  # type: ignore[arg-type]
    if arch == "deeplinear":
        depth = int(kw.get("depth", 3))  # type: ignore[arg-type]
        return DeepLinear([d_in] + [width] * (depth - 1) + [d_out], float(kw.get("scale", 1e-3)))  # type: ignore[arg-type]
    raise ValueError(
        f"arch must be linear, mlp, cnn, rnn_tanh, rnn_relu, lstm, gru, transformer, resnet or deeplinear; got {arch!r}"
    )


def has_modules(model: nn.Module, kinds: tuple[type[nn.Module], ...]) -> bool:
    """Whether ``model`` contains a module of one of ``kinds``."""
    return any(isinstance(m, kinds) for m in model.modules())


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
