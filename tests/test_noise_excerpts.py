"""Fresh noise examples (``--noise_excerpts random``): inside the span of each noise file
that the training lines read, new every draw, reproducible from the seed; second noises
(``--noise_sums``) added to the noisy clip and its noise example alike."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import dataset
from conftest import TINY_RUN
from test_pulse import pulse

LINES = [
    dataset.ConfigLine("t:1", "s.wav", "a.wav", 1.0, 5.0, "b.wav", 2.0),
    dataset.ConfigLine("t:2", "s.wav", "b.wav", 6.0, 5.0, "a.wav", 3.0),
    dataset.RecordingLine("r:1", "noisy.wav", 0.0, "c.wav", 4.0),
]


def test_spans_cover_every_noise_excerpt_the_lines_read():
    spans = dataset.noise_spans(LINES, wav_len=16000)  # 1 s clips
    assert spans == {"a.wav": (1.0, 4.0), "b.wav": (2.0, 7.0), "c.wav": (4.0, 5.0)}


def test_fresh_excerpts_stay_inside_the_span_and_leave_the_mixture_alone():
    spans = dataset.noise_spans(LINES, wav_len=16000)
    rng = np.random.default_rng(0)
    starts = []
    for _ in range(200):
        moved = dataset.fresh_noise_line(LINES[1], spans, rng, wav_len=16000)
        assert (moved.noise, moved.noise_start_s, moved.snr_db) == ("b.wav", 6.0, 5.0)
        starts.append(moved.extra_noise_start_s)
    assert 1.0 <= min(starts) < 1.1 and 2.9 < max(starts) <= 3.0  # a.wav: 1 s clips in 1-4 s
    recording = dataset.fresh_noise_line(LINES[2], spans, rng, wav_len=16000)
    assert recording.noise_start_s == 4.0  # a span of one clip leaves one start


def write_noise_files(folder):
    rng = np.random.default_rng(1)
    sf.write(folder / "s.wav", rng.normal(size=16000) * 0.1, 16000)
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, rng.normal(size=8 * 16000) * 0.1, 16000)


def noise_examples(folder, seed: int) -> list[torch.Tensor]:
    corpus = dataset.Corpus(str(folder), str(folder), 16000)
    lines = LINES[:2]
    data = dataset.ExampleSet(lines, corpus, "noise", fresh_noise=True)
    np.random.seed(seed)
    return [data[i][1] for i in (0, 0, 1)]


def test_example_set_draws_new_noise_each_time_reproducibly(tmp_path):
    write_noise_files(tmp_path)
    first, again, other = noise_examples(tmp_path, seed=3)
    assert not torch.equal(first, again)  # the same line heard at two starts
    assert all(torch.equal(x, y) for x, y in zip([first, again, other],
                                                 noise_examples(tmp_path, seed=3)))
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 16000)
    fixed = dataset.ExampleSet(LINES[:2], corpus, "noise")
    assert torch.equal(fixed[0][1], fixed[0][1])
    clean = dataset.ExampleSet(LINES[:2], corpus, "clean", fresh_noise=True)
    assert not clean.fresh_noise


def tone_and_rest_std(wave: np.ndarray) -> tuple[float, float]:
    """Std of the 1 kHz component of a 1 s clip at 16 kHz, and of the rest."""
    tone = np.sqrt(2) * np.abs(np.fft.rfft(wave)[1000]) / len(wave)
    return tone, float(np.sqrt(wave.var() - tone ** 2))


def test_a_second_noise_joins_both_clips_at_one_level(tmp_path):
    rng = np.random.default_rng(2)
    seconds = np.arange(4 * 16000) / 16000
    sf.write(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 1000 * seconds), 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(4 * 16000), 16000)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 16000)
    noisy, noise = rng.normal(size=16000), 0.5 * rng.normal(size=16000)
    levels_db = []
    for seed in range(30):
        summed_noisy, summed_noise = dataset.summed_noise(
            noisy, noise, corpus, {"tone.wav": (0.0, 4.0)}, np.random.default_rng(seed))
        assert summed_noisy.std() == pytest.approx(1.0)
        (tone_in_noisy, _), (tone, rest) = map(tone_and_rest_std, (summed_noisy, summed_noise))
        assert tone_in_noisy == pytest.approx(tone, rel=0.15)  # one level in both clips
        levels_db.append(20 * np.log10(tone / rest))  # relative to the noise example
    assert -10.5 < min(levels_db) < -7 and -3 < max(levels_db) < 0.5
    silent = dataset.summed_noise(noisy, noise, corpus, {"quiet.wav": (0.0, 4.0)},
                                  np.random.default_rng(0))
    assert np.array_equal(silent[0], noisy) and np.array_equal(silent[1], noise)


def test_example_set_adds_second_noises_to_its_share_of_items(tmp_path):
    write_noise_files(tmp_path)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 16000)
    plain = dataset.ExampleSet(LINES[:2], corpus, "noise_paired")
    summed = dataset.ExampleSet(LINES[:2], corpus, "noise_paired", noise_sums=1.0)
    np.random.seed(5)
    first = summed[0]
    np.random.seed(5)
    assert all(torch.equal(x, y) for x, y in zip(first, summed[0]))
    assert not torch.equal(first[0], plain[0][0]) and not torch.equal(first[1], plain[0][1])
    assert all(torch.equal(x, y) for x, y in zip(
        dataset.ExampleSet(LINES[:2], corpus, "noise_paired", noise_sums=0.0)[0], plain[0]))
    assert dataset.ExampleSet(LINES[:2], corpus, "clean", noise_sums=1.0).noise_sums == 0.0


def test_training_with_fresh_noise_sums_tilts_and_binary_mask_records_them(tiny_corpus,
                                                                          tmp_path):
    out = tmp_path / "run"
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--noise_excerpts", "random",
                   "--noise_sums", "0.5", "--tilt_db", "3", "--mask", "binary",
                   "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    state = torch.load(out / "best.pt", weights_only=False)
    assert state["model_config"]["mask"] == "binary"
    recorded = json.loads((out / "results.json").read_text())["args"]
    assert (recorded["noise_excerpts"], recorded["noise_sums"], recorded["tilt_db"]) == (
        "random", 0.5, 3.0)
