"""Optional metrics on a known pair, and a clear message when an extra is missing."""
import numpy as np
import pytest

import dataset
import quality
from conftest import pink_noise, real_speech

pytest.importorskip("pesq")
pytest.importorskip("pystoi")


def _pair():
    clean = real_speech()[:48000]
    noise = pink_noise(np.random.default_rng(0), 48000)
    return clean, clean + noise * np.linalg.norm(clean) / np.linalg.norm(noise)


def test_pesq_and_stoi_on_a_known_pair():
    clean, noisy = _pair()
    scores = quality.score(["pesq", "stoi", "estoi"], clean, noisy, clean, rate=16000)
    assert scores["pesq_enhanced"] == pytest.approx(4.64, abs=0.05)
    assert scores["stoi_enhanced"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi_enhanced"] == pytest.approx(1.0, abs=1e-6)
    assert 1.0 < scores["pesq_noisy"] < 2.5
    assert 0.4 < scores["estoi_noisy"] < scores["stoi_noisy"] < 0.95


def test_clips_at_another_rate_are_scored_at_16k():
    from audio import soxr_resample

    clean, noisy = _pair()
    up = [soxr_resample(x, 16000, 32000) for x in (clean, noisy)]
    at_32k = quality.score(["pesq", "stoi"], up[1], up[1], up[0], rate=32000)
    assert at_32k["pesq_enhanced"] == pytest.approx(
        quality.score(["pesq"], noisy, noisy, clean, rate=16000)["pesq_enhanced"], abs=0.1)
    assert 0.4 < at_32k["stoi_enhanced"] < 0.95


def test_dnsmos_prefers_clean_speech():
    pytest.importorskip("speechmos")
    clean, noisy = _pair()
    assert quality.dnsmos(clean)["dnsmos_bak"] > quality.dnsmos(noisy)["dnsmos_bak"] + 0.5


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(quality._PACKAGES, "pesq", "no_such_package_pesq")
    with pytest.raises(dataset.DataError, match="requirements-metrics.txt"):
        quality.require(["pesq"])


def test_metrics_in_a_run(tmp_path):
    import csv
    import json

    from conftest import TINY_RUN, make_tiny_corpus
    from test_pulse import pulse

    corpus = make_tiny_corpus(tmp_path / "data", noise_s=10.0, test_start_s=5.0, speech_len=16000)
    out = tmp_path / "run"
    result = pulse("--method", "PN", *TINY_RUN, *corpus.options(), "--wav_len", "16000",
                   "--metrics", "pesq", "stoi", "--out_dir", str(out))
    assert result.returncode == 0, result.stderr
    for name in ("test_examples.csv", "val_examples.csv"):
        with (out / name).open() as f:
            row = next(csv.DictReader(f))
        assert {"pesq_noisy", "pesq_enhanced", "stoi_noisy", "stoi_enhanced"} <= set(row)
    results = json.loads((out / "results.json").read_text())
    assert 0 < results["test_summary"]["stoi_noisy"] <= 1
    assert 1 <= results["val_summary"]["pesq_enhanced"] <= 4.7


@pytest.mark.parametrize("estimate", [np.zeros(48000), np.zeros(100)], ids=["silent", "short"])
def test_undefined_scores_are_missing_not_a_crash(estimate):
    """A collapsed model's silent output, or a clip too short to score, is NaN."""
    clean, noisy = _pair()
    clean, noisy = clean[:len(estimate)], noisy[:len(estimate)]
    scores = quality.score(["pesq", "stoi", "estoi"], estimate, noisy, clean, rate=16000)
    assert all(np.isnan(scores[f"{name}_enhanced"]) for name in ("pesq", "stoi", "estoi"))
    if len(estimate) > 16000:
        assert scores["pesq_noisy"] > 1 and scores["stoi_noisy"] > 0.4


def test_summary_counts_unscored_examples():
    from report import summarise_examples

    rows = [{"index": i, "input_si_snr_db": 0.0, "output_si_snr_db": 1.0,
             "pesq_enhanced": value} for i, value in enumerate([2.0, float("nan"), 3.0])]
    summary = summarise_examples(rows)
    assert summary["pesq_enhanced"] == pytest.approx(2.5)
    assert summary["unscored"] == {"pesq_enhanced": 1}
