"""The noise reference (SPEC section 11): what a noise-only excerpt of a clip's place tells
the network (``--noise_reference on``), and where a training reference may be read from.

The network hears, beside its feature of a clip, each bin's log-magnitude measured against
the reference's: z = (log|X| - mu_r) / sigma_r, clipped to +-``Z_LIMIT``, with mu_r and
sigma_r the per-frequency mean and spread of the reference's log-magnitude over its frames
(what a spectral gate thresholds on). A clip without a reference (an all-zero one) gets
mu_r and sigma_r from its own quietest frames instead (minimum statistics), so every input
has the channel. The PU risk is unchanged; only the network's input grows.
"""
from __future__ import annotations

import numpy as np
import torch

from noise_spans import Interval, random_start

MAGNITUDE_FLOOR = 1e-4
"""Added to |X| before the log, so silent bins stay finite."""
SPREAD_FLOOR = 0.1
"""The least sigma_r (natural log units; steady noise has about 0.6 per bin)."""
Z_LIMIT = 8.0
QUIET_SHARE = 0.2
"""The share of a clip's frames, the quietest by energy, that stand in for a reference."""
DROP_SHARE = 0.2
"""The share of training clips heard without their reference (``dataset.ExampleSet``), so
a model also meets the quiet-frame stand-in it gets where no reference is given."""


def _log(magnitude: torch.Tensor) -> torch.Tensor:
    return torch.log(magnitude.float() + MAGNITUDE_FLOOR)


def _profile(log_magnitude: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, F, N) log-magnitudes, (B, 1, N) frame weights -> (B, 2, F): the weighted mean and
    spread of each bin over frames."""
    total = weights.sum(-1, keepdim=True).clamp_min(1e-8)
    mean = (log_magnitude * weights).sum(-1, keepdim=True) / total
    var = ((log_magnitude - mean) ** 2 * weights).sum(-1, keepdim=True) / total
    return torch.cat([mean, var.sqrt().clamp_min(SPREAD_FLOOR)], -1).transpose(1, 2)


def quiet_profile(magnitude: torch.Tensor) -> torch.Tensor:
    """(B, F, N) magnitudes -> (B, 2, F) profile of each clip's ``QUIET_SHARE`` quietest
    frames (at least one)."""
    energy = magnitude.float().pow(2).sum(1)  # (B, N)
    count = max(1, round(QUIET_SHARE * energy.shape[-1]))
    threshold = energy.kthvalue(count, dim=-1, keepdim=True).values
    return _profile(_log(magnitude), (energy <= threshold).float().unsqueeze(1))


def profile(magnitude: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """(B, 2, F) profile of (B, F, M) ``reference`` magnitudes, each clip of (B, F, N)
    ``magnitude`` whose reference is silent (or all, without one) given its
    ``quiet_profile``."""
    fallback = quiet_profile(magnitude)
    if reference is None:
        return fallback
    given = _profile(_log(reference), torch.ones_like(reference[:, :1].float()))
    heard = reference.float().pow(2).sum((1, 2)) > 0
    return torch.where(heard[:, None, None], given, fallback)


def measured(magnitude: torch.Tensor, profile_: torch.Tensor) -> torch.Tensor:
    """(B, F, N) magnitudes and their (B, 2, F) profile -> (B, 1, F, N) z channel."""
    mean, spread = profile_[:, 0, :, None], profile_[:, 1, :, None]
    z = (_log(magnitude) - mean) / spread
    return z.clamp(-Z_LIMIT, Z_LIMIT).to(magnitude.dtype).unsqueeze(1)


def reference_start(intervals: tuple[Interval, ...], own_start_s: float, clip_s: float,
                    rng: np.random.Generator) -> float | None:
    """A start (s) for a reference of ``clip_s`` inside ``intervals`` that does not overlap
    the excerpt of its clip at ``own_start_s``; None where no such start exists."""
    own_end_s = own_start_s + clip_s
    pieces = tuple(piece for low, high in intervals
                   for piece in ((low, min(high, own_start_s)), (max(low, own_end_s), high))
                   if piece[1] - piece[0] >= clip_s)
    return random_start(pieces, rng, clip_s) if pieces else None
