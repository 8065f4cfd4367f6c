"""Forward hooks: the order in which a model runs its layers, and statistics of its activations.

An activation is *flat* on an input where its derivative is below ``slope`` times its largest derivative (the
unit passes almost no gradient there): ``x <= 0`` for ReLU, ``|tanh x| > sqrt(1 - slope)``, and so on.
Rectifiers (ReLU, GELU, SiLU, ELU, ...) are flat only at the bottom: a unit flat on every input is *dead*.
Saturating activations (tanh, sigmoid, hardtanh, ...) are flat at both ends: the fraction of flat values is the
*saturation* (Glorot & Bengio, AISTATS 2010, Sec. 3). Activations that are never flat (LeakyReLU, PReLU) are
not hooked: they can neither die nor saturate.

Hooks are attached only for the forward passes the doctor samples, so the other steps run at full speed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

Flat = Callable[[Tensor, Tensor, nn.Module, float], "Tensor | None"]


@dataclass(frozen=True)
class ActivationSpec:
    """How to read one activation type: ``family`` is ``"rectifier"`` or ``"saturating"``; ``flat(x, y, m, s)``
    marks where the derivative is below ``s`` times its maximum, from the input ``x`` or the output ``y``."""

    family: str
    flat: Flat


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == (f(lo) > 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _gelu_grad(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2))) + x * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _silu_grad(x: float) -> float:
    s = 1 / (1 + math.exp(-x))
    return s * (1 + x * (1 - s))


_GELU_MAX = _gelu_grad(_bisect(lambda x: _gelu_grad(x + 1e-6) - _gelu_grad(x), 0.5, 3.0))
_SILU_MAX = _silu_grad(_bisect(lambda x: _silu_grad(x + 1e-6) - _silu_grad(x), 0.5, 4.0))


def _lower_bound(grad: Callable[[float], float], peak: float, slope: float) -> float:
    """The x below which |grad(x)| < slope * peak (the flat tail on the left)."""
    return _bisect(lambda x: abs(grad(x)) - slope * peak, -40.0, -0.5)


def _relu(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return y <= 0


def _gelu(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return x < _lower_bound(_gelu_grad, _GELU_MAX, s)


def _silu(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor | None:
    if getattr(m, "inplace", False):  # the input was overwritten and the output is not monotone: unreadable
        return None
    return x < _lower_bound(_silu_grad, _SILU_MAX, s)


def _elu(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    # ELU: y = a (e^x - 1) for x < 0, slope a e^x, largest slope max(1, a): flat where y < s max(1, a) - a.
    a = float(getattr(m, "alpha", 1.0))
    if isinstance(m, nn.SELU):  # lambda * ELU_alpha with lambda, alpha from Klambauer et al. (2017)
        lam, a = 1.0507009873554805, 1.6732632423543772
        return y < lam * a * (s - 1)
    if isinstance(m, nn.CELU):  # a (e^{x/a} - 1): slope e^{x/a} <= 1
        return y < a * (s - 1)
    return y < s * max(1.0, a) - a


def _softplus(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    beta = float(getattr(m, "beta", 1.0))  # slope sigmoid(beta x) < s  <=>  y < -log(1 - s) / beta
    return y < -math.log1p(-s) / beta


def _hardswish(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return y == 0


def _tanh(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return y.abs() > math.sqrt(1 - s)


def _sigmoid(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return y * (1 - y) < 0.25 * s


def _hardtanh(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return (y <= m.min_val) | (y >= m.max_val)  # type: ignore[operator]


def _hardsigmoid(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return (y <= 0) | (y >= 1)


def _softsign(x: Tensor, y: Tensor, m: nn.Module, s: float) -> Tensor:
    return y.abs() > 1 - math.sqrt(s)  # slope 1 / (1 + |x|)^2


# Order matters: ReLU6 is a Hardtanh subclass but dies at the bottom like a ReLU.
SPECS: tuple[tuple[type[nn.Module], ActivationSpec], ...] = (
    (nn.ReLU6, ActivationSpec("rectifier", _relu)),
    (nn.ReLU, ActivationSpec("rectifier", _relu)),
    (nn.GELU, ActivationSpec("rectifier", _gelu)),
    (nn.SiLU, ActivationSpec("rectifier", _silu)),
    (nn.ELU, ActivationSpec("rectifier", _elu)),
    (nn.CELU, ActivationSpec("rectifier", _elu)),
    (nn.SELU, ActivationSpec("rectifier", _elu)),
    (nn.Softplus, ActivationSpec("rectifier", _softplus)),
    (nn.Hardswish, ActivationSpec("rectifier", _hardswish)),
    (nn.Tanh, ActivationSpec("saturating", _tanh)),
    (nn.Sigmoid, ActivationSpec("saturating", _sigmoid)),
    (nn.Hardtanh, ActivationSpec("saturating", _hardtanh)),
    (nn.Hardsigmoid, ActivationSpec("saturating", _hardsigmoid)),
    (nn.Softsign, ActivationSpec("saturating", _softsign)),
)


def spec_for(module: nn.Module) -> ActivationSpec | None:
    """The spec of ``module``'s activation type, or None if it is not an activation the doctor reads."""
    for cls, spec in SPECS:
        if isinstance(module, cls):
            return spec
    return None


def unit_dim(y: Tensor) -> int:
    """The dimension that indexes units: features of ``(N, D)``, channels of ``(N, C, H, W...)``, the last
    dimension of sequences ``(N, T, D)``."""
    if y.dim() <= 2 or y.dim() == 3:
        return y.dim() - 1
    return 1


