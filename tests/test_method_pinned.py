"""Tests that fail on a wrong method, not only on a crash: which bins PU keeps, which MixIT
output is speech, that PU training improves real speech, and that the reference-recipe
and ablation flags reach the loss."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import loss
import pulse
from conftest import TINY_RUN, make_tiny_corpus, pink_noise, real_speech
from methods import METHODS, PU_MASKS, abs_logit_histogram, logit_scale, method_for
from metric import si_snr_improvement
from spectral import Spectral

SPECTRAL = Spectral(512, sample_rate=16000)


def _parts(snr_db: float = 0.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(speech, noise) of real speech and pink noise at ``snr_db``, (1, T) each."""
    speech = real_speech()[:48000]
    noise = pink_noise(np.random.default_rng(seed), 48000)
    noise *= np.linalg.norm(speech) / np.linalg.norm(noise) / 10 ** (snr_db / 20)
    return (torch.from_numpy(speech)[None].float(), torch.from_numpy(noise)[None].float())


def _logit(share: torch.Tensor) -> torch.Tensor:
    share = share.clamp(1e-4, 1 - 1e-4)
    return torch.log(share / (1 - share))


def _enhance_with(method: str, logits: torch.Tensor, noisy: torch.Tensor,
                  mask: str | None = None) -> torch.Tensor:
    spec = SPECTRAL.stft(noisy)
    mask_of = method_for({"method": method, "mask": mask}).mask if mask else METHODS[method].mask
    return SPECTRAL.istft(mask_of(logits) * spec, noisy.shape[-1])


@pytest.mark.parametrize("mask", sorted(PU_MASKS))
def test_pu_mask_keeps_the_bins_the_classifier_does_not_call_noise(mask):
    """A hand-set PU classifier: positive logit (noise) where noise dominates the bin."""
    speech, noise = _parts()
    noisy = speech + noise
    logits = torch.log(SPECTRAL.stft(noise).abs() + 1e-8) - torch.log(
        SPECTRAL.stft(speech).abs() + 1e-8)
    improvement = si_snr_improvement(_enhance_with("PU", logits[:, None], noisy, mask), noisy,
                                     speech)
    assert improvement.item() > 5


def test_soft_pu_mask_follows_the_decision_on_each_frame_own_scale():
    logits = torch.randn(2, 1, 5, 7) * torch.linspace(1, 30, 7)  # frames of other scales
    soft = PU_MASKS["soft"](logits)
    assert torch.equal((soft > 0.5), PU_MASKS["binary"](logits).bool())
    assert torch.allclose(soft, PU_MASKS["soft"](logits / torch.linspace(1, 30, 7)))
    median = logits[:, 0].abs().median(dim=1, keepdim=True).values
    bin_at_median = logits[:, 0].abs() == median
    assert torch.allclose(soft[bin_at_median].min(torch.ones(1) - soft[bin_at_median]),
                          torch.sigmoid(torch.tensor(-1.0)))
    assert method_for({"method": "PU"}).mask is PU_MASKS["binary"]  # checkpoints before --mask


def test_soft_pu_mask_with_a_fitted_scale_has_no_floor():
    """With the run's fixed scale a frame called noise throughout is removed; with each
    frame's own median its median bin keeps 0.27 however sure the classifier is."""
    logits = torch.full((1, 1, 6, 3), 40.0)
    logits[..., 0] = torch.linspace(-8, 8, 6)
    fitted = method_for({"method": "PU", "mask": "soft"}, mask_scale=4.0).mask(logits)
    torch.testing.assert_close(fitted, torch.sigmoid(-logits[:, 0] / 4.0))
    assert fitted[..., 1:].max() < 1e-4
    frame_median = method_for({"method": "PU", "mask": "soft"}).mask(logits)
    assert frame_median[..., 1:].min() == pytest.approx(torch.sigmoid(torch.tensor(-1.0)).item())
    assert method_for({"method": "PU", "mask": "binary"}, mask_scale=4.0).mask is \
        PU_MASKS["binary"]


def test_logit_scale_is_the_median_abs_logit_over_batches():
    logits = torch.randn(6, 1, 33, 20) * 3.0 + 1.0
    whole = abs_logit_histogram(logits)
    assert torch.equal(whole, abs_logit_histogram(logits[:2]) + abs_logit_histogram(logits[2:]))
    assert logit_scale(whole) == pytest.approx(logits.abs().median().item(), rel=0.01)


