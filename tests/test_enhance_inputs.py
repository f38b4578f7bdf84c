"""--enhance refuses what it cannot enhance before it writes anything, naming each file."""
from __future__ import annotations

import shutil
import subprocess
import zipfile

import numpy as np
import soundfile as sf

import noise_clip
from conftest import ROOT
from spectral import Spectral
from test_enhance import _noisy
from test_pulse import pulse


def test_two_inputs_of_one_name_are_refused_before_any_output(small_checkpoint, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "take.wav", 0.3 * _noisy(0.5), 16000)
    out = tmp_path / "out"
    result = pulse("--enhance", str(tmp_path / "a" / "take.wav"), str(tmp_path / "b" / "take.wav"),
                   "--checkpoint", str(small_checkpoint), "--output_dir", str(out))
    assert result.returncode == 1, result.stderr
    assert f"{tmp_path / 'a' / 'take.wav'} and {tmp_path / 'b' / 'take.wav'} would both be " \
           f"written to {out / 'take.wav'}" in result.stderr
    assert not out.exists()
    result = pulse("--enhance", str(tmp_path / "a"), str(tmp_path / "b"), "--checkpoint",
                   str(small_checkpoint), "--output_dir", str(out))  # folders keep their names
    assert result.returncode == 0, result.stderr
    assert (out / "a" / "take.wav").exists() and (out / "b" / "take.wav").exists()


def test_takes_without_a_usable_signal_are_named_before_any_output(small_checkpoint, tmp_path):
    sf.write(tmp_path / "good.wav", 0.3 * _noisy(0.5), 16000)
    cases = {"empty.wav": (np.zeros(0), "holds no audio samples"),
             "short.wav": (0.3 * _noisy(0.5)[:200], "shorter than one frame of the model"),
             "silent.wav": (np.zeros(8000), "is silent"),
             "dc.wav": (np.full(8000, 0.25), "constant (DC) value")}
    for name, (wave, _) in cases.items():
        sf.write(tmp_path / name, wave, 16000)
    out = tmp_path / "out"
    result = pulse("--enhance", str(tmp_path / "good.wav"), *(str(tmp_path / n) for n in cases),
                   "--checkpoint", str(small_checkpoint), "--output_dir", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for name, (_, words) in cases.items():
        assert f"{tmp_path / name}: " in result.stderr and words in result.stderr, name
    assert not out.exists()  # the good take was not written either


def test_a_dc_clip_is_refused_and_a_long_clip_is_read_up_to_the_cap(tmp_path, monkeypatch):
    spectral = Spectral(256, sample_rate=16000)
    sf.write(tmp_path / "take.wav", 0.3 * _noisy(0.5), 16000)
    sf.write(tmp_path / "dc.wav", np.full(8000, 0.1), 16000)
    assert "dc.wav: the noise clip holds only a constant" in noise_clip.clip_problem(
        tmp_path / "dc.wav", tmp_path / "take.wav", 1, spectral)
    sf.write(tmp_path / "long.wav", 0.1 * _noisy(3.0), 16000)
    monkeypatch.setattr(noise_clip, "MAX_HEARD_S", 1.25)
    assert len(noise_clip.read_heard(tmp_path / "long.wav", spectral)) == 20000


def test_download_script_names_what_failed(tmp_path):
    """A download that unpacks to another folder than expected stops with a message (under
    ``set -euo pipefail`` a missing folder used to end it silently)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("unexpected/readme.txt", "not the corpus")
    fake_curl = bin_dir / "curl"
    fake_curl.write_text("#!/bin/sh\n# copy the prepared zip to the --output argument\n"
                         "while [ $# -gt 0 ]; do [ \"$1\" = --output ] && cp "
                         f"{tmp_path / 'other.zip'} \"$2\"; shift; done\n")
    fake_curl.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "download.sh", work)
    result = subprocess.run(["bash", "download.sh"], cwd=work, capture_output=True, text=True,
                            env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 1
    assert "download.sh: voicebank/clean_trainset_wav has 0 files, expected 11572" in result.stderr
