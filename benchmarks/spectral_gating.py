"""Baseline without training: spectral gating (the ``noisereduce`` package, stationary
mode) given a 3 s noise-only recording, scored like pulse.py.

The recording is what a user would hand it: a take of the test clip's own noise file
ending 0.1 s before the clip (``--take next_to_clip``), at the level that file has
there, or the file's first seconds (``--take file_start``, the older row). Not a
dependency of PULSE: ``pip install noisereduce`` to run it.

    python benchmarks/spectral_gating.py            # the demo corpus's test set
    python benchmarks/spectral_gating.py --test_fname voicebank_test_set.txt --clean_path voicebank --noise_path DEMAND
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audio  # noqa: E402
import dataset  # noqa: E402
from metric import si_snr_improvement  # noqa: E402


TAKE_GAP_S = 0.1
"""A take next to the clip ends this long before the clip's noise excerpt starts."""
MIN_TAKE_S = 0.5
"""The shortest take handed to the gate, where a short noise file has no room for more."""
TAKES = ("next_to_clip", "file_start")


def noise_take(line: dataset.ConfigLine, corpus: dataset.Corpus, take_s: float,
               scale: float) -> np.ndarray:
    """Noise-only take of a test line's noise file, ``take_s`` seconds ending
    ``TAKE_GAP_S`` before its excerpt, or starting that long after it where the file has
    no room before; in a file with room for neither, the longer of the two sides. Scaled
    as the excerpt is in the mixture of unit std that ``scale`` made: the file's own level
    there, not the clip's. Returns (samples at 16 kHz,)."""
    excerpt, path = corpus.excerpt(line.noise, corpus.noise_root, line.noise_start_s)
    clip_end_s = line.noise_start_s + corpus.wav_len / audio.DEFAULT_RATE
    before_s = line.noise_start_s - TAKE_GAP_S
    after_s = sf.info(path).duration - clip_end_s - TAKE_GAP_S
    length_s = min(take_s, max(before_s, after_s))
    if length_s < MIN_TAKE_S:
        raise audio.DataError(f"{line.origin}: {path} has under {MIN_TAKE_S} s of noise "
                              "beside the test excerpt for a take")
    if before_s >= min(take_s, after_s):  # room for the whole take, or more than after
        start_s = before_s - length_s
    else:
        start_s = clip_end_s + TAKE_GAP_S
    take = audio.read_excerpt(path, start_s, round(length_s * audio.DEFAULT_RATE),
                              rate=audio.DEFAULT_RATE)
    return (take - take.mean()) / (excerpt - excerpt.mean()).std() / scale


def gating_si_snri(lines: list[dataset.ConfigLine], corpus: dataset.Corpus,
                   noise_clip_s: float | None, take: str = "next_to_clip") -> np.ndarray:
    """SI-SNRi (dB) of each test line after noisereduce's spectral gate: stationary, given
    ``noise_clip_s`` seconds of the line's noise file (``take``: ``noise_take``, or the
    file's first seconds at the mixture's noise level), or non-stationary with no noise
    recording when ``noise_clip_s`` is None."""
    import noisereduce

    improvements = []
    for line in lines:
        noisy, clean, scale = dataset.load_parallel(line, corpus)
        if noise_clip_s is None:
            gated = noisereduce.reduce_noise(y=noisy, sr=audio.DEFAULT_RATE, stationary=False)
        else:
            if take == "next_to_clip":
                clip = noise_take(line, corpus, noise_clip_s, scale)
            else:
                noise_file = dataset.resolve(line.noise, corpus.noise_root)
                clip = audio.read_excerpt(noise_file, 0.0, int(noise_clip_s * audio.DEFAULT_RATE),
                                          rate=audio.DEFAULT_RATE)
                clip = dataset.standardise(clip, noise_file) / scale
            gated = noisereduce.reduce_noise(y=noisy, sr=audio.DEFAULT_RATE, y_noise=clip,
                                             stationary=True)
        improvements.append(si_snr_improvement(*(torch.from_numpy(x[None])
                                                 for x in (gated, noisy, clean))).item())
    return np.array(improvements)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test_fname", default="demo_data/demo_test_set.txt")
    p.add_argument("--clean_path", default="demo_data/demo_speech")
    p.add_argument("--noise_path", default="demo_data/demo_noise")
    p.add_argument("--wav_len", type=int, default=32000)
    p.add_argument("--noise_clip_s", type=float, default=3.0,
                   help="length of the noise recording given to the gate")
    p.add_argument("--take", choices=TAKES, default="next_to_clip",
                   help="where that recording comes from: the test clip's noise file just "
                        "before the clip, at the file's level there, or the file's start")
    args = p.parse_args()
    corpus = dataset.Corpus(args.clean_path, args.noise_path, args.wav_len,
                            sample_rate=audio.DEFAULT_RATE)
    lines = dataset.read_config(args.test_fname, dataset.EVAL_FIELDS)
    values = gating_si_snri(lines, corpus, args.noise_clip_s, args.take)
    print(f"spectral gating ({args.take}) on {args.test_fname}: {len(values)} clips, mean SI-SNRi "
          f"{values.mean():.2f} dB, median {np.median(values):.2f} dB")


if __name__ == "__main__":
    main()
