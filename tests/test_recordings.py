"""Learning from recordings alone: config lines of noisy and noise recordings, training
and model selection with no clean speech anywhere."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

import create_config_files
import dataset
from conftest import SPEECH_FILES, TINY_RUN, hum, pink_noise, real_speech
from test_pulse import pulse


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Four noisy recordings (real speech in pink noise or hum) and three noise recordings,
    written as a user would have them, and their config files."""
    root = tmp_path_factory.mktemp("recordings")
    rng = np.random.default_rng(0)
    (root / "noisy").mkdir()
    (root / "noise").mkdir()
    for i in range(4):
        speech = real_speech(SPEECH_FILES[i % 2])[:40000]
        noise = (pink_noise if i % 2 else hum)(rng, len(speech))
        sf.write(root / "noisy" / f"take{i}.wav", 0.5 * speech + noise, 16000)
    for i, make in enumerate((pink_noise, hum, pink_noise)):
        sf.write(root / "noise" / f"room{i}.wav", make(rng, 48000 + 8000 * i), 16000)
    here = os.getcwd()
    os.chdir(root)  # config paths are written as found, relative to the working directory
    try:
        assert create_config_files.main(["--name", "field", "--noisy", "noisy/*.wav", "--noise",
                                         "noise/*.wav", "--wav_len", "4000", "--n_val", "4"]) == 0
    finally:
        os.chdir(here)
    return root


def test_recordings_lines_hold_out_whole_files(recordings):
    train = dataset.read_config(recordings / "field_train_set.txt", dataset.TRAIN_FIELDS)
    val = dataset.read_config(recordings / "field_val_set.txt", dataset.EVAL_FIELDS)
    assert all(isinstance(line, dataset.RecordingLine) for line in train + val)
    assert len(val) == 4 and len(train) == 30  # 3 training takes of 2.5 s in 0.25 s excerpts
    for field in ("noisy", "noise"):
        assert not {getattr(x, field) for x in train} & {getattr(x, field) for x in val}
    assert {x.noisy_start_s for x in train} == {0.25 * k for k in range(10)}


def test_recordings_lines_parse_and_mixed_kinds_are_refused(tmp_path):
    line = dataset.parse_line("REC a.wav 1.5 b.wav 0", "f:1", dataset.TRAIN_FIELDS)
    assert line == dataset.RecordingLine("f:1", "a.wav", 1.5, "b.wav", 0.0)
    for text, message in (("REC a.wav 1.5 b.wav", "a recordings line has 5 fields"),
                          ("REC a.wav -1 b.wav 0", "noisy start time -1 is negative"),
                          ("REC a.wav 1 b.wav x", "noise start time 'x' is not a number")):
        with pytest.raises(dataset.DataError, match=message):
            dataset.parse_line(text, "f:1", dataset.EVAL_FIELDS)
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("REC a.wav 0 b.wav 0\ns.wav n.wav 0 5\n")
    lines, errors = dataset.parse_config(mixed, dataset.EVAL_FIELDS)
    assert len(lines) == 1 and errors == [
        f"{mixed}:2: a published-format line in a file of recordings lines (from {mixed}:1); "
        "a config file holds one kind"]


def test_a_wrong_kind_of_line_is_reported_before_training(recordings, tmp_path):
    result = pulse(*TINY_RUN, "--train_fname", "field_train_set.txt", "--val_fname",
                   "field_val_set.txt", "--test_fname", "field_val_set.txt",
                   "--out_dir", str(tmp_path / "o"), cwd=recordings)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "field_val_set.txt holds recordings: a test set needs clean speech" in result.stderr
    pn = pulse(*TINY_RUN, "--method", "PN", "--train_fname", "field_train_set.txt",
               "--val_fname", "field_val_set.txt", "--out_dir", str(tmp_path / "p"),
               cwd=recordings)
    assert pn.returncode == 1 and "--method PN learns from clean speech" in pn.stderr


@pytest.mark.parametrize("method, student_epochs", [("PU", 1), ("MixIT", 0)])
def test_training_from_recordings_alone(method, student_epochs, recordings, tmp_path):
    """PU with its student (each selected without clean speech), MixIT alone."""
    out = tmp_path / "run"
    student = ["--student", "1", "--student_epochs", "1"] if student_epochs else []
    result = pulse(*TINY_RUN, "--method", method, "--train_fname", "field_train_set.txt",
                   "--val_fname", "field_val_set.txt", "--out_dir", str(out), *student,
                   "--figures", cwd=recordings)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("validation ")
    results = json.loads((out / "results.json").read_text())
    assert results["selection"]["criterion"] == "val_loss"
    assert "test_si_snri_db" not in results and results["val_si_snri_db"] is None
    history = (out / "metrics.csv").read_text().splitlines()
    assert "val_loss" in history[0] and "val_si_snri_db" not in history[0]
    assert len(history) == 1 + 2 + student_epochs + (1 if student_epochs else 0)  # epoch 0
    assert (out / "best.pt").exists() and (out / "example_1.png").exists()
    if method == "PU":  # the prior defaults to auto on recordings
        assert results["prior"]["estimated"] and 0 < results["prior"]["value"] < 1
        assert "class prior estimated from the training data" in result.stderr
        assert results["stages"]["student1"]["selection"]["criterion"] == "val_loss"
        assert "teacher estimates of 4 clips in student1_val_targets.npy" in result.stderr
        assert not list(out.glob("*.npy"))


