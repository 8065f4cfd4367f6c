"""The doctor's family benchmark: fault mechanisms x architectures x data x optimisers, split by family.

``FAMILIES`` (name -> :class:`Family`) holds every family once its modules are imported (here). Each family
expands into runs over severity x seed x optimiser; each run's labels and forbidden pairs are verified by a
measurement that does not use the doctor (:mod:`doctor_families.recipes`). The split (:func:`split_of`) is a
stable hash of the family name. Scoring is in :mod:`doctor_families.score`.
"""

from doctor_families import fam_data, fam_lr, fam_units  # noqa: F401  (register the families)
from doctor_families.core import FAMILIES, SPLITS, Family, RunSpec, Verdict, split_of

__all__ = ["FAMILIES", "SPLITS", "Family", "RunSpec", "Verdict", "runs", "split_of"]


def runs(split: str | None = None) -> list[RunSpec]:
    """Every run of the families in ``split`` (``dev``, ``heldout``, or None for all), in a fixed order."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return [r for f in FAMILIES.values() if split is None or f.split == split for r in f.runs()]
