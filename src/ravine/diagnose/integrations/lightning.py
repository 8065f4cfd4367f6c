"""The doctor as a Lightning callback: ``Trainer(callbacks=[DoctorCallback()])``.

Lightning calls ``on_before_optimizer_step`` after backward -- with mixed precision, after unscaling -- and
before gradient clipping (``Precision._after_closure``), so the doctor reads the raw gradients there; the loss
comes from ``on_before_backward``, the step from ``on_train_batch_end``, the evaluations from
``callback_metrics`` at the end of each validation epoch (``val_loss``, ``val_acc``, ``train_loss``, ... as
logged).
"""

from __future__ import annotations

from typing import Any

from ravine.diagnose.doctor import Doctor
from ravine.diagnose.findings import Report

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the older package name
    from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef]


class DoctorCallback(Callback):
    """Runs a :class:`~ravine.diagnose.Doctor` on the first optimiser of a Lightning fit.

    Args:
        **doctor_kwargs: passed to :class:`~ravine.diagnose.Doctor` (``log=``, ``on_finding=``, ...).

    Attributes:
        report: the :class:`~ravine.diagnose.Report` at the end of the fit (None before).
    """

    def __init__(self, **doctor_kwargs: Any) -> None:
        super().__init__()
        self.doctor_kwargs = doctor_kwargs
        self.doctor: Doctor | None = None
        self.report: Report | None = None
        self._loss: Any = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.doctor = Doctor(pl_module, trainer.optimizers[0], **self.doctor_kwargs)

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        self._loss = loss.detach()
        scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
        if scaler is not None:  # mixed precision hands this hook the scaled loss
            self._loss = self._loss / scaler.get_scale()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.doctor is not None and self._loss is not None:
            self.doctor.after_backward(self._loss)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.doctor is not None and self.doctor._in_step:
            self.doctor.after_step()

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.doctor is None or trainer.sanity_checking:
            return
        metrics = {k: v for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
        val = {k.removeprefix("val_").removeprefix("val/"): v for k, v in metrics.items() if k.startswith("val")}
        train = {
            k.removeprefix("train_").removeprefix("train/"): v for k, v in metrics.items() if k.startswith("train")
        }
        self.doctor.on_eval(train=train or None, val=val or None)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.doctor is not None:
            self.report = self.doctor.report()
            self.doctor.close()
