"""param_groups_without_decay: biases and normalisation parameters get no weight decay (pytorch#1402)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ravine


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)
        self.ln = nn.LayerNorm(4)
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2, bias=False)
        self.tied = self.head  # a shared module must not be listed twice


def test_split() -> None:
    decay, no_decay = ravine.optim.param_groups_without_decay(Net(), 0.1)
    assert decay["param_names"] == ["emb.weight", "fc.weight", "head.weight"]
    assert no_decay["param_names"] == ["fc.bias", "ln.weight", "ln.bias", "bn.weight", "bn.bias"]
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0


def test_options_and_errors() -> None:
    decay, _ = ravine.optim.param_groups_without_decay(Net(), 0.1, skip=["head.weight"], include_embeddings=False)
    assert decay["param_names"] == ["fc.weight"]
    with pytest.raises(ValueError, match="skip names parameters the model does not have"):
        ravine.optim.param_groups_without_decay(Net(), 0.1, skip=["nope"])
    with pytest.raises(ValueError, match="weight_decay must be in"):
        ravine.optim.param_groups_without_decay(Net(), -1.0)


def test_groups_drive_torch_and_ravine_alike() -> None:
    torch.manual_seed(0)
    net = Net()
    net2 = Net()
    net2.load_state_dict(net.state_dict())
    ours = ravine.optim.AdamW(ravine.optim.param_groups_without_decay(net, 0.5), lr=0.1)
    ref = torch.optim.AdamW(ravine.optim.param_groups_without_decay(net2, 0.5), lr=0.1)
    x = torch.tensor([1, 2, 3])
    for model, opt in ((net, ours), (net2, ref)):
        opt.zero_grad()
        model.head(model.bn(model.ln(model.fc(model.emb(x))))).sum().backward()
        opt.step()
    for (n, p), (_, q) in zip(net.named_parameters(), net2.named_parameters(), strict=True):
        assert torch.allclose(p, q, rtol=1e-6, atol=1e-7), n
