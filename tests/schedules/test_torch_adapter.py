"""ScheduleLR: a standard torch LR scheduler made from ravine schedules (parity and resume are tested in
test_torch_parity.py and test_resume.py)."""

from __future__ import annotations

import gc
import warnings

import pytest
import torch

import ravine
from ravine.schedules import ReduceOnPlateau, Schedule, ScheduleLR, constant, cosine, exponential, one_cycle


def _groups(*lrs):
    return [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]


def _step(opt):
    for g in opt.param_groups:
        for p in g["params"]:
            p.grad = torch.ones_like(p)
    opt.step()


def test_one_schedule_per_group():
    opt = torch.optim.SGD(_groups(1.0, 1.0), lr=1.0)
    sched = ScheduleLR(opt, [cosine(0.1, 10), exponential(0.5, 0.5)])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    for _ in range(3):
        _step(opt)
        sched.step()
    assert sched.get_last_lr() == [cosine(0.1, 10)(3), 0.0625]
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler) and sched.last_epoch == 3


def test_tensor_lr_is_filled_in_place():
    lr = torch.tensor(0.01)
    opt = torch.optim.Adam(_groups(lr), lr=lr)
    sched = ScheduleLR(opt, exponential(0.1, 0.5))
    _step(opt)
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)


def test_epoch_argument_uses_the_closed_form():
    opt = torch.optim.SGD(_groups(1.0), lr=1.0)
    sched = ScheduleLR(opt, cosine(0.1, 100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched.step(40)
    assert opt.param_groups[0]["lr"] == cosine(0.1, 100)(40)


def test_drives_a_ravine_optimiser_with_a_plain_lr():
    opt = ravine.optim.Adam(_groups(0.0), lr=0.0, fused=False)
    oc = one_cycle(0.1, 20)
    sched = ScheduleLR(opt, oc, momentum=oc.momentum)
    for k in range(1, 5):
        _step(opt)
        sched.step()
        assert opt.param_groups[0]["lr"] == oc(k) and opt.param_groups[0]["betas"] == (oc.momentum(k), 0.999)


def test_momentum_of_sgd():
    opt = torch.optim.SGD(_groups(0.0), lr=0.0, momentum=0.5)
    oc = one_cycle(0.1, 20)
    ScheduleLR(opt, oc, momentum=oc.momentum)
    assert opt.param_groups[0]["momentum"] == 0.95


def test_plateau_hook_goes_with_the_scheduler():
    plateau = ReduceOnPlateau(0.1, patience=0)
    opt = torch.optim.SGD(_groups(0.0), lr=0.0)
    sched = ScheduleLR(opt, plateau)
    plateau.step(1.0)
    plateau.step(2.0)
    _step(opt)  # the hook refreshes the lr before the step
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    del sched
    gc.collect()
    assert not opt._optimizer_step_pre_hooks  # closed when collected
    plateau.step(3.0)
    _step(opt)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)  # no scheduler, no change


class _Nan(Schedule):
    def value(self, step):
        return float("nan") if step > 1 else 0.1


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda o: ScheduleLR(o, [constant(0.1)] * 3), "schedule must be one schedule or a list of 2"),
        (lambda o: ScheduleLR(o, 0.1), r"schedule\[0\] must be a schedule"),
        (lambda o: ScheduleLR(o, torch.tensor(0.1)), r"schedule\[0\] must be a schedule"),
        (lambda o: ScheduleLR(o, constant(0.1), momentum=[constant(0.9)]), "momentum must be one schedule"),
        (lambda o: ScheduleLR(torch.optim.Adagrad(_groups(0.1)), constant(0.1), momentum=constant(0.9)), "momentum"),
        (lambda o: ScheduleLR(ravine.optim.SGD(_groups(cosine(0.1, 5))), constant(0.1)), r"param_groups\[0\]\['lr'\]"),
        (
            lambda o: ScheduleLR(
                ravine.optim.Adam(_groups(0.1), betas=(constant(0.9), 0.99)), constant(0.1), momentum=constant(0.9)
            ),
            r"\['betas.0'\] is already driven",
        ),
    ],
    ids=["count", "number", "tensor", "momentum-count", "no-momentum", "ravine-lr", "ravine-beta1"],
)
def test_bad_input(build, match):
    opt = torch.optim.SGD(_groups(1.0, 1.0), lr=1.0)
    with pytest.raises(ValueError, match=match):
        build(opt)


def test_non_finite_values_are_refused():
    opt = torch.optim.SGD(_groups(1.0), lr=1.0)
    sched = ScheduleLR(opt, _Nan())
    _step(opt)
    sched.step()
    _step(opt)
    with pytest.raises(ValueError, match="gave nan at step 2"):
        sched.step()


def test_state_dict_holds_no_schedule_objects():
    plateau = ReduceOnPlateau(0.1)
    opt = torch.optim.SGD(_groups(1.0), lr=1.0)
    state = ScheduleLR(opt, plateau, momentum=None).state_dict()
    assert state["schedule_states"] == {"lr.0": plateau.state_dict()}
    assert not any(isinstance(v, Schedule) for v in state.values())
    other = ScheduleLR(torch.optim.SGD(_groups(1.0), lr=1.0), constant(0.1))
    with pytest.raises(ValueError, match="do not match"):
        other.load_state_dict(state)
