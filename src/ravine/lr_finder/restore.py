"""Put everything a range test touches back as it was, bit for bit.

:class:`Snapshot` records, before the sweep, and restores, after it (also when it fails or is interrupted):

* the model: every parameter and buffer (BatchNorm's running statistics and ``num_batches_tracked`` included),
  each parameter's ``.grad`` (or its absence), and every submodule's ``training`` flag. Values are copied back
  *into the same tensors*, so references to them (an optimiser's ``params``, a fused kernel's addresses) stay
  valid;
* tensors the optimiser updates that are not the model's parameters: their values and ``.grad``;
* the optimiser: ``state`` (per-parameter entries created by the sweep are removed; existing ones get their
  tensors' values back, in the same tensor objects) and every ``param_groups`` entry (``lr``, betas, schedules,
  ``scheduled_steps`` ...: the same dicts, holding the same value objects); for ravine optimisers also
  ``reports`` and ``execution``, and the fused step's prepared plan is dropped so it is rebuilt from the restored
  state;
* random number generators: torch's CPU generator, CUDA's (when initialised), NumPy's global ``RandomState``,
  Python's ``random``, and the ``generator`` of a DataLoader or of its sampler when the batches come from one.

Not restored: anything else a model or optimiser keeps (attributes set by hooks or by a custom step), files
written, and other generators the data pipeline owns.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


def _clone(v: Any) -> Any:
    return v.detach().clone() if isinstance(v, Tensor) else copy.deepcopy(v)


def _fits(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and a.layout == b.layout


def _put_back(original: Any, saved: Any) -> Any:
    """What to restore: the ``original`` object itself, holding ``saved``'s values again when it is a tensor.

    Tensors get their values copied back in place (so every reference to them stays valid); a tensor the sweep
    reshaped is replaced by the saved copy. Other values are the original objects: the sweep only rebinds them.
    """
    if isinstance(original, Tensor) and isinstance(saved, Tensor):
        if not _fits(original, saved):
            return saved
        with torch.no_grad():
            original.copy_(saved)
    return original


class _ModelState:
    """Every module's own parameters and buffers (by name, so a rebound one is put back too), grads, flags."""

    def __init__(self, model: nn.Module) -> None:
        self.entries: list[tuple[nn.Module, str, str, Tensor, Tensor]] = []
        for m in model.modules():
            for kind, tensors in (("param", m._parameters), ("buffer", m._buffers)):
                for name, t in tensors.items():
                    if t is not None:
                        self.entries.append((m, kind, name, t, t.detach().clone()))
        params = {id(p): p for p in model.parameters()}
        self.grads = [(p, p.grad, None if p.grad is None else p.grad.detach().clone()) for p in params.values()]
        self.training = [(m, m.training) for m in model.modules()]

    def restore(self) -> None:
        with torch.no_grad():
            for m, kind, name, t, value in self.entries:
                table = m._parameters if kind == "param" else m._buffers
                if table.get(name) is not t:
                    table[name] = t
                if _fits(t, value):
                    t.copy_(value)
                else:
                    t.data = value
        for p, grad, value in self.grads:
            p.grad = None if grad is None else _put_back(grad, value)
        for m, flag in self.training:
            m.training = flag


class _OptimizerState:
    """``state`` and ``param_groups`` (same objects, values copied back), and ravine's per-step reports."""

    _RAVINE_EXTRAS = ("reports", "execution", "_last_reductions")

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        state = optimizer.state
        # Per key of ``state`` (parameters, usually): the state dict object, its value objects and value copies.
        self.keys = list(state)
        self.state = [(k, state[k], dict(state[k]), {n: _clone(v) for n, v in state[k].items()}) for k in self.keys]
        self.group_list = list(optimizer.param_groups)
        self.groups = [
            (g, dict(g), {k: v.detach().clone() for k, v in g.items() if isinstance(v, Tensor)})
            for g in optimizer.param_groups
        ]
        self.extras = {k: copy.deepcopy(getattr(optimizer, k)) for k in self._RAVINE_EXTRAS if hasattr(optimizer, k)}

    def restore(self) -> None:
        opt = self.optimizer
        opt.param_groups[:] = self.group_list
        for group, objects, tensors in self.groups:
            group.clear()
            group.update({k: _put_back(v, tensors[k]) if k in tensors else v for k, v in objects.items()})
        state = opt.state
        kept = {id(k) for k in self.keys}
        for k in [k for k in state if id(k) not in kept]:
            del state[k]  # created by the sweep
        for k, st, objects, values in self.state:
            st.clear()
            st.update({n: _put_back(v, values[n]) if isinstance(v, Tensor) else values[n] for n, v in objects.items()})
            state[k] = st
        for k, v in self.extras.items():
            setattr(opt, k, v)
        if hasattr(opt, "_plan"):
            # ravine's fused step holds the state dicts it was built on: rebuild it from the restored ones.
            opt._plan = None


class _RandomState:
    def __init__(self, generators: Iterable[torch.Generator]) -> None:
        self.torch = torch.get_rng_state()
        self.cuda = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        )
        self.numpy = np.random.get_state()
        self.python = random.getstate()
        self.generators = [(g, g.get_state()) for g in generators]

    def restore(self) -> None:
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        for g, s in self.generators:
            g.set_state(s)


def data_generators(batches: Any) -> list[torch.Generator]:
    """The torch generators a DataLoader (or a sampler) draws its order from, if ``batches`` is one."""
    found: list[torch.Generator] = []
    for obj in (
        batches,
        getattr(batches, "sampler", None),
        getattr(batches, "batch_sampler", None),
        getattr(getattr(batches, "batch_sampler", None), "sampler", None),
    ):
        g = getattr(obj, "generator", None)
        if isinstance(g, torch.Generator) and not any(g is f for f in found):
            found.append(g)
    return found


class Snapshot:
    """The state of a model, its optimiser and the random generators, taken now; :meth:`restore` puts it back.

    Args:
        model: the model the sweep trains.
        optimizer: its optimiser.
        generators: further torch generators to restore (e.g. :func:`data_generators` of the batches).
    """

    def __init__(self, model: nn.Module, optimizer: Any, generators: Iterable[torch.Generator] = ()) -> None:
        self.model = _ModelState(model)
        own = {id(p) for p in model.parameters()}
        # tensors the optimiser updates that are not the model's (a learnable temperature kept outside it)
        self.extra = [
            (p, p.detach().clone(), p.grad, None if p.grad is None else p.grad.detach().clone())
            for p in {id(p): p for g in optimizer.param_groups for p in g["params"] if id(p) not in own}.values()
        ]
        self.optimizer = _OptimizerState(optimizer)
        self.random = _RandomState(generators)

    def restore(self) -> None:
        self.model.restore()
        with torch.no_grad():
            for p, value, _, _ in self.extra:
                p.copy_(value)
        for p, _, grad, value in self.extra:
            p.grad = None if grad is None else _put_back(grad, value)
        self.optimizer.restore()
        self.random.restore()
