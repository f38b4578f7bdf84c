"""Fresh noise examples (``--noise_excerpts random``): inside the span of each noise file
that the training lines read, new every draw, reproducible from the seed."""
from __future__ import annotations

import json

import numpy as np
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


def test_training_with_fresh_noise_tilts_and_binary_mask_records_them(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    result = pulse(*TINY_RUN, *tiny_corpus.options(), "--noise_excerpts", "random",
                   "--tilt_db", "3", "--mask", "binary", "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    state = torch.load(out / "best.pt", weights_only=False)
    assert state["model_config"]["mask"] == "binary"
    recorded = json.loads((out / "results.json").read_text())["args"]
    assert (recorded["noise_excerpts"], recorded["tilt_db"]) == ("random", 3.0)
