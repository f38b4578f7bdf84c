"""The first real corpus alone, unscreened: the data of the starter model and of the
adaptation and scaling studies (to measure PULSE, run ``benchmarks/development.py``).

This corpus is the first corpus of ``benchmarks/development.py`` before its silence
prompts were screened out; what only this file does is build it, and train and score on
it for ``benchmarks/starter.py``, ``adaptation.py`` and ``scaling.py``, which import it,
and for the older tables of docs/real-audio.md.

The corpus is built on demand from Debian packages (``apt-get download``; nothing of it
goes into git) and is the same on every machine:

- speech: the Asterisk PBX prompts recorded by professional voice talent in four
  languages (US English, Mexican Spanish, Canadian French, Italian), read from the 16 kHz
  G.722 packages
  ``asterisk-core-sounds-{en,es,fr,it}-g722`` (CC-BY-SA 3.0 / CC-BY 3.0, see each
  package's copyright file) and decoded with the ``g722`` package;
- noise: the 42 ambience field recordings of 0 A.D. (``0ad-data``, CC-BY-SA 3.0,
  Wildfire Games): rain, wind, snow and wind storms, thunder, birds and insects, rivers,
  waves, a waterfall, and the bustle of a port, a farm and a market.

Two protocols, each written by ``create_config_files.py`` (130 training, 20 validation,
50 test lines of 2 s; SNR uniform in [-5, 10] dB):

- ``seen``: the noise recordings of at least 20 s; test excerpts come from the last tenth
  of each file, which training never reads (the paper's protocol);
- ``unseen``: every fourth noise file (in name order) is a test file (``--test_noise``),
  never heard in training.

For each protocol and seed it trains PU, PN and MixIT with the settings below and prints
the test SI-SNRi; the pretrained enhancers DeepFilterNet3 and RNNoise
(``benchmarks/pretrained.py``), spectral gating (noisereduce, given 3 s of the test noise
file, and without it) and the oracle binary mask need no training and are scored once.

    pip install -r benchmarks/requirements.txt
    python benchmarks/real_audio.py --seeds 0 1 2
    python benchmarks/real_audio.py --protocols seen --methods PU --extra --prior 0.5
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
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
from benchmarks.pretrained import ANCHORS, WARMUPS, anchor_si_snri  # noqa: E402
from benchmarks.spectral_gating import gating_si_snri  # noqa: E402
from metric import si_snr, si_snr_improvement  # noqa: E402
from spectral import Spectral  # noqa: E402

SETTINGS = ["--epochs", "10", "--batch_size", "8", "--lr_per_GPU", "0.001", "--blocks", "2",
            "--wav_len", "32000", "--quiet"]
WAV_LEN = 32000
SPEECH_PACKAGES = {lang: f"asterisk-core-sounds-{lang}-g722" for lang in ("en", "es", "fr", "it")}
NOISE_PACKAGE = "0ad-data"
AMBIENCE_ZIP = "./usr/share/games/0ad/mods/public/public.zip"
N_TRAINVAL, N_VAL, N_TEST = 150, 20, 50
N_TRAIN = N_TRAINVAL - N_VAL
PROTOCOL_NOISE = {"seen": ["--noise", "seen/*.wav"],
                  "unseen": ["--noise", "unseen/train/*.wav", "--test_noise", "unseen/test/*.wav"]}
MIN_SPEECH_S = 1.0
SEEN_MIN_NOISE_S = 20.0
CORPUS_VERSION = "1"


def fetch(debs: Path, package: str) -> Path:
    """The package's .deb file in ``debs``, downloaded with apt-get when missing."""
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        debs.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
        except (OSError, subprocess.CalledProcessError) as err:
            raise SystemExit(f"could not download {package} with apt-get ({err}); put its "
                             f".deb file in {debs} by hand") from None
        found = sorted(debs.glob(f"{package}_*.deb"))
    return found[-1]


