"""How names found in logs map onto the doctor's series (case, separators and common aliases ignored)."""

from __future__ import annotations

import re

from ravine.diagnose import trace as T

STEP_NAMES = ("step", "global_step", "iteration", "iter", "it", "batch", "epoch")
"""Columns that may hold the step, in order of preference (``epoch`` only when nothing finer exists)."""

ALIASES: dict[str, str] = {
    # the training curve (per step, or per epoch in epoch-level logs)
    "loss": T.LOSS,
    "train_loss_step": T.LOSS,
    "training_loss": "train_loss",
    "loss_train": "train_loss",
    "train_loss": "train_loss",
    "train_loss_epoch": "train_loss",
    # evaluation
    "val_loss": "val_loss",
    "valid_loss": "val_loss",
    "validation_loss": "val_loss",
    "loss_val": "val_loss",
    "loss_valid": "val_loss",
    "eval_loss": "val_loss",
    "test_loss": "val_loss",
    "val_acc": "val_acc",
    "val_accuracy": "val_acc",
    "valid_acc": "val_acc",
    "validation_accuracy": "val_acc",
    "eval_accuracy": "val_acc",
    "eval_acc": "val_acc",
    "test_acc": "val_acc",
    "test_accuracy": "val_acc",
    "acc": "train_acc",
    "accuracy": "train_acc",
    "train_acc": "train_acc",
    "train_accuracy": "train_acc",
    # optimisation
    "lr": T.LR,
    "learning_rate": T.LR,
    "grad_norm": T.GRAD_NORM,
    "gradient_norm": T.GRAD_NORM,
    "grad_norm_total": T.GRAD_NORM,
    "total_grad_norm": T.GRAD_NORM,
    "update_ratio": T.UPDATE_RATIO,
    "step_agreement": T.STEP_AGREEMENT,
}

_SEP = re.compile(r"[\s/\-.:]+")


def normalise(name: str) -> str:
    """Lower case with ``/ - . :`` and spaces turned into ``_`` (``"Loss/Train"`` -> ``"loss_train"``)."""
    return _SEP.sub("_", name.strip().lower()).strip("_")


def canonical(name: str) -> str | None:
    """The doctor's series for a log column, or None if it is not one the doctor reads.

    Series the doctor writes itself (``grad_norm/net.0``, ``dead_fraction/act``, ...) keep their names;
    learning-rate monitors (``lr-Adam``, ``lr_group0``) map to ``lr``.
    """
    raw = name.strip()
    head = raw.split("/", 1)[0]
    if "/" in raw and head in (
        T.GRAD_NORM,
        T.UPDATE_RATIO,
        T.ZERO_FRACTION,
        T.DEAD_FRACTION,
        T.SATURATED_FRACTION,
        T.STUCK_FRACTION,
    ):
        return raw
    if raw in (T.GRAD_NONFINITE, T.PARAM_NONFINITE, T.HESSIAN_MAX, T.HESSIAN_MIN, T.EDGE_RATIO):
        return raw
    key = normalise(raw)
    if key in ALIASES:
        return ALIASES[key]
    if key.startswith("lr_") or key.startswith("learning_rate_"):
        return T.LR
    for prefix in ("train_", "training_"):
        if key.startswith(prefix) and key[len(prefix) :] in ("loss", "acc", "accuracy"):
            return ALIASES.get(key)
    for prefix in ("val_", "valid_", "validation_", "eval_"):
        if key.startswith(prefix):
            return "val_" + key[len(prefix) :]
    return None


def finish(trace: T.Trace) -> T.Trace:
    """Use ``train_loss`` as the training curve when a log has no per-step ``loss``."""
    if not trace.has(T.LOSS) and trace.has("train_loss"):
        trace.columns[T.LOSS] = trace.columns.pop("train_loss")
    return trace
