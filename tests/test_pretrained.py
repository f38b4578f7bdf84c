"""The pretrained anchors of the real-audio benchmark (benchmarks/pretrained.py): their
algorithmic delay is pinned, and on clean speech their output is the input."""
from pathlib import Path

import numpy as np
import pytest
import soxr
import torch

import audio
from benchmarks.pretrained import ANCHORS, MODEL_RATE, measured_delay
from metric import si_snr, si_snr_improvement

SPEECH = Path(__file__).parent / "data" / "speech_arctic_a0007.wav"
CLEAN_OUTPUT_SI_SNR_DB = {"DeepFilterNet3": 18.0, "RNNoise": 8.0}


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return audio.read_audio(SPEECH, rate=16000)[:32000]


def snr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    return si_snr(torch.from_numpy(estimate[None]), torch.from_numpy(reference[None])).item()


@pytest.mark.parametrize("anchor", ANCHORS, ids=lambda a: a.__name__)
def test_delay_is_pinned_and_clean_speech_passes(anchor, speech):
    enhancer = anchor()
    speech_48k = soxr.resample(speech, 16000, MODEL_RATE).astype(np.float32)
    assert measured_delay(enhancer, speech_48k) == enhancer.delay
    out = enhancer.enhance(speech)
    assert out.shape == speech.shape and out.dtype == np.float32
    assert snr_db(out, speech) > CLEAN_OUTPUT_SI_SNR_DB[anchor.__name__]
    misaligned = np.roll(out, enhancer.delay // 3)  # one delay off at 16 kHz
    assert snr_db(misaligned, speech) < snr_db(out, speech) - 10


@pytest.mark.parametrize("anchor", ANCHORS, ids=lambda a: a.__name__)
def test_removes_white_noise_at_any_input_level(anchor, speech):
    noise = np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32)
    noisy = speech + noise * np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2))
    gains = [si_snri(anchor().enhance(level * noisy), level * noisy, speech)
             for level in (1e-3, 1.0, 30.0)]
    assert min(gains) > 5.0
    assert max(gains) - min(gains) < 0.1  # the input is presented at one level


def si_snri(enhanced: np.ndarray, noisy: np.ndarray, clean: np.ndarray) -> float:
    return si_snr_improvement(*(torch.from_numpy(np.asarray(x, np.float32)[None])
                                for x in (enhanced, noisy, clean))).item()
