"""The PU class prior from the training data (``--prior auto``), and the true prior of
synthetic mixtures to check it against.

``--prior`` is the |X|-weighted share of noise bins in the noisy material (under the
default ``--risk_norm weight``). It is estimated by mixture-proportion estimation: a
positive-vs-unlabelled classifier (the PULSE CNN trained with a weighted logistic loss,
noise clips against noisy clips) scores held-out bins; among the bins scored most
noise-like, which in noisy speech hold noise alone, the share of the unlabelled weight
over the share of the positive weight estimates the prior (the best-bin estimator of
Garg et al., NeurIPS 2021, with |X| weights). The estimate is cross-fitted: each of
``FOLDS`` parts of the lines is scored by a classifier trained on the others, and the
parts' estimates are averaged, so every line is scored and no single classifier's luck
decides the prior.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from runtime import UsageError
from spectral import Spectral

log = logging.getLogger("pulse")

FOLDS = 2
"""Parts of the training lines, each scored by a classifier trained on the others."""
MAX_HELD_OUT_LINES = 256
"""At most this many lines of a part are scored."""


def true_prior(noisy_mag: torch.Tensor, speech_mag: torch.Tensor, noise_mag: torch.Tensor,
               p: float = 1.0) -> float:
    """|X|**p-weighted share of noise-dominated bins (|N| >= |S|) of (..., F, N) magnitudes:
    the prior that ``--prior`` means, computable when speech and noise are known."""
    weight = (noisy_mag.double() + 1e-7) ** p
    return ((weight * (noise_mag >= speech_mag)).sum() / weight.sum()).item()


BBE_DELTA = 0.1
BBE_GAMMA = 0.01
"""Confidence level and slack of the best-bin estimator (Garg et al., 2021, Algorithm 1)."""


def effective_count(weights: np.ndarray) -> float:
    """Kish's effective sample size of weighted samples, (sum w)^2 / sum w^2."""
    return float(weights.sum() ** 2 / max(float((weights ** 2).sum()), 1e-300))