def decode_speech(deb: Path, lang: str, out: Path) -> list[Path]:
    """16 kHz WAV files of the package's G.722 prompts of at least ``MIN_SPEECH_S``."""
    import G722

    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        for g722 in sorted(Path(tmp).rglob("*.g722")):
            wave = np.asarray(G722.G722(16000, 64000).decode(g722.read_bytes()), np.int16)
            if len(wave) >= MIN_SPEECH_S * 16000:
                path = out / f"{lang}_{g722.parent.name}_{g722.stem}.wav"
                sf.write(path, wave, 16000)
                paths.append(path)
    return paths


def decode_ambience(deb: Path, out: Path) -> list[Path]:
    """Mono 16 kHz WAV files of 0 A.D.'s ambience recordings."""
    return decode_0ad(deb, "audio/ambient/", out)


def decode_0ad(deb: Path, folder: str | tuple[str, ...], out: Path, rate: int = 16000,
               min_rate: int = 0) -> list[Path]:
    """Mono WAV files at ``rate`` of the Ogg files under ``folder`` (or any of the folders)
    of 0 A.D.'s archive recorded at ``min_rate`` or more, named
    ``{parent folder}_{name}.wav``."""
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                              stdout=subprocess.PIPE) as tar_stream:
            subprocess.run(["tar", "-x", "-C", tmp, AMBIENCE_ZIP], stdin=tar_stream.stdout,
                           check=True)
        with zipfile.ZipFile(Path(tmp) / AMBIENCE_ZIP) as archive:
            for name in sorted(archive.namelist()):
                if name.startswith(folder) and name.endswith(".ogg"):
                    source = Path(tmp) / Path(name).name
                    source.write_bytes(archive.read(name))
                    if sf.info(source).samplerate < min_rate:
                        continue
                    path = out / f"{Path(name).parent.name}_{Path(name).stem}.wav"
                    sf.write(path, audio.read_audio(source, rate=rate), rate, subtype="FLOAT")
                    paths.append(path)
    return paths


def link_all(paths: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True)
    for path in paths:
        (folder / path.name).symlink_to(os.path.relpath(path, folder))


def build_corpus(data: Path) -> Path:
    """The corpus folder with both protocols' config files, built once."""
    corpus = data / f"corpus_v{CORPUS_VERSION}"
    if (corpus / "READY").exists():
        return corpus
    if corpus.exists():
        shutil.rmtree(corpus)
    print("building the corpus (downloads about 1.4 GB once) ...", flush=True)
    speech_dir, noise_dir = corpus / "speech_all", corpus / "noise_all"
    speech_dir.mkdir(parents=True)
    noise_dir.mkdir()
    speech = []
    for lang, package in SPEECH_PACKAGES.items():
        speech += decode_speech(fetch(data / "debs", package), lang, speech_dir)
    noises = decode_ambience(fetch(data / "debs", NOISE_PACKAGE), noise_dir)
    random.Random(0).shuffle(speech)
    link_all(speech[:N_TRAINVAL], corpus / "speech" / "trainval")
    link_all(speech[N_TRAINVAL:N_TRAINVAL + N_TEST], corpus / "speech" / "test")
    link_all([p for p in noises if sf.info(p).duration >= SEEN_MIN_NOISE_S], corpus / "seen")
    link_all([p for i, p in enumerate(noises) if i % 4 != 3], corpus / "unseen" / "train")
    link_all([p for i, p in enumerate(noises) if i % 4 == 3], corpus / "unseen" / "test")
    write_configs(corpus, "speech/trainval", N_VAL, "")
    (corpus / "READY").write_text(f"{len(speech)} speech files, {len(noises)} noise files\n")
    return corpus


def write_configs(corpus: Path, speech_dir: str, n_val: int, prefix: str) -> None:
    """Both protocols' config files ``{prefix}{protocol}_{split}_set.txt`` in ``corpus``,
    with training and validation lines from the prompts in ``speech_dir``."""
    common = [sys.executable, str(ROOT / "create_config_files.py"), "--trainval",
              f"{speech_dir}/*.wav", "--test", "speech/test/*.wav", "--n_val", str(n_val),
              "--wav_len", str(WAV_LEN)]
    for protocol, noise in PROTOCOL_NOISE.items():
        subprocess.run(common + ["--name", prefix + protocol, *noise], cwd=corpus, check=True,
                       stdout=subprocess.DEVNULL)


