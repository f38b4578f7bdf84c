"""What a 16 kHz model should do above 8 kHz of a full-band file: full-band SI-SNRi of
animal calls in stereo ambience at their own rates (44.1 and 48 kHz), enhanced through
``enhance_files.enhance_file`` with each rule for the band above 8 kHz.

Signals: 0 A.D.'s fauna calls (``audio/actor/fauna/animal``), mono at 44.1 or 48 kHz,
placed in both channels at different gains; noise: its stereo ambience recordings
(``dayscape``, ``weather``, ``water``), resampled to the call's rate; SNR uniform in
[-5, 10] dB, a fixed draw. Rules: ``gain`` (the shipped one: the input's band under the
attenuation the model applied to 4-8 kHz), ``keep`` (the input's band untouched),
``drop`` (nothing above 8 kHz).

With ``--train``: a 16 kHz model against a native-rate one. PULSE (PU and its student, the
development benchmark's settings, 1 s clips) is trained at each of ``--rates`` on the
full-band corpus (``corpora.FULL_BAND``: the calls split by file into training,
validation and test files, both protocols), and each model's enhancement of every 48 kHz
test line, through ``enhance_files`` as ``--enhance`` does it, is scored by full-band
SI-SNRi at 48 kHz. Scores go to ``DATA/RUNS/scores.jsonl``.

    python benchmarks/full_band.py --checkpoint pretrained/pulse_starter.pt
    python benchmarks/full_band.py --train --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import math
import os
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
import dataset  # noqa: E402
import enhance_files  # noqa: E402
from benchmarks import corpora  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.development import PROTOCOLS, record  # noqa: E402
from benchmarks.real_audio import (AMBIENCE_ZIP, NOISE_PACKAGE, SETTINGS, fetch,  # noqa: E402
                                   run_pulse)
from metric import si_snr, si_snr_improvement  # noqa: E402
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


CORPUS = "fauna_full_band"
CLIP_S = 1.0
UPPER_BAND_HZ = 8000.0


def above(wave: np.ndarray, rate: int, low_hz: float = UPPER_BAND_HZ) -> np.ndarray:
    """(T,) ``wave`` without its content below ``low_hz``."""
    spectrum = np.fft.rfft(wave)
    spectrum[np.fft.rfftfreq(len(wave), 1 / rate) < low_hz] = 0
    return np.fft.irfft(spectrum, len(wave))


def full_band_si_snri(path: Path, lines: list[dataset.ConfigLine], corpus: dataset.Corpus,
                      device: torch.device) -> dict[str, np.ndarray]:
    """SI-SNRi (dB) at the corpus's rate of checkpoint ``path``'s enhancement of each test
    line, the way ``--enhance`` enhances a channel: of the whole band (``full_band``) and
    of the band above 8 kHz alone (``above_8k``)."""
    model, method, spectral = model_from_state(checkpoint.load(path), device)
    enhancer = enhance_files.model_enhancer(model, method, spectral)
    gains: dict[str, list[float]] = {"full_band": [], "above_8k": []}
    for line in lines:
        noisy, clean, _ = dataset.load_parallel(line, corpus)
        out = enhance_files.enhance_channel(enhancer, spectral, noisy, corpus.sample_rate, device)
        upper = (above(x, corpus.sample_rate) for x in (out, noisy, clean))
        for band, waves in (("full_band", (out, noisy, clean)), ("above_8k", upper)):
            gains[band].append(si_snr_improvement(*(torch.from_numpy(x)[None] for x in waves))
                               .item())
    return {band: np.array(values) for band, values in gains.items()}


def train_and_score(args: argparse.Namespace, device: torch.device) -> None:
    """``--train``: PULSE at each rate on the full-band corpus, scored at full band."""
    folder = corpora.build(args.data.resolve(), CORPUS)
    rate = corpora.FULL_BAND[CORPUS].rate
    runs = args.data.resolve() / args.runs
    runs.mkdir(parents=True, exist_ok=True)
    scores = runs / "scores.jsonl"
    os.chdir(folder)  # config paths are relative to the corpus folder
    corpus = dataset.Corpus(None, None, round(CLIP_S * rate), sample_rate=rate)
    for protocol in args.protocols:
        fnames = {split: f"{protocol}_{split}_set.txt" for split in ("train", "val", "test")}
        lines = dataset.read_config(folder / fnames["test"], dataset.EVAL_FIELDS)
        for seed in args.seeds:
            for model_rate in args.rates:
                out = runs / f"{protocol}-{model_rate}-{seed}"
                if args.score_only:
                    results = json.loads((out / "results.json").read_text())
                    test, val, wall = (results["test_si_snri_db"], results["val_si_snri_db"],
                                       math.nan)
                else:
                    test, val, wall, _ = run_pulse(folder, out, [
                        "--method", "PU", *SETTINGS, "--wav_len",
                        str(round(CLIP_S * model_rate)), "--sample_rate", str(model_rate),
                        "--seed", str(seed),
                        *(f"--{split}_fname={fname}" for split, fname in fnames.items()),
                        *args.extra])
                bands = full_band_si_snri(out / "best.pt", lines, corpus, device)
                record(scores, corpus=CORPUS, protocol=protocol, method=f"PULSE at {model_rate}",
                       seed=seed, full_band_db=float(bands["full_band"].mean()),
                       above_8k_db=float(bands["above_8k"].mean()),
                       test_db_at_model_rate=test, val_db=val, minutes=wall / 60)
    latest = {(e["protocol"], e["method"], e["seed"]): e
              for e in map(json.loads, scores.read_text().splitlines())}
    for protocol in args.protocols:
        for model_rate in args.rates:
            runs_here = [e for (p, m, _), e in sorted(latest.items())
                         if p == protocol and m == f"PULSE at {model_rate}"]
            for key in ("full_band_db", "above_8k_db"):
                values = [e[key] for e in runs_here if key in e]
                print(f"{protocol}: PULSE at {model_rate} Hz: {key} {np.mean(values):+.2f} over "
                      f"{len(values)} seeds ({', '.join(f'{v:+.2f}' for v in values)})",
                      flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--checkpoint", type=Path, nargs="+",
                   default=[ROOT / "pretrained" / "pulse_starter.pt"])
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--train", action="store_true",
                   help="train at each of --rates on the full-band corpus and score its test "
                        "lines at full band")
    p.add_argument("--rates", type=int, nargs="+", default=[16000, corpora.FULL_BAND_RATE])
    p.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--runs", default="full_band_runs")
    p.add_argument("--score_only", action="store_true",
                   help="with --train: score the runs already in --runs, training nothing")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further pulse.py options for every run")
    args = p.parse_args()
    print(f"{cpu_name()}, torch {torch.__version__}", flush=True)
    device = torch.device("cpu")
    if args.train:
        train_and_score(args, device)
        return
    folder = native_files(args.data.resolve())
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
