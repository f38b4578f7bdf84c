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


@pytest.mark.parametrize("method", ["PU", "MixIT"])
def test_training_from_recordings_alone(method, recordings, tmp_path):
    out = tmp_path / "run"
    result = pulse(*TINY_RUN, "--method", method, "--train_fname", "field_train_set.txt",
                   "--val_fname", "field_val_set.txt", "--out_dir", str(out), cwd=recordings)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("validation ")
    results = json.loads((out / "results.json").read_text())
    assert results["selection"]["criterion"] == "val_loss"
    assert "test_si_snri_db" not in results and results["val_si_snri_db"] is None
    history = (out / "metrics.csv").read_text().splitlines()
    assert "val_loss" in history[0] and "val_si_snri_db" not in history[0] and len(history) == 3
    assert (out / "best.pt").exists() and (out / "example_1.png").exists()
    if method == "PU":  # the prior defaults to auto on recordings
        assert results["prior"]["estimated"] and 0 < results["prior"]["value"] < 1
        assert "class prior estimated from the training data" in result.stderr


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
