"""The noise-only take handed to the spectral-gating baseline (``benchmarks/spectral_gating.py``)."""
import numpy as np
import pytest
import soundfile as sf

import dataset
from benchmarks.spectral_gating import TAKE_GAP_S, noise_take

RATE = 16000


@pytest.fixture
def corpus(tmp_path):
    """A 10 s noise file: white noise at 0.1 rms, 0.4 rms from 5 s on, and a burst at 1.0
    rms in the TAKE_GAP_S before 8 s; a noise file of 1.5 s; a speech file of 1 s."""
    rng = np.random.default_rng(0)
    level = np.full(10 * RATE, 0.1)
    level[5 * RATE:] = 0.4
    level[round((8 - TAKE_GAP_S) * RATE):8 * RATE] = 1.0
    sf.write(tmp_path / "noise.wav", level * rng.standard_normal(10 * RATE), RATE,
             subtype="FLOAT")
    sf.write(tmp_path / "short.wav", 0.1 * rng.standard_normal(3 * RATE // 2), RATE,
             subtype="FLOAT")
    sf.write(tmp_path / "speech.wav", 0.1 * rng.standard_normal(RATE), RATE, subtype="FLOAT")
    return dataset.Corpus(str(tmp_path), str(tmp_path), RATE, sample_rate=16000)


def take_and_noise(corpus, noise_start_s: float, take_s: float, noise: str = "noise.wav"):
    """(take, the clip's noise as mixed) of a test line whose excerpt starts there."""
    line = dataset.ConfigLine("test.txt:1", "speech.wav", noise, noise_start_s, 0.0)
    noisy, clean, scale = dataset.load_parallel(line, corpus)
    return noise_take(line, corpus, take_s, scale), noisy - clean


def test_a_take_ends_the_gap_before_the_clip_at_the_files_level_there(corpus):
    take, noise = take_and_noise(corpus, 8.0, 2.0)
    assert take.shape == (2 * RATE,)
    # 5.9-7.9 s at the clip's 0.4 rms: the burst in the gap is left out
    assert take.std() == pytest.approx(noise.std(), rel=0.05)
    quieter, noise = take_and_noise(corpus, 8.0, 4.0)  # 3.9-7.9 s: a quarter of it at 0.1 rms
    expected = np.sqrt((1.1 * 0.1 ** 2 + 2.9 * 0.4 ** 2) / 4) / 0.4
    assert quieter.std() / noise.std() == pytest.approx(expected, rel=0.05)


def test_a_clip_without_room_before_it_gets_the_take_after_it(corpus):
    take, noise = take_and_noise(corpus, 1.0, 2.0)  # 2.1-4.1 s, at 0.1 rms like the clip
    assert take.std() == pytest.approx(noise.std(), rel=0.05)
    louder, noise = take_and_noise(corpus, 3.0, 3.0)  # 4.1-7.1 s: most of it at 0.4 rms
    assert louder.std() > 3 * noise.std()


def test_a_file_with_room_for_neither_gives_its_longer_side(corpus):
    take, _ = take_and_noise(corpus, 6.0, 7.0)  # 5.9 s before the clip, 2.9 s after it
    assert take.shape == (round(5.9 * RATE),)
    with pytest.raises(dataset.DataError, match="test.txt:1: .*short.wav has under 0.5 s"):
        take_and_noise(corpus, 0.2, 3.0, "short.wav")  # 0.1 s before the clip, 0.2 s after
