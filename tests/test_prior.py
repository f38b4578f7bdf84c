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


def _beta_scores(rng, n: int, share: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(positive scores, unlabelled scores, true share): unlabelled holds a binomial share of
    positive-like scores, the positives' top region overlapping the other class."""
    pos = rng.beta(5, 2, n)
    k = rng.binomial(n, share)
    return pos, np.concatenate([rng.beta(5, 2, k), rng.beta(2, 5, n - k)]), k / n


@pytest.mark.parametrize("n", [200, 1000, 20000])
def test_best_bin_estimate_is_unbiased_at_small_sample_sizes(n):
    """The minimum of noisy ratios runs low at small n (0.47 at n = 200 without the
    confidence term); with it the mean of 60 draws stays within 0.02 of the truth."""
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(60):
        pos, unl, truth = _beta_scores(rng, n, 0.6)
        errors.append(prior.best_bin_estimate(unl, np.ones(n), pos, np.ones(n)) - truth)
    assert abs(np.mean(errors)) < 0.02


def test_best_bin_estimate_with_heavy_tailed_class_dependent_weights():
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(40):
        pos, unl, _ = _beta_scores(rng, 2000, 0.6)
        k = int(round(0.6 * 2000))
        pos_w = rng.lognormal(0, 1, 2000)
        unl_w = np.concatenate([rng.lognormal(0, 1, k), rng.lognormal(1, 1, 2000 - k)])
        unl = np.concatenate([rng.beta(5, 2, k), rng.beta(2, 5, 2000 - k)])
        truth = unl_w[:k].sum() / unl_w.sum()
        errors.append(prior.best_bin_estimate(unl, unl_w, pos, pos_w) - truth)
    assert abs(np.mean(errors)) < 0.03


def test_fewer_independent_samples_widen_the_top_bin():
    """A smaller effective sample size must not pick a narrower, noisier top bin: the
    confidence term grows, so the estimate comes from a wider threshold."""
    rng = np.random.default_rng(2)
    pos, unl, _ = _beta_scores(rng, 20000, 0.6)
    ones = np.ones(20000)
    many = prior.best_bin_estimate(unl, ones, pos, ones)
    few = prior.best_bin_estimate(unl, ones, pos, ones, 50, 50)
    assert few > many - 1e-9
    assert prior.independent_frames(10, 32000, 1024) == pytest.approx(312.5)
    assert prior.effective_count(np.array([1.0, 1.0, 0.0, 2.0])) == pytest.approx(16 / 6)


def test_every_line_is_scored_once_by_a_classifier_that_never_fit_on_it(monkeypatch):
    parts = prior.folds(7)
    assert len(parts) == prior.FOLDS
    assert sorted(i for _, held in parts for i in held) == list(range(7))
    for fit, held in parts:
        assert sorted(fit + held) == list(range(7))
    monkeypatch.setattr(prior, "MAX_HELD_OUT_LINES", 2)
    assert [held for _, held in prior.folds(9, 2)] == [[0, 2], [1, 3]]


def test_the_estimate_averages_parts_scored_by_classifiers_that_never_fit_on_them(
        monkeypatch, caplog):
    fitted, scored, models = [], [], []

    def fit_classifier(model, spectral, pairs, *args):
        fitted.append((model, list(pairs.indices)))
        return model

    def held_out_estimate(model, spectral, pairs, *args):
        scored.append((model, list(pairs.indices)))
        return (0.5, 0.7)[len(scored) - 1]

    def new_model():
        models.append(torch.nn.Identity())
        return models[-1]

    monkeypatch.setattr(prior, "fit_classifier", fit_classifier)
    monkeypatch.setattr(prior, "held_out_estimate", held_out_estimate)
    with caplog.at_level("INFO", logger="pulse"):
        estimate = prior.estimate_prior(new_model, None, list(range(5)), torch.device("cpu"), 4)
    assert estimate == pytest.approx(0.6)
    assert "class prior of each held-out part: 0.500 / 0.700" in caplog.text
    assert len(models) == 2 and models[0] is not models[1]
    assert fitted == [(models[0], [1, 3]), (models[1], [0, 2, 4])]
    assert scored == [(models[0], [0, 2, 4]), (models[1], [1, 3])]


def test_too_few_lines_to_hold_out_is_a_clear_error():
    from runtime import UsageError

    with pytest.raises(UsageError, match="at least 2 training lines"):
        prior.estimate_prior(torch.nn.Identity, None, [0], torch.device("cpu"), 4)
