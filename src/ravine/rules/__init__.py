"""Update rules: the equations of every optimiser, each written once (see :mod:`ravine.rules.base`)."""

from ravine.rules.adam import scale_by_adam, scale_by_nadam
from ravine.rules.adaptive import scale_by_adadelta, scale_by_adagrad, scale_by_rms
from ravine.rules.base import Chain, ElementwiseRule, Rule, chain
from ravine.rules.clipping import clip_by_global_norm, clip_by_value
from ravine.rules.conditional import unless, when
from ravine.rules.gradient import add_decayed_weights, add_weight_decay, flip_sign
from ravine.rules.momentum import heavy_ball

__all__ = [
    "Chain",
    "ElementwiseRule",
    "Rule",
    "add_decayed_weights",
    "add_weight_decay",
    "chain",
    "clip_by_global_norm",
    "clip_by_value",
    "flip_sign",
    "heavy_ball",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_nadam",
    "scale_by_rms",
    "unless",
    "when",
]
