import math

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, strategies as st

import dataset
from conftest import hum, pink_noise, real_speech, speech_in
from noise_level import noise_level_gain


def test_parse_training_and_eval_lines():
    line = dataset.parse_line("voicebank/a.wav DEMAND/N/ch01.wav 12.5 -3 DEMAND/M/ch02.wav 7",
                              "f.txt:3", dataset.TRAIN_FIELDS)
    assert (line.clean, line.noise, line.noise_start_s, line.snr_db) == (
        "voicebank/a.wav", "DEMAND/N/ch01.wav", 12.5, -3.0)
    assert (line.extra_noise, line.extra_noise_start_s, line.origin) == (
        "DEMAND/M/ch02.wav", 7.0, "f.txt:3")
    short = dataset.parse_line("a.wav n.wav 0 5", "v.txt:1", dataset.EVAL_FIELDS)
    assert short.extra_noise is None


@pytest.mark.parametrize("text, fields, message", [
    ("a.wav n.wav 0", 4, "expected 4 fields"),
    ("a.wav n.wav 0 5", 6, "expected 6 fields"),
    ("a.wav n.wav x 5", 4, "noise start time 'x' is not a number"),
    ("a.wav n.wav 1 nan", 4, "SNR 'nan' is not finite"),
    ("a.wav n.wav -1 5", 4, "negative"),
    ("a.wav n.wav 1 5 m.wav -2", 6, "second noise start time -2 is negative"),
])
def test_bad_lines_name_file_and_line(text, fields, message):
    with pytest.raises(dataset.DataError, match=message) as err:
        dataset.parse_line(text, "cfg.txt:7", fields)
    assert str(err.value).startswith("cfg.txt:7: ")


def test_read_config_reports_every_bad_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# comment\na.wav n.wav 0 5\n\na.wav n.wav x 5\na.wav n.wav 0\n")
    with pytest.raises(dataset.DataError) as err:
        dataset.read_config(path, dataset.EVAL_FIELDS)
    assert f"{path}:4:" in str(err.value) and f"{path}:5:" in str(err.value)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_parser_never_crashes_on_random_lines(text):
    try:
        line = dataset.parse_line(text, "r.txt:1", dataset.TRAIN_FIELDS)
    except dataset.DataError as err:
        assert str(err).startswith("r.txt:1: ")
    else:
        assert math.isfinite(line.snr_db) and line.noise_start_s >= 0


def test_resolve_replaces_the_dataset_directory(tmp_path):
    assert dataset.resolve("voicebank/clean/a.wav", tmp_path / "vb") == tmp_path / "vb/clean/a.wav"
    assert dataset.resolve("voicebank/clean/a.wav", "voicebank") == dataset.Path("voicebank/clean/a.wav")
    assert dataset.resolve("/abs/a.wav", "x") == dataset.Path("/abs/a.wav")
    assert dataset.resolve("n.wav", tmp_path / "noise") == tmp_path / "noise/n.wav"


def test_resolve_without_a_dataset_folder_keeps_the_path_as_written():
    assert dataset.resolve("clean/x.wav", None) == dataset.Path("clean/x.wav")
    assert dataset.resolve("s.wav", None) == dataset.Path("s.wav")


def _write_pair(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "s.wav", real_speech(), 16000)
    sf.write(tmp_path / "n.wav", pink_noise(rng, 6 * 16000), 16000)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.3])
def test_mixing_hits_the_requested_snr(tmp_path, snr_db):
    _write_pair(tmp_path)
    line = dataset.parse_line(f"d/s.wav d/n.wav 1.5 {snr_db}", "t:1", dataset.EVAL_FIELDS)
    noisy, clean, _ = dataset.load_parallel(line, dataset.Corpus(tmp_path, tmp_path, 50000,
                                                                          sample_rate=16000))
    noise = noisy - clean
    assert 10 * np.log10(np.sum(clean ** 2) / np.sum(noise ** 2)) == pytest.approx(snr_db, abs=1e-6)
    assert noisy.std() == pytest.approx(1.0) and len(noisy) == 50000
    assert abs(noise.mean()) < 1e-9


def test_paired_noise_matches_the_level_inside_the_noisy_clip(tmp_path):
    _write_pair(tmp_path)
    line = dataset.parse_line("d/s.wav d/n.wav 0.5 10 d/n.wav 3", "t:1", dataset.TRAIN_FIELDS)
    corpus = dataset.Corpus(tmp_path, tmp_path, 32000, sample_rate=16000)
    noisy, paired = dataset.ExampleSet([line], corpus, "noise_paired")[0]
    _, clean = dataset.ExampleSet([line], corpus, "clean")[0]
    _, unit = dataset.ExampleSet([line], corpus, "noise")[0]
    assert (noisy - clean).std().item() == pytest.approx(paired.std().item(), rel=1e-4)
    assert unit.std().item() == pytest.approx(1.0, rel=1e-4)


