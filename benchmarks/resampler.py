"""How much the resampler of 48 kHz speech moves SI-SNRi: soxr (``--resampler soxr``, the
pulse recipe) against the reference release's windowed sinc (``sinc``, the reference
recipe), the question VoiceBank's 48 kHz files raise.

Speech: the 179 voice lines of 0 A.D. (``0ad-data``, CC-BY-SA 3.0, recorded at 44.1
kHz, a few at 48 kHz; ancient Greek, Latin, Meroitic and Persian), brought to 48 kHz
with soxr so that they hold their band up to 20 kHz, as VoiceBank's recordings do. Noise:
the seen protocol's ambience recordings of ``benchmarks/real_audio.py`` (test excerpts
from their last tenth). Models: PU and PN trained at that benchmark's settings on its
seen protocol (seed 0, the pulse recipe), or ``--models`` given. Every test line is
read twice, once through each resampler, and scored by the same model; a second part
trains PN on the voices themselves through each resampler (``--train``).

    python benchmarks/resampler.py
    python benchmarks/resampler.py --train
"""
from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import dataset  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.real_audio import (AMBIENCE_ZIP, NOISE_PACKAGE, SETTINGS, WAV_LEN,  # noqa: E402
                                   build_corpus, config, fetch)
from enhance_files import load_checkpoint  # noqa: E402
from methods import enhance  # noqa: E402
from metric import si_snr_improvement  # noqa: E402
from spectral import Spectral  # noqa: E402

VOICES = "voices48k"
N_TEST = 100


def extract_voices(deb: Path, out: Path) -> list[Path]:
    """0 A.D.'s voice lines as 48 kHz float WAV files in ``out``, made once."""
    if out.exists():
        return sorted(out.glob("*.wav"))
    with tempfile.TemporaryDirectory() as tmp:
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                              stdout=subprocess.PIPE) as tar_stream:
            subprocess.run(["tar", "-x", "-C", tmp, AMBIENCE_ZIP], stdin=tar_stream.stdout,
                           check=True)
        out.mkdir()
        with zipfile.ZipFile(Path(tmp) / AMBIENCE_ZIP) as archive:
            for name in sorted(archive.namelist()):
                if name.startswith("audio/voice/") and name.endswith(".ogg"):
                    wave, rate = sf.read(io.BytesIO(archive.read(name)), always_2d=True)
                    mono = wave.mean(axis=1)
                    if rate != 48000:
                        mono = audio.soxr_resample(mono, rate, 48000)
                    sf.write(out / f"{Path(name).parent.parent.name}_{Path(name).stem}.wav",
                             mono, 48000, subtype="FLOAT")
    return sorted(out.glob("*.wav"))


def voice_lines(corpus: Path, voices: list[Path], seed: int = 0) -> list[str]:
    """Config lines of the voices in the seen ambience: SNR uniform in [-5, 10] dB, noise
    excerpts from the last tenth of each file, as the benchmark's test lines."""
    rng = random.Random(seed)
    noises = sorted((corpus / "seen").glob("*.wav"))
    lines = []
    for voice in voices:
        noise = rng.choice(noises)
        length = sf.info(noise).duration
        start = rng.uniform(0.9 * length, length - WAV_LEN / audio.DEFAULT_RATE)
        lines.append(f"{voice.relative_to(corpus)} {noise.relative_to(corpus)} {start:.3f} "
                     f"{rng.uniform(-5, 10):.2f}")
    return lines


def scores(checkpoint: Path, lines: list[dataset.ConfigLine], resampler: str,
           wav_len: int = WAV_LEN) -> np.ndarray:
    """SI-SNRi (dB) of each line, read through ``resampler``, enhanced by ``checkpoint``."""
    model, method, spectral = load_checkpoint(checkpoint, torch.device("cpu"))
    data = dataset.ExampleSet(lines, dataset.Corpus(None, None, wav_len, resampler,
                                                    sample_rate=audio.DEFAULT_RATE))
    gains = []
    for noisy, clean in data:
        estimate = enhance(model, method, spectral, noisy[None])
        gains.append(si_snr_improvement(estimate, noisy[None], clean[None]).item())
    return np.array(gains)


