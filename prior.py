"""The PU class prior from the training data (``--prior auto``), and the true prior of
synthetic mixtures to check it against.

``--prior`` is the |X|-weighted share of noise bins in the noisy material (under the
default ``--risk_norm weight``). It is estimated by mixture-proportion estimation: a
positive-vs-unlabelled classifier (the PULSE CNN trained with a weighted logistic loss,
noise clips against noisy clips) scores held-out bins; among the bins scored most
noise-like, which in noisy speech hold noise alone, the share of the unlabelled weight
over the share of the positive weight estimates the prior (the best-bin estimator of
Garg et al., NeurIPS 2021, with |X| weights).
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from spectral import Spectral

log = logging.getLogger("pulse")

HELD_OUT_EVERY = 5
"""Every fifth training line is held out from the classifier to be scored."""
MAX_HELD_OUT_LINES = 256
MIN_POSITIVE_SHARE = 0.1
"""Thresholds must keep at least this share of the positive weight (a stable ratio)."""


def true_prior(noisy_mag: torch.Tensor, speech_mag: torch.Tensor, noise_mag: torch.Tensor,
               p: float = 1.0) -> float:
    """|X|**p-weighted share of noise-dominated bins (|N| >= |S|) of (..., F, N) magnitudes:
    the prior that ``--prior`` means, computable when speech and noise are known."""
    weight = (noisy_mag.double() + 1e-7) ** p
    return ((weight * (noise_mag >= speech_mag)).sum() / weight.sum()).item()


def best_bin_estimate(unl_scores: np.ndarray, unl_weights: np.ndarray, pos_scores: np.ndarray,
                      pos_weights: np.ndarray, thresholds: int = 200) -> float:
    """min over thresholds t of W_U(score >= t) / W_P(score >= t), each a share of its set's
    total weight, over thresholds keeping at least ``MIN_POSITIVE_SHARE`` of W_P.

    Scores are "noise-like" scores of unlabelled and positive bins (1-D arrays)."""
    order_u, order_p = np.argsort(-unl_scores), np.argsort(-pos_scores)
    sorted_u, sorted_p = unl_scores[order_u], pos_scores[order_p]
    cum_u = np.cumsum(unl_weights[order_u]) / unl_weights.sum()
    cum_p = np.cumsum(pos_weights[order_p]) / pos_weights.sum()
    best = 1.0
    for t in np.quantile(pos_scores, np.linspace(0.0, 1.0, thresholds, endpoint=False)):
        share_p = cum_p[np.searchsorted(-sorted_p, -t, side="right") - 1]
        if share_p < MIN_POSITIVE_SHARE:
            continue
        above_u = np.searchsorted(-sorted_u, -t, side="right")
        share_u = cum_u[above_u - 1] if above_u else 0.0
        best = min(best, share_u / share_p)
    return float(best)


def _weighted_logistic(logits: torch.Tensor, magnitude: torch.Tensor,
                       positive: torch.Tensor, p: float) -> torch.Tensor:
    """Each class's |X|**p-weighted mean logistic loss, summed: a balanced P-vs-U loss."""
    weight = (magnitude + 1e-7) ** p
    labels = positive.view(-1, 1, 1).expand_as(logits).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none") * weight
    pos = labels.bool()
    return (loss * pos).sum() / (weight * pos).sum() + (loss * ~pos).sum() / (weight * ~pos).sum()


def estimate_prior(model: nn.Module, spectral: Spectral, pairs, device: torch.device,
                   lines_per_batch: int, p: float = 1.0, epochs: int = 2, lr: float = 1e-3,
                   loader_options: dict | None = None) -> float:
    """Train ``model`` (a fresh CNN with one output) as a noise-vs-noisy classifier on four
    fifths of ``pairs`` (a dataset of (noisy, noise) clips) and estimate the prior on the
    rest; returns the estimate."""
    held = list(range(0, len(pairs), HELD_OUT_EVERY))[:MAX_HELD_OUT_LINES]
    fit = [i for i in range(len(pairs)) if i % HELD_OUT_EVERY]
    options = loader_options or {}
    loader = DataLoader(Subset(pairs, fit), batch_size=lines_per_batch, shuffle=True, **options)
    model = model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for noisy, noise in loader:
            magnitude = spectral.stft(torch.cat([noisy, noise]).to(device)).abs()
            positive = torch.cat([torch.zeros(len(noisy)), torch.ones(len(noise))]).to(device)
            loss = _weighted_logistic(model(spectral.feature_of(magnitude))[:, 0].float(),
                                      magnitude, positive, p)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    scores, weights = {0: [], 1: []}, {0: [], 1: []}
    with torch.no_grad():
        for noisy, noise in DataLoader(Subset(pairs, held), batch_size=lines_per_batch,
                                       **options):
            for label, clips in ((0, noisy), (1, noise)):
                magnitude = spectral.stft(clips.to(device)).abs()
                logits = model(spectral.feature_of(magnitude))[:, 0].float()
                scores[label].append(logits.flatten().cpu().numpy())
                weights[label].append(((magnitude + 1e-7) ** p).flatten().cpu().numpy())
    return best_bin_estimate(np.concatenate(scores[0]), np.concatenate(weights[0]),
                             np.concatenate(scores[1]), np.concatenate(weights[1]))
