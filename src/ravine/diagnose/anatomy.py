"""What the doctor learns about the model and the optimiser before and at the first forward pass: which
activations to read, the order in which layers and activations run, and the optimiser's settings."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ravine.diagnose import measures
from ravine.diagnose.errors import NoActivationsError, NoActivationsWarning
from ravine.diagnose.hooks import ActivationMonitor, ActivationSpec, spec_for
from ravine.diagnose.thresholds import Thresholds

NO_ACTIVATIONS = (
    "the model has no activation module with a flat region (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, ...); dead_units "
    "and saturation cannot be checked (functional calls such as F.relu are invisible to hooks)"
)


def activation_monitor(
    model: nn.Module, activations: str | Sequence[nn.Module] | None, th: Thresholds, meta: dict[str, Any]
) -> ActivationMonitor | None:
    """The monitor for ``activations`` (``"auto"``, ``"required"``, a list of modules, or None), recording in
    ``meta["activations"]`` what is hooked. Warns (``"auto"``) or raises (``"required"``) if nothing can be."""
    names = measures.module_names(model)
    if activations is None:
        meta["activations"] = "disabled"
        return None
    if isinstance(activations, str):
        if activations not in ("auto", "required"):
            raise ValueError(f"activations must be 'auto', 'required', a list of modules or None; got {activations!r}")
        chosen = [m for m in model.modules() if spec_for(m) is not None]
        if not chosen:
            if activations == "required":
                raise NoActivationsError(NO_ACTIVATIONS)
            warnings.warn(NO_ACTIVATIONS, NoActivationsWarning, stacklevel=4)
            meta["activations"] = "none found"
            return None
    else:
        chosen = list(activations)
        if not chosen:
            raise ValueError("activations must name at least one module (pass None to hook nothing)")
        for m in chosen:
            if not isinstance(m, nn.Module) or spec_for(m) is None:
                raise ValueError(f"activations must be activation modules with a flat region, got {m!r}")
            if id(m) not in names:
                raise ValueError(f"activation module {m!r} is not part of the model")
    specs: list[tuple[str, nn.Module, ActivationSpec]] = [(names[id(m)], m, spec_for(m)) for m in chosen]  # type: ignore[misc]
    meta["activations"] = {n: type(m).__name__ for n, m, _ in specs}
    return ActivationMonitor(model, specs, th.saturation_slope, th.dead_window_inputs)


class OrderRecorder:
    """Records, during the first forward pass, the order in which weight layers and activations run.

    On completion it calls ``done`` with ``layers`` (weight layers in execution order), ``dense_layers`` (the
    same without embeddings), ``activation_order`` (activation calls, ``name#k`` for a module's k-th call) and
    ``output_activations`` (activations after the last weight layer: the model's output, not a hidden layer).
    """

    def __init__(
        self, model: nn.Module, layers: Sequence[measures.Layer], done: Callable[[dict[str, Any]], None]
    ) -> None:
        self.layers = list(layers)
        self.done = done
        self.order: list[str] = []
        names = measures.module_names(model)
        layer_names = {lay.name for lay in layers}
        watched = [m for m in model.modules() if names[id(m)] in layer_names or spec_for(m) is not None]

        def record(module: nn.Module, inputs: Any, output: Any) -> None:
            self.order.append(names[id(module)])

        self.handles = [m.register_forward_hook(record) for m in watched]
        self.handles.append(model.register_forward_hook(lambda *a: self.finish()))  # after the whole forward

    @property
    def active(self) -> bool:
        return bool(self.handles)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def finish(self) -> None:
        """Stop recording and report what was seen (nothing, if no forward pass happened)."""
        self.remove()
        if not self.order:
            return
        layer_names = [lay.name for lay in self.layers]
        sparse = {lay.name for lay in self.layers if lay.sparse}
        last_layer = max((i for i, n in enumerate(self.order) if n in layer_names), default=-1)
        order: list[str] = []
        acts: list[str] = []
        outputs: list[str] = []
        counts: dict[str, int] = {}
        for i, n in enumerate(self.order):
            k = counts.get(n, 0)
            counts[n] = k + 1
            if n in layer_names:
                if n not in order:
                    order.append(n)
                continue
            key = n if k == 0 else f"{n}#{k}"
            acts.append(key)
            if i > last_layer:
                outputs.append(key)
        self.done(
            {
                "layers": order,
                "dense_layers": [n for n in order if n not in sparse],
                "activation_order": acts,
                "output_activations": outputs,
            }
        )


def group_lr(group: Mapping[str, Any]) -> float | None:
    """A parameter group's learning rate as a float (None if it is not a number)."""
    lr = group.get("lr")
    if isinstance(lr, Tensor):
        return float(lr.detach().reshape(-1)[0])
    if isinstance(lr, (int, float)):
        return float(lr)
    return None


def _plain(v: Any) -> Any:
    if isinstance(v, Tensor):
        return float(v.reshape(-1)[0]) if v.numel() == 1 else None
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (tuple, list)):
        items = [_plain(x) for x in v]
        return items if all(x is not None for x in items) else None
    return None


def describe(
    model: nn.Module, optimizer: torch.optim.Optimizer, params: Sequence[Tensor], layers: Sequence[measures.Layer]
) -> dict[str, Any]:
    """The JSON-able facts the detectors and the advice use: optimiser class and first group's settings, model
    class, parameter count, layer types."""
    group = optimizer.param_groups[0]
    settings = {k: _plain(v) for k, v in group.items() if k not in ("params", "param_names", "schedules")}
    module = type(optimizer).__module__.split(".")
    return {
        "optimizer": type(optimizer).__name__,
        "optimizer_module": ".".join(module[:2]),
        "settings": {k: v for k, v in settings.items() if v is not None},
        "param_groups": len(optimizer.param_groups),
        "model": type(model).__name__,
        "parameters": int(sum(p.numel() for p in params)),
        "layer_types": {lay.name: lay.type for lay in layers},
    }
