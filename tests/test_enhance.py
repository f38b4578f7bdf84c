"""Enhancing the user's own files with a checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SMALL_MODEL, pink_noise, real_speech
import enhance_files
from enhance_files import band_gain, enhance_file, model_enhancer
from methods import build_model, enhance, enhance_long, method_for, model_from_state
from spectral import Spectral
from test_pulse import pulse

CONFIG = SMALL_MODEL


def _noisy(seconds: float) -> np.ndarray:
    speech = real_speech()
    n = int(seconds * 16000)
    speech = np.resize(speech, n)
    return 0.5 * speech + pink_noise(np.random.default_rng(1), n)


@pytest.mark.parametrize("name, input_norm", [("PN", "none"), ("PU", "none"), ("PU", "frequency")])
def test_chunked_equals_whole(name, input_norm):
    torch.manual_seed(0)
    config = {**CONFIG, "method": name, "mask": "soft", "input_norm": input_norm}
    model, method = build_model(config).eval(), method_for(config)
    spectral = Spectral(256, sample_rate=16000)
    wave = torch.from_numpy(_noisy(6.0)).float()
    whole = enhance(model, method, spectral, wave[None])[0]
    chunked = enhance_long(model, method, spectral, wave, chunk_frames=50)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)


def test_stereo_48k_file_and_folder(small_checkpoint, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    stereo = np.stack([_noisy(2.0), _noisy(2.0)[::-1]], axis=1)
    stereo48 = np.repeat(stereo, 3, axis=0)
    sf.write(folder / "sub" / "a.wav", 0.5 * stereo48, 48000)
    sf.write(folder / "b.flac", 0.5 * _noisy(1.0), 16000)
    out = tmp_path / "out"
    result = pulse("--enhance", str(folder), "--checkpoint", str(small_checkpoint),
                   "--output_dir", str(out))
    assert result.returncode == 0, result.stderr
    info = sf.info(out / "in" / "sub" / "a.wav")
    assert (info.samplerate, info.channels, info.frames) == (48000, 2, 96000)
    assert sf.info(out / "in" / "b.flac").frames == 16000
    again = pulse("--enhance", str(folder), "--checkpoint", str(small_checkpoint),
                  "--output_dir", str(out))
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert pulse("--enhance", str(folder), "--checkpoint", str(small_checkpoint), "--output_dir",
                 str(out), "--overwrite").returncode == 0


def test_bad_checkpoint_and_missing_input(tmp_path):
    bogus = tmp_path / "x.pt"
    bogus.write_text("not a checkpoint")
    sf.write(tmp_path / "a.wav", _noisy(0.5), 16000)
    result = pulse("--enhance", str(tmp_path / "a.wav"), "--checkpoint", str(bogus),
                   "--output_dir", str(tmp_path / "o"))
    assert result.returncode == 1 and "not a PULSE checkpoint" in result.stderr
    assert "Traceback" not in result.stderr
    result = pulse("--enhance", str(tmp_path / "none.wav"), "--checkpoint", str(bogus),
                   "--output_dir", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr


def _stereo_44k(seconds: float) -> np.ndarray:
    """(T, 2) at 44.1 kHz: speech in pink noise, and a 12 kHz tone a 16 kHz model never hears."""
    at_16k = np.stack([_noisy(seconds), 0.7 * _noisy(seconds)[::-1]], axis=1)
    length = round(seconds * 44100)
    stereo = np.stack([np.interp(np.arange(length) / 44100, np.arange(len(at_16k)) / 16000,
                                 at_16k[:, k]) for k in range(2)], axis=1)
    return 0.4 * stereo + 0.05 * np.sin(2 * np.pi * 12000 * np.arange(length) / 44100)[:, None]


def _band_energy(wave: np.ndarray, rate: int, low_hz: float) -> float:
    spec = np.abs(np.fft.rfft(wave, axis=0)) ** 2
    return float(spec[np.fft.rfftfreq(len(wave), 1 / rate) > low_hz].sum())


def test_output_keeps_rate_channels_length_format_and_upper_band(small_checkpoint, tmp_path):
    source = tmp_path / "take.flac"
    sf.write(source, _stereo_44k(1.5), 44100, subtype="PCM_24")
    out = tmp_path / "out"
    result = pulse("--enhance", str(source), "--checkpoint", str(small_checkpoint),
                   "--output_dir", str(out))
    assert result.returncode == 0, result.stderr
    info, given = sf.info(out / "take.flac"), sf.info(source)
    assert (info.samplerate, info.channels, info.frames, info.format, info.subtype) == (
        given.samplerate, given.channels, given.frames, given.format, given.subtype)
    enhanced, _ = sf.read(out / "take.flac")
    noisy, _ = sf.read(source)
    assert not np.allclose(enhanced[:, 0], enhanced[:, 1])  # each channel its own


@pytest.mark.parametrize("logit, kept_range", [(-30.0, (0.0, 0.01)), (30.0, (0.99, 1.01))])
def test_the_band_above_the_model_takes_its_top_octave_gain(tmp_path, logit, kept_range):
    """A model whose mask is 0 (1) everywhere removes (keeps) the 12 kHz tone it never hears:
    the band above 8 kHz follows its top octave, neither left as it was nor dropped."""
    state = {"model": build_model(CONFIG).state_dict(), "model_config": CONFIG}
    state["model"]["12.weight"].zero_()
    state["model"]["12.bias"].fill_(logit)
    torch.save(state, tmp_path / "constant.pt")
    sf.write(tmp_path / "take.flac", _stereo_44k(1.5), 44100, subtype="PCM_24")
    result = pulse("--enhance", str(tmp_path / "take.flac"), "--checkpoint",
                   str(tmp_path / "constant.pt"), "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    enhanced, _ = sf.read(tmp_path / "out" / "take.flac")
    noisy, _ = sf.read(tmp_path / "take.flac")
    kept = _band_energy(enhanced, 44100, 9000) / _band_energy(noisy, 44100, 9000)
    assert kept_range[0] <= kept <= kept_range[1]


def test_band_gain_follows_the_top_octave():
    spectral = Spectral(256, sample_rate=16000)
    noisy = _noisy(1.0)
    assert np.allclose(band_gain(noisy, noisy, spectral, 48000), 1.0)
    assert np.allclose(band_gain(noisy, np.zeros_like(noisy), spectral, 48000), 0.0)
    low_only = np.fft.irfft(np.fft.rfft(noisy) * (np.fft.rfftfreq(16000, 1 / 16000) < 3000), 16000)
    assert band_gain(noisy, low_only, spectral, 48000).max() < 0.2  # window leakage only
    half = band_gain(noisy, 0.5 * noisy, spectral, 44100)
    assert half.shape == (44100,) and np.allclose(half, 0.5)


@pytest.mark.parametrize("rate, channels, subtype", [(48000, 2, "PCM_16"), (16000, 1, "FLOAT"),
                                                     (8000, 1, "PCM_16")])
def test_segments_equal_whole_file(small_checkpoint, tmp_path, monkeypatch, rate, channels,
                                   subtype):
    model, method, spectral = model_from_state(torch.load(small_checkpoint), torch.device("cpu"))
    enhancer = model_enhancer(model, method, spectral)
    wave = np.resize(_stereo_44k(3.0)[:, :channels], (round(3.0 * rate), channels))
    source = tmp_path / "in.wav"
    sf.write(source, wave, rate, subtype=subtype)
    enhance_file(enhancer, spectral, source, tmp_path / "whole.wav", torch.device("cpu"))
    monkeypatch.setattr(enhance_files, "SEGMENT_S", 0.7)
    monkeypatch.setattr(enhance_files, "MARGIN_S", 0.3)
    reads = []
    real_read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, frames=-1, *args, **kw: (
        reads.append(frames) or real_read(self, frames, *args, **kw)))
    enhance_file(enhancer, spectral, source, tmp_path / "parts.wav", torch.device("cpu"))
    assert max(reads) <= round(1.3 * rate) + 1  # never the whole file at once
    whole, _ = sf.read(tmp_path / "whole.wav", always_2d=True)
    parts, _ = sf.read(tmp_path / "parts.wav", always_2d=True)
    assert whole.shape == parts.shape == wave.shape
    np.testing.assert_allclose(parts, whole, atol=2e-4)
