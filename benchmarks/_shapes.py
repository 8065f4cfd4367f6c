"""Parameter shapes of a small GPT-like transformer, sized to a target parameter count (about 200 tensors)."""

from __future__ import annotations

import math


def transformer_shapes(total: int, layers: int = 16, vocab_ratio: float = 0.2) -> list[tuple[int, ...]]:
    """Shapes of token embedding, ``layers`` blocks (qkv, proj, two MLP matrices, their biases, two layer norms)
    and a final norm: 12 tensors a block, 3 + 12 * layers in all (195 for 16 layers). ``d`` is chosen so the total
    is close to ``total``; the embedding holds about ``vocab_ratio`` of it."""
    # per block: 12 d^2 + 13 d; embedding: V d with V d = vocab_ratio * total
    d = max(8, int(math.sqrt((1 - vocab_ratio) * total / (12 * layers))))
    vocab = max(16, int(vocab_ratio * total / d))
    shapes: list[tuple[int, ...]] = [(vocab, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (3 * d, d), (3 * d,), (d, d), (d,), (d,), (d,), (4 * d, d), (4 * d,), (d, 4 * d), (d,)]
    shapes += [(d,), (d,)]
    return shapes


def count(shapes: list[tuple[int, ...]]) -> int:
    return sum(math.prod(s) for s in shapes)
