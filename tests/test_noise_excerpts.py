"""Fresh noise examples (``--noise_excerpts random``): inside the part of each noise file
that the training lines read, less any test excerpt there, new every epoch, reproducible
from the seed; the pre-flight check of test and validation excerpts against training."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

import dataset
import noise_spans
import train
from conftest import TINY_RUN
from noise_spans import Excerpt
from test_pulse import pulse

LINES = [
    dataset.ConfigLine("t:1", "s.wav", "a.wav", 1.0, 5.0, "b.wav", 2.0),
    dataset.ConfigLine("t:2", "s.wav", "b.wav", 6.0, 5.0, "a.wav", 3.0),
    dataset.RecordingLine("r:1", "noisy.wav", 0.0, "c.wav", 4.0),
]


def test_spans_cover_every_noise_excerpt_the_lines_read():
    spans = dataset.training_spans(LINES, clip_s=1.0)
    assert spans == {"a.wav": ((1.0, 4.0),), "b.wav": ((2.0, 7.0),), "c.wav": ((4.0, 5.0),)}


def test_fresh_excerpts_stay_inside_the_span_and_leave_the_mixture_alone():
    spans = dataset.training_spans(LINES, clip_s=1.0)
    rng = np.random.default_rng(0)
    starts = []
    for _ in range(200):
        moved = dataset.fresh_noise_line(LINES[1], spans, rng, clip_s=1.0)
        assert (moved.noise, moved.noise_start_s, moved.snr_db) == ("b.wav", 6.0, 5.0)
        starts.append(moved.extra_noise_start_s)
    assert 1.0 <= min(starts) < 1.1 and 2.9 < max(starts) <= 3.0  # a.wav: 1 s clips in 1-4 s
    recording = dataset.fresh_noise_line(LINES[2], spans, rng, clip_s=1.0)
    assert recording.noise_start_s == 4.0  # a span of one clip leaves one start


def test_a_test_excerpt_inside_a_span_is_cut_out_of_it_and_never_drawn():
    training = [Excerpt("a.wav", 0.0, 1.0, "train:1"), Excerpt("a.wav", 9.0, 10.0, "train:2")]
    test = [Excerpt("a.wav", 4.0, 5.0, "test:1")]
    found = noise_spans.check(training, [], test)
    assert found.spans == {"a.wav": ((0.0, 4.0), (5.0, 10.0))}
    assert not found.refused and "test:1 (a.wav, 4.000-5.000 s) lies inside" in found.avoided[0]
    rng = np.random.default_rng(0)
    starts = np.array([noise_spans.random_start(found.spans["a.wav"], rng, 1.0)
                       for _ in range(2000)])
    assert not np.any((starts > 3.0) & (starts < 5.0))  # no clip touches 4-5 s
    assert starts.min() < 0.1 and starts.max() > 8.9


def test_a_test_excerpt_overlapping_training_is_refused_and_validation_reported():
    training = [Excerpt("a.wav", 0.0, 2.0, "train:1"), Excerpt("a.wav", 6.0, 8.0, "train:2")]
    found = noise_spans.check(training, [Excerpt("a.wav", 3.0, 5.0, "val:1")],
                              [Excerpt("a.wav", 7.0, 9.0, "test:3")])
    assert found.refused == ["test:3 (a.wav, 7.000-9.000 s) overlaps the training excerpt of "
                             "train:2 (a.wav, 6.000-8.000 s)"]
    assert "val:1" in found.shared[0] and "train:1" in found.shared[0]
    assert found.spans == {"a.wav": ((0.0, 8.0),)}  # validation is reported, not cut out


def test_the_run_refuses_a_config_whose_test_lines_read_training_noise(tiny_corpus, tmp_path):
    train_lines = tiny_corpus.train.read_text().splitlines()
    leaky = tmp_path / "leaky_test_set.txt"
    first = train_lines[0].split()
    leaky.write_text(" ".join(first[:4]) + "\n")  # the first training line's own mixture
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--test_fname", str(leaky),
                   "--check_only")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{leaky}:1" in result.stderr and f"{tiny_corpus.train}:1" in result.stderr
    assert "test lines read noise that training lines read" in result.stderr
    unread = tmp_path / "six_field_test_set.txt"  # fields 5-6 of a test line are never read
    unread.write_text(" ".join(tiny_corpus.test.read_text().split("\n")[0].split()
                               + first[4:6]) + "\n")
    assert pulse(*TINY_RUN, *tiny_corpus.options(), "--test_fname", str(unread),
                 "--check_only").returncode == 0


def write_noise_files(folder):
    rng = np.random.default_rng(1)
    sf.write(folder / "s.wav", rng.normal(size=16000) * 0.1, 16000)
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, rng.normal(size=8 * 16000) * 0.1, 16000)


def test_fixed_excerpts_are_the_ones_the_lines_name(tmp_path):
    write_noise_files(tmp_path)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 16000, sample_rate=16000)
    fixed = dataset.ExampleSet(LINES[:2], corpus, "noise")
    wave, rate = sf.read(tmp_path / "b.wav")
    direct = dataset.standardise(wave[2 * rate:3 * rate], tmp_path / "b.wav")
    np.testing.assert_allclose(fixed[0][1].numpy(), direct, rtol=1e-5, atol=1e-6)
    clean = dataset.ExampleSet(LINES[:2], corpus, "clean", fresh_noise=True)
    assert not clean.fresh_noise


def chirp_files(folder, seconds: int = 8) -> None:
    """Noise files whose frequency rises by 100 Hz a second from 100 Hz, so that the centroid
    of a standardised 1 s excerpt tells where it starts (``chirp_start``)."""
    t = np.arange(seconds * 16000) / 16000
    sf.write(folder / "s.wav", np.random.default_rng(0).normal(size=16000) * 0.1, 16000)
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, 0.5 * np.sin(2 * np.pi * (100 * t + 50 * t ** 2)), 16000)


def chirp_start(example: torch.Tensor) -> float:
    """The start (s) of a 1 s excerpt of a ``chirp_files`` file, from its mean frequency."""
    power = np.abs(np.fft.rfft(example.numpy())) ** 2
    centroid = float((np.fft.rfftfreq(len(example), 1 / 16000) * power).sum() / power.sum())
    return (centroid - 100) / 100 - 0.5


def test_two_epochs_through_two_loader_workers_draw_new_excerpts_inside_the_span(tmp_path):
    chirp_files(tmp_path)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 16000, sample_rate=16000)
    data = dataset.ExampleSet(LINES[:2], corpus, "noise", fresh_noise=True)
    train.seed_everything(0)
    loader = DataLoader(data, batch_size=1, num_workers=2, persistent_workers=True,
                        worker_init_fn=train.seed_worker)
    starts = [[chirp_start(second[0]) for _, second in loader] for _ in range(2)]
    assert chirp_start(dataset.ExampleSet(LINES[:2], corpus, "noise")[0][1]) == \
        pytest.approx(2.0, abs=0.05)  # the check itself: the line's own start
    for epoch in starts:  # line 1 reads b.wav inside 2-7 s, line 2 a.wav inside 1-4 s
        assert 1.95 <= epoch[0] <= 6.05 and 0.95 <= epoch[1] <= 3.05
    assert abs(starts[0][0] - starts[1][0]) > 0.01 and abs(starts[0][1] - starts[1][1]) > 0.01


def test_training_with_fresh_excerpts_tilts_and_binary_mask_records_them(tiny_corpus,
                                                                         tmp_path):
    out = tmp_path / "run"
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--noise_excerpts", "random",
                   "--tilt_db", "3", "--mask", "binary", "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    state = torch.load(out / "best.pt", weights_only=False)
    assert state["model_config"]["mask"] == "binary"
    recorded = json.loads((out / "results.json").read_text())["args"]
    assert (recorded["noise_excerpts"], recorded["tilt_db"]) == ("random", 3.0)


def test_the_tiny_corpus_reports_what_it_shares(tiny_corpus):
    lines = {name: dataset.read_config(getattr(tiny_corpus, name), dataset.EVAL_FIELDS
                                       if name != "train" else dataset.TRAIN_FIELDS)
             for name in ("train", "val", "test")}
    excerpts = {name: dataset.noise_excerpts(value, 0.25) for name, value in lines.items()}
    found = noise_spans.check(excerpts["train"], excerpts["val"], excerpts["test"])
    # every validation excerpt starts in the training part of its file, as published
    assert len(found.shared) == len(excerpts["val"])
    # every test excerpt lies after the training spans: nothing refused or cut out of them
    assert not found.refused and not found.avoided
    first_test_s = min(excerpt.start_s for excerpt in excerpts["test"])
    assert all(high <= first_test_s for spans in found.spans.values() for _, high in spans)
