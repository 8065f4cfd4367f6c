"""The Lightning and Hugging Face wrappers, where those packages are installed (neither is a dependency)."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def test_lightning_callback_runs_the_doctor() -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from ravine.diagnose.integrations.lightning import DoctorCallback

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    x = torch.randn(512, 4)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)
    cb = DoctorCallback(echo=False)
    pl.Trainer(max_epochs=3, callbacks=[cb], logger=False, enable_checkpointing=False, enable_progress_bar=False).fit(
        Module(), data
    )
    assert cb.report is not None and cb.report.steps == 96 and cb.report.ok


def test_huggingface_callback_runs_the_doctor() -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")  # the Trainer needs it with PyTorch
    from ravine.diagnose.integrations.huggingface import DoctorCallback

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))

        def forward(self, x, labels=None):
            out = self.net(x)
            return {"loss": nn.functional.mse_loss(out, labels), "logits": out}

    x = torch.randn(512, 4)
    rows = [{"x": a, "labels": b} for a, b in zip(x, x.sum(1, keepdim=True), strict=True)]
    args = transformers.TrainingArguments(
        "/tmp/ravine-hf",
        num_train_epochs=3,
        per_device_train_batch_size=16,
        max_grad_norm=0,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        learning_rate=0.05,
        lr_scheduler_type="constant",
    )
    cb = DoctorCallback(echo=False)
    transformers.Trainer(model=Model(), args=args, train_dataset=rows, callbacks=[cb]).train()
    assert cb.report is not None and cb.report.steps == 96
