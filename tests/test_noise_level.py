"""The noise level inside a noisy recording, estimated from noise recordings alone."""
import numpy as np

import pytest

from conftest import hum, pink_noise, speech_in
from noise_level import noise_level_gain, noise_profile


def _am(noise: np.ndarray, rate_hz: float = 0.7) -> np.ndarray:
    """``noise`` whose amplitude swings 20 dB, ``rate_hz`` times a second."""
    t = np.arange(len(noise)) / 16000
    return noise * 10 ** (np.sin(2 * np.pi * rate_hz * t) / 2)


@pytest.mark.parametrize("kind", ["pink", "modulated"])
@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0])
def test_noise_level_gain_finds_the_noise_level_inside_a_recording(kind, snr_db):
    """Real speech in stationary or amplitude-modulated pink noise: the level of the noise
    inside the unit-std mixture, from the mixture and a separate recording of the noise;
    among the profiles of other noises, the matching one is found."""
    rng = np.random.default_rng(1)
    noise = pink_noise(rng, 48000 + 30 * 16000)
    if kind == "modulated":
        noise = _am(noise)
    noisy, true_gain = speech_in(noise[:48000], snr_db)
    profiles = [noise_profile(hum(rng, 30 * 16000)),
                noise_profile(noise[48000:]),
                noise_profile(rng.standard_normal(30 * 16000))]
    error_db = 20 * np.log10(noise_level_gain(noisy, profiles) / true_gain)
    if kind == "pink" or snr_db == 0:
        assert abs(error_db) < 2.5
    else:  # speech fills the quiet stretches of the noise: too loud, but less than unit level
        assert 0 < error_db < min(6.5, -20 * np.log10(true_gain))
