"""The training doctor: watch a run, name what is wrong, say what to try -- live, or from a finished run's log.

>>> from ravine.diagnose import Doctor
>>> doctor = Doctor(model, optimizer)              # doctest: +SKIP
>>> # in the loop: loss.backward(); doctor.after_backward(loss); optimizer.step(); doctor.after_step()
>>> report = doctor.report()                       # doctest: +SKIP

``diagnose_log(path)`` does the same for a JSONL, CSV or TensorBoard log. The ten kinds of finding are in
:data:`KINDS`; every threshold, with its source, is in :class:`Thresholds`.
"""

from ravine.diagnose.detect import Diagnosis, diagnose
from ravine.diagnose.doctor import Doctor
from ravine.diagnose.errors import DiagnoseError, LogFormatError, NoActivationsError, NoActivationsWarning
from ravine.diagnose.findings import KINDS, SEVERITIES, Finding, Report, Skipped
from ravine.diagnose.logs import diagnose_log, read_log
from ravine.diagnose.thresholds import Thresholds
from ravine.diagnose.trace import Trace

__all__ = [
    "KINDS",
    "SEVERITIES",
    "DiagnoseError",
    "Diagnosis",
    "Doctor",
    "Finding",
    "LogFormatError",
    "NoActivationsError",
    "NoActivationsWarning",
    "Report",
    "Skipped",
    "Thresholds",
    "Trace",
    "diagnose",
    "diagnose_log",
    "read_log",
]
