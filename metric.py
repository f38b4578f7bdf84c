"""Evaluation metrics, computed in float64."""
from __future__ import annotations

from typing import Callable

import torch

SI_SNR_EPS = 1e-10
"""Keeps SI-SNR finite: +-100 dB at the extremes, -100 dB for an all-zero estimate."""


def si_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SNR in dB of (B, T) estimates against (B, T) references -> (B,).

    10 log10(|a s|^2 / |a s - s_hat|^2) with a = <s_hat, s> / |s|^2, written with
    the squared correlation r^2 of s and s_hat as 10 log10(r^2 / (1 - r^2)), which
    stays finite (-100 dB) when the estimate or the reference is silent.
    """
    est = estimate.double()
    ref = reference.double()
    dot = (est * ref).sum(-1)
    energy = (est * est).sum(-1) * (ref * ref).sum(-1)
    corr2 = torch.where(energy > 0, dot * dot / energy.clamp_min(1e-300), torch.zeros_like(dot))
    corr2 = corr2.clamp(0.0, 1.0)
    return 10 * torch.log10((corr2 + SI_SNR_EPS) / (1 - corr2 + SI_SNR_EPS))


def reference_si_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """SI-SNR in dB as the reference release computes it, (B, T), (B, T) -> (B,): the plain
    ratio 10 log10(|a s|^2 / |a s - s_hat|^2), which is NaN (0 / 0) for an all-zero
    estimate or reference and +inf for an exact one."""
    est = estimate.double()
    ref = reference.double()
    target = (est * ref).sum(-1, keepdim=True) / (ref * ref).sum(-1, keepdim=True) * ref
    return 10 * torch.log10((target * target).sum(-1) / ((est - target) ** 2).sum(-1))


SI_SNR: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "bounded": si_snr, "reference": reference_si_snr}
"""``--si_snr`` choices: how validation and test clips are scored."""


def si_snr_improvement(estimate: torch.Tensor, noisy: torch.Tensor,
                       clean: torch.Tensor) -> torch.Tensor:
    """SI-SNR(clean, estimate) - SI-SNR(clean, noisy) in dB, shape (B,)."""
    return si_snr(estimate, clean) - si_snr(noisy, clean)