def test_short_recordings_are_padded_or_looped_and_keep_their_level(tmp_path):
    """A noisy recording shorter than a clip is zero-padded and its noise example gets the
    level of the noise in the samples it holds; a short noise recording is repeated."""
    rng = np.random.default_rng(2)
    noise = pink_noise(rng, 40 * 16000)
    noisy, _ = speech_in(noise[:48000], 5.0)
    sf.write(tmp_path / "short_take.wav", noisy[:16000], 16000)
    sf.write(tmp_path / "take.wav", noisy, 16000)
    sf.write(tmp_path / "room.wav", noise[48000:], 16000)
    sf.write(tmp_path / "blip.wav", noise[:8000], 16000)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 32000, sample_rate=16000)
    lines = [dataset.RecordingLine("t:1", "short_take.wav", 0.0, "room.wav", 1.0),
             dataset.RecordingLine("t:2", "take.wav", 0.0, "room.wav", 3.0),
             dataset.RecordingLine("t:3", "take.wav", 0.0, "blip.wav", 0.0)]
    data = dataset.ExampleSet(lines, corpus, "noise_paired")
    short_noisy, short_noise = data[0]
    assert short_noisy[16000:].std() < 1e-6  # padded (with the mean taken out)
    _, full_noise = data[1]
    # the noise of the held second, per sample, as loud as the noise in the whole take
    held_level = short_noise.std() / short_noisy[:16000].std()
    assert held_level.item() == pytest.approx((full_noise.std() / 1.0).item(), rel=0.35)
    _, looped = dataset.ExampleSet(lines[2:], corpus, "noise")[0]
    assert torch.allclose(looped[:8000], looped[8000:16000]) and looped[24000:].abs().sum() > 0


def test_noise_levels_are_matched_against_the_corpus_profiles(tmp_path):
    """A run's corpus carries the profiles of all its noise recordings, validation's too: a
    set read through it matches against those, one without them against its own lines'."""
    rng = np.random.default_rng(5)
    room = pink_noise(rng, 48000 + 30 * 16000)
    noisy, _ = speech_in(room[:48000], 5.0)
    sf.write(tmp_path / "take.wav", noisy, 16000, subtype="FLOAT")
    sf.write(tmp_path / "room.wav", room[48000:], 16000)
    sf.write(tmp_path / "hum.wav", hum(rng, 30 * 16000), 16000)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 48000, sample_rate=16000)
    train = [dataset.RecordingLine("t:1", "take.wav", 0.0, "hum.wav", 0.0)]
    val = [dataset.RecordingLine("v:1", "take.wav", 0.0, "room.wav", 0.0)]
    run_corpus = corpus.with_noise_profiles(train + val)
    given = dataset.ExampleSet(train, run_corpus, "noise_paired")
    own = dataset.ExampleSet(train, corpus, "noise_paired")
    assert len(run_corpus.profiles) == 2 and given.noise_profiles() is run_corpus.profiles
    assert len(own.noise_profiles()) == 1
    expected = noise_level_gain(dataset.standardise(noisy, tmp_path), run_corpus.profiles)
    assert given[0][1].std().item() == pytest.approx(expected, rel=1e-3)
    assert given[0][1].std().item() != pytest.approx(own[0][1].std().item(), rel=0.05)


def band_levels_db(wave: np.ndarray) -> tuple[float, float]:
    """Power (dB) of ``wave`` below 500 Hz and above 4 kHz."""
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / 16000)
    return (10 * np.log10(power[(freqs > 100) & (freqs < 500)].mean()),
            10 * np.log10(power[freqs > 4000].mean()))


def test_tilt_shapes_the_spectrum_and_keeps_levels_relative_to_the_first():
    rng = np.random.default_rng(0)
    speech, noise = rng.normal(size=16000), 0.3 * rng.normal(size=16000)
    noisy = speech + noise
    up_noisy, up_speech = dataset.tilted([noisy, speech], 3.0, 16000)
    assert np.std(up_noisy) == pytest.approx(1.0)
    low_db, high_db = band_levels_db(up_noisy)
    flat_low_db, flat_high_db = band_levels_db(noisy)
    # 3 dB per octave: from ~300 Hz to ~6 kHz is ~4.3 octaves, ~13 dB
    assert (high_db - low_db) - (flat_high_db - flat_low_db) == pytest.approx(13, abs=2)
    assert np.std(up_noisy - up_speech) / np.std(up_noisy) == pytest.approx(
        np.std(noise) / np.std(noisy), rel=0.05)  # one linear filter: the mix still adds up
    assert np.allclose(dataset.tilted([noisy], 0.0, 16000)[0], noisy / noisy.std())


def test_tilted_pairs_are_drawn_anew_and_reproducibly(tmp_path):
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "s.wav", rng.normal(size=16000) * 0.1, 16000)
    sf.write(tmp_path / "n.wav", rng.normal(size=3 * 16000) * 0.1, 16000)
    corpus = dataset.Corpus(str(tmp_path), str(tmp_path), 16000, sample_rate=16000)
    lines = [dataset.ConfigLine("t:1", "s.wav", "n.wav", 0.5, 5.0, "n.wav", 1.5)]
    plain = dataset.ExampleSet(lines, corpus, "noise_paired")
    tilted = dataset.ExampleSet(lines, corpus, "noise_paired", tilt_db=6.0)
    np.random.seed(4)
    first, again = tilted[0], tilted[0]
    np.random.seed(4)
    assert torch.equal(tilted[0][0], first[0])
    assert not torch.equal(first[0], again[0]) and not torch.equal(first[0], plain[0][0])
    assert float(first[0].std()) == pytest.approx(1.0, abs=1e-3)
