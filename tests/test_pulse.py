"""End to end: tiny real runs of pulse.py as users start it.

``pulse()`` runs the command line in this process (``pulse.main``, the same code path as the
script, without paying PyTorch's import for every run); tests that need a real process
(signals, several processes, the script's own start-up) use ``pulse_process()``.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

import pulse as entry
from conftest import ROOT, TINY_RUN

PYTHON = sys.executable


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def pulse(*args: str, cwd=ROOT) -> Result:
    """``python pulse.py ARGS`` in this process: exit status, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = entry.main(list(args))
            except SystemExit as exit_:  # argparse errors and --help
                code = exit_.code or 0
    finally:
        os.chdir(here)
    return Result(code, out.getvalue(), err.getvalue())


def pulse_process(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    """``python pulse.py ARGS`` as a separate process."""
    return subprocess.run([PYTHON, str(ROOT / "pulse.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("method", ["PU", "PN", "MixIT", "NyTT"])
def test_tiny_run_of_each_method(method, tiny_corpus, tmp_path):
    out = tmp_path / "run"
    result = pulse("--method", method, *TINY_RUN, *tiny_corpus.options(), "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    last_two = result.stdout.strip().splitlines()[-2:]
    assert last_two[0].startswith("validation SI-SNRi: ") and last_two[0].endswith(" dB")
    assert last_two[1].startswith("test SI-SNRi: ") and last_two[1].endswith(" dB")
    results = json.loads((out / "results.json").read_text())
    assert results["method"] == method
    assert results["val_si_snri_db"] == pytest.approx(float(last_two[0].split()[2]), abs=1e-4)
    assert results["test_si_snri_db"] == pytest.approx(float(last_two[1].split()[2]), abs=1e-4)
    assert results["args"]["wav_len"] == 4000
    best = torch.load(out / "best.pt", weights_only=False)
    assert best["model_config"]["method"] == method and best["epoch"] == results["best_epoch"]
    last = torch.load(out / "last.pt", weights_only=False)
    assert last["epoch"] == 2 and len(last["history"]) == 2
    assert (out / "metrics.csv").read_text().count("\n") == 3
    assert not list(out.glob(".*.tmp*"))
    assert not list(out.glob("*.png"))  # --no-figures


def test_pu_soft_mask_scale_is_fitted_on_validation_and_used_everywhere(tiny_corpus, tmp_path):
    """Every epoch fixes the soft mask's scale on the validation clips; the selected one is
    stored in best.pt and results.json and is what --enhance applies."""
    import dataset
    import enhance_files
    from methods import enhance

    out = tmp_path / "run"
    result = pulse("--method", "PU", "--mask", "soft", *TINY_RUN, *tiny_corpus.options(),
                   "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    best = torch.load(out / "best.pt", weights_only=False)
    results = json.loads((out / "results.json").read_text())
    assert best["mask_scale"] > 0 and results["mask_scale"] == best["mask_scale"]
    header, *rows = (out / "metrics.csv").read_text().splitlines()
    column = header.split(",").index("mask_scale")
    assert float(rows[results["best_epoch"] - 1].split(",")[column]) == best["mask_scale"]
    model, method, spectral = enhance_files.load_checkpoint(out / "best.pt",
                                                            torch.device("cpu"))
    corpus = dataset.Corpus(tiny_corpus.clean_path, tiny_corpus.noise_path, 4000, sample_rate=16000)
    noisy = torch.stack([torch.from_numpy(dataset.load_parallel(line, corpus)[0]).float()
                         for line in dataset.read_config(tiny_corpus.val, dataset.EVAL_FIELDS)])
    with torch.no_grad():
        spec = spectral.stft(noisy)
        logits = model(spectral.feature_of(spec.abs()))[:, 0]
    assert best["mask_scale"] == pytest.approx(logits.abs().median().item(), rel=0.01)
    expected = spectral.istft(torch.sigmoid(-logits / best["mask_scale"]) * spec, 4000)
    torch.testing.assert_close(enhance(model, method, spectral, noisy), expected)


def test_help_lists_every_reference_option():
    """Each option of the reference release is an option of its own in --help (matched
    whole: ``--p`` is not found inside ``--prior``)."""
    text = pulse_process("--help").stdout
    listed = set(re.findall(r"(?<![\w-])(--[a-zA-Z_]+)(?![\w-])", text))
    for option in ("--epochs", "--batch_size", "--beta", "--gamma", "--p", "--mode", "--prior",
                   "--frame_len", "--dist", "--prefix", "--fix_seed", "--wav_len", "--lr_per_GPU",
                   "--blocks", "--channels", "--droprate", "--fcblocks", "--method",
                   "--train_fname", "--val_fname", "--test_fname", "--clean_path", "--noise_path",
                   "--out_dir", "--device", "--num_workers", "--seed", "--feature", "--demo"):
        assert option in listed, option
    assert re.search(r"^  --p P\b", text, re.MULTILINE)  # its own entry, with its value


@pytest.mark.parametrize("options, message", [
    (["--mode", "biased"], "invalid choice"),
    (["--prior", "1.2"], "strictly between 0 and 1"),
    (["--epochs", "-3"], "positive integer"),
    (["--fcblocks", "3", "--blocks", "2"], "exceeds --blocks"),
    (["--frame_len", "511"], "must be even"),
    (["--method", "GAN"], "invalid choice"),
])
def test_bad_options_are_argparse_errors(options, message, tmp_path):
    result = pulse(*options, "--out_dir", str(tmp_path / "o"))
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("options", [["--wav_len", "100"], ["--wav_len", "100", "--frame_len",
                                                            "512"]])
def test_a_clip_shorter_than_a_frame_is_refused_before_any_output(options, tmp_path):
    """Checked where the frame is settled from the rate (``recipes.resolve``)."""
    result = pulse(*options, "--out_dir", str(tmp_path / "o"))
    assert result.returncode == 1 and "shorter than one frame" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_missing_corpus_gets_one_clear_message(tmp_path):
    result = pulse("--out_dir", str(tmp_path / "o"), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "voicebank_train_set.txt" in result.stderr


def test_missing_audio_points_at_download_and_demo(tiny_corpus, tmp_path):
    result = pulse(*TINY_RUN, *tiny_corpus.options()[:6], "--clean_path", str(tmp_path / "nowhere"),
                   "--noise_path", str(tiny_corpus.noise_path), "--out_dir", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "tiny_train_set.txt:1:" in result.stderr and "file does not exist" in result.stderr
    assert "download.sh" in result.stderr and "--demo" in result.stderr
    assert not (tmp_path / "o" / "last.pt").exists()


def test_outputs_for_users(tiny_corpus, tmp_path):
    """Per-example CSV, summary, PNG figures, and --plot_only redrawing them."""
    import csv

    out = tmp_path / "run"
    assert pulse("--method", "PN", *TINY_RUN, *tiny_corpus.options(), "--figures", "--out_dir",
                 str(out)).returncode == 0
    with (out / "test_examples.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and rows[0]["line"].endswith("tiny_test_set.txt:1")
    assert set(rows[0]) >= {"input_si_snr_db", "output_si_snr_db", "si_snri_db"}
    results = json.loads((out / "results.json").read_text())
    mean = sum(float(r["si_snri_db"]) for r in rows) / 3
    assert results["test_summary"]["si_snri_db"]["mean"] == pytest.approx(mean, abs=1e-3)
    assert results["test_si_snri_db"] == pytest.approx(mean, abs=1e-3)
    for name in ("training_curves.png", "example_1.png", "example_3.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and 10_000 < len(data) < 2_000_000
    (out / "training_curves.png").unlink()
    assert pulse("--plot_only", str(out)).returncode == 0
    assert (out / "training_curves.png").exists()
    missing = pulse("--plot_only", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_progress_lines_off_a_terminal(tiny_corpus, tmp_path, monkeypatch):
    """When stderr is not a terminal, training logs its rate and the time left."""
    import report

    monkeypatch.setattr(report, "PROGRESS_EVERY_S", 0.0)
    result = pulse("--method", "PN", *TINY_RUN, *tiny_corpus.options(), "--out_dir",
                   str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "training: 1/" in result.stderr and "batches/s" in result.stderr
    assert "s left" in result.stderr