def test_mixit_output_0_is_the_speech_estimate():
    """Oracle MixIT outputs (speech, noise in the noisy clip, separate noise) fit the loss
    best in that order, and mask 0 applied to noisy speech enhances it."""
    speech, noise = _parts()
    _, other_noise = _parts(seed=1)
    noisy = speech + noise
    mags = [SPECTRAL.stft(x).abs() for x in (speech, noise, other_noise, noisy + other_noise)]
    shares = [m / (mags[0] + mags[1] + mags[2] + 1e-8) for m in mags[:3]]
    oracle = torch.stack([_logit(s) for s in shares], dim=1)
    noisy_mag, mixture_mag = SPECTRAL.stft(noisy).abs(), mags[3]
    fit = loss.mixit_loss(oracle, mixture_mag, noisy_mag, mags[2]).item()
    speech_as_noise = loss.mixit_loss(oracle[:, [2, 1, 0]], mixture_mag, noisy_mag, mags[2]).item()
    assert fit < 0.5 * speech_as_noise
    speech_share = mags[0] / (mags[0] + mags[1] + 1e-8)
    on_noisy = torch.stack([_logit(speech_share), _logit(1 - speech_share),
                            torch.zeros_like(speech_share)], dim=1)
    improvement = si_snr_improvement(_enhance_with("MixIT", on_noisy, noisy), noisy, speech)
    assert improvement.item() > 5


REAL_RUN = ["--wav_len", "8000", "--frame_len", "256", "--epochs", "5", "--batch_size", "8",
            "--channels", "4", "--blocks", "1", "--num_workers", "0", "--lr_per_GPU", "3e-3",
            "--quiet", "--student", "0", "--no-figures"]


@pytest.fixture(scope="module")
def speech_corpus(tmp_path_factory):
    """32 training lines of 0.5 s real speech in pink noise or hum; unseen test noise."""
    return make_tiny_corpus(tmp_path_factory.mktemp("real"), n_train=32, n_eval=6, noise_s=16.0,
                            test_start_s=12.0, speech_len=8000)


def test_pu_training_improves_real_speech(speech_corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert pulse.main([*REAL_RUN, *speech_corpus.options(), "--out_dir", str(out)]) == 0
    test_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert float(test_line.split()[2]) > 0.1


class Spy:
    """Wraps a function of ``loss`` and records the keyword and positional arguments."""

    def __init__(self, monkeypatch, name: str):
        self.calls: list[tuple[tuple, dict]] = []
        real = getattr(loss, name)

        def spy(*args, **kwargs):
            self.calls.append((args, kwargs))
            return real(*args, **kwargs)

        monkeypatch.setattr(loss, name, spy)


def _tiny_pu(tmp_path, *flags: str) -> None:
    corpus = make_tiny_corpus(tmp_path / "data")
    argv = [*TINY_RUN, *corpus.options(), "--epochs", "1", "--out_dir", str(tmp_path / "o"),
            "--quiet", *flags]
    assert pulse.main(argv) == 0


def _noise_to_noisy_energy(magnitude: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per training line, the energy of its noise clip over that of its noisy clip."""
    energy = (magnitude.double() ** 2).sum((-2, -1))
    return energy[labels.bool()] / energy[~labels.bool()]


def test_reference_recipe_reaches_the_loss(tmp_path, monkeypatch):
    risks = Spy(monkeypatch, "pu_risks")
    _tiny_pu(tmp_path, "--risk_norm", "count", "--noise_level", "unit", "--regulariser",
             "dropout", "--input_norm", "none")
    (_, labels, magnitude, *rest), options = risks.calls[0]
    assert rest[-1] == "count" and options["surrogate"] == "sigmoid"
    ratio = _noise_to_noisy_energy(magnitude, labels)  # both at unit std
    assert torch.allclose(ratio, torch.ones_like(ratio), rtol=0.15)
    best = torch.load(tmp_path / "o" / "best.pt", weights_only=False)
    assert best["model_config"]["regulariser"] == "dropout"
    assert not any("running_mean" in key for key in best["model"])


def test_default_recipe_pairs_noise_level_and_weights_the_mean(tmp_path, monkeypatch):
    risks = Spy(monkeypatch, "pu_risks")
    _tiny_pu(tmp_path)
    (_, labels, magnitude, *rest), options = risks.calls[0]
    assert rest[-1] == "weight" and options["surrogate"] == "sigmoid"  # the paper's loss
    # the noise clip has the level of the noise inside its noisy clip, below the mixture's
    assert (_noise_to_noisy_energy(magnitude, labels) < 0.85).all()
    best = torch.load(tmp_path / "o" / "best.pt", weights_only=False)
    assert any("running_mean" in key for key in best["model"])


def test_pu_loss_reaches_the_risk(tmp_path, monkeypatch):
    risks = Spy(monkeypatch, "pu_risks")
    _tiny_pu(tmp_path, "--pu_loss", "logistic")
    assert risks.calls[0][1]["surrogate"] == "logistic"


@pytest.mark.parametrize("mode", ["nn", "unbiased"])
def test_risk_mode_reaches_the_objective(mode, tmp_path, monkeypatch):
    objective = Spy(monkeypatch, "pu_objective")
    _tiny_pu(tmp_path, "--mode", mode, "--beta", "0.5", "--gamma", "0.25")
    args, _ = objective.calls[0]
    assert args[2:] == (mode, 0.5, 0.25, "kiryo")
    assert math.isfinite(args[0].item())
