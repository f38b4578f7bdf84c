"""The student stage (``--student``): its remix (the teacher's estimate + training noise at
the level ``--remix_level`` names, excerpts from the training spans only), the student that
starts as its teacher, selection, resume, and noisy-target training (NyTT)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

import audio
import checkpoint
import dataset
import distributed
import student
import train
from conftest import TINY_RUN, TINY_SETTINGS
from methods import REMIX_METHOD, RemixObjective, build_model, enhance, mask_weights, method_for
from spectral import Spectral
from test_pulse import pulse

RATE = 16000


def tone_file(path, seconds: float, noise_until_s: float) -> None:
    """White noise up to ``noise_until_s``, a 1 kHz tone after it."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.where(t < noise_until_s, 0.1 * rng.standard_normal(len(t)),
                    0.3 * np.sin(2 * np.pi * 1000 * t))
    sf.write(path, wave, RATE)


def tone_share(wave: np.ndarray) -> float:
    """Share of ``wave``'s energy in the 1 kHz bin's neighbourhood."""
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / RATE)
    return float(power[np.abs(freqs - 1000) < 20].sum() / power.sum())


REMOVED, PAIRED = np.array([0.5, 1.0, 2.0]), np.array([0.8, 0.4, 1.6])


@pytest.mark.parametrize("level, expected", [("removed", REMOVED), ("paired", PAIRED)])
def test_the_remix_is_the_estimate_and_training_noise_at_the_chosen_level(tmp_path, level,
                                                                          expected):
    tone_file(tmp_path / "n.wav", 8.0, noise_until_s=4.0)  # the tone: the test part
    lines = [dataset.ConfigLine(f"t:{k}", "s.wav", "n.wav", 0.5 * k, 0.0, "n.wav", 1.0 + k)
             for k in range(3)]  # 1 s excerpts, all inside 0-4 s
    targets = tmp_path / "student1_train_targets.npy"
    estimates = np.random.default_rng(1).standard_normal((3, RATE)).astype(np.float32)
    np.save(targets, estimates)
    np.save(student.levels_path(targets), np.stack([REMOVED, PAIRED], 1).astype(np.float32))
    corpus = dataset.Corpus(None, str(tmp_path), RATE, sample_rate=RATE)
    spans = dataset.training_spans(lines, 1.0)
    remix = student.RemixSet(lines, corpus, targets, level, spans)
    np.random.seed(0)
    noises = []
    for _ in range(20):
        for k in range(3):
            target, noise = remix[k]
            assert torch.equal(target, torch.from_numpy(estimates[k]))
            assert noise.std().item() == pytest.approx(expected[k], rel=1e-3)
            assert tone_share(noise.numpy()) < 0.01  # never the tone after 4 s
            noises.append(noise)
    assert not torch.equal(noises[0], noises[3])  # a new excerpt every time
    fixed = student.RemixSet(lines, corpus, targets, level)  # validation: where lines say
    for k, line in enumerate(lines):
        said = dataset.standardise(audio.read_excerpt(tmp_path / "n.wav",
                                                      line.extra_noise_start_s, RATE, rate=RATE),
                                   "n.wav")
        torch.testing.assert_close(fixed[k][1], torch.from_numpy(said * expected[k]).float(),
                                   atol=1e-5, rtol=0)


def test_a_student_needs_a_noise_example_on_every_line(tmp_path):
    line = dataset.ConfigLine("val.txt:4", "s.wav", "n.wav", 0.0, 0.0)
    with pytest.raises(dataset.DataError, match="val.txt:4: a student needs a noise example"):
        student.RemixSet([line], dataset.Corpus(None, None, RATE, sample_rate=RATE),
                         tmp_path / "t.npy", "paired")


