"""Config files for the user's own clean speech and noise: the two test-noise protocols."""
from __future__ import annotations

import pytest

from create_config_files import TEST_NOISE_SHARE, AudioFile, make_config_lines

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
