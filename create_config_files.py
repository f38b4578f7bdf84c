"""Generate config files for your own speech and noise corpora (SPEC section 2).

The six published config files ship with PULSE unchanged (see NOTICE.md); this tool
writes new ones under the same protocol: SNR uniform in [-5, 10] dB; every noise excerpt
lies inside one noise file, training and validation excerpts in its first 90 %, test
excerpts in the rest, so test noise is unseen; the validation set is a random draw of
the training speech files; test speech is its own set; a fixed seed. With ``--test_noise``
the test excerpts come from those files instead (anywhere in them) and training and
validation excerpts from anywhere in the ``--noise`` files: unseen noise *files*. With
``--val_noise`` the validation excerpts come from files that training never reads, so the
epoch selected is the one that does best on noise it was not trained on.

    python create_config_files.py --name mine --trainval 'mine/train/**/*.wav' \\
        --test 'mine/test/**/*.wav' --noise 'mynoise/**/*.wav' --n_val 100

From recordings alone (noisy speech and noise, no clean speech), it writes training and
validation files of ``REC noisy_file noisy_start_s noise_file noise_start_s`` lines, with
whole files held out for validation (see ``make_recording_lines``):

    python create_config_files.py --name field --noisy 'noisy/**/*.wav' --noise 'noise/**/*.wav'

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

from audio import DEFAULT_RATE, rate_problem, samples
from checkpoint import atomic
from dataset import CLIP_S, RECORDING_TAG, quote_field

SNR_RANGE_DB = (-5.0, 10.0)
TEST_NOISE_SHARE = 0.1


@dataclass(frozen=True)
class AudioFile:
    path: str
    duration_s: float


VAL_FILE_SHARE = 0.1
"""Share of the recordings (noisy and noise files each) held out whole for validation."""


def _starts(noise: AudioFile, excerpt_s: float, part: str) -> tuple[float, float]:
    """(earliest, latest) start (s) of an excerpt inside ``part`` of the file: "train" (its
    first 90 %), "test" (the rest) or "whole"."""
    split_s = noise.duration_s * (1 - TEST_NOISE_SHARE)
    return {"train": (0.0, split_s - excerpt_s),
            "test": (split_s, noise.duration_s - excerpt_s),
            "whole": (0.0, noise.duration_s - excerpt_s)}[part]


def reference_beside(noise: AudioFile, start_s: float, excerpt_s: float, part: str
                     ) -> float | None:
    """The start (s) of a noise reference for the excerpt at ``start_s``: the excerpt just
    after it, or else just before it, inside the same ``part`` of the file; None where
    neither fits."""
    low, high = _starts(noise, excerpt_s, part)
    for start in (start_s + excerpt_s, start_s - excerpt_s):
        if low <= start <= high:
            return start
    return None


def _start(rng: random.Random, noise: AudioFile, excerpt_s: float, part: str) -> float:
    """A random excerpt start (s) inside ``part`` of the file (``_starts``)."""
    low, high = _starts(noise, excerpt_s, part)
    if high < low:
        needs = ("" if part == "whole"
                 else " in both the training and the test part")
        raise ValueError(f"{noise.path}: {noise.duration_s:g} s is too short for "
                         f"{excerpt_s:g} s excerpts{needs}")
    return rng.uniform(low, high)


def make_config_lines(trainval: list[str], test: list[str], noises: list[AudioFile], n_val: int,
                      excerpt_s: float, seed: int, test_noises: list[AudioFile] | None = None,
                      val: list[str] | None = None, val_noises: list[AudioFile] | None = None
                      ) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test) config lines; trainval and test are speech paths. Test
    excerpts come from the last tenth of each noise file or, given ``test_noises``, from
    anywhere in those files (and training excerpts from anywhere in ``noises``). Given
    ``val``, validation speech is those files and trainval is training speech alone
    (``n_val`` is then unused); otherwise ``n_val`` files of trainval are drawn. Given
    ``val_noises``, validation excerpts come from those files (from the part of them
    training would read), which training never reads. Validation and test lines carry a
    noise reference as fields 5-6 where one fits beside their excerpt in the same part of
    its file (``reference_beside``; a test line's never in the part training reads)."""
    if val is not None and set(val) & set(trainval):
        raise ValueError("a file is both a training and a validation speech file")
    if {n.path for n in val_noises or []} & {n.path for n in noises + (test_noises or [])}:
        raise ValueError("a validation noise file is also a training or a test noise file")
    if val is None and not 0 < n_val < len(trainval):
        raise ValueError(f"n_val must be between 1 and {len(trainval) - 1}, got {n_val}")
    if not noises or test_noises == []:
        raise ValueError("no noise files")
    if test_noises and {n.path for n in noises} & {n.path for n in test_noises}:
        raise ValueError("a file is both a training and a test noise file")
    train_part, test_part = ("whole", "whole") if test_noises else ("train", "test")
    rng = random.Random(seed)
    if val is None:
        shuffled = sorted(trainval)
        rng.shuffle(shuffled)
        val_speech, train_speech = sorted(shuffled[:n_val]), sorted(shuffled[n_val:])
    else:
        val_speech, train_speech = sorted(val), sorted(trainval)

    pools = {"train": noises, "val": val_noises or noises, "test": test_noises or noises}

    def line(speech: str, split: str) -> str:
        noise = rng.choice(pools[split])
        part = test_part if split == "test" else train_part
        start = round(_start(rng, noise, excerpt_s, part), 4)
        fields = [quote_field(speech), quote_field(noise.path), f"{start:.4f}",
                  f"{rng.uniform(*SNR_RANGE_DB):.4f}"]
        if split == "train":
            other = rng.choice(noises)
            fields += [quote_field(other.path), f"{_start(rng, other, excerpt_s, train_part):.4f}"]
        elif (beside := reference_beside(noise, start, excerpt_s, part)) is not None:
            fields += [quote_field(noise.path), f"{beside:.4f}"]
        return " ".join(fields)

    return ([line(s, "train") for s in train_speech], [line(s, "val") for s in val_speech],
            [line(s, "test") for s in sorted(test)])


