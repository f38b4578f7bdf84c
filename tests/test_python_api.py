"""``pulse.enhance``: a recording held in memory, enhanced as ``--enhance`` enhances a file."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import checkpoint as checkpoint_module
import pulse
from test_enhance import _noisy, _stereo_44k
from test_pulse import pulse as pulse_cli


def test_importing_pulse_parses_no_arguments():
    assert callable(pulse.enhance) and pulse.main is not None  # imported by this module already


@pytest.mark.parametrize("rate, channels, dtype", [(16000, 0, np.float64), (44100, 2, np.float32),
                                                   (8000, 1, np.int16)])
def test_shape_rate_and_dtype_are_kept_and_the_file_path_agrees(small_checkpoint, tmp_path, rate,
                                                                channels, dtype):
    wave = _stereo_44k(1.2)[:, :max(channels, 1)]
    wave = np.resize(wave, (round(1.2 * rate), max(channels, 1)))
    if not channels:
        wave = wave[:, 0]
    y = (wave * 20000).astype(dtype) if dtype == np.int16 else wave.astype(dtype)
    out = pulse.enhance(y, rate, checkpoint=small_checkpoint)
    assert out.shape == y.shape and out.dtype == y.dtype
    assert not np.allclose(out, y)
    sf.write(tmp_path / "take.wav", y, rate, subtype="PCM_16" if dtype == np.int16 else "DOUBLE")
    result = pulse_cli("--enhance", str(tmp_path / "take.wav"), "--checkpoint",
                       str(small_checkpoint), "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    from_file, _ = sf.read(tmp_path / "out" / "take.wav", always_2d=True,
                           dtype="int16" if dtype == np.int16 else "float64")
    np.testing.assert_allclose(out.astype(np.float64), from_file.reshape(y.shape),
                               atol=1 if dtype == np.int16 else 1e-5)


def test_a_noise_clip_adapts_as_on_the_command_line(small_checkpoint, tmp_path):
    y = 0.3 * _noisy(0.5)
    noise = 0.3 * np.random.default_rng(5).standard_normal(8000)
    plain = pulse.enhance(y, 16000, checkpoint=small_checkpoint)
    adapted = pulse.enhance(y, 16000, noise=noise, checkpoint=small_checkpoint)
    assert not np.allclose(adapted, plain, atol=1e-4)
    sf.write(tmp_path / "take.wav", y, 16000, subtype="DOUBLE")
    sf.write(tmp_path / "noise.wav", noise, 16000, subtype="DOUBLE")
    result = pulse_cli("--enhance", str(tmp_path / "take.wav"), "--noise_clip",
                       str(tmp_path / "noise.wav"), "--checkpoint", str(small_checkpoint),
                       "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(adapted, sf.read(tmp_path / "out" / "take.wav")[0], atol=1e-5)


def test_the_model_is_loaded_once(small_checkpoint, monkeypatch):
    loads = []
    real_load = checkpoint_module.load
    monkeypatch.setattr(checkpoint_module, "load", lambda path: loads.append(path) or
                        real_load(path))
    y = 0.3 * _noisy(0.5)
    first = pulse.enhance(y, 16000, checkpoint=small_checkpoint)
    second = pulse.enhance(y, 16000, checkpoint=str(small_checkpoint))
    np.testing.assert_array_equal(first, second)
    assert len(loads) <= 1


@pytest.mark.parametrize("y, words", [
    (np.zeros(0), "y: holds no audio samples"), (np.r_[np.ones(4000), np.nan], "y: contains NaN"),
    (np.zeros(4000), "y: is silent"), (np.full(4000, 0.5), "y: holds only a constant"),
    (np.ones(100) * np.arange(100), "y: lasts 0.006 s, shorter than one frame"),
    (np.zeros((2, 2, 2)), "expected a (T,) or (T, channels) array")])
def test_unusable_arrays_get_a_clear_error(small_checkpoint, y, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        pulse.enhance(y, 16000, checkpoint=small_checkpoint)


def test_a_noise_clip_of_other_channels_or_a_bad_rate_is_refused(small_checkpoint):
    y = np.stack([0.3 * _noisy(0.5)] * 2, axis=1)
    with pytest.raises(ValueError, match="noise: 1 channels, y has 2"):
        pulse.enhance(y, 16000, noise=0.1 * _noisy(0.5), checkpoint=small_checkpoint)
    with pytest.raises(ValueError, match="noise: is silent"):
        pulse.enhance(y, 16000, noise=np.zeros((8000, 2)), checkpoint=small_checkpoint)
    with pytest.raises(ValueError, match="sr: expected a positive whole number"):
        pulse.enhance(y, 16000.5, checkpoint=small_checkpoint)