def test_estimates_are_the_teachers_enhanced_clips_beside_both_noise_levels(
        tiny_corpus, tmp_path):
    """Levels: what the teacher removed, and the noise inside each noisy clip (1 / the
    line's mixing scale: its noise has unit std before the mixture is scaled)."""
    config = {"method": "PU", "blocks": 1, "fcblocks": 0, "channels": 4, "droprate": 0.2,
              "regulariser": "batchnorm", "frame_len": 64, "feature": "linear",
              "input_norm": "frequency", "mask": "soft"}
    model = build_model(config).eval()
    method, spectral = method_for(config, 0.5), Spectral(64, sample_rate=16000)
    lines = dataset.read_config(tiny_corpus.train, dataset.TRAIN_FIELDS)
    corpus = dataset.Corpus(str(tiny_corpus.clean_path), str(tiny_corpus.noise_path), 4000,
                            sample_rate=RATE)
    clips = dataset.ExampleSet(lines, corpus, "noise_paired")
    path = tmp_path / "targets.npy"
    student.write_estimates(model, method, spectral, clips, path, distributed.Launch(),
                            torch.device("cpu"), 4, torch.no_grad, {})
    saved, levels = np.load(path), np.load(student.levels_path(path))
    noisy = torch.stack([clips[k][0] for k in range(len(clips))])
    expected = enhance(model, method, spectral, noisy)
    assert saved.shape == (len(lines), 4000)
    np.testing.assert_allclose(saved, expected.numpy(), atol=1e-5)
    removed = (noisy - expected).pow(2).mean(dim=-1).sqrt()
    np.testing.assert_allclose(levels[:, 0], removed.numpy(), rtol=1e-4)
    inside = [1 / dataset.load_parallel(line, corpus)[2] for line in lines]
    np.testing.assert_allclose(levels[:, 1], inside, rtol=1e-4)
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("teacher_method", ["PU", "MixIT"])
def test_a_student_starts_as_its_teacher(teacher_method):
    torch.manual_seed(0)
    config = {"method": teacher_method, "blocks": 1, "fcblocks": 0, "channels": 4,
              "droprate": 0.2, "regulariser": "batchnorm", "frame_len": 64,
              "feature": "linear", "input_norm": "frequency",
              "mask": "soft" if teacher_method == "PU" else None}
    teacher = build_model(config).eval()
    with torch.no_grad():
        teacher[-1].bias.fill_(0.3)  # a non-zero output bias, as trained ones have
    state = {"model": teacher.state_dict(), "model_config": config, "mask_scale": 0.7}
    pupil_config = {**config, "method": REMIX_METHOD, "mask": None}
    pupil = build_model(pupil_config).eval()
    pupil.load_state_dict(mask_weights(state, pupil))
    spectral, noisy = Spectral(64, sample_rate=16000), torch.randn(2, 4000)
    torch.testing.assert_close(enhance(pupil, method_for(pupil_config), spectral, noisy),
                               enhance(teacher, method_for(config, 0.7), spectral, noisy),
                               atol=1e-5, rtol=0)


class ConstantMask(nn.Module):
    """A "network" whose logit is ``logit`` in every bin: a mask of sigmoid(logit)."""

    def __init__(self, logit: float):
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(logit))

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.logit.expand_as(feature)


def test_the_remix_objective_against_hand_derived_values():
    """Mask m = sigmoid(0) = 1/2 everywhere. The network hears (target + noise) / std, so by
    signal approximation the loss is the mean of (|X| / 2 - |S|)^2 with X the STFT of the
    scaled sum and S of the scaled target; with target = noise (x = 2 s), |X| = 2 |S| and the
    loss is 0. The masked waveform is (target + noise) / (2 std): for noise = -target / 2 a
    multiple of the target, so its SI-SNR is the +100 dB bound and the loss -100; for noise
    orthogonal to the target with its energy, SI-SNR is 10 log10(|s|^2 / |n|^2) = 0 dB."""
    spectral = Spectral(64, sample_rate=16000)
    target = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    value, reported = RemixObjective()(ConstantMask(0.0), spectral, target, target.clone())
    torch.testing.assert_close(value, torch.tensor(0.0), atol=1e-6, rtol=0)
    assert not reported.requires_grad
    value, _ = RemixObjective()(ConstantMask(0.0), spectral, target, torch.zeros_like(target))
    scaled = spectral.stft(target / target.std(dim=-1, keepdim=True)).abs()
    torch.testing.assert_close(value, (scaled ** 2).mean() / 4)  # (|S| / 2 - |S|)^2
    value, _ = RemixObjective("si_snr")(ConstantMask(0.0), spectral, target, -target / 2)
    torch.testing.assert_close(value, torch.tensor(-100.0), atol=1e-3, rtol=0)
    noise = torch.randn(2, 4000, generator=torch.Generator().manual_seed(1))
    noise -= (noise * target).sum(-1, keepdim=True) / (target ** 2).sum(-1, keepdim=True) * target
    noise *= target.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
    value, _ = RemixObjective("si_snr")(ConstantMask(0.0), spectral, target, noise)
    torch.testing.assert_close(value, torch.tensor(0.0), atol=1e-3, rtol=0)


