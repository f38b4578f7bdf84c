"""The noise reference (``--noise_reference on``, SPEC section 11): where a reference is read
from, what the network hears without one, and runs that use it end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, strategies as st

import dataset
import noise_reference
import pulse
from conftest import TINY_SETTINGS, make_tiny_corpus, pink_noise
from create_config_files import AudioFile, make_config_lines
from methods import build_model, spectral_of
from noise_spans import Excerpt, without
from spectral import Spectral

RATE = 16000


@given(st.lists(st.tuples(st.floats(0, 20), st.floats(0.1, 10)), min_size=1, max_size=4),
       st.floats(0, 25), st.integers(0, 2 ** 16))
def test_a_reference_start_is_inside_the_spans_and_never_on_its_clips_excerpt(pieces, own, seed):
    intervals = tuple((low, low + width) for low, width in pieces)
    start = noise_reference.reference_start(intervals, own, 1.0, np.random.default_rng(seed))
    fits = [low for low, high in intervals
            for low, high in ((low, min(high, own)), (max(low, own + 1.0), high))
            if high - low >= 1.0]
    if not fits:
        assert start is None
        return
    assert start + 1.0 <= own + 1e-9 or start >= own + 1.0 - 1e-9
    assert any(low - 1e-9 <= start and start + 1.0 <= high + 1e-9 for low, high in intervals)


def _spied_excerpts(monkeypatch) -> list[tuple[str, float]]:
    """Every (file, start) ``Corpus.excerpt`` reads from now on."""
    read, real = [], dataset.Corpus.excerpt

    def spy(self, name, root, start_s, short="refuse"):
        read.append((name, start_s))
        return real(self, name, root, start_s, short)

    monkeypatch.setattr(dataset.Corpus, "excerpt", spy)
    return read


def test_training_references_are_other_excerpts_of_each_clips_own_noise_file(tmp_path,
                                                                             monkeypatch):
    """Each training clip's reference comes from the file its noise comes from, never
    overlaps the excerpt the clip holds (the positive example is never its own reference),
    and never enters a test excerpt's region cut from the spans."""
    corpus_files = make_tiny_corpus(tmp_path, noise_s=6.0)
    lines = dataset.read_config(corpus_files.train, dataset.TRAIN_FIELDS)
    corpus = dataset.Corpus(str(corpus_files.clean_path), str(corpus_files.noise_path), 4000,
                            sample_rate=RATE)
    clip_s, test = corpus.clip_s, Excerpt("noise/pink.wav", 4.0, 4.25, "test:1")
    spans = without({"noise/pink.wav": (0.0, 6.0), "noise/hum.wav": (0.0, 6.0)}, [test])
    data = dataset.ExampleSet(lines, corpus, "noise_paired", fresh_noise=True, spans=spans,
                              references="drawn")
    read = _spied_excerpts(monkeypatch)
    np.random.seed(0)
    for epoch in range(8):
        for index in range(len(data)):
            read.clear()
            noisy, noise, references = data[index]
            assert references.shape == (2, 4000)
            # the clip's noise, its noise example, then each reference after its own excerpt
            (clean_noise, clip_start), (extra, extra_start), _, (ref_a, start_a), _, \
                (ref_b, start_b) = read
            assert (ref_a, ref_b) == (clean_noise, extra)
            for own, start in ((clip_start, start_a), (extra_start, start_b)):
                assert start + clip_s <= own or start >= own + clip_s
            for name, start in read:
                assert not (name == test.name and start < test.end_s
                            and test.start_s < start + clip_s)


