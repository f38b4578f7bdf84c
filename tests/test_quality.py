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
    scores = quality.score(["pesq", "stoi", "estoi"], clean, noisy, clean)
    assert scores["pesq_enhanced"] == pytest.approx(4.64, abs=0.05)
    assert scores["stoi_enhanced"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi_enhanced"] == pytest.approx(1.0, abs=1e-6)
    assert 1.0 < scores["pesq_noisy"] < 2.5
    assert 0.4 < scores["estoi_noisy"] < scores["stoi_noisy"] < 0.95


def test_dnsmos_prefers_clean_speech():
    pytest.importorskip("speechmos")
    clean, noisy = _pair()
    assert quality.dnsmos(clean)["dnsmos_bak"] > quality.dnsmos(noisy)["dnsmos_bak"] + 0.5


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(quality._PACKAGES, "pesq", "no_such_package_pesq")
    with pytest.raises(dataset.DataError, match="requirements-metrics.txt"):
        quality.require(["pesq"])
