"""Audio files to 16 kHz mono: excerpts, channel mixing and both resamplers."""
import math

import numpy as np
import pytest
import soundfile as sf

import audio
import dataset
from conftest import pink_noise, real_speech


def _write_noise(path, rate: int, channels: int = 1) -> None:
    noise = pink_noise(np.random.default_rng(0), 6 * rate)
    sf.write(path, np.stack([noise, 0.5 * noise], axis=1) if channels > 1 else noise, rate)


def test_excerpt_of_a_48k_stereo_file_is_resampled(tmp_path):
    _write_noise(tmp_path / "n.wav", 48000, channels=2)
    excerpt = audio.read_excerpt(tmp_path / "n.wav", 2.0, 16000, rate=16000)
    assert excerpt.shape == (16000,)
    stereo, rate = sf.read(tmp_path / "n.wav", start=96000, frames=48000)
    expected = stereo.mean(axis=1)[::3]
    assert np.corrcoef(excerpt[100:-100], expected[100:-100])[0, 1] > 0.9


def _tones(t: np.ndarray) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t)


@pytest.mark.parametrize("rate, resampler, limit_db", [
    (44100, "soxr", -100), (48000, "soxr", -100), (8000, "soxr", -100),
    (44100, "sinc", -70), (48000, "sinc", -70), (8000, "sinc", -30)])
def test_resampling_is_accurate(tmp_path, rate, resampler, limit_db):
    """Tones below both Nyquist limits come out at 16 kHz close to the exact ones: soxr
    within -100 dB (resample_poly: -60 to -64 dB); the reference's short sinc within -70 dB
    going down, -30 dB from 8 kHz, where 3.1 kHz lies in its wide transition band."""
    sf.write(tmp_path / "t.wav", _tones(np.arange(2 * rate) / rate), rate, subtype="FLOAT")
    wave = audio.read_audio(tmp_path / "t.wav", resampler, rate=16000)
    exact = _tones(np.arange(len(wave)) / 16000)
    inner = slice(800, -800)  # away from the edges' filter transients
    error = np.sum((wave[inner] - exact[inner]) ** 2) / np.sum(exact[inner] ** 2)
    assert len(wave) == 32000 and 10 * np.log10(error) < limit_db


def _sinc_by_definition(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """The reference's resampler written as its definition, one output sample at a time:
    y(t) = sum_n x[n] h(t - n), h the Hann-windowed sinc of cut-off f_c = 0.99 * min(rate_in,
    rate_out) / 2 that is 6 of its zero crossings wide on each side, t = m rate_in / rate_out."""
    cutoff = 0.99 * min(rate_in, rate_out) / rate_in  # cycles per input sample, x2
    out = np.empty(math.ceil(len(wave) * rate_out / rate_in))
    n = np.arange(len(wave))
    for m in range(len(out)):
        u = np.clip((n - m * rate_in / rate_out) * cutoff, -6, 6)
        out[m] = np.sum(wave * cutoff * np.sinc(u) * np.cos(np.pi * u / 12) ** 2)
    return out


@pytest.mark.parametrize("rate_in", [48000, 44100, 22050, 8000])
def test_sinc_resampler_follows_its_definition(rate_in):
    """The polyphase implementation against the windowed sinc evaluated sample by sample,
    edges included (zeros beyond the signal, as the reference pads)."""
    wave = np.random.default_rng(3).standard_normal(rate_in // 20)
    fast = audio.sinc_resample(wave, rate_in, 16000)
    np.testing.assert_allclose(fast, _sinc_by_definition(wave, rate_in, 16000), atol=1e-12)


def test_sinc_resampler_works_in_bounded_blocks():
    wave = np.random.default_rng(4).standard_normal(48000)
    np.testing.assert_allclose(audio.sinc_resample(wave, 48000, 16000, block=1000),
                               audio.sinc_resample(wave, 48000, 16000), atol=0, rtol=0)


def test_the_corpus_reads_speech_with_its_resampler(tmp_path):
    """A 48 kHz speech file goes through the corpus's resampler: the reference recipe's
    sinc gives what ``sinc_resample`` gives, and differs from soxr near 8 kHz."""
    speech_48k = audio.soxr_resample(real_speech(), 16000, 48000)
    sf.write(tmp_path / "s.wav", speech_48k, 48000, subtype="FLOAT")
    _write_noise(tmp_path / "n.wav", 16000)
    line = dataset.parse_line("d/s.wav d/n.wav 0 5", "t:1", dataset.EVAL_FIELDS)
    cleans = {name: dataset.ExampleSet([line], dataset.Corpus(tmp_path, tmp_path, 32000,
                                                              name, sample_rate=16000)
                        )[0][1].double().numpy()
              for name in audio.RESAMPLERS}
    expected = audio.sinc_resample(speech_48k, 48000, 16000)[:32000]
    expected = expected - expected.mean()
    scale = np.dot(cleans["sinc"], expected) / np.dot(expected, expected)  # set by the SNR
    assert np.linalg.norm(cleans["sinc"] - scale * expected) < 1e-6 * np.linalg.norm(expected)
    assert not np.allclose(cleans["sinc"], cleans["soxr"], rtol=1e-3, atol=1e-4)


def test_noise_too_short_is_a_clear_error(tmp_path):
    _write_noise(tmp_path / "n.wav", 16000)
    with pytest.raises(audio.DataError, match="lasts 6.000 s"):
        audio.read_excerpt(tmp_path / "n.wav", 5.5, 16000, rate=16000)