def make_recording_lines(noisy: list[AudioFile], noises: list[AudioFile], n_val: int,
                         excerpt_s: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, validation) recordings lines ``REC noisy start noise start``.

    Every noisy recording is cut into consecutive excerpts (one, zero-padded when read,
    if it is shorter than an excerpt), each paired with a random excerpt of a random
    noise recording. A tenth of the noisy and of the noise files (at least one each) are
    held out whole: validation pairs only those, at most ``n_val`` excerpts of them.
    """
    for kind, files in (("noisy", noisy), ("noise", noises)):
        if len(files) < 2:
            raise ValueError(f"{len(files)} {kind} recording(s): at least 2 are needed, so "
                             "that validation can hold out whole files")
    rng = random.Random(seed)

    def split(files: list[AudioFile]) -> tuple[list[AudioFile], list[AudioFile]]:
        shuffled = sorted(files, key=lambda f: f.path)
        rng.shuffle(shuffled)
        held = max(1, round(VAL_FILE_SHARE * len(files)))
        return (sorted(shuffled[held:], key=lambda f: f.path),
                sorted(shuffled[:held], key=lambda f: f.path))

    def lines(noisy_files: list[AudioFile], noise_files: list[AudioFile]) -> list[str]:
        out = []
        for recording in noisy_files:
            for k in range(max(1, int(recording.duration_s // excerpt_s))):
                noise = rng.choice(noise_files)
                start = rng.uniform(0.0, max(0.0, noise.duration_s - excerpt_s))
                out.append(f"{RECORDING_TAG} {quote_field(recording.path)} {k * excerpt_s:.4f} "
                           f"{quote_field(noise.path)} {start:.4f}")
        return out

    (train_noisy, val_noisy), (train_noise, val_noise) = split(noisy), split(noises)
    train, val = lines(train_noisy, train_noise), lines(val_noisy, val_noise)
    if len(val) > n_val:
        val = [val[i] for i in sorted(rng.sample(range(len(val)), n_val))]
    return train, val


def write_config_files(name: str, lines: dict[str, list[str]],
                       out_dir: Path = Path(".")) -> list[Path]:
    """Write ``{name}_{split}_set.txt`` for every split of ``lines``."""
    paths = []
    for split, split_lines in lines.items():
        path = out_dir / f"{name}_{split}_set.txt"
        with atomic(path) as tmp:
            tmp.write_text("\n".join(split_lines) + "\n")
        paths.append(path)
    return paths


def files_on_disk(pattern: str) -> list[AudioFile]:
    return [AudioFile(p, sf.info(p).duration) for p in sorted(glob.glob(pattern, recursive=True))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True,
                        help="name of your corpus: writes NAME_{train,val,test}_set.txt, or "
                             "NAME_{train,val}_set.txt from recordings")
    parser.add_argument("--trainval", help="glob of your training and validation speech files")
    parser.add_argument("--test", help="glob of your test speech files")
    parser.add_argument("--val", help="glob of your validation speech files (default: "
                                      "--n_val files drawn from --trainval)")
    parser.add_argument("--noisy", help="glob of your noisy speech recordings: write recordings "
                                        "config files (no clean speech needed)")
    parser.add_argument("--noise", required=True, help="glob of your noise files")
    parser.add_argument("--test_noise", help="glob of noise files for the test set only "
                                             "(default: the last tenth of each --noise file)")
    parser.add_argument("--val_noise", help="glob of noise files for validation only, never "
                                            "read in training (default: validation excerpts "
                                            "from the --noise files)")
    parser.add_argument("--n_val", type=int, default=100, help="validation examples")
    parser.add_argument("--wav_len", type=int, default=None,
                        help="clip length in samples at --sample_rate that excerpts must fit, "
                             f"as pulse.py's (default: {CLIP_S:g} s, "
                             f"{samples(CLIP_S, DEFAULT_RATE)} samples at {DEFAULT_RATE} Hz)")
    parser.add_argument("--sample_rate", type=int, default=DEFAULT_RATE, metavar="HZ",
                        help="the rate pulse.py will train at (its --sample_rate)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    if rate_problem(args.sample_rate):
        parser.error(f"--sample_rate {args.sample_rate} {rate_problem(args.sample_rate)}")
    if args.wav_len is None:
        args.wav_len = samples(CLIP_S, args.sample_rate)
    if args.wav_len <= 0:
        parser.error("--wav_len must be a positive integer")
    if args.noisy and (args.trainval or args.test):
        parser.error("--noisy (recordings) goes without --trainval and --test (clean speech)")
    for option in ("test_noise", "val", "val_noise"):
        if args.noisy and getattr(args, option):
            parser.error(f"--{option} goes with --trainval and --test (clean speech)")
    if not args.noisy and not (args.trainval and args.test):
        parser.error("give --trainval and --test (clean speech), or --noisy (recordings)")
    keys = ("noisy", "noise") if args.noisy else ("trainval", "test", "noise")
    keys += tuple(key for key in ("test_noise", "val", "val_noise") if getattr(args, key))
    found = {key: sorted(glob.glob(getattr(args, key), recursive=True)) for key in keys}
    for key, files in found.items():
        if not files:
            parser.error(f"--{key} {getattr(args, key)!r} matches no file")
    excerpt_s = args.wav_len / args.sample_rate
    try:
        noises = files_on_disk(args.noise)
        if args.noisy:
            train, val = make_recording_lines(files_on_disk(args.noisy), noises, args.n_val,
                                              excerpt_s, args.seed)
            lines = {"train": train, "val": val}
        else:
            test_noises = files_on_disk(args.test_noise) if args.test_noise else None
            val_noises = files_on_disk(args.val_noise) if args.val_noise else None
            lines = dict(zip(("train", "val", "test"), make_config_lines(
                found["trainval"], found["test"], noises, args.n_val, excerpt_s, args.seed,
                test_noises, found.get("val"), val_noises)))
        for path, split_lines in zip(write_config_files(args.name, lines), lines.values()):
            print(f"{path}: {len(split_lines)} lines")
    except (ValueError, OSError, RuntimeError) as err:  # RuntimeError: soundfile
        print(f"create_config_files.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
