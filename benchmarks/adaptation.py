"""Enhance now, adapt to the place: the starter model zero-shot against PU adapted from it
(``--init_from``) and PU from scratch, in a place the starter never heard.

The place: the real-audio benchmark's unseen-protocol test noise files of 20 s or more
(7 ambience recordings of 0 A.D.: a farm, a market, two days, a jungle, a river, waves,
which ``benchmarks/starter.py`` leaves out of the starter's training), cut as the paper's protocol cuts a corpus (training and validation excerpts
from the first 90 % of each file, test excerpts from the last 10 %), with the benchmark's
prompts. Adaptation trains PU on that place's noisy clips and noise clips (130 lines of
2 s) at the real-audio benchmark's settings, for 1, 3 and 10 epochs; from scratch for 10.
The pretrained anchors are scored on the same test lines, warmed up on 0.5 s of each clip
and primed on all of it.

    python benchmarks/adaptation.py --seeds 0 1 2
    python benchmarks/adaptation.py --starter runs/PN-.../best.pt --no_anchors
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import dataset  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.pretrained import ANCHORS, WARMUPS, anchor_si_snri  # noqa: E402
from benchmarks.real_audio import (N_VAL, SEEN_MIN_NOISE_S, SETTINGS, WAV_LEN,  # noqa: E402
                                   build_corpus, link_all)
from benchmarks.resampler import scores  # noqa: E402
from warm_start import STARTER  # noqa: E402


def place_configs(corpus: Path) -> dict[str, str]:
    """The place's config files (written once): split -> file name. Its noise files are
    the unseen-protocol test files of at least ``SEEN_MIN_NOISE_S``, long enough for an
    excerpt in both parts."""
    names = {split: f"place_{split}_set.txt" for split in ("train", "val", "test")}
    if not (corpus / names["test"]).exists():
        shutil.rmtree(corpus / "place", ignore_errors=True)
        link_all([path for path in sorted((corpus / "unseen" / "test").glob("*.wav"))
                  if sf.info(path).duration >= SEEN_MIN_NOISE_S], corpus / "place")
        subprocess.run([sys.executable, str(ROOT / "create_config_files.py"), "--name", "place",
                        "--trainval", "speech/trainval/*.wav", "--test", "speech/test/*.wav",
                        "--noise", "place/*.wav", "--n_val", str(N_VAL), "--wav_len",
                        str(WAV_LEN)], cwd=corpus, check=True, stdout=subprocess.DEVNULL)
    return names


def train_pu(names: dict[str, str], out: Path, seed: int, epochs: int, start: Path | None,
             extra: list[str]) -> tuple[float, float]:
    """(test SI-SNRi, wall seconds) of PU trained on the place, from ``start`` (with the
    ``extra`` options) or from scratch."""
    shutil.rmtree(out, ignore_errors=True)
    options = [*SETTINGS, "--method", "PU", "--epochs", str(epochs), "--seed", str(seed),
               "--train_fname", names["train"], "--val_fname", names["val"], "--test_fname",
               names["test"], "--out_dir", str(out)]
    if start is not None:
        options += ["--init_from", str(start), *extra]
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "pulse.py"), *options], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return json.loads((out / "results.json").read_text())["test_si_snri_db"], seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--starter", type=Path, default=STARTER)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--adapt_epochs", type=int, nargs="+", default=[1, 3, 10])
    p.add_argument("--no_anchors", action="store_true")
    p.add_argument("--no_scratch", action="store_true", help="skip PU from scratch")
    p.add_argument("--adapt", nargs=argparse.REMAINDER, default=[],
                   help="further pulse.py options for the adapted runs (put it last)")
    args = p.parse_args()
    starter = args.starter.resolve()
    data = args.data.resolve()
    corpus = build_corpus(data)
    os.chdir(corpus)
    names = place_configs(corpus)
    test_lines = dataset.read_config(names["test"], dataset.EVAL_FIELDS)
    print(f"{cpu_name()}; torch {torch.__version__}; starter {starter}", flush=True)
    print(f"starter, zero-shot: {scores(starter, test_lines, 'soxr').mean():+.2f} dB",
          flush=True)
    if not args.no_anchors:
        for anchor in ANCHORS:
            for warmup, seconds in WARMUPS.items():
                gains = anchor_si_snri(anchor(), test_lines, dataset.Corpus(
                    None, None, WAV_LEN, sample_rate=audio.DEFAULT_RATE),
                                       seconds)
                print(f"{anchor.name}, {warmup}: {gains.mean():+.2f} dB", flush=True)
    runs = data / "adaptation_runs"
    for seed in args.seeds:
        for epochs in args.adapt_epochs:
            test, seconds = train_pu(names, runs / f"adapted-{epochs}-{seed}", seed, epochs,
                                     starter, args.adapt)
            print(f"seed {seed}: PU adapted from the starter {' '.join(args.adapt)}, {epochs} "
                  f"epochs: {test:+.2f} dB "
                  f"({seconds:.0f} s)", flush=True)
        if args.no_scratch:
            continue
        test, seconds = train_pu(names, runs / f"scratch-{seed}", seed, 10, None, [])
        print(f"seed {seed}: PU from scratch, 10 epochs: {test:+.2f} dB ({seconds:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