def test_given_references_are_fields_5_6_at_their_own_level_beside_the_clips_noise(tmp_path):
    """A reference keeps its level relative to the clip's noise excerpt, as a take recorded
    beside it does: three times as loud here, not brought to the clip's noise level."""
    rng = np.random.default_rng(1)
    noise = pink_noise(rng, 4 * RATE)
    noise[2 * RATE:] *= 3.0
    sf.write(tmp_path / "n.wav", noise, RATE)
    sf.write(tmp_path / "s.wav", 0.3 * np.sin(np.arange(RATE) / 7.0), RATE)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), RATE // 2, sample_rate=RATE)
    line = dataset.parse_line("s.wav n.wav 0.5 0 n.wav 2.5", "t.txt:1", dataset.EVAL_FIELDS)
    noisy, clean, references = dataset.ExampleSet([line], corpus, references="given")[0]
    own, _ = corpus.excerpt("n.wav", str(tmp_path), 0.5)
    reference, _ = corpus.excerpt("n.wav", str(tmp_path), 2.5)
    in_clip = float((noisy - clean).std(correction=0))
    expected = (reference - reference.mean()) / own.std() * in_clip
    assert torch.allclose(references[0], torch.from_numpy(expected).float(), atol=1e-5)
    assert references[0].std().item() == pytest.approx(3 * in_clip, rel=0.1)
    assert torch.count_nonzero(references[1]) == 0
    four = dataset.parse_line("s.wav n.wav 0.5 0", "t.txt:2", dataset.EVAL_FIELDS)
    assert torch.count_nonzero(dataset.ExampleSet([four], corpus, references="given")[0][2]) == 0