def stage_rows(out) -> list[dict]:
    with (out / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def default_run(tiny_corpus, tmp_path_factory):
    """A PU run with its default student (3 student epochs): (folder, pulse() result)."""
    out = tmp_path_factory.mktemp("student") / "run"
    result = pulse(*TINY_SETTINGS, *tiny_corpus.options(), "--student_epochs", "3",
                   "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_pu_trains_a_student_by_default_and_reports_both(default_run):
    out, result = default_run
    results = json.loads((out / "results.json").read_text())
    assert results["method"] == "PU" and results["prior"]["value"] == 0.6
    stages = results["stages"]
    assert list(stages) == ["teacher", "student1"]
    assert results["test_si_snri_db"] == stages["student1"]["test_si_snri_db"]
    assert results["best_epoch"] == stages["student1"]["best_epoch"]
    rows = stage_rows(out)
    assert [(row["stage"], row["epoch"]) for row in rows] == [
        ("teacher", "1"), ("teacher", "2"), *(("student1", str(k)) for k in range(4))]
    teacher_best = max(float(row["val_si_snri_db"]) for row in rows[:2])
    assert float(rows[2]["val_si_snri_db"]) == pytest.approx(teacher_best, abs=1e-3)
    best = checkpoint.load(out / "best.pt")
    assert best["model_config"]["method"] == REMIX_METHOD and best["stage"] == 1
    assert checkpoint.load(out / "teacher.pt")["results"]["test_si_snri_db"] == pytest.approx(
        stages["teacher"]["test_si_snri_db"])
    assert not list(out.glob("*.npy")) and not list(out.glob(".*"))
    assert "student round 1: 3 NyTT epochs from teacher.pt's estimates" in result.stderr


def test_a_student_round_resumes_where_it_stopped_and_a_finished_teacher_is_not_retrained(
        tiny_corpus, default_run, tmp_path):
    whole, _ = default_run
    teacher_only, stopped = tmp_path / "teacher", tmp_path / "stop"
    assert pulse(*TINY_RUN, *tiny_corpus.options(), "--out_dir", str(teacher_only)).returncode == 0
    stopped.mkdir()
    for name in ("best.pt", "last.pt"):  # a finished teacher run, then a student
        (stopped / name).write_bytes((teacher_only / name).read_bytes())
    assert pulse(*TINY_RUN, *tiny_corpus.options(), "--student", "1", "--student_epochs", "1",
                 "--out_dir", str(stopped)).returncode == 0
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--student", "1", "--student_epochs", "3",
                   "--out_dir", str(stopped), "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr and "class prior" not in result.stderr
    resumed, uninterrupted = stage_rows(stopped), stage_rows(whole)
    assert [row["stage"] for row in resumed] == ["teacher"] * 2 + ["student1"] * 4  # epoch 0
    for a, b in zip(resumed, uninterrupted):
        assert a["train_loss"] == b["train_loss"] == "" or float(a["train_loss"]) == \
            pytest.approx(float(b["train_loss"]), rel=1e-5)
    assert json.loads((stopped / "results.json").read_text())["test_si_snri_db"] == \
        pytest.approx(json.loads((whole / "results.json").read_text())["test_si_snri_db"])
    fewer = pulse(*TINY_RUN, *tiny_corpus.options(), "--out_dir", str(stopped), "--resume")
    assert fewer.returncode == 1 and "saved in student round 1" in fewer.stderr


def test_noisy_target_training_teaches_two_rounds(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--method", "NyTT", "--student", "2",
                   "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["method"] == "NyTT" and results["args"]["noise_excerpts"] == "random"
    assert list(results["stages"]) == ["teacher", "student1", "student2"]
    assert checkpoint.load(out / "teacher.pt")["model_config"]["method"] == "NyTT"
    assert checkpoint.load(out / "student1.pt")["stage"] == 1
    assert "from student1.pt's estimates" in result.stderr


@pytest.mark.parametrize("options, message", [
    (["--recipe", "reference", "--student", "1"], "has none: use --recipe pulse"),
    (["--method", "PN", "--student", "1"], "--method PN has clean speech"),
])
def test_a_student_where_there_can_be_none_is_an_argparse_error(options, message):
    result = pulse(*options, "--check_only")
    assert result.returncode == 2 and message in result.stderr


def test_a_student_that_never_beats_its_teacher_keeps_its_teacher(tiny_corpus, tmp_path,
                                                                  monkeypatch):
    """The teacher is the student's epoch 0 in selection: a student whose every epoch is
    spoiled is selected at epoch 0, which scores as its teacher does."""
    real_epoch = train.Trainer.train_epoch

    def spoiled(self, loader, epoch):
        loss = real_epoch(self, loader, epoch)
        if self.stage.index:
            with torch.no_grad():
                for weight in self.model.parameters():
                    weight.add_(10 * torch.randn_like(weight))
        return loss

    monkeypatch.setattr(train.Trainer, "train_epoch", spoiled)
    out = tmp_path / "run"
    result = pulse(*TINY_SETTINGS, *tiny_corpus.options(), "--student_epochs", "2",
                   "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    assert "student1: no epoch beat the weights it started from" in result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["best_epoch"] == results["stages"]["student1"]["best_epoch"] == 0
    assert results["test_si_snri_db"] == pytest.approx(
        results["stages"]["teacher"]["test_si_snri_db"], abs=1e-3)
    assert checkpoint.load(out / "best.pt")["model_config"]["method"] == REMIX_METHOD
