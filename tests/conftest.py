"""Shared fixtures: a tiny corpus of real speech and generated noise on disk."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(ROOT))

SPEECH_FILES = ("speech_arctic_a0007.wav", "speech_goforward.wav")


def pytest_configure(config) -> None:
    """Each of pytest-xdist's workers computes on its share of the cores: two workers of
    two threads each on two cores wait on one another's threads."""
    import os

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def real_speech(name: str = SPEECH_FILES[0]) -> np.ndarray:
    wave, rate = sf.read(DATA / name, dtype="float64")
    assert rate == 16000
    return wave


def pink_noise(rng: np.random.Generator, length: int) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(length))
    spec /= np.sqrt(np.maximum(np.fft.rfftfreq(length, 1 / 16000), 20.0))
    wave = np.fft.irfft(spec, length)
    return 0.3 * wave / np.abs(wave).max()


def speech_in(noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, float]:
    """(unit-std mixture of 3 s of real speech, with its pauses, and ``noise`` at ``snr_db``,
    the true std of the noise inside it)."""
    speech = real_speech()[:48000]
    inside = noise * np.linalg.norm(speech) / np.linalg.norm(noise) / 10 ** (snr_db / 20)
    noisy = speech + inside
    return noisy / noisy.std(), inside.std() / noisy.std()


def hum(rng: np.random.Generator, length: int) -> np.ndarray:
    t = np.arange(length) / 16000
    wave = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 8))
    return 0.2 * wave / np.abs(wave).max() + 0.02 * rng.standard_normal(length)


@dataclass(frozen=True)
class TinyCorpus:
    root: Path
    train: Path
    val: Path
    test: Path
    clean_path: Path
    noise_path: Path

    def options(self) -> list[str]:
        return ["--train_fname", str(self.train), "--val_fname", str(self.val),
                "--test_fname", str(self.test), "--clean_path", str(self.clean_path),
                "--noise_path", str(self.noise_path)]


def make_tiny_corpus(root: Path, n_train: int = 6, n_eval: int = 3, noise_s: float = 4.0,
                     test_start_s: float = 3.0, speech_len: int = 5000) -> TinyCorpus:
    """Speech cut from the real clips, two noise files, for 0.25 s clips (wav_len 4000)."""
    rng = np.random.default_rng(0)
    speech_dir, noise_dir = root / "speech", root / "noise"
    speech_dir.mkdir(parents=True)
    noise_dir.mkdir()
    names = []
    for i in range(n_train + 2 * n_eval):
        wave = real_speech(SPEECH_FILES[i % 2])
        start = (4000 + 1500 * i) % (len(wave) - speech_len)
        sf.write(speech_dir / f"u{i:02d}.wav", wave[start:start + speech_len], 16000)
        names.append(f"speech/u{i:02d}.wav")
    sf.write(noise_dir / "pink.wav", pink_noise(rng, int(noise_s * 16000)), 16000)
    sf.write(noise_dir / "hum.wav", hum(rng, int(noise_s * 16000)), 16000)
    noises = ["noise/pink.wav", "noise/hum.wav"]

    def lines(speech: list[str], extra: bool, start_low: float) -> str:
        out = []
        for i, name in enumerate(speech):
            fields = [name, noises[i % 2], f"{start_low + 0.3 * i:.3f}", f"{-5 + 3 * i % 15}"]
            if extra:
                fields += [noises[(i + 1) % 2], f"{0.2 * i:.3f}"]
            out.append(" ".join(fields))
        return "\n".join(out) + "\n"

    paths = {}
    for split, speech, extra, low in (("train", names[:n_train], True, 0.0),
                                      ("val", names[n_train:n_train + n_eval], False, 0.1),
                                      ("test", names[n_train + n_eval:], False, test_start_s)):
        paths[split] = root / f"tiny_{split}_set.txt"
        paths[split].write_text(lines(speech, extra, low))
    return TinyCorpus(root, paths["train"], paths["val"], paths["test"], speech_dir, noise_dir)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> TinyCorpus:
    return make_tiny_corpus(tmp_path_factory.mktemp("tiny"))


SMALL_MODEL = {"method": "PN", "blocks": 1, "fcblocks": 0, "channels": 4, "droprate": 0.2,
               "regulariser": "batchnorm", "frame_len": 256, "feature": "linear"}
"""A small untrained network's ``model_config``, for tests of enhancement."""


@pytest.fixture
def small_checkpoint(tmp_path) -> Path:
    """A checkpoint of ``SMALL_MODEL`` with weights drawn from seed 0."""
    import torch

    from methods import build_model

    torch.manual_seed(0)
    path = tmp_path / "best.pt"
    torch.save({"model": build_model(SMALL_MODEL).state_dict(), "model_config": SMALL_MODEL},
               path)
    return path


TINY_SETTINGS = ["--wav_len", "4000", "--frame_len", "64", "--epochs", "2", "--batch_size", "4",
                 "--channels", "4", "--num_workers", "0", "--lr_per_GPU", "1e-3", "--no-figures"]
TINY_RUN = [*TINY_SETTINGS, "--student", "0"]
"""Tiny runs of the method alone; tests of the student stage ask for it (the last
``--student`` given counts), and ``TINY_SETTINGS`` alone trains PU's default student. Both
draw no figures (2 s of a 3 s run); the tests of the figures ask for them."""
