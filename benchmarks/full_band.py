"""What a 16 kHz model should do above 8 kHz of a full-band file: full-band SI-SNRi of
animal calls in stereo ambience at their own rates (44.1 and 48 kHz), enhanced through
``enhance_files.enhance_file`` with each rule for the band above 8 kHz.

Signals: 0 A.D.'s fauna calls (``audio/actor/fauna/animal``), mono at 44.1 or 48 kHz,
placed in both channels at different gains; noise: its stereo ambience recordings
(``dayscape``, ``weather``, ``water``), resampled to the call's rate; SNR uniform in
[-5, 10] dB, a fixed draw. Rules: ``gain`` (the shipped one: the input's band under the
attenuation the model applied to 4-8 kHz), ``keep`` (the input's band untouched),
``drop`` (nothing above 8 kHz).

    python benchmarks/full_band.py --checkpoint pretrained/pulse_starter.pt
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import checkpoint  # noqa: E402
import enhance_files  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.real_audio import AMBIENCE_ZIP, NOISE_PACKAGE, fetch  # noqa: E402
from metric import si_snr  # noqa: E402
from methods import model_from_state  # noqa: E402

RULES = {"gain": enhance_files.band_gain,
         "keep": lambda noisy, enhanced, spectral, length: np.ones(length),
         "drop": lambda noisy, enhanced, spectral, length: np.zeros(length)}
SIGNALS = "audio/actor/fauna/animal/"
NOISES = ("audio/ambient/dayscape/", "audio/ambient/weather/", "audio/ambient/water/")


def native_files(data: Path) -> Path:
    """0 A.D.'s fauna calls and ambience as Ogg files at their own rates, extracted once."""
    folder = data / "full_band"
    if (folder / "READY").exists():
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile",
                               str(fetch(data / "debs", NOISE_PACKAGE))],
                              stdout=subprocess.PIPE) as tar_stream:
            subprocess.run(["tar", "-x", "-C", tmp, AMBIENCE_ZIP], stdin=tar_stream.stdout,
                           check=True)
        with zipfile.ZipFile(Path(tmp) / AMBIENCE_ZIP) as archive:
            for name in archive.namelist():
                if name.endswith(".ogg") and name.startswith((SIGNALS, *NOISES)):
                    kind = "signal" if name.startswith(SIGNALS) else "noise"
                    (folder / kind).mkdir(parents=True, exist_ok=True)
                    (folder / kind / Path(name).name).write_bytes(archive.read(name))
    (folder / "READY").write_text("extracted\n")
    return folder


def mixtures(folder: Path, count: int, seed: int = 0):
    """(clean (T, 2), noisy (T, 2), rate) stereo mixtures, a fixed draw."""
    rng = np.random.default_rng(seed)
    signals = sorted(p for p in (folder / "signal").glob("*.ogg") if sf.info(p).samplerate >= 44100)
    noises = sorted((folder / "noise").glob("*.ogg"))
    for index in range(count):
        signal_path = signals[index % len(signals)]
        call, rate = sf.read(signal_path, always_2d=True)
        call = call.mean(1)
        noise, noise_rate = sf.read(noises[rng.integers(len(noises))], always_2d=True)
        noise = noise if noise.shape[1] == 2 else np.repeat(noise, 2, axis=1)
        noise = np.stack([audio.soxr_resample(noise[:, k], noise_rate, rate)
                          for k in range(2)], axis=1)
        noise = np.concatenate([noise] * (len(call) // len(noise) + 2))
        start = rng.integers(0, len(noise) - len(call) + 1)
        noise = noise[start:start + len(call)]
        clean = call[:, None] * np.array([1.0, rng.uniform(0.3, 1.0)])
        snr_db = rng.uniform(-5, 10)
        gain = np.sqrt((clean ** 2).mean() / (noise ** 2).mean() / 10 ** (snr_db / 10))
        noisy = clean + gain * noise
        peak = np.abs(noisy).max() / 0.9
        yield clean / peak, noisy / peak, rate, signal_path.name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--checkpoint", type=Path, nargs="+",
                   default=[ROOT / "pretrained" / "pulse_starter.pt"])
    p.add_argument("--count", type=int, default=40)
    args = p.parse_args()
    folder = native_files(args.data.resolve())
    print(f"{cpu_name()}, torch {torch.__version__}", flush=True)
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.checkpoint:
            model, method, spectral = model_from_state(checkpoint.load(path), device)
            enhancer = enhance_files.model_enhancer(model, method, spectral)
            scores: dict[str, list[float]] = {"input": [], **{rule: [] for rule in RULES}}
            for clean, noisy, rate, _ in mixtures(folder, args.count):
                source = Path(tmp) / "noisy.wav"
                sf.write(source, noisy, rate, subtype="FLOAT")
                reference = torch.from_numpy(clean.T)
                scores["input"].append(si_snr(torch.from_numpy(noisy.T), reference).mean().item())
                for rule, gain in RULES.items():
                    with mock.patch.object(enhance_files, "band_gain", gain):
                        enhance_files.enhance_file(enhancer, spectral, source,
                                                   Path(tmp) / f"{rule}.wav", device)
                    out, _ = sf.read(Path(tmp) / f"{rule}.wav", always_2d=True)
                    scores[rule].append(si_snr(torch.from_numpy(out.T), reference).mean().item()
                                        - scores["input"][-1])
            print(f"{path}: {args.count} stereo mixtures at 44.1/48 kHz; input SI-SNR "
                  f"{np.mean(scores['input']):+.2f} dB; full-band SI-SNRi: " + ", ".join(
                      f"{rule} {np.mean(scores[rule]):+.2f}" for rule in RULES), flush=True)


if __name__ == "__main__":
    main()