@dataclass
class _Window:
    """Per-unit evidence from the most recent sampled batches: ``(inputs, unit flat on all of them)`` each."""

    units: int
    batches: deque[tuple[int, Tensor]] = field(default_factory=deque)

    @property
    def inputs(self) -> int:
        return sum(n for n, _ in self.batches)

    def push(self, n: int, all_flat: Tensor, keep: int) -> None:
        """Add a batch; drop the oldest while the rest still hold ``keep`` inputs (a sliding window)."""
        self.batches.append((n, all_flat))
        while len(self.batches) > 1 and self.inputs - self.batches[0][0] >= keep:
            self.batches.popleft()

    def flat_everywhere(self) -> Tensor:
        """Units flat on every input of the window."""
        out = self.batches[0][1].clone()
        for _, mask in list(self.batches)[1:]:
            out &= mask
        return out


class ActivationMonitor:
    """Samples activation statistics of the hooked modules on the forward passes it is armed for.

    Args:
        model: the model (its root forward resets the per-forward call counters).
        modules: ``(name, module, spec)`` to read.
        slope: flat where the derivative is below ``slope`` times its maximum.
        window_inputs: inputs per dead/stuck-unit window.
    """

    def __init__(
        self,
        model: nn.Module,
        modules: Sequence[tuple[str, nn.Module, ActivationSpec]],
        slope: float,
        window_inputs: int,
    ) -> None:
        self.model = model
        self.modules = list(modules)
        self.slope = slope
        self.window_inputs = window_inputs
        self.windows: dict[str, _Window] = {}
        self.families: dict[str, str] = {}
        self._records: list[tuple[str, Tensor]] = []
        self._closed: list[tuple[str, str, float]] = []
        self._errors: list[tuple[str, Tensor]] = []
        self._handles: list[Any] = []
        self._calls: dict[int, int] = {}
        self.inputs_seen = 0
        """Inputs seen by the first hooked activation since the last :meth:`collect` (a burst's size)."""

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def arm(self) -> None:
        """Attach the hooks for the next forward pass(es)."""
        if self._handles:
            return
        self._calls.clear()
        self._handles.append(self.model.register_forward_pre_hook(self._reset))
        for name, module, spec in self.modules:
            self._handles.append(module.register_forward_hook(self._hook(name, spec)))

    def disarm(self) -> None:
        """Remove the hooks."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _reset(self, module: nn.Module, args: Any) -> None:
        self._calls.clear()

    def _hook(self, name: str, spec: ActivationSpec) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if not isinstance(output, Tensor) or not inputs or not isinstance(inputs[0], Tensor):
                return
            i = self._calls.get(id(module), 0)
            self._calls[id(module)] = i + 1
            key = name if i == 0 else f"{name}#{i}"
            with torch.no_grad():
                self._observe(key, spec, module, inputs[0], output)
            if output.requires_grad and torch.is_grad_enabled():
                output.register_hook(self._error_hook(key))

        return hook

    def _error_hook(self, key: str) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            self._errors.append((key, torch.linalg.vector_norm(grad.detach().float()) / max(grad.numel(), 1) ** 0.5))

        return hook

    def _observe(self, key: str, spec: ActivationSpec, module: nn.Module, x: Tensor, y: Tensor) -> None:
        if y.numel() == 0 or not y.is_floating_point():
            return
        flat = spec.flat(x.detach(), y.detach(), module, self.slope)
        if flat is None:
            return
        self.families[key] = spec.family
        flat = flat.reshape(1, -1) if flat.dim() < 2 else flat
        d = unit_dim(flat)
        units = flat.shape[d]
        per_unit = flat if flat.dim() == 2 else flat.movedim(d, -1).reshape(-1, units)  # (values, units)
        w = self.windows.get(key)
        if w is None or w.units != units:
            w = self.windows[key] = _Window(units)
        w.push(flat.shape[0], per_unit.all(0), self.window_inputs)
        if key == self.modules[0][0]:
            self.inputs_seen += flat.shape[0]
        self._records.append((key, flat.sum() / flat.numel()))
        if w.inputs >= self.window_inputs:
            what = "dead" if spec.family == "rectifier" else "stuck"
            self._closed.append((key, what, w.flat_everywhere().float().mean().item()))

    def partial(self, min_inputs: int) -> list[tuple[str, str, float]]:
        """The windows not yet full but holding at least ``min_inputs`` inputs (for a final report)."""
        out = []
        for key, w in self.windows.items():
            if min_inputs <= w.inputs < self.window_inputs:
                what = "dead" if self.families.get(key) == "rectifier" else "stuck"
                out.append((key, what, w.flat_everywhere().float().mean().item()))
        return out

    def collect(self) -> tuple[list[tuple[str, float]], list[tuple[str, str, float]], list[tuple[str, float]]]:
        """The per-batch flat fractions, the closed windows, and the backpropagated-error RMS since the last call."""
        values = [v for _, v in self._records] + [v for _, v in self._errors]
        numbers = torch.stack([v.to(values[0].device).float() for v in values]).tolist() if values else []
        records = [(k, x) for (k, _), x in zip(self._records, numbers, strict=False)]
        errors = [(k, x) for (k, _), x in zip(self._errors, numbers[len(records) :], strict=True)]
        closed = self._closed
        self._records, self._closed, self._errors = [], [], []
        self.inputs_seen = 0
        return records, closed, errors
