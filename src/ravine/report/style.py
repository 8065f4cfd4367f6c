"""One look for every ravine figure: a colour per optimiser that stays the same across plots.

Colours are the Okabe-Ito palette (readable with the common forms of colour blindness), then Tableau's.
"""

from __future__ import annotations

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
EXTRA = ["#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#2CA02C"]

FIXED = {
    "sgd": "#7F7F7F",
    "momentum": "#0072B2",
    "nesterov": "#56B4E9",
    "adagrad": "#009E73",
    "rmsprop": "#E69F00",
    "adadelta": "#CC79A7",
    "adam": "#D55E00",
    "amsgrad": "#8C564B",
    "adamw": "#BCBD22",
    "nadam": "#9467BD",
    "lbfgs": "#000000",
}


def color(name: str, index: int = 0) -> str:
    """The colour of optimiser ``name`` (a registry name); unknown names take the palette in order of ``index``."""
    key = name.lower().removeprefix("torch.")
    if key in FIXED:
        return FIXED[key]
    palette = OKABE_ITO + EXTRA
    return palette[index % len(palette)]


DPI = 110
FONT_SIZE = 9
