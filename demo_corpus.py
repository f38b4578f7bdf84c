"""The built-in demo corpus: speech-like utterances and recorded-style noises,
synthesised deterministically with numpy/scipy and written as real WAV files.

Speech: voiced syllables (harmonic source with moving pitch, formants gliding
between vowel targets), unvoiced fricative and plosive bursts, syllable
envelopes and pauses, from ten training and two unseen test "speakers".
Noise: six environments of two channels each (coloured noise, traffic swells,
amplitude-modulated babble-like noise, mains hum with a fan, transient knocks,
a machine with a whine), laid out like DEMAND. Config files follow the
published protocol (``create_config_files.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt

from create_config_files import AudioFile, make_config_lines, write_config_files

DEMO_RATE = 16000
"""Hz of every file of the demo corpus (a run at another --sample_rate resamples them)."""
VERSION = 2
VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                   [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]], dtype=float)
NOISE_ENVIRONMENTS = ("PINK", "TRAFFIC", "BABBLE", "HUM", "KNOCKS", "MACHINE")


@dataclass(frozen=True)
class Speaker:
    f0_hz: float
    formant_scale: float
    rate: float


def _speakers(rng: np.random.Generator, count: int) -> list[Speaker]:
    return [Speaker(f0_hz=rng.choice([rng.uniform(95, 140), rng.uniform(170, 240)]),
                    formant_scale=rng.uniform(0.9, 1.15), rate=rng.uniform(0.8, 1.25))
            for _ in range(count)]


def _envelope(length: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(length)
    attack, release = min(attack, length // 2), min(release, length // 2)
    env[:attack] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
    env[length - release:] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, release))
    return env


def _vowel(rng: np.random.Generator, speaker: Speaker, length: int, f0_start: float) -> np.ndarray:
    """A voiced segment: harmonics of a gliding f0 weighted by gliding formant peaks."""
    t = np.arange(length) / DEMO_RATE
    glide = rng.uniform(-0.25, 0.2)
    f0 = f0_start * (1 + glide * t / max(t[-1], 1e-3)) * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))
    a, b = VOWELS[rng.integers(len(VOWELS), size=2)] * speaker.formant_scale
    move = np.linspace(0, 1, length)[:, None]
    formants = a * (1 - move) + b * move
    widths = np.array([80.0, 110.0, 160.0])
    phase = 2 * np.pi * np.cumsum(f0) / DEMO_RATE + rng.uniform(0, 2 * np.pi)
    out = np.zeros(length)
    for k in range(1, int(7600 / f0.max()) + 1):
        freq = k * f0
        gain = sum(g / (1 + ((freq - formants[:, i]) / widths[i]) ** 2)
                   for i, g in enumerate((1.0, 0.6, 0.3)))
        out += (gain + 0.02) / k ** 0.5 * np.sin(k * phase)
    return out * _envelope(length, length // 4, length // 3)


def _burst(rng: np.random.Generator, length: int) -> np.ndarray:
    """An unvoiced consonant: band-passed noise, fricative (long) or plosive (short)."""
    low = rng.uniform(1500, 4000)
    sos = butter(4, [low, min(low * rng.uniform(1.6, 2.5), 7800)], "bandpass",
                 fs=DEMO_RATE, output="sos")
    noise = sosfilt(sos, rng.standard_normal(length))
    return noise * _envelope(length, length // 5, length // 2)


def speech_utterance(rng: np.random.Generator, speaker: Speaker, duration_s: float) -> np.ndarray:
    total = int(duration_s * DEMO_RATE)
    out = np.zeros(total)
    pos = int(rng.uniform(0.05, 0.25) * DEMO_RATE)
    while pos < total - 0.15 * DEMO_RATE:
        declination = 1 - 0.15 * pos / total
        if rng.random() < 0.7:
            length = int(rng.uniform(0.03, 0.12) * DEMO_RATE / speaker.rate)
            seg = _burst(rng, length) * rng.uniform(0.1, 0.4)
            end = min(pos + length, total)
            out[pos:end] += seg[:end - pos]
            pos = end
        length = int(rng.uniform(0.08, 0.26) * DEMO_RATE / speaker.rate)
        f0 = speaker.f0_hz * declination * rng.uniform(0.9, 1.2)
        seg = _vowel(rng, speaker, length, f0) * rng.uniform(0.4, 1.0)
        end = min(pos + length, total)
        out[pos:end] += seg[:end - pos]
        pos = end + int(rng.choice([rng.uniform(0, 0.05), rng.uniform(0.1, 0.4)],
                                   p=[0.7, 0.3]) * DEMO_RATE)
    return out / np.abs(out).max() * 0.5


def _coloured(rng: np.random.Generator, length: int, slope: float) -> np.ndarray:
    """Gaussian noise with a power spectrum proportional to 1 / f ** slope."""
    spec = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1 / DEMO_RATE)
    spec *= 1 / np.maximum(freqs, 20.0) ** (slope / 2)
    out = np.fft.irfft(spec, length)
    return out / out.std()


def _slow(rng: np.random.Generator, length: int, rate_hz: float) -> np.ndarray:
    """A smooth random curve changing about ``rate_hz`` times a second."""
    points = int(length / DEMO_RATE * rate_hz) + 2
    return np.interp(np.arange(length), np.linspace(0, length, points), rng.standard_normal(points))


def noise_recording(rng: np.random.Generator, kind: str, duration_s: float) -> np.ndarray:
    n = int(duration_s * DEMO_RATE)
    t = np.arange(n) / DEMO_RATE
    if kind == "PINK":
        out = _coloured(rng, n, rng.uniform(0.6, 1.4))
    elif kind == "TRAFFIC":
        b, a = butter(2, rng.uniform(300, 700), fs=DEMO_RATE)
        swell = np.exp(0.8 * _slow(rng, n, 0.3))
        out = lfilter(b, a, _coloured(rng, n, 1.8)) * swell + 0.1 * _coloured(rng, n, 1.0)
    elif kind == "BABBLE":
        b, a = butter(2, [200, 3500], "bandpass", fs=DEMO_RATE)
        modulation = np.abs(1 + 0.8 * _slow(rng, n, rng.uniform(3, 6)))
        out = lfilter(b, a, rng.standard_normal(n)) * modulation
    elif kind == "HUM":
        mains = rng.choice([50.0, 60.0]) * (1 + 0.002 * _slow(rng, n, 0.5))
        phase = 2 * np.pi * np.cumsum(mains) / DEMO_RATE
        out = sum(np.sin(k * phase + rng.uniform(0, 6.3)) / k for k in range(1, 12))
        out = out / out.std() + 0.3 * _coloured(rng, n, 0.5)
    elif kind == "KNOCKS":
        out = 0.2 * _coloured(rng, n, 1.0)
        for start in np.flatnonzero(rng.random(n) < 3 / DEMO_RATE):
            length = min(int(rng.uniform(0.02, 0.15) * DEMO_RATE), n - start)
            decay = np.exp(-np.arange(length) / (length / 5))
            b, a = butter(2, rng.uniform(300, 5000), fs=DEMO_RATE)
            out[start:start + length] += rng.uniform(1, 4) * decay * lfilter(
                b, a, rng.standard_normal(length))
    elif kind == "MACHINE":
        pulse_hz = rng.uniform(5, 12)
        pulses = (0.5 + 0.5 * np.sin(2 * np.pi * pulse_hz * t)) ** 4
        b, a = butter(2, [100, 1500], "bandpass", fs=DEMO_RATE)
        whine_hz = rng.uniform(1000, 3000)
        drift = 1 + 0.01 * _slow(rng, n, 0.2)
        whine = 0.3 * np.sin(2 * np.pi * whine_hz * t * drift)
        out = lfilter(b, a, rng.standard_normal(n)) * (0.3 + pulses) + whine
    else:
        raise ValueError(f"unknown noise kind {kind}")
    return out / np.abs(out).max() * 0.5


def _write(path: Path, wave: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, DEMO_RATE, subtype="PCM_16")


@dataclass(frozen=True)
class DemoCorpus:
    root: Path
    clean_path: Path
    noise_path: Path
    train: Path
    val: Path
    test: Path


def ensure_demo_corpus(root: Path = Path("demo_data"), clip_s: float = 1.0,
                       n_trainval: int = 240, n_val: int = 40, n_test: int = 40,
                       noise_s: float = 30.0, seed: int = 0) -> DemoCorpus:
    """Generate the demo corpus under ``root`` for clips of ``clip_s`` seconds unless the
    same one is already there."""
    settings = dict(version=VERSION, clip_s=clip_s, n_trainval=n_trainval, n_val=n_val,
                    n_test=n_test, noise_s=noise_s, seed=seed)
    corpus = DemoCorpus(root, root / "demo_speech", root / "demo_noise",
                        *(root / f"demo_{split}_set.txt" for split in ("train", "val", "test")))
    stamp = root / "corpus.json"
    if stamp.exists() and json.loads(stamp.read_text()) == settings:
        return corpus
    rng = np.random.default_rng(seed)
    speakers = _speakers(rng, 12)
    trainval, test = [], []  # utterances about a clip long: longer ones are cut
    for index in range(n_trainval + n_test):
        is_test = index >= n_trainval
        speaker_id = 10 + index % 2 if is_test else index % 10
        name = f"{'test' if is_test else 'trainval'}/s{speaker_id:02d}_{index:04d}.wav"
        _write(corpus.clean_path / name,
               speech_utterance(rng, speakers[speaker_id], clip_s * rng.uniform(0.8, 1.3)))
        (test if is_test else trainval).append(f"demo_speech/{name}")
    noises = []
    for kind in NOISE_ENVIRONMENTS:
        for channel in (1, 2):
            name = f"{kind}/ch{channel:02d}.wav"
            _write(corpus.noise_path / name, noise_recording(rng, kind, noise_s))
            noises.append(AudioFile(f"demo_noise/{name}", noise_s))
    lines = make_config_lines(trainval, test, noises, n_val, clip_s, seed)
    write_config_files("demo", dict(zip(("train", "val", "test"), lines)), root)
    stamp.write_text(json.dumps(settings))
    return corpus