def config(corpus: Path, protocol: str, split: str, train_lines: int = N_TRAIN) -> str:
    """A config file of the protocol. Another number of training lines keeps the same
    validation and test files; more than ``N_TRAIN`` add lines, in a fixed random order,
    from prompts that no validation or test line uses; fewer take the first lines."""
    if split != "train" or train_lines == N_TRAIN:
        return str(corpus / f"{protocol}_{split}_set.txt")
    path = corpus / f"{protocol}_train{train_lines}_set.txt"
    if not path.exists():
        extra = corpus / f"extra_{protocol}_train_set.txt"
        if not extra.exists():
            used = {p.name for p in (corpus / "speech").rglob("*.wav")}
            unused = sorted(p for p in (corpus / "speech_all").glob("*.wav")
                            if p.name not in used)
            random.Random(1).shuffle(unused)
            link_all(unused, corpus / "speech" / "extra")
            write_configs(corpus, "speech/extra", 1, "extra_")
        lines = (corpus / f"{protocol}_train_set.txt").read_text().splitlines()
        more = extra.read_text().splitlines()  # sorted by prompt name, i.e. by language
        random.Random(2).shuffle(more)
        if train_lines > len(lines) + len(more):
            raise SystemExit(f"--train_lines: at most {len(lines) + len(more)}")
        path.write_text("\n".join((lines + more)[:train_lines]) + "\n")
    return str(path)


def oracle_si_snri(lines: list[dataset.ConfigLine], corpus: dataset.Corpus) -> np.ndarray:
    """SI-SNRi (dB) of the ideal binary mask (speech bins where |S| > |N|) at frame 1024."""
    spectral, gains = Spectral(1024, sample_rate=audio.DEFAULT_RATE), []
    for line in lines:
        noisy, clean = (torch.from_numpy(x)[None] for x in dataset.load_parallel(line, corpus)[:2])
        speech, noise = spectral.stft(clean), spectral.stft(noisy - clean)
        masked = spectral.istft((speech + noise) * (speech.abs() > noise.abs()),
                                noisy.shape[-1])  # the STFT is linear: noisy = speech + noise
        gains.append(si_snr_improvement(masked, noisy, clean).item())
    return np.array(gains)


def baselines(corpus_dir: Path, protocol: str) -> dict[str, np.ndarray]:
    """Test SI-SNRi (dB) per line of the methods that need no training; paths in the
    config files are relative to ``corpus_dir``, the working directory."""
    return untrained_scores(config(corpus_dir, protocol, "test"), WAV_LEN, protocol)


def untrained_scores(test_fname: str, wav_len: int, label: str) -> dict[str, np.ndarray]:
    """Test SI-SNRi (dB) per line of the test file's lines, for each method that needs
    no training; paths in the file are relative to the working directory."""
    corpus = dataset.Corpus(None, None, wav_len, sample_rate=audio.DEFAULT_RATE)
    lines = dataset.read_config(test_fname, dataset.EVAL_FIELDS)
    inputs = [si_snr(*(torch.from_numpy(x[None]) for x in
                       dataset.load_parallel(line, corpus)[:2])).item() for line in lines]
    print(f"{label}: test mixtures' SI-SNR {np.mean(inputs):+.2f} dB", flush=True)
    scores = {f"{anchor.name}, {warmup}": anchor_si_snri(anchor(), lines, corpus, seconds)
              for anchor in ANCHORS for warmup, seconds in WARMUPS.items()}
    return {**scores,
            "spectral gating, a 3 s take before the clip": gating_si_snri(lines, corpus, 3.0),
            "spectral gating, 3 s of the test noise file": gating_si_snri(lines, corpus, 3.0,
                                                                         "file_start"),
            "spectral gating, no noise recording": gating_si_snri(lines, corpus, None),
            "oracle binary mask": oracle_si_snri(lines, corpus)}


def train(corpus: Path, protocol: str, method: str, seed: int, extra: list[str],
          runs: Path, train_lines: int = N_TRAIN) -> tuple[float, float, float, str]:
    """(test SI-SNRi, validation SI-SNRi, wall seconds, speed) of one training run in
    ``runs/PROTOCOL-METHOD-SEED``; speed is its training and validation clips/s."""
    return run_pulse(corpus, runs / f"{protocol}-{method}-{seed}", [
        "--method", method, *SETTINGS, "--seed", str(seed),
        "--train_fname", config(corpus, protocol, "train", train_lines),
        "--val_fname", config(corpus, protocol, "val"),
        "--test_fname", config(corpus, protocol, "test"), *extra])


