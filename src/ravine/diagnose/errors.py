"""The doctor's named errors and warnings: bad input is refused with a clear message, never passed silently."""

from __future__ import annotations


class DiagnoseError(ValueError):
    """Base class of the doctor's input errors (a ``ValueError``: the input, not the program, is wrong)."""


class LogFormatError(DiagnoseError):
    """A training log that cannot be read: unknown format, no loss column, malformed rows."""


class NoActivationsError(DiagnoseError):
    """``activations="required"`` and the model has no activation module the doctor can hook."""


class NoActivationsWarning(UserWarning):
    """The model has no hookable activation module, so ``dead_units`` and ``saturation`` cannot be checked.

    Functional calls (``torch.relu(x)``, ``F.gelu(x)``) are invisible to module hooks; use ``nn.ReLU()`` and
    friends, pass ``activations=[modules]``, or turn this warning into an error with
    ``warnings.simplefilter("error", NoActivationsWarning)``.
    """
