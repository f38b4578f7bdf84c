"""Generate config files for your own speech and noise corpora (SPEC section 2).

The six published config files ship with PULSE unchanged (see NOTICE.md); this tool
writes new ones under the same protocol: SNR uniform in [-5, 10] dB; every noise excerpt
lies inside one noise file, training and validation excerpts in its first 90 %, test
excerpts in the rest, so test noise is unseen; the validation set is a random draw of
the training speech files; test speech is its own set; a fixed seed.

    python create_config_files.py --name mine --trainval 'mine/train/**/*.wav' \\
        --test 'mine/test/**/*.wav' --noise 'mynoise/**/*.wav' --n_val 100

Paths are written as found, so pulse.py reads them from the same working directory.
"""
from __future__ import annotations

import argparse
import glob
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from checkpoint import atomic

SNR_RANGE_DB = (-5.0, 10.0)
TEST_NOISE_SHARE = 0.1
PUBLISHED_WAV_LEN = 50000
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class NoiseFile:
    path: str
    duration_s: float


def _start(rng: random.Random, noise: NoiseFile, excerpt_s: float, test: bool) -> float:
    split_s = noise.duration_s * (1 - TEST_NOISE_SHARE)
    low, high = (split_s, noise.duration_s - excerpt_s) if test else (0.0, split_s - excerpt_s)
    if high < low:
        raise ValueError(f"{noise.path}: {noise.duration_s:g} s is too short for "
                         f"{excerpt_s:g} s excerpts in both the training and the test part")
    return rng.uniform(low, high)


def make_config_lines(trainval: list[str], test: list[str], noises: list[NoiseFile], n_val: int,
                      excerpt_s: float, seed: int) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test) config lines; trainval and test are speech paths."""
    if not 0 < n_val < len(trainval):
        raise ValueError(f"n_val must be between 1 and {len(trainval) - 1}, got {n_val}")
    if not noises:
        raise ValueError("no noise files")
    rng = random.Random(seed)
    shuffled = sorted(trainval)
    rng.shuffle(shuffled)
    val_speech, train_speech = sorted(shuffled[:n_val]), sorted(shuffled[n_val:])

    def line(speech: str, is_test: bool, extra: bool) -> str:
        noise = rng.choice(noises)
        fields = [speech, noise.path, f"{_start(rng, noise, excerpt_s, is_test):.4f}",
                  f"{rng.uniform(*SNR_RANGE_DB):.4f}"]
        if extra:
            other = rng.choice(noises)
            fields += [other.path, f"{_start(rng, other, excerpt_s, False):.4f}"]
        return " ".join(fields)

    return ([line(s, False, True) for s in train_speech],
            [line(s, False, False) for s in val_speech],
            [line(s, True, False) for s in sorted(test)])


def write_config_files(name: str, lines: tuple[list[str], list[str], list[str]],
                       out_dir: Path = Path(".")) -> list[Path]:
    """Write ``{name}_{train,val,test}_set.txt``."""
    paths = []
    for split, split_lines in zip(("train", "val", "test"), lines):
        path = out_dir / f"{name}_{split}_set.txt"
        with atomic(path) as tmp:
            tmp.write_text("\n".join(split_lines) + "\n")
        paths.append(path)
    return paths


def noise_files_on_disk(pattern: str) -> list[NoiseFile]:
    return [NoiseFile(p, sf.info(p).duration) for p in sorted(glob.glob(pattern, recursive=True))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True,
                        help="name of your corpus: writes NAME_{train,val,test}_set.txt")
    parser.add_argument("--trainval", required=True, help="glob of your training and validation speech files")
    parser.add_argument("--test", required=True, help="glob of your test speech files")
    parser.add_argument("--noise", required=True, help="glob of your noise files")
    parser.add_argument("--n_val", type=int, default=100, help="validation examples")
    parser.add_argument("--wav_len", type=int, default=PUBLISHED_WAV_LEN,
                        help="clip length in samples at 16 kHz that excerpts must fit")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    found = {key: sorted(glob.glob(getattr(args, key), recursive=True))
             for key in ("trainval", "test", "noise")}
    for key, files in found.items():
        if not files:
            parser.error(f"--{key} {getattr(args, key)!r} matches no file")
    try:
        noises = noise_files_on_disk(args.noise)
        lines = make_config_lines(found["trainval"], found["test"], noises, args.n_val,
                                  args.wav_len / SAMPLE_RATE, args.seed)
        for path, split_lines in zip(write_config_files(args.name, lines), lines):
            print(f"{path}: {len(split_lines)} lines")
    except (ValueError, OSError, RuntimeError) as err:  # RuntimeError: soundfile
        print(f"create_config_files.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
