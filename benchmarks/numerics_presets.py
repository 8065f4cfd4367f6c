"""How far a numerics preset moves a run: the same model, data, seed and learning rate, three presets.

    python benchmarks/numerics_presets.py            # 500 steps, float32, one thread

A two-layer MLP (20 -> 64 -> 3, tanh) on 512 seeded Gaussian points with seeded labels, full-batch, each optimiser
at one learning rate with every other argument left at the preset's default. Prints, per optimiser and preset,
the final training loss and the relative parameter distance ||w_preset - w_torch|| / ||w_torch|| after the run.
"""

from __future__ import annotations

import argparse

import torch

import ravine

CASES = {
    "Adam (lr 1e-3)": (ravine.optim.Adam, {"lr": 1e-3}),
    "AdamW (lr 1e-3)": (ravine.optim.AdamW, {"lr": 1e-3}),
    "SGD momentum 0.9 (lr 0.05)": (ravine.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "RMSprop (lr 1e-3)": (ravine.optim.RMSprop, {"lr": 1e-3}),
    "RMSprop momentum 0.9 (lr 1e-4)": (ravine.optim.RMSprop, {"lr": 1e-4, "momentum": 0.9}),
    "Adagrad (lr 0.05)": (ravine.optim.Adagrad, {"lr": 0.05}),
}


def train(cls: type, kwargs: dict, steps: int) -> tuple[float, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(512, 20)
    y = torch.randint(0, 3, (512,))
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.Tanh(), torch.nn.Linear(64, 3))
    opt = cls(model.parameters(), **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = float(torch.nn.functional.cross_entropy(model(x), y))
    return final, torch.cat([p.detach().flatten() for p in model.parameters()])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(
        f"# {args.steps} full-batch steps, float32; loss at the start {train(ravine.optim.SGD, {'lr': 0.0}, 0)[0]:.4f}"
    )
    print("| optimiser | torch: loss | optax: loss (distance to torch) | keras: loss (distance to torch) |")
    print("|---|---|---|---|")
    for name, (cls, kw) in CASES.items():
        loss_t, w_t = train(cls, {**kw, "numerics": "torch"}, args.steps)
        cells = [f"{loss_t:.4f}"]
        for preset in ("optax", "keras"):
            loss, w = train(cls, {**kw, "numerics": preset}, args.steps)
            cells.append(f"{loss:.4f} ({float((w - w_t).norm() / w_t.norm()):.1e})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
