"""The level of the noise inside a noisy recording, from noise recordings alone.

A recordings line (``REC noisy ... noise ...``) has no clean speech and no SNR; PU's
noise example is brought to the level this estimate finds (``dataset.load_recordings``).
Pure functions over waveforms at the run's rate; reading the recordings is ``dataset``'s job.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audio import fit_length

LEVEL_FRAME = 512
"""Frame length (samples, hop half of it) of the spectra that estimate noise levels."""
LEVEL_QUANTILE = 0.1
"""Low quantile over frames of each frequency bin's power: where speech leaves noise alone."""
CALIBRATION_S = 30.0
"""Seconds of a noise recording that its ``noise_profile`` is measured on."""


def power_spectra(wave: np.ndarray) -> np.ndarray:
    """(frames, LEVEL_FRAME // 2 + 1) power spectra of Hann-windowed frames, hop half a frame."""
    hop = LEVEL_FRAME // 2
    count = max(1, (len(wave) - LEVEL_FRAME) // hop + 1)
    frames = np.lib.stride_tricks.sliding_window_view(
        fit_length(wave, (count - 1) * hop + LEVEL_FRAME), LEVEL_FRAME)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(LEVEL_FRAME), axis=1)) ** 2


@dataclass(frozen=True)
class NoiseProfile:
    """What the level estimate needs to know of a noise recording: per frequency bin, the
    log of its ``LEVEL_QUANTILE`` power over frames (the shape of its floor) and its mean
    power over that quantile; the same ratio for whole frames' power. The ratios say how
    much louder the noise is on average than in its quiet frames, for its own kind of
    (possibly non-stationary) noise."""

    log_floor: np.ndarray
    quantile_to_mean: np.ndarray
    frame_quantile_to_mean: float


def _quantile_to_mean(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``LEVEL_QUANTILE`` over the first axis, mean over it / that quantile)."""
    floor = np.maximum(np.quantile(power, LEVEL_QUANTILE, axis=0), 1e-20)
    return floor, power.mean(0) / floor


def noise_profile(noise: np.ndarray) -> NoiseProfile:
    """The ``NoiseProfile`` of a (T,) noise recording."""
    power = power_spectra(noise)
    floor, ratio = _quantile_to_mean(power)
    return NoiseProfile(np.log(floor), ratio, float(_quantile_to_mean(power.sum(1))[1]))


def noise_level_gain(noisy: np.ndarray, profiles: list[NoiseProfile]) -> float:
    """The level (std, at most 1) of the noise inside unit-std ``noisy``, from recordings
    alone. Two low-quantile estimates of its mean power, each scaled to a mean by the
    noise recording whose floor has the most similar shape (least mean absolute log
    difference per bin, the level aside): each bin's ``LEVEL_QUANTILE`` power over frames
    (speech leaves gaps between harmonics) and whole frames' (speech pauses). Speech only
    adds power, so the lower of the two is kept. On real ambience it lands within 2 dB of
    the truth on 6 lines in 10 and runs high where speech leaves few gaps
    (docs/real-audio.md)."""
    power = power_spectra(noisy)
    floor, mean = np.quantile(power, LEVEL_QUANTILE, axis=0), power.mean(0)
    log_floor = np.log(np.maximum(floor, 1e-20))

    def mismatch(profile: NoiseProfile) -> float:
        difference = log_floor - profile.log_floor
        return float(np.mean(np.abs(difference - np.median(difference))))

    best = min(profiles, key=mismatch)
    by_bin = np.minimum(floor * best.quantile_to_mean, mean).sum()
    by_frame = np.quantile(power.sum(1), LEVEL_QUANTILE) * best.frame_quantile_to_mean
    share = min(by_bin, by_frame) / max(mean.sum(), 1e-20)
    return min(1.0, math.sqrt(share) * float(np.std(noisy)))