def test_missing_recording_is_named_before_training(recordings, tmp_path):
    lines = (recordings / "field_train_set.txt").read_text().splitlines()
    broken = tmp_path / "broken_train_set.txt"
    broken.write_text("\n".join([lines[0].replace("noisy/", "noisy/gone_")] + lines[1:]) + "\n")
    result = pulse(*TINY_RUN, "--train_fname", str(broken), "--val_fname", "field_val_set.txt",
                   "--check_only", cwd=recordings)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{broken}:1: noisy/gone_" in result.stderr and "does not exist" in result.stderr


def test_selection_by_validation_loss_keeps_the_lowest_epoch(recordings, tmp_path):
    import csv

    out = tmp_path / "run"
    assert pulse(*TINY_RUN, "--epochs", "3", "--train_fname", "field_train_set.txt",
                 "--val_fname", "field_val_set.txt", "--prior", "0.6", "--out_dir", str(out),
                 cwd=recordings).returncode == 0
    with (out / "metrics.csv").open() as f:
        losses = [float(row["val_loss"]) for row in csv.DictReader(f)]
    results = json.loads((out / "results.json").read_text())
    assert results["best_epoch"] == 1 + int(np.argmin(losses))
    assert results["val_loss"] == pytest.approx(min(losses))
    assert results["prior"] == {"value": 0.6, "estimated": False}


def test_check_only_names_empty_silent_and_folder_entries(recordings, tmp_path):
    """Files that would stop training are caught before it, each in its own words; a folder
    is not a missing file, and a run on recordings never looks for the VoiceBank test set."""
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    sf.write(tmp_path / "silent.wav", np.zeros(4 * 16000), 16000)
    (tmp_path / "folder.wav").mkdir()
    bad = tmp_path / "bad_train_set.txt"
    bad.write_text(f"REC noisy/take0.wav 0 noise/room0.wav 0\nREC {tmp_path}/empty.wav 0 "
                   f"noise/room0.wav 0\nREC {tmp_path}/silent.wav 0 noise/room0.wav 0\n"
                   f"REC noisy/take0.wav 0 {tmp_path}/folder.wav 0\n")
    result = pulse(*TINY_RUN, "--train_fname", str(bad), "--val_fname", "field_val_set.txt",
                   "--check_only", cwd=recordings)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for number, words in ((2, "empty.wav: holds no audio samples (0 frames)"),
                          (3, "silent.wav: is silent: every sample is 0"),
                          (4, "folder.wav: is a folder, not an audio file")):
        assert f"{bad}:{number}: {tmp_path}/{words}" in result.stderr
    assert "missing" not in result.stderr and "download.sh" not in result.stderr
    assert "voicebank" not in result.stderr


def test_an_unreadable_recordings_file_never_mentions_the_voicebank_test_set(recordings):
    result = pulse(*TINY_RUN, "--train_fname", "field_train_set.txt", "--val_fname",
                   "gone_val_set.txt", "--check_only", cwd=recordings)
    assert result.returncode == 1 and "gone_val_set.txt: cannot read config file" in result.stderr
    broken = pulse(*TINY_RUN, "--train_fname", "gone_train_set.txt", "--val_fname",
                   "field_val_set.txt", "--check_only", cwd=recordings)
    assert broken.returncode == 1 and "voicebank" not in broken.stderr


def test_paths_with_spaces_round_trip(tmp_path):
    """create_config_files quotes a path holding spaces; pulse.py reads it back whole."""
    rng = np.random.default_rng(3)
    (tmp_path / "my takes").mkdir()
    (tmp_path / "noise").mkdir()
    for k in "ab":
        sf.write(tmp_path / "my takes" / f"take {k}.wav", 0.1 * rng.standard_normal(16000), 16000)
        sf.write(tmp_path / "noise" / f"room {k}'s.wav", 0.1 * rng.standard_normal(16000), 16000)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert create_config_files.main(["--name", "sp", "--noisy", "my takes/*.wav", "--noise",
                                         "noise/*.wav", "--wav_len", "4000"]) == 0
    finally:
        os.chdir(here)
    lines = dataset.read_config(tmp_path / "sp_train_set.txt", dataset.TRAIN_FIELDS)
    assert {line.noisy for line in lines} <= {"my takes/take a.wav", "my takes/take b.wav"}
    assert all(line.noise in ("noise/room a's.wav", "noise/room b's.wav") for line in lines)
    result = pulse(*TINY_RUN, "--train_fname", "sp_train_set.txt", "--val_fname",
                   "sp_val_set.txt", "--check_only", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_published_lines_split_as_they_always_have():
    text = "voicebank/clean_trainset_wav/p233_040.wav DEMAND/OOFFICE/ch13.wav 12.5 -2.1"
    assert dataset.split_fields(text, "f:1") == text.split()
    assert dataset.split_fields("'a b.wav' n.wav 0 5", "f:1") == ["a b.wav", "n.wav", "0", "5"]
    with pytest.raises(dataset.DataError, match="f:1: No closing quotation"):
        dataset.split_fields("'a b.wav n.wav 0 5", "f:1")


def test_a_silent_noisy_excerpt_is_called_noisy(tmp_path):
    sf.write(tmp_path / "take.wav", np.r_[np.zeros(8000), 0.1 * np.ones(100)], 16000)
    sf.write(tmp_path / "room.wav", np.random.default_rng(0).standard_normal(16000), 16000)
    line = dataset.RecordingLine("t:1", "take.wav", 0.0, "room.wav", 0.0)
    with pytest.raises(dataset.DataError, match="t:1: .*take.wav: noisy excerpt is silent"):
        dataset.ExampleSet([line], dataset.Corpus(str(tmp_path), str(tmp_path), 4000,
                                                  sample_rate=16000))[0]
