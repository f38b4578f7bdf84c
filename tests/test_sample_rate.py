"""Training at another sample rate (``--sample_rate``) and enhancing with such a model."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import dataset
import enhance_files
import noise_clip
import pulse as entry
import recipes
from conftest import SMALL_MODEL, TINY_RUN
from enhance_files import enhance_channel
from methods import build_model
from spectral import Spectral
from test_pulse import pulse


@pytest.mark.parametrize("argv, frame_len, wav_len", [
    ([], 1024, 50000),
    (["--sample_rate", "48000"], 3072, 150000),
    (["--sample_rate", "44100"], 2822, 137812),
    (["--sample_rate", "48000", "--frame_len", "2048", "--wav_len", "96000"], 2048, 96000),
    (["--sample_rate", "32000", "--demo"], 1024, 32000),
])
def test_samples_scale_with_the_rate_unless_given(argv, frame_len, wav_len):
    args = recipes.resolve(entry.parse_args(argv), torch.device("cpu"), False)
    assert (args.frame_len, args.wav_len) == (frame_len, wav_len)


@pytest.mark.parametrize("argv, message", [
    (["--sample_rate", "8000"], "must lie in 16000-48000 Hz"),
    (["--sample_rate", "96000"], "must lie in 16000-48000 Hz"),
    (["--enhance", "a.wav", "--output_dir", "o", "--sample_rate", "48000"],
     "--sample_rate is a training option"),
])
def test_bad_rates_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        entry.parse_args(argv)
    assert message in capsys.readouterr().err


def test_corpus_reads_excerpts_at_its_rate(tmp_path):
    t = np.arange(32000) / 16000
    sf.write(tmp_path / "n.wav", np.sin(2 * np.pi * 440 * t), 16000)
    line = dataset.RecordingLine("x:1", "n.wav", 0.0, "n.wav", 1.0)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 24000, sample_rate=48000)
    noisy, noise = dataset.load_recordings(line, corpus)
    assert noisy.shape == noise.shape == (24000,)  # 0.5 s at 48 kHz
    peak_hz = np.argmax(np.abs(np.fft.rfft(noise))) * 48000 / 24000
    assert peak_hz == 440
    problems, _ = dataset.check_files([dataset.RecordingLine("x:2", "n.wav", 0.0, "n.wav", 1.8)],
                                      dataset.Corpus(str(tmp_path), str(tmp_path), 24000,
                                                     sample_rate=48000))
    assert problems == ["x:2: n.wav (looked for as " f"{tmp_path / 'n.wav'}): lasts 2.000 s, "
                        "too short for 0.500 s from 1.8 s"]


def _tone(hz: float, rate: int, length: int) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(length) / rate)


def _amplitude(wave: np.ndarray, rate: int, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(spectrum[round(hz * len(wave) / rate)] / (np.hanning(len(wave)).sum() / 2))


def test_a_32k_model_cleans_up_to_16k_and_gains_the_band_above():
    """A 48 kHz channel through a 32 kHz model that removes 10-16 kHz: 12 kHz, which a
    16 kHz model would never hear, is removed by the model; 20 kHz, above the model's
    Nyquist frequency, keeps the gain of its top octave (9 kHz kept, 12 kHz gone: 0.71)."""
    rate, length = 48000, 48000
    wave = sum(_tone(hz, rate, length) for hz in (5000, 9000, 12000, 20000))

    def below_10k(heard: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(heard)
        spectrum[torch.fft.rfftfreq(len(heard), 1 / 32000) > 10000] = 0
        return torch.fft.irfft(spectrum, len(heard))

    spectral = Spectral(512, sample_rate=32000)
    out = enhance_channel(below_10k, spectral, wave, rate, torch.device("cpu"))
    middle = slice(4800, length - 4800)  # away from the resampler's edges
    kept = {hz: _amplitude(out[middle], rate, hz) for hz in (5000, 9000, 12000, 20000)}
    assert kept[5000] == pytest.approx(1.0, abs=0.02)
    assert kept[9000] == pytest.approx(1.0, abs=0.02)
    assert kept[12000] < 0.01
    assert kept[20000] == pytest.approx(np.sqrt(0.5), abs=0.03)


def test_trains_at_32k_stores_the_rate_and_enhances_44k_stereo(tiny_corpus, tmp_path):
    run = tmp_path / "run"
    assert entry.main([*TINY_RUN, *tiny_corpus.options(), "--method", "PN", "--epochs", "1",
                       "--sample_rate", "32000", "--wav_len", "8000", "--frame_len", "128",
                       "--out_dir", str(run), "--quiet"]) == 0
    state = torch.load(run / "best.pt", weights_only=False)
    assert (state["model_config"]["sample_rate"], state["model_config"]["frame_len"]) == (
        32000, 128)
    source = tmp_path / "take.flac"
    rng = np.random.default_rng(0)
    sf.write(source, 0.1 * rng.standard_normal((30000, 2)), 44100, subtype="PCM_24")
    result = pulse("--enhance", str(source), "--checkpoint", str(run / "best.pt"),
                   "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    info = sf.info(tmp_path / "out" / "take.flac")
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (
        44100, 2, 30000, "PCM_24")
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--method", "PN", "--epochs", "1",
                   "--frame_len", "128", "--init_from", str(run / "best.pt"),
                   "--out_dir", str(tmp_path / "at16k"), "--quiet")
    assert result.returncode == 1
    assert "--sample_rate 32000 there, 16000 here" in result.stderr


def test_config_files_for_a_48k_run_fit_its_clips(tmp_path, monkeypatch):
    import create_config_files

    rng = np.random.default_rng(0)
    for i in range(6):
        sf.write(tmp_path / f"s{i}.wav", 0.1 * rng.standard_normal(24000), 48000)
    sf.write(tmp_path / "noise.wav", 0.1 * rng.standard_normal(24 * 48000), 48000)
    monkeypatch.chdir(tmp_path)
    assert create_config_files.main(["--name", "hi", "--trainval", "s[0-3].wav", "--test",
                                     "s[45].wav", "--noise", "noise.wav", "--n_val", "1",
                                     "--wav_len", "96000", "--sample_rate", "48000"]) == 0
    test = [float(line.split()[2]) for line in (tmp_path / "hi_test_set.txt").open()]
    assert len(test) == 2 and all(21.6 <= start <= 22.0 for start in test)  # 2 s clips in
    # the last tenth of a 24 s file: read as 16 kHz samples, 96000 would be 6 s and refused


def test_a_checkpoints_rate_reaches_enhance_and_the_noise_clip(tmp_path, monkeypatch):
    """A 32 kHz model hears a 48 kHz take, and adapts from a 48 kHz clip, at 32 kHz."""
    config = {**SMALL_MODEL, "sample_rate": 32000}
    torch.manual_seed(0)
    torch.save({"model": build_model(config).state_dict(), "model_config": config},
               tmp_path / "m32.pt")
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "take.wav", 0.1 * rng.standard_normal(48000), 48000)
    sf.write(tmp_path / "clip.wav", 0.1 * rng.standard_normal(24000), 48000)
    heard, adapted = [], []
    real_enhance_long, real_adapt = enhance_files.enhance_long, noise_clip.adapt
    monkeypatch.setattr(enhance_files, "enhance_long", lambda model, method, spectral, wave,
                        **options: (heard.append((spectral.sample_rate, len(wave)))
                                    or real_enhance_long(model, method, spectral, wave,
                                                         **options)))
    monkeypatch.setattr(noise_clip, "adapt", lambda state, spectral, noisy, clip, *rest: (
        adapted.append((spectral.sample_rate, len(noisy), len(clip)))
        or real_adapt(state, spectral, noisy, clip, *rest)))
    result = pulse("--enhance", str(tmp_path / "take.wav"), "--checkpoint",
                   str(tmp_path / "m32.pt"), "--noise_clip", str(tmp_path / "clip.wav"),
                   "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert adapted == [(32000, 32000, 16000)]  # 1 s take and 0.5 s clip at the model's rate
    assert heard[-1] == (32000, 32000)
    assert sf.info(tmp_path / "out" / "take.wav").samplerate == 48000
