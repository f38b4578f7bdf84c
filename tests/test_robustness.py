"""Bad input, interruption and reproducibility."""
from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, TINY_RUN, make_tiny_corpus
from test_pulse import pulse


def _metrics(out):
    with (out / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def test_same_seed_gives_identical_metrics(tiny_corpus, tmp_path):
    runs = []
    for name in ("a", "b"):
        result = pulse(*TINY_RUN, *tiny_corpus.options(), "--seed", "3", "--out_dir",
                       str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        runs.append([(r["train_loss"], r["val_si_snri_db"]) for r in _metrics(tmp_path / name)])
    assert runs[0] == runs[1]


def test_kill_and_resume_loses_at_most_one_epoch(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, str(ROOT / "pulse.py"), *TINY_RUN, *tiny_corpus.options(),
               "--epochs", "5", "--out_dir", str(out)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (out / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_metrics(out))
    assert 1 <= done < 5
    resumed = subprocess.run(command + ["--resume"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"after epoch {done}" in resumed.stderr
    epochs = [int(r["epoch"]) for r in _metrics(out)]
    assert epochs == list(range(1, 6))
    assert not list(out.glob(".*.tmp*"))


def test_resume_with_another_model_is_refused(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    assert pulse(*TINY_RUN, *tiny_corpus.options(), "--epochs", "1",
                 "--out_dir", str(out)).returncode == 0
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--blocks", "1", "--out_dir", str(out),
                   "--resume")
    assert result.returncode == 1 and "differs" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("workers, first, named", [
    ("0", 1000, "tiny_train_set.txt:1: noise/pink.wav"),  # found by the pre-flight check
    ("0", 20000, "tiny_train_set.txt:5: "), ("1", 20000, "tiny_train_set.txt:5: ")])  # in loading
def test_nan_samples_are_named(tmp_path, workers, first, named):
    """The pre-flight check reads each file up to its first block that holds a signal
    (16384 samples here); NaN samples after it are named by the loader, in a worker too."""
    corpus = make_tiny_corpus(tmp_path)
    wave, rate = sf.read(corpus.noise_path / "pink.wav")
    wave[first:first + 100] = np.nan
    sf.write(corpus.noise_path / "pink.wav", wave, rate, subtype="FLOAT")
    result = pulse(*TINY_RUN, *corpus.options(), "--num_workers", workers,
                   "--out_dir", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pink.wav" in result.stderr and "contains NaN or infinite samples" in result.stderr
    assert named in result.stderr


def test_check_only_reports_all_problems_at_once(tmp_path):
    """A malformed line does not hide the file problems of the well-formed ones."""
    corpus = make_tiny_corpus(tmp_path)
    lines = corpus.train.read_text().splitlines()
    lines[1] = lines[1].replace("speech/", "speech/missing_")
    lines[3] = " ".join(lines[3].split()[:2] + ["3.99"] + lines[3].split()[3:])
    lines[4] = "only three fields"
    corpus.train.write_text("\n".join(lines) + "\n")
    result = pulse(*TINY_RUN, *corpus.options(), "--check_only", "--out_dir", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "tiny_train_set.txt:5: expected 6 fields" in result.stderr
    assert "tiny_train_set.txt:2: speech/missing_u01.wav (looked for as " in result.stderr
    assert "does not exist" in result.stderr
    assert "tiny_train_set.txt:4:" in result.stderr and "too short" in result.stderr
    assert not (tmp_path / "o").exists()


def test_config_paths_are_used_as_written_without_dataset_options(tmp_path):
    """Lines naming speech/... and noise/... work from their folder with no --clean_path."""
    corpus = make_tiny_corpus(tmp_path)
    options = [*TINY_RUN, *corpus.options()[:6], "--check_only"]
    assert pulse(*options, cwd=corpus.root).returncode == 0
    elsewhere = pulse(*options, cwd=tmp_path.parent)
    assert elsewhere.returncode == 1 and "Traceback" not in elsewhere.stderr
    assert "tiny_train_set.txt:1: speech/u00.wav: file does not exist" in elsewhere.stderr


def test_nan_loss_stops_training_and_keeps_the_last_good_epoch(tiny_corpus, tmp_path, capsys,
                                                                monkeypatch):
    import loss
    import pulse as entry
    import torch

    real = loss.pu_risks
    calls = {"n": 0}

    def poisoned(*args, **kwargs):  # finite for the 3 steps of epoch 1, NaN from then on
        calls["n"] += 1
        r_plus, r_minus = real(*args, **kwargs)
        return (r_plus, r_minus) if calls["n"] <= 3 else (r_plus * float("nan"), r_minus)

    monkeypatch.setattr(loss, "pu_risks", poisoned)
    out = tmp_path / "run"
    assert entry.main([*TINY_RUN, *tiny_corpus.options(), "--epochs", "3",
                       "--out_dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "NaN or infinite at step 0 of epoch 2" in err and "Traceback" not in err
    assert torch.load(out / "last.pt", weights_only=False)["epoch"] == 1
    assert len(_metrics(out)) == 1


def test_cosine_schedule_decays_to_zero_within_the_run(tiny_corpus, tmp_path):
    from train import learning_rate

    assert learning_rate(1e-3, "constant", 0.7) == 1e-3
    assert learning_rate(1e-3, "cosine", 0.0) == 1e-3
    assert learning_rate(1e-3, "cosine", 0.5) == pytest.approx(5e-4)
    assert learning_rate(1e-3, "cosine", 0.999) < 1e-8
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--lr_schedule", "cosine", "--epochs", "3",
                   "--out_dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rates = [float(row["lr"]) for row in _metrics(tmp_path)]  # each epoch's last step
    assert 1e-3 > rates[0] > rates[1] > rates[2] > 0
