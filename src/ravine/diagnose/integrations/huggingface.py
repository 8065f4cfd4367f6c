"""The doctor as a Hugging Face ``TrainerCallback``: ``Trainer(..., callbacks=[DoctorCallback()])``.

The Trainer clips gradients (``max_grad_norm``, 1.0 by default) *before* ``on_pre_optimizer_step``, the first
hook that sees them, so here the doctor reads clipped gradients: pass ``max_grad_norm=0`` to let it see raw
ones, or diagnose the Trainer's log afterwards (``ravine doctor``), whose ``grad_norm`` is the pre-clipping
norm. The loss is read from the model output's ``loss`` through a forward hook (models given ``labels``
return one); evaluations from ``on_evaluate``'s metrics (``eval_loss`` -> ``val_loss``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor
from transformers import TrainerCallback

from ravine.diagnose.doctor import Doctor
from ravine.diagnose.findings import Report


class DoctorCallback(TrainerCallback):
    """Runs a :class:`~ravine.diagnose.Doctor` during ``Trainer.train()``.

    Args:
        **doctor_kwargs: passed to :class:`~ravine.diagnose.Doctor`.

    Attributes:
        report: the :class:`~ravine.diagnose.Report` at the end of training (None before).
    """

    def __init__(self, **doctor_kwargs: Any) -> None:
        self.doctor_kwargs = doctor_kwargs
        self.doctor: Doctor | None = None
        self.report: Report | None = None
        self._loss: Tensor | None = None
        self._handle: Any = None

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kwargs: Any
    ) -> None:
        self.doctor = Doctor(model, optimizer, **self.doctor_kwargs)
        self._handle = model.register_forward_hook(self._catch_loss)

    def _catch_loss(self, module: Any, inputs: Any, output: Any) -> None:
        loss = getattr(output, "loss", None) if not isinstance(output, dict) else output.get("loss")
        if isinstance(loss, Tensor) and loss.requires_grad:
            self._loss = loss.detach()

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.doctor is not None and self._loss is not None:
            self.doctor.after_backward(self._loss)

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.doctor is not None and self.doctor._in_step:
            self.doctor.after_step()

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kwargs: Any
    ) -> None:
        if self.doctor is not None and metrics:
            val = {
                k.removeprefix("eval_"): v
                for k, v in metrics.items()
                if k.startswith("eval_") and isinstance(v, (int, float))
            }
            self.doctor.on_eval(val=val or None)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.doctor is not None:
            self.report = self.doctor.report()
            self.doctor.close()
        if self._handle is not None:
            self._handle.remove()
