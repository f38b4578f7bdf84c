import math

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, strategies as st

import dataset
from conftest import pink_noise, real_speech


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


def _write_pair(tmp_path, noise_rate=16000, channels=1):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "s.wav", real_speech(), 16000)
    noise = pink_noise(rng, int(6 * noise_rate))
    if channels > 1:
        noise = np.stack([noise, 0.5 * noise], axis=1)
    sf.write(tmp_path / "n.wav", noise, noise_rate)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.3])
def test_mixing_hits_the_requested_snr(tmp_path, snr_db):
    _write_pair(tmp_path)
    line = dataset.parse_line(f"d/s.wav d/n.wav 1.5 {snr_db}", "t:1", dataset.EVAL_FIELDS)
    noisy, clean, _ = dataset.load_parallel(line, dataset.Corpus(tmp_path, tmp_path, 50000))
    noise = noisy - clean
    assert 10 * np.log10(np.sum(clean ** 2) / np.sum(noise ** 2)) == pytest.approx(snr_db, abs=1e-6)
    assert noisy.std() == pytest.approx(1.0) and len(noisy) == 50000
    assert abs(noise.mean()) < 1e-9


def test_excerpt_of_a_48k_stereo_file_is_resampled(tmp_path):
    _write_pair(tmp_path, noise_rate=48000, channels=2)
    excerpt = dataset.read_excerpt(tmp_path / "n.wav", 2.0, 16000)
    assert excerpt.shape == (16000,)
    stereo, rate = sf.read(tmp_path / "n.wav", start=96000, frames=48000)
    expected = stereo.mean(axis=1)[::3]
    assert np.corrcoef(excerpt[100:-100], expected[100:-100])[0, 1] > 0.9


@pytest.mark.parametrize("rate", [44100, 48000, 8000])
def test_resampling_is_accurate(tmp_path, rate):
    """Tones below both Nyquist limits come out at 16 kHz within -100 dB of the exact ones (resample_poly: -60 to -64 dB)."""
    tones = lambda t: 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t)  # noqa: E731
    sf.write(tmp_path / "t.wav", tones(np.arange(2 * rate) / rate), rate, subtype="FLOAT")
    wave = dataset.read_audio(tmp_path / "t.wav")
    exact = tones(np.arange(len(wave)) / 16000)
    inner = slice(800, -800)  # away from the edges' filter transients
    error = np.sum((wave[inner] - exact[inner]) ** 2) / np.sum(exact[inner] ** 2)
    assert len(wave) == 32000 and 10 * np.log10(error) < -100


def test_noise_too_short_is_a_clear_error(tmp_path):
    _write_pair(tmp_path)
    with pytest.raises(dataset.DataError, match="lasts 6.000 s"):
        dataset.read_excerpt(tmp_path / "n.wav", 5.5, 16000)


def test_paired_noise_matches_the_level_inside_the_noisy_clip(tmp_path):
    _write_pair(tmp_path)
    line = dataset.parse_line("d/s.wav d/n.wav 0.5 10 d/n.wav 3", "t:1", dataset.TRAIN_FIELDS)
    corpus = dataset.Corpus(tmp_path, tmp_path, 32000)
    noisy, paired = dataset.ExampleSet([line], corpus, "noise_paired")[0]
    _, clean = dataset.ExampleSet([line], corpus, "clean")[0]
    _, unit = dataset.ExampleSet([line], corpus, "noise")[0]
    assert (noisy - clean).std().item() == pytest.approx(paired.std().item(), rel=1e-4)
    assert unit.std().item() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0])
def test_noise_floor_gain_finds_the_noise_level_inside_a_recording(snr_db):
    """Real speech (with pauses) in pink noise: the gain that brings another excerpt of
    the noise to the level inside the unit-std mixture, from the two recordings alone."""
    rng = np.random.default_rng(1)
    speech = real_speech()[:48000]
    noise = pink_noise(rng, 96000)
    inside, other = noise[:48000], noise[48000:]
    inside = inside * np.linalg.norm(speech) / np.linalg.norm(inside) / 10 ** (snr_db / 20)
    noisy = speech + inside
    scale = noisy.std()
    gain = dataset.noise_floor_gain(noisy / scale, other / other.std())
    true_gain = inside.std() / scale
    assert gain <= 1.0 and abs(20 * np.log10(gain / true_gain)) < 3.0
