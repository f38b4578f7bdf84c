"""Enhancing the user's own files with a checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import pink_noise, real_speech
from enhance_files import enhance_long
from methods import build_model, enhance, method_for
from spectral import Spectral
from test_pulse import pulse

CONFIG = {"method": "PN", "blocks": 1, "fcblocks": 0, "channels": 4, "droprate": 0.2,
          "regulariser": "batchnorm", "frame_len": 256, "feature": "linear"}


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model(CONFIG)
    path = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "model_config": CONFIG}, path)
    return path


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
    spectral = Spectral(256)
    wave = torch.from_numpy(_noisy(6.0)).float()
    whole = enhance(model, method, spectral, wave[None])[0]
    chunked = enhance_long(model, method, spectral, wave, chunk_frames=50)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)


def test_stereo_48k_file_and_folder(checkpoint, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    stereo = np.stack([_noisy(2.0), _noisy(2.0)[::-1]], axis=1)
    stereo48 = np.repeat(stereo, 3, axis=0)
    sf.write(folder / "sub" / "a.wav", 0.5 * stereo48, 48000)
    sf.write(folder / "b.flac", 0.5 * _noisy(1.0), 16000)
    out = tmp_path / "out"
    result = pulse("--enhance", str(folder), "--checkpoint", str(checkpoint),
                   "--output_dir", str(out))
    assert result.returncode == 0, result.stderr
    info = sf.info(out / "in" / "sub" / "a.wav")
    assert (info.samplerate, info.channels) == (16000, 1) and info.frames == 32000
    assert sf.info(out / "in" / "b.flac").frames == 16000
    again = pulse("--enhance", str(folder), "--checkpoint", str(checkpoint),
                  "--output_dir", str(out))
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert pulse("--enhance", str(folder), "--checkpoint", str(checkpoint), "--output_dir",
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
