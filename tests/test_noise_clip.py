"""--enhance with --noise_clip: a model adapted to one recording from a clip of its noise."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import checkpoint
import enhance_files
import noise_clip
from audio import DataError
from conftest import pink_noise, real_speech
from methods import build_model, enhance, model_from_state
from metric import si_snr_improvement
from model import for_inference
from test_pulse import pulse
from warm_start import STARTER

CPU = torch.device("cpu")


def _hum_and_hiss(length: int, seed: int = 0) -> np.ndarray:
    """Harmonic hum over pink noise: a noise the starter model never learnt."""
    t = np.arange(length) / 16000
    hum = sum(np.sin(2 * np.pi * hz * t) / (k + 1) for k, hz in enumerate((300, 600, 900, 1200, 2500)))
    return 0.5 * (0.1 * hum + pink_noise(np.random.default_rng(seed), length))


@pytest.fixture(scope="module")
def recording():
    """(noisy, clean, clip) at 16 kHz, scaled alike: speech in hum and hiss, and 3 s of the
    same noise just before it."""
    speech = real_speech()
    noise = _hum_and_hiss(len(speech) + 48000)
    noisy = speech + noise[48000:]
    scale = noisy.std()
    return noisy / scale, speech / scale, noise[:48000] / scale


def _si_snri(model, method, spectral, noisy, clean) -> float:
    y = torch.from_numpy(noisy).float()[None]
    out = enhance(model, method, spectral, y)
    return si_snr_improvement(out.double(), y.double(), torch.from_numpy(clean)[None]).item()


@pytest.mark.parametrize("method", ["PU", "PN"])
def test_no_step_changes_nothing(method, recording):
    torch.manual_seed(0)
    config = {"method": method, "blocks": 1, "fcblocks": 0, "channels": 4, "droprate": 0.2,
              "regulariser": "batchnorm", "frame_len": 256, "feature": "linear",
              "mask": "soft", "input_norm": "frequency"}
    state = {"model": build_model(config).state_dict(), "model_config": config,
             "mask_scale": 2.5 if method == "PU" else None}
    model, chosen, spectral = model_from_state(state, CPU)
    noisy, _, clip = (torch.from_numpy(x).float() for x in recording)
    adapted, adapted_method = noise_clip.adapt(state, spectral, noisy, clip,
                                               noise_clip.Adaptation(steps=0))
    torch.testing.assert_close(enhance(for_inference(adapted, CPU), adapted_method, spectral,
                                       noisy[None]),
                               enhance(model, chosen, spectral, noisy[None]), atol=1e-5, rtol=0)


def test_adapting_from_the_clip_beats_the_starter_as_it_is(recording):
    state = checkpoint.load(STARTER)
    model, method, spectral = model_from_state(state, CPU)
    noisy, clean, clip = recording
    before = _si_snri(model, method, spectral, noisy, clean)
    adapted, adapted_method = noise_clip.adapt(state, spectral, *(
        torch.from_numpy(x).float() for x in (noisy, clip)))
    after = _si_snri(for_inference(adapted, CPU), adapted_method, spectral, noisy, clean)
    assert after > before + 1.0, (before, after)


def test_one_clip_serves_every_input_or_each_input_has_its_own():
    a, b, c = (Path(name) for name in ("a.wav", "b.wav", "c.wav"))
    assert noise_clip.clips_for([c], [a, b]) == [c, c]
    assert noise_clip.clips_for([b, c], [a, b]) == [b, c]
    assert noise_clip.clips_for(None, [a]) is None
    with pytest.raises(DataError, match="2 noise clips for 3 input files"):
        noise_clip.clips_for([b, c], [a, b, c])


def _adapted_output(state, source: Path, clip_path: Path) -> np.ndarray:
    """``source`` enhanced after adapting to ``clip_path``, as --enhance --noise_clip does."""
    model, method, spectral = model_from_state(state, CPU)
    clip = noise_clip.read_heard(clip_path, spectral)
    adapted, adapted_method, _ = noise_clip.adapt_to_file(state, spectral, source, clip_path, clip,
                                                       CPU)
    wave, rate = sf.read(source, dtype="float64")
    enhancer = enhance_files.model_enhancer(for_inference(adapted, CPU), adapted_method, spectral)
    scale = wave.std()
    return enhance_files.enhance_channel(enhancer, spectral, wave / scale, rate, CPU) * scale


def test_each_input_adapts_from_its_own_clip(tmp_path, recording, small_checkpoint):
    """Two takes of two noises, each given its own clip: each output is the take adapted to
    its own clip, which differs from adapting it to the other's."""
    noisy, clean, clip = (x[:24000] for x in recording)
    white = np.random.default_rng(2).standard_normal(2 * len(noisy)) * clip.std()
    sf.write(tmp_path / "a.wav", 0.1 * noisy, 16000, subtype="FLOAT")
    sf.write(tmp_path / "b.flac", 0.1 * (clean + white[len(noisy):]), 16000, subtype="PCM_24")
    sf.write(tmp_path / "clip_a.wav", 0.1 * clip, 16000, subtype="FLOAT")
    sf.write(tmp_path / "clip_b.wav", 0.1 * white[:len(clip)], 16000, subtype="FLOAT")
    takes, clips = [tmp_path / "a.wav", tmp_path / "b.flac"], [tmp_path / "clip_a.wav",
                                                                 tmp_path / "clip_b.wav"]
    result = pulse("--enhance", *map(str, takes), "--checkpoint", str(small_checkpoint),
                   "--noise_clip", *map(str, clips), "--output_dir", str(tmp_path / "each"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("adapting to") == 2
    state = checkpoint.load(small_checkpoint)
    for take, own in zip(takes, clips):
        written, _ = sf.read(tmp_path / "each" / take.name)
        np.testing.assert_allclose(written, _adapted_output(state, take, own), atol=1e-6)
    written, _ = sf.read(tmp_path / "each" / "a.wav")  # the other clip makes a difference
    assert np.abs(written - _adapted_output(state, takes[0], clips[1])).max() > 1e-4


def test_bad_clips_are_refused_by_name(tmp_path, recording):
    noisy, _, clip = recording
    sf.write(tmp_path / "take.wav", 0.1 * noisy, 16000)
    sf.write(tmp_path / "stereo.wav", 0.1 * np.stack([clip, clip], 1), 16000)
    sf.write(tmp_path / "silent.wav", np.zeros(16000), 16000)
    sf.write(tmp_path / "short.wav", 0.1 * clip[:200], 16000)
    cases = {"stereo.wav": "has 2 channels", "silent.wav": "silent", "short.wav": "shorter than one frame"}
    for name, words in cases.items():
        result = pulse("--enhance", str(tmp_path / "take.wav"), "--noise_clip",
                       str(tmp_path / name), "--output_dir", str(tmp_path / "out"))
        assert result.returncode == 1 and name in result.stderr and words in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out" / "take.wav").exists()
    result = pulse("--enhance", str(tmp_path / "take.wav"), "--noise_clip",
                   str(tmp_path / "silent.wav"), str(tmp_path / "short.wav"),
                   "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 1 and "2 noise clips for 1 input files" in result.stderr
    sf.write(tmp_path / "clip.wav", 0.1 * clip, 16000)
    sf.write(tmp_path / "second.wav", 0.1 * noisy, 16000)
    result = pulse("--enhance", str(tmp_path / "take.wav"), str(tmp_path / "second.wav"),
                   "--noise_clip", str(tmp_path / "clip.wav"), str(tmp_path / "silent.wav"),
                   "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 1 and "silent.wav: the noise clip is silent" in result.stderr
    assert not (tmp_path / "out" / "take.wav").exists()  # refused before any output
    result = pulse("--noise_clip", str(tmp_path / "silent.wav"))
    assert result.returncode == 2 and "--noise_clip goes with --enhance" in result.stderr
