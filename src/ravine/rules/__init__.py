"""Update rules: the equations of every optimiser, each written once (see :mod:`ravine.rules.base`)."""

from ravine.rules.adam import scale_by_adam, scale_by_nadam
from ravine.rules.adam_variants import scale_by_adamax, scale_by_radam
from ravine.rules.adaptive import scale_by_adadelta, scale_by_adagrad, scale_by_rms
from ravine.rules.averaging import averaged_step
from ravine.rules.base import Chain, ElementwiseRule, Rule, chain
from ravine.rules.clipping import clip_by_global_norm, clip_by_value
from ravine.rules.conditional import unless, when
from ravine.rules.ema import ema_toward
from ravine.rules.factored import relative_step, scale_by_factored_rms
from ravine.rules.gradient import add_decayed_weights, add_weight_decay, flip_sign
from ravine.rules.lion import decoupled_step, scale_by_lion
from ravine.rules.momentum import heavy_ball
from ravine.rules.orthogonal import ema_momentum, orthogonalize, shape_scaled_step
from ravine.rules.rprop import rprop_step
from ravine.rules.schedule_free import scale_by_corrected_rms, schedule_free_step
from ravine.rules.shampoo import shampoo_precondition
from ravine.rules.step import scaled_step
from ravine.rules.trust_ratio import scale_by_trust_ratio

__all__ = [
    "Chain",
    "ElementwiseRule",
    "Rule",
    "add_decayed_weights",
    "add_weight_decay",
    "averaged_step",
    "chain",
    "clip_by_global_norm",
    "clip_by_value",
    "decoupled_step",
    "ema_momentum",
    "ema_toward",
    "flip_sign",
    "heavy_ball",
    "orthogonalize",
    "relative_step",
    "rprop_step",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_corrected_rms",
    "scale_by_factored_rms",
    "scale_by_lion",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_trust_ratio",
    "scaled_step",
    "schedule_free_step",
    "shampoo_precondition",
    "shape_scaled_step",
    "unless",
    "when",
]