def best_bin_estimate(unl_scores: np.ndarray, unl_weights: np.ndarray, pos_scores: np.ndarray,
                      pos_weights: np.ndarray, unl_count: float | None = None,
                      pos_count: float | None = None, thresholds: int = 1000) -> float:
    """The best-bin estimate of the share of positives in the unlabelled set (Garg et al.,
    NeurIPS 2021, Algorithm 1), with weighted samples.

    For a threshold t on the "noise-like" scores, q_U(t) and q_P(t) are the shares of the
    unlabelled and of the positive weight scored at least t. The estimate is
    q_U(t*) / q_P(t*) at the t* that minimises q_U(t) / q_P(t) + (1 + gamma) / q_P(t) *
    (sqrt(log(4 / delta) / (2 n_P)) + sqrt(log(4 / delta) / (2 n_U))): the smallest ratio
    once each threshold pays for the sampling error of its top bins, which keeps the
    minimum of noisy ratios from running low. n_U, n_P are the sets' effective sample
    sizes (by default Kish's, ``effective_count``; bins of one clip are correlated, so
    callers pass less). Thresholds are ``thresholds`` quantiles of the positive scores.
    """
    unl_count = effective_count(unl_weights) if unl_count is None else unl_count
    pos_count = effective_count(pos_weights) if pos_count is None else pos_count
    cuts = np.unique(np.quantile(pos_scores, np.linspace(0.0, 1.0, thresholds,
                                                         endpoint=False)))

    def share_at_least(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
        order = np.argsort(scores)
        tail = np.concatenate([np.cumsum(weights[order][::-1])[::-1], [0.0]])
        return tail[np.searchsorted(scores[order], cuts, side="left")] / weights.sum()

    q_unl, q_pos = share_at_least(unl_scores, unl_weights), share_at_least(pos_scores, pos_weights)
    slack = math.sqrt(math.log(4 / BBE_DELTA) / (2 * pos_count)) + math.sqrt(
        math.log(4 / BBE_DELTA) / (2 * unl_count))
    keep = q_pos > 0
    bound = q_unl[keep] / q_pos[keep] + (1 + BBE_GAMMA) / q_pos[keep] * slack
    best = int(np.argmin(bound))
    return float(min(1.0, q_unl[keep][best] / q_pos[keep][best]))


def _weighted_logistic(logits: torch.Tensor, magnitude: torch.Tensor,
                       positive: torch.Tensor, p: float) -> torch.Tensor:
    """Each class's |X|**p-weighted mean logistic loss, summed: a balanced P-vs-U loss."""
    weight = (magnitude + 1e-7) ** p
    labels = positive.view(-1, 1, 1).expand_as(logits).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none") * weight
    pos = labels.bool()
    return (loss * pos).sum() / (weight * pos).sum() + (loss * ~pos).sum() / (weight * ~pos).sum()


def folds(count: int, parts: int = FOLDS) -> list[tuple[list[int], list[int]]]:
    """(fit, held) line indices of each part: line i is held out by part i % parts and fits
    the classifiers of the others; at most ``MAX_HELD_OUT_LINES`` held out per part."""
    return [([i for i in range(count) if i % parts != part],
             list(range(part, count, parts))[:MAX_HELD_OUT_LINES]) for part in range(parts)]


def estimate_prior(new_model: Callable[[], nn.Module], spectral: Spectral, pairs,
                   device: torch.device, lines_per_batch: int, p: float = 1.0, epochs: int = 2,
                   lr: float = 1e-3, parts: int = FOLDS,
                   loader_options: dict | None = None) -> float:
    """The |X|**p-weighted share of noise bins in the noisy clips of ``pairs`` (a dataset of
    (noisy, noise) clips; p = 0: the plain share), cross-fitted over ``parts`` parts
    (``folds``): for each part, a fresh classifier from ``new_model`` (the CNN with one
    output) is trained on the other parts' lines and ``best_bin_estimate`` is taken on the
    part's bins, with ``independent_frames`` as sample sizes. Returns the parts' mean: the
    parts' estimates differ by up to 0.15 on real recordings, more than the estimator's own
    error, so one held-out part would let its lines decide the prior."""
    if len(pairs) < parts:
        raise UsageError(f"--prior auto needs at least {parts} training lines to hold some "
                         f"out; there are {len(pairs)}: give the prior (--prior 0.6)")
    options = loader_options or {}
    estimates = []
    for fit, held in folds(len(pairs), parts):
        model = fit_classifier(new_model().to(device), spectral, Subset(pairs, fit), device,
                               lines_per_batch, p, epochs, lr, options)
        estimates.append(held_out_estimate(model, spectral, Subset(pairs, held), device,
                                           lines_per_batch, p, options))
    log.info("class prior of each held-out part: %s (their spread shows how sure the "
             "estimate is)", " / ".join(f"{value:.3f}" for value in estimates))
    return float(np.mean(estimates))


def fit_classifier(model: nn.Module, spectral: Spectral, pairs, device: torch.device,
                   lines_per_batch: int, p: float, epochs: int, lr: float,
                   loader_options: dict) -> nn.Module:
    """``model`` trained to tell the noise clips of ``pairs`` from their noisy clips
    (``_weighted_logistic``), returned in eval mode."""
    loader = DataLoader(pairs, batch_size=lines_per_batch, shuffle=True, **loader_options)
    model.train()
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
    return model.eval()


@torch.no_grad()
def held_out_estimate(model: nn.Module, spectral: Spectral, pairs, device: torch.device,
                      lines_per_batch: int, p: float, loader_options: dict) -> float:
    """``best_bin_estimate`` over every bin of ``pairs`` scored by ``model``, with |X|**p
    weights."""
    scores, weights = {0: [], 1: []}, {0: [], 1: []}
    for noisy, noise in DataLoader(pairs, batch_size=lines_per_batch, **loader_options):
        for label, clips in ((0, noisy), (1, noise)):
            magnitude = spectral.stft(clips.to(device)).abs()
            logits = model(spectral.feature_of(magnitude))[:, 0].float()
            scores[label].append(logits.flatten().cpu().numpy())
            weights[label].append(((magnitude + 1e-7) ** p).flatten().cpu().numpy())
    frames = independent_frames(len(pairs), noisy.shape[-1], spectral.frame_len)
    return best_bin_estimate(np.concatenate(scores[0]), np.concatenate(weights[0]),
                             np.concatenate(scores[1]), np.concatenate(weights[1]),
                             frames, frames)


def independent_frames(clips: int, samples: int, frame_len: int) -> float:
    """The effective sample size of the bins of ``clips`` clips of ``samples`` samples: one
    per non-overlapping frame. The bins of a frame share its level and frames overlap by
    three quarters, so counting bins would make the estimator's confidence term vanish."""
    return clips * samples / frame_len
