"""Config files for the user's own clean speech and noise: the two test-noise protocols."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

import create_config_files
from create_config_files import TEST_NOISE_SHARE, AudioFile, make_config_lines
from test_pulse import pulse

SPEECH = [f"s{i}.wav" for i in range(12)]
NOISES = [AudioFile("n0.wav", 30.0), AudioFile("n1.wav", 20.0)]
TEST_NOISES = [AudioFile("t0.wav", 5.0)]


def noise_excerpts(lines: list[str]) -> list[tuple[str, float]]:
    return [(fields[1], float(fields[2])) for fields in (line.split() for line in lines)]


def test_default_test_excerpts_come_from_the_last_tenth_of_each_noise_file():
    train, val, test = make_config_lines(SPEECH[:10], SPEECH[10:], NOISES, 2, 1.0, seed=0)
    durations = {noise.path: noise.duration_s for noise in NOISES}
    for path, start in noise_excerpts(test):
        assert durations[path] * (1 - TEST_NOISE_SHARE) <= start <= durations[path] - 1.0
    for path, start in noise_excerpts(train + val):
        assert start + 1.0 <= durations[path] * (1 - TEST_NOISE_SHARE)


def test_test_noise_files_are_never_heard_in_training():
    train, val, test = make_config_lines(SPEECH[:10], SPEECH[10:], NOISES, 2, 1.0, seed=0,
                                         test_noises=TEST_NOISES)
    assert {path for path, _ in noise_excerpts(test)} == {"t0.wav"}
    extra = [(line.split()[4], float(line.split()[5])) for line in train]
    heard = noise_excerpts(train + val) + extra
    assert {path for path, _ in heard} == {"n0.wav", "n1.wav"}
    assert max(start for _, start in noise_excerpts(test)) <= 4.0
    # the whole of each training noise file is used, its last tenth included
    assert max(start for path, start in heard if path == "n0.wav") > 27.0 - 1.0


def test_a_file_in_both_noise_sets_is_refused():
    with pytest.raises(ValueError, match="both a training and a test noise file"):
        make_config_lines(SPEECH[:10], SPEECH[10:], NOISES, 2, 1.0, seed=0,
                          test_noises=[NOISES[0]])


def test_given_validation_files_are_the_validation_speech_and_repeats_are_kept():
    train_speech = SPEECH[:4] * 2  # a small corpus's files listed twice: two lines each
    train, val, test = make_config_lines(train_speech, SPEECH[10:], NOISES, 99, 1.0, seed=0,
                                         val=SPEECH[4:6])
    assert sorted(line.split()[0] for line in train) == sorted(train_speech)
    assert [line.split()[0] for line in val] == SPEECH[4:6]
    with pytest.raises(ValueError, match="both a training and a validation speech file"):
        make_config_lines(SPEECH[:4], SPEECH[10:], NOISES, 2, 1.0, seed=0, val=SPEECH[3:5])


def test_validation_noise_files_are_never_read_in_training():
    val_noises = [AudioFile("v0.wav", 10.0)]
    train, val, test = make_config_lines(SPEECH[:10], SPEECH[10:], NOISES, 3, 1.0, seed=0,
                                         val_noises=val_noises)
    extra = [(line.split()[4], float(line.split()[5])) for line in train]
    assert {path for path, _ in noise_excerpts(train) + extra} == {"n0.wav", "n1.wav"}
    assert {path for path, _ in noise_excerpts(val)} == {"v0.wav"}
    assert max(start for _, start in noise_excerpts(val)) <= 9.0 - 1.0  # its first 90 %
    with pytest.raises(ValueError, match="validation noise file is also a training"):
        make_config_lines(SPEECH[:10], SPEECH[10:], NOISES, 3, 1.0, seed=0,
                          val_noises=[NOISES[1]])


def test_both_command_lines_agree_on_the_clip_at_any_rate(tmp_path):
    """Config files written for 48 kHz pass pulse.py's check at 48 kHz: both count the
    default clip (3.125 s) in the run's rate; 8 kHz, which no model trains at, is refused
    by both."""
    rng = np.random.default_rng(0)
    for folder, count, seconds in (("speech", 4, 2.0), ("test", 2, 2.0), ("noise", 2, 6.0),
                                   ("test_noise", 1, 4.0)):
        (tmp_path / folder).mkdir()
        for k in range(count):
            sf.write(tmp_path / folder / f"{k}.wav",
                     0.1 * rng.standard_normal(int(seconds * 48000)), 48000)
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert create_config_files.main([
            "--name", "x", "--trainval", "speech/*.wav", "--test", "test/*.wav", "--noise",
            "noise/*.wav", "--test_noise", "test_noise/*.wav", "--n_val", "1",
            "--sample_rate", "48000"]) == 0
    finally:
        os.chdir(here)
    result = pulse("--sample_rate", "48000", "--check_only", "--train_fname", "x_train_set.txt",
                   "--val_fname", "x_val_set.txt", "--test_fname", "x_test_set.txt",
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with pytest.raises(SystemExit):
        create_config_files.main(["--name", "y", "--trainval", "speech/*.wav", "--test",
                                  "test/*.wav", "--noise", "noise/*.wav", "--sample_rate", "8000"])
