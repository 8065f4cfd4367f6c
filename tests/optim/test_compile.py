"""torch.compile of a whole training step with a ravine optimiser runs and follows the eager trajectory."""

from __future__ import annotations

import pytest
import torch

import ravine


def _train(opt_name: str, compiled: bool, steps: int = 6) -> tuple[torch.nn.Module, list[float]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x, y = torch.randn(32, 5), torch.randn(32, 1)
    kwargs = {"Adam": {"lr": 1e-2, "amsgrad": True}, "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True}}[opt_name]
    opt = getattr(ravine.optim, opt_name)(model.parameters(), **kwargs)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = torch.compile(step) if compiled else step
    return model, [float(fn().detach()) for _ in range(steps)]


@pytest.mark.parametrize("opt_name", ["Adam", "SGD"])
def test_compiled_step_follows_eager(opt_name: str) -> None:
    eager, losses_e = _train(opt_name, False)
    torch._dynamo.reset()
    compiled, losses_c = _train(opt_name, True)
    assert losses_c == pytest.approx(losses_e, rel=1e-5)
    assert losses_e[-1] < losses_e[0]
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_changing_lr_and_betas_every_step_does_not_recompile() -> None:
    """OneCycleLR moves lr and beta1 at every step (pytorch#107076, #133898, #163093): no new graphs after warm-up."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model, x = torch.nn.Linear(4, 1), torch.randn(8, 4)
    opt = ravine.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=20)

    @torch.compile
    def step() -> None:
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()

    graphs, lrs = [], set()
    for _ in range(10):
        step()
        sched.step()
        graphs.append(counters["stats"]["unique_graphs"])
        lrs.add((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]))
    assert len(lrs) == 10
    assert graphs[-1] == graphs[2]
