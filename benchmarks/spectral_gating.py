"""Baseline without training: spectral gating (the ``noisereduce`` package, stationary
mode) given a 3 s recording of the test clip's noise type, scored like pulse.py.

Not a dependency of PULSE: ``pip install noisereduce`` to run it.

    python benchmarks/spectral_gating.py            # the demo corpus's test set
    python benchmarks/spectral_gating.py --test_fname voicebank_test_set.txt --clean_path voicebank --noise_path DEMAND
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audio  # noqa: E402
import dataset  # noqa: E402
from metric import si_snr_improvement  # noqa: E402


def gating_si_snri(lines: list[dataset.ConfigLine], corpus: dataset.Corpus,
                   noise_clip_s: float | None) -> np.ndarray:
    """SI-SNRi (dB) of each test line after noisereduce's spectral gate: stationary, given
    the first ``noise_clip_s`` seconds of the line's noise file at the mixture's noise
    level, or non-stationary with no noise recording when ``noise_clip_s`` is None."""
    import noisereduce

    improvements = []
    for line in lines:
        noisy, clean, scale = dataset.load_parallel(line, corpus)
        if noise_clip_s is None:
            gated = noisereduce.reduce_noise(y=noisy, sr=audio.SAMPLE_RATE, stationary=False)
        else:
            noise_file = dataset.resolve(line.noise, corpus.noise_root)
            clip = audio.read_excerpt(noise_file, 0.0, int(noise_clip_s * audio.SAMPLE_RATE))
            clip = dataset.standardise(clip, noise_file) / scale
            gated = noisereduce.reduce_noise(y=noisy, sr=audio.SAMPLE_RATE, y_noise=clip,
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
                   help="length of the noise recording given to the gate, read from the start "
                        "of the test line's noise file (its training part)")
    args = p.parse_args()
    corpus = dataset.Corpus(args.clean_path, args.noise_path, args.wav_len)
    lines = dataset.read_config(args.test_fname, dataset.EVAL_FIELDS)
    values = gating_si_snri(lines, corpus, args.noise_clip_s)
    print(f"spectral gating on {args.test_fname}: {len(values)} clips, mean SI-SNRi "
          f"{values.mean():.2f} dB, median {np.median(values):.2f} dB")


if __name__ == "__main__":
    main()