def band_difference_db(voices: list[Path], low_hz: float, high_hz: float) -> float:
    """Mean power of the sinc-resampled voices over soxr's in a band, in dB."""
    spectral, power = Spectral(1024, sample_rate=audio.DEFAULT_RATE), {}
    bins = np.fft.rfftfreq(1024, 1 / audio.DEFAULT_RATE)
    band = torch.from_numpy((bins >= low_hz) & (bins < high_hz))
    for name in audio.RESAMPLERS:
        total = 0.0
        for voice in voices:
            wave = torch.from_numpy(audio.read_audio(voice, name, rate=audio.DEFAULT_RATE))[None]
            total += (spectral.stft(wave).abs()[0, band] ** 2).sum().item()
        power[name] = total
    return 10 * np.log10(power["sinc"] / power["soxr"])


def run(corpus: Path, out: Path, method: str, extra: list[str]) -> Path:
    """Train ``method`` at the real-audio benchmark's settings (seed 0) once; best.pt."""
    if not (out / "best.pt").exists():
        subprocess.run([sys.executable, str(ROOT / "pulse.py"), "--method", method, *SETTINGS,
                        "--out_dir", str(out), *extra], cwd=corpus, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out / "best.pt"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--models", type=Path, nargs="*", default=None,
                   help="checkpoints to score (default: PU and PN trained here on the seen "
                        "protocol)")
    p.add_argument("--train", action="store_true",
                   help="also train PN on the voices through each resampler and compare")
    args = p.parse_args()
    data = args.data.resolve()
    corpus = build_corpus(data)
    voices = extract_voices(fetch(data / "debs", NOISE_PACKAGE), corpus / VOICES)
    os.chdir(corpus)
    print(f"{cpu_name()}; torch {torch.__version__}; {len(voices)} voice lines at 48 kHz",
          flush=True)
    for low, high in ((4000, 7000), (7000, 7600), (7600, 8000)):
        print(f"sinc against soxr, {low}-{high} Hz: {band_difference_db(voices, low, high):+.2f}"
              " dB of speech power", flush=True)
    written = voice_lines(corpus, voices)
    test_file = corpus / "voices48k_test_set.txt"
    test_file.write_text("\n".join(written[:N_TEST]) + "\n")
    lines = dataset.read_config(test_file, dataset.EVAL_FIELDS)
    models = args.models or [
        run(corpus, data / "resampler_runs" / method, method,
            ["--train_fname", config(corpus, "seen", "train"), "--val_fname",
             config(corpus, "seen", "val"), "--test_fname", config(corpus, "seen", "test")])
        for method in ("PU", "PN")]
    for model in models:
        by = {name: scores(model, lines, name) for name in audio.RESAMPLERS}
        difference = by["sinc"] - by["soxr"]
        print(f"{model}: test SI-SNRi soxr {by['soxr'].mean():+.4f} dB, sinc "
              f"{by['sinc'].mean():+.4f} dB; sinc - soxr {difference.mean():+.4f} dB "
              f"(per line {difference.min():+.4f} to {difference.max():+.4f})", flush=True)
    if args.train:
        train_file, val_file = corpus / "voices48k_train_set.txt", corpus / "voices48k_val_set.txt"
        rest = written[N_TEST:]
        train_file.write_text("\n".join(rest[:-20]) + "\n")
        val_file.write_text("\n".join(rest[-20:]) + "\n")
        for name in audio.RESAMPLERS:
            best = run(corpus, data / "resampler_runs" / f"PN-trained-{name}", "PN",
                       ["--train_fname", str(train_file), "--val_fname", str(val_file),
                        "--test_fname", str(test_file), "--resampler", name])
            print(f"PN trained and tested through {name}: test SI-SNRi "
                  f"{scores(best, lines, name).mean():+.4f} dB", flush=True)


if __name__ == "__main__":
    main()