def run_pulse(cwd: Path, out: Path, options: list[str], code: Path = ROOT,
              resume_from: Path | None = None) -> tuple[float, float, float, str]:
    """(test SI-SNRi, validation SI-SNRi, wall seconds, speed) of ``pulse.py OPTIONS`` run
    in ``cwd`` into the folder ``out`` (replaced); speed is its training and validation
    clips/s. ``code``: the checkout whose pulse.py runs. ``resume_from``: a finished run
    whose checkpoints ``out`` continues from (a teacher for ``--student``)."""
    shutil.rmtree(out, ignore_errors=True)
    if resume_from is not None:
        out.mkdir(parents=True)
        for checkpoint in resume_from.glob("*.pt"):
            shutil.copy2(checkpoint, out / checkpoint.name)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(code / "pulse.py"), *options,
                             "--out_dir", str(out)], cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    scores = json.loads((out / "results.json").read_text())
    with (out / "metrics.csv").open() as f:
        epochs = list(csv.DictReader(f))
    epochs = [e for e in epochs if e.get("train_clips_per_s")]  # not a student's epoch 0
    if epochs:
        speed = (f"training {np.mean([float(e['train_clips_per_s']) for e in epochs]):.1f} "
                 f"clips/s, validation "
                 f"{N_VAL / np.mean([float(e['val_seconds']) for e in epochs]):.1f} clips/s")
    else:
        speed = "not recorded by this checkout"
    return (scores["test_si_snri_db"], scores["val_si_snri_db"],
            time.perf_counter() - started, speed)


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:+.2f} dB"
    return f"{np.mean(values):+.2f} dB ({min(values):+.2f} to {max(values):+.2f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data",
                   help="where the downloaded packages, the corpus and the runs go")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--protocols", nargs="+", choices=("seen", "unseen"),
                   default=["seen", "unseen"])
    p.add_argument("--methods", nargs="+", choices=("PU", "PN", "MixIT"),
                   default=["PU", "PN", "MixIT"])
    p.add_argument("--train_lines", type=int, default=N_TRAIN,
                   help=f"training lines (default {N_TRAIN}); more add unused prompts, with "
                        "the same validation and test lines")
    p.add_argument("--no_baselines", action="store_true",
                   help="skip the anchors, gating and oracle")
    p.add_argument("--runs", default="runs",
                   help="folder under --data for the training runs (replaced run by run)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further pulse.py options for every training run (put it last)")
    args = p.parse_args()
    corpus = build_corpus(args.data.resolve())
    os.chdir(corpus)
    print(f"{cpu_name()}; torch {torch.__version__}; {args.train_lines} training lines; "
          f"settings {' '.join(SETTINGS)} {' '.join(args.extra)}", flush=True)
    table: dict[tuple[str, str], list[float]] = {}
    for protocol in args.protocols:
        if not args.no_baselines:
            for name, values in baselines(corpus, protocol).items():
                table[name, protocol] = [float(values.mean())]
                print(f"{protocol}: {name}: {values.mean():+.2f} dB", flush=True)
        for method in args.methods:
            for seed in args.seeds:
                test, val, wall, speed = train(corpus, protocol, method, seed, args.extra,
                                               args.data.resolve() / args.runs,
                                               args.train_lines)
                table.setdefault((method, protocol), []).append(test)
                print(f"{protocol}: {method} seed {seed}: test {test:+.2f} dB, validation "
                      f"{val:+.2f} dB, {wall / 60:.1f} min end to end ({speed})", flush=True)
    print(f"\n| test SI-SNRi | {' | '.join(args.protocols)} |")
    print(f"|---|{'---|' * len(args.protocols)}")
    for name in dict.fromkeys(name for name, _ in table):
        cells = [summary(table[name, protocol]) if (name, protocol) in table else ""
                 for protocol in args.protocols]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