def test_without_a_reference_the_network_hears_the_clips_quietest_frames():
    torch.manual_seed(0)
    spectral = Spectral(256, sample_rate=RATE, reference=True)
    loud = torch.randn(1, RATE) * torch.linspace(0.1, 3.0, RATE)
    magnitude = spectral.stft(loud).abs()
    fallback = spectral.feature_of(magnitude)
    assert fallback.shape == (1, 2, spectral.bins, magnitude.shape[-1])
    assert torch.equal(fallback, spectral.input_of(magnitude, torch.zeros(1, RATE // 2)))
    quiet = noise_reference.quiet_profile(magnitude)
    assert torch.equal(fallback, spectral.feature_of(magnitude, quiet))
    # the quietest frames are the first ones: the stand-in reference is their level
    first = torch.log(magnitude[..., :magnitude.shape[-1] // 5] + 1e-4).mean(-1)
    assert torch.allclose(quiet[:, 0], first, atol=0.15)
    heard = spectral.input_of(magnitude, torch.randn(1, RATE // 2) * 3.0)
    assert heard[:, 1].mean() < fallback[:, 1].mean() - 1  # louder reference: lower z
    assert torch.equal(heard[:, 0], fallback[:, 0])  # the feature itself is unchanged


def test_a_stationary_clip_heard_against_its_own_noise_is_centred():
    torch.manual_seed(0)
    spectral = Spectral(256, sample_rate=RATE, reference=True)
    clip, reference = torch.randn(1, RATE), torch.randn(1, RATE)
    z = spectral.input_of(spectral.stft(clip).abs(), reference)[:, 1]
    assert abs(z.mean().item()) < 0.1 and 0.8 < z.std().item() < 1.2


def test_validation_and_test_lines_carry_a_reference_beside_their_excerpt():
    noises = [AudioFile("n0.wav", 40.0), AudioFile("n1.wav", 40.0)]
    speech = [f"s{i}.wav" for i in range(12)]
    train, val, test = make_config_lines(speech[:10], speech[10:], noises, 2, 1.0, seed=0)
    assert all(len(line.split()) == 6 for line in train + val + test)
    for line in val + test:
        _, noise, start, _, reference, beside = line.split()
        assert reference == noise and abs(float(beside) - float(start)) >= 1.0 - 1e-4
    for line in test:  # the test part of each file: its last tenth
        assert float(line.split()[5]) >= 36.0
    short = [AudioFile("n0.wav", 12.0)]  # a 1.2 s test part holds no second excerpt
    _, _, test = make_config_lines(speech[:10], speech[10:], short, 2, 1.0, seed=0)
    assert all(len(line.split()) == 4 for line in test)


def test_a_run_with_the_reference_trains_tests_and_enhances_with_a_clip(tmp_path):
    corpus = make_tiny_corpus(tmp_path / "data")
    for split, shift_s in (("val", 0.5), ("test", -0.5)):  # fields 5-6: the same noise file
        path = getattr(corpus, split)
        path.write_text("".join(f"{line} {line.split()[1]} {float(line.split()[2]) + shift_s:.3f}\n"
                                for line in path.read_text().splitlines()))
    out = tmp_path / "run"
    assert pulse.main([*TINY_SETTINGS, "--epochs", "1", "--student", "1", "--student_epochs", "1",
                       *corpus.options(), "--out_dir", str(out), "--quiet",
                       "--noise_reference", "on"]) == 0
    state = torch.load(out / "best.pt", weights_only=False)
    assert state["model_config"]["noise_reference"] == "on"
    assert state["model"]["1.weight"].shape[1] == 2  # the first convolution hears 2 channels
    results = json.loads((out / "results.json").read_text())
    assert np.isfinite(results["test_si_snri_db"])
    take, clip = tmp_path / "take.wav", tmp_path / "clip.wav"
    rng = np.random.default_rng(3)
    noise = pink_noise(rng, 3 * RATE)
    sf.write(take, noise[:2 * RATE] + 0.2 * np.sin(np.arange(2 * RATE) / 5.0), RATE)
    sf.write(clip, noise[2 * RATE:], RATE)
    for flags, name in (([], "plain"), (["--noise_clip", str(clip)], "clip")):
        assert pulse.main(["--enhance", str(take), "--checkpoint", str(out / "best.pt"),
                           "--output_dir", str(tmp_path / name), "--quiet", *flags]) == 0
    plain, adapted = (sf.read(tmp_path / name / "take.wav")[0] for name in ("plain", "clip"))
    assert plain.shape == adapted.shape and not np.allclose(plain, adapted)


def test_checkpoints_written_before_the_reference_keep_the_papers_input():
    config = {"method": "PU", "blocks": 1, "fcblocks": 0, "channels": 4, "droprate": 0.2,
              "regulariser": "batchnorm", "frame_len": 64, "feature": "linear"}
    assert not spectral_of(config).reference
    assert build_model(config)[0].in_channels == 1
    assert build_model({**config, "noise_reference": "on"})[0].in_channels == 2


@pytest.mark.parametrize("drop", [0.0, 1.0])
def test_a_dropped_reference_is_silent(tmp_path, drop):
    corpus_files = make_tiny_corpus(tmp_path)
    lines = dataset.read_config(corpus_files.train, dataset.TRAIN_FIELDS)
    corpus = dataset.Corpus(str(corpus_files.clean_path), str(corpus_files.noise_path), 4000,
                            sample_rate=RATE)
    data = dataset.ExampleSet(lines, corpus, "noise_paired", references="drawn",
                              reference_drop=drop)
    heard = [bool(torch.count_nonzero(data[k][2])) for k in range(len(data))]
    assert heard == [drop == 0.0] * len(data)


def test_a_students_remix_noise_comes_with_another_excerpt_of_its_file(tmp_path, monkeypatch):
    from test_student import tone_file, tone_share

    import student

    tone_file(tmp_path / "n.wav", 8.0, noise_until_s=4.0)  # the tone: outside the spans
    lines = [dataset.ConfigLine(f"t:{k}", "s.wav", "n.wav", 0.5 * k, 0.0, "n.wav", 1.0 + k)
             for k in range(3)]
    targets = tmp_path / "student1_train_targets.npy"
    np.save(targets, np.zeros((3, RATE), np.float32))
    np.save(student.levels_path(targets), np.full((3, 2), 0.5, np.float32))
    corpus = dataset.Corpus(None, str(tmp_path), RATE, sample_rate=RATE)
    remix = student.RemixSet(lines, corpus, targets, "paired", dataset.training_spans(lines, 1.0),
                             references=True)
    read = _spied_excerpts(monkeypatch)
    np.random.seed(0)
    for _ in range(10):
        for k in range(3):
            read.clear()
            _, noise, references = remix[k]
            (_, noise_start), _, (name, reference_start) = read
            assert name == "n.wav" and abs(reference_start - noise_start) >= 1.0
            assert torch.count_nonzero(references[0]) == 0
            assert references[1].std().item() == pytest.approx(noise.std().item(), rel=0.1)
            assert tone_share(references[1].numpy()) < 0.01
