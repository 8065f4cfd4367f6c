"""Comparing two runs element by element: bit for bit, with NaN equal to NaN."""

from __future__ import annotations

import torch


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal dtypes, shapes and values, signed zeros included; any NaN equals any NaN (a GPU's NaN has no sign)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.is_complex():
        return same_bits(torch.view_as_real(a), torch.view_as_real(b))
    na, nb = a.isnan(), b.isnan()
    if not torch.equal(na, nb):
        return False
    a, b = a[~na], b[~nb]
    return torch.equal(a, b) and torch.equal(torch.signbit(a), torch.signbit(b))


def assert_same_run(ref: list, got: list, opt_ref, opt_got) -> None:
    for i, (a, b) in enumerate(zip(ref, got, strict=True)):
        assert same_bits(a, b), f"parameter {i} differs: max |diff| {(a.double() - b.double()).abs().max()}"
    for sa, sb in zip(opt_ref.state.values(), opt_got.state.values(), strict=True):
        assert sa.keys() == sb.keys()
        for k in sa:
            assert same_bits(sa[k].cpu(), sb[k].cpu()), k


def ulps(a: torch.Tensor, b: torch.Tensor) -> int:
    """The largest distance between corresponding float32 elements in units in the last place (finite values)."""
    ia = a.contiguous().view(torch.int32).long()
    ib = b.contiguous().view(torch.int32).long()
    # sign-magnitude bit patterns onto one monotone integer scale (-0.0 and +0.0 both at 0)
    ia = torch.where(ia < 0, -(ia + 2**31), ia)
    ib = torch.where(ib < 0, -(ib + 2**31), ib)
    return int((ia - ib).abs().max()) if a.numel() else 0
