import numpy as np
import pytest
import torch

from conftest import pink_noise, real_speech
from metric import si_snr_improvement
from spectral import Spectral


def test_published_shape():
    spectral = Spectral(1024, sample_rate=16000)
    assert spectral.stft(torch.zeros(2, 50000)).shape == (2, 513, 196)
    assert (spectral.bins, spectral.frames(50000)) == (513, 196)


@pytest.mark.parametrize("frame_len", [64, 512, 1024])
def test_round_trip(frame_len):
    wave = torch.randn(3, 9000, dtype=torch.float64)
    spectral = Spectral(frame_len, sample_rate=16000)
    torch.testing.assert_close(spectral.istft(spectral.stft(wave), 9000), wave)


def test_features():
    magnitude = torch.tensor([[[0.0, 15.0, 2.0 ** 15]]])
    linear, power = (Spectral(64, kind, sample_rate=16000) for kind in ("linear", "power"))
    torch.testing.assert_close(linear.feature_of(magnitude).flatten(),
                               torch.tensor([0.0, 1.0, 2 ** 15 / 15]))
    torch.testing.assert_close(power.feature_of(magnitude).flatten(),
                               torch.tensor([0.0, 15 ** (1 / 15), 2.0]))


def test_oracle_binary_mask_on_real_speech_gives_high_improvement():
    speech = torch.from_numpy(real_speech()[:48000])
    noise = torch.from_numpy(pink_noise(np.random.default_rng(0), 48000))
    noise *= speech.norm() / noise.norm()  # 0 dB
    noisy = speech + noise
    spectral = Spectral(1024, sample_rate=16000)
    clean_spec, noise_spec = spectral.stft(speech[None]), spectral.stft(noise[None])
    mask = (clean_spec.abs() > noise_spec.abs()).double()
    estimate = spectral.istft(mask * spectral.stft(noisy[None]), 48000)
    assert si_snr_improvement(estimate, noisy[None], speech[None]).item() > 8.0
