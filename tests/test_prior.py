"""The class prior: its true value on known mixtures and the mixture-proportion estimate."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import prior


def test_true_prior_is_the_weighted_share_of_noise_dominated_bins():
    speech = torch.tensor([[3.0, 0.0, 1.0, 2.0]])
    noise = torch.tensor([[1.0, 2.0, 1.0, 0.5]])
    noisy = torch.tensor([[4.0, 2.0, 1.5, 2.0]])  # weights; noise dominates bins 1 and 2
    assert prior.true_prior(noisy, speech, noise) == pytest.approx(3.5 / 9.5, rel=1e-6)
    assert prior.true_prior(noisy, speech, noise, p=0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("share", [0.3, 0.6, 0.8])
def test_best_bin_estimate_recovers_a_known_mixture_proportion(share):
    """Unlabelled scores: a share of positive-like scores, the rest from another class
    with no mass in the positives' top region (the anchor set); unequal weights."""
    rng = np.random.default_rng(0)
    pos = rng.normal(2.0, 1.0, 40000)
    n_unl = 40000
    is_pos = rng.random(n_unl) < share
    unl = np.where(is_pos, rng.normal(2.0, 1.0, n_unl), rng.normal(-3.0, 1.0, n_unl))
    pos_w = rng.gamma(2.0, 1.0, len(pos))
    unl_w = np.where(is_pos, rng.gamma(2.0, 1.0, n_unl), rng.gamma(2.0, 2.0, n_unl))
    truth = unl_w[is_pos].sum() / unl_w.sum()
    estimate = prior.best_bin_estimate(unl, unl_w, pos, pos_w)
    assert estimate == pytest.approx(truth, abs=0.03)
