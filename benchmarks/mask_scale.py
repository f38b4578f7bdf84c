"""The PU soft mask's scale, re-scored on trained checkpoints (issue #19, item 4).

PULSE's soft mask is sigmoid(-logit / s). With s the frame's median |logit| (the
default), a frame whose every bin is called noise still keeps its median bin at 0.27, so
noise-only stretches lose only about 10 dB. This script scores, on the same checkpoints:

- ``frame median``: the default;
- ``global median``: s fixed, the median |logit| over every bin of the validation clips
  (needs no clean speech, so recordings-only training can fit it too);
- ``fitted``: s fixed, chosen on the validation lines' SI-SNRi (needs clean speech) from
  multiples of the global median;
- ``binary``: the paper's mask.

Each is reported as test SI-SNRi and as the noise removed in speech pauses: the noisy
clip's energy over the enhanced clip's, in the 32 ms frames where the clean speech is
40 dB or more below its loudest frame.

    python benchmarks/mask_scale.py real_audio_data/runs_bf16/*-PU-*
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import checkpoint  # noqa: E402
import dataset  # noqa: E402
from methods import (PU_MASKS, abs_logit_histogram, logit_scale, method_for,  # noqa: E402
                     model_from_state)
from metric import si_snr_improvement  # noqa: E402

FIT_MULTIPLES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
PAUSE_FRAME = 512
PAUSE_BELOW_DB = 40.0


def pause_attenuation_db(enhanced: torch.Tensor, noisy: torch.Tensor,
                         clean: torch.Tensor) -> float:
    """Noise removed (dB) in the (T,) clip's pauses, nan when it has none."""
    frames = [x[:len(x) // PAUSE_FRAME * PAUSE_FRAME].reshape(-1, PAUSE_FRAME).square().sum(1)
              for x in (enhanced, noisy, clean)]
    out, inp, speech = frames
    pauses = speech < speech.max() * 10 ** (-PAUSE_BELOW_DB / 10)
    if not pauses.any():
        return float("nan")
    return float(10 * torch.log10(inp[pauses].sum() / out[pauses].sum().clamp_min(1e-12)))


class Scorer:
    """A checkpoint's logits on a split's lines, kept so that masks are cheap to score."""

    def __init__(self, run: Path, split: str):
        state = checkpoint.load(run / "best.pt")
        self.model, _, self.spectral = model_from_state(state, torch.device("cpu"))
        args = state["args"]
        corpus = dataset.Corpus(args.get("clean_path"), args.get("noise_path"), args["wav_len"],
                                sample_rate=audio.DEFAULT_RATE)
        lines = dataset.read_config(args[f"{split}_fname"], dataset.EVAL_FIELDS)
        self.clips = []
        with torch.no_grad():
            for line in lines:
                noisy, clean = (torch.from_numpy(x).float() for x in
                                dataset.load_parallel(line, corpus)[:2])
                spec = self.spectral.stft(noisy[None])
                logits = self.model(self.spectral.feature_of(spec.abs())).float()
                self.clips.append((noisy, clean, spec, logits))

    def mask_scale(self) -> float:
        """The scale training fits on these clips (``methods.logit_scale``)."""
        return logit_scale(sum(abs_logit_histogram(logits) for *_, logits in self.clips))

    def score(self, mask_of) -> tuple[float, float]:
        """(mean SI-SNRi, mean pause attenuation), both dB, of ``mask_of(logits)``."""
        gains, pauses = [], []
        for noisy, clean, spec, logits in self.clips:
            enhanced = self.spectral.istft(mask_of(logits) * spec, noisy.shape[-1])[0]
            gains.append(si_snr_improvement(enhanced[None], noisy[None], clean[None]).item())
            pauses.append(pause_attenuation_db(enhanced, noisy, clean))
        return float(np.mean(gains)), float(np.nanmean(pauses))


def fixed_scale(scale: float):
    return method_for({"method": "PU", "mask": "soft"}, mask_scale=scale).mask


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+", help="PU run folders (with best.pt)")
    args = p.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}
    for run in args.runs:
        val, test = Scorer(run, "val"), Scorer(run, "test")
        global_median = val.mask_scale()
        fitted = max(FIT_MULTIPLES,
                     key=lambda m: val.score(fixed_scale(m * global_median))[0])
        masks = {"frame median": PU_MASKS["soft"], "global median": fixed_scale(global_median),
                 "fitted": fixed_scale(fitted * global_median), "binary": PU_MASKS["binary"]}
        cells = []
        for name, mask in masks.items():
            rows.setdefault(name, []).append(test.score(mask))
            cells.append(f"{name} {rows[name][-1][0]:+.2f} dB ({rows[name][-1][1]:.1f} dB)")
        print(f"{run.name}: global median |logit| {global_median:.3g}, fitted ×{fitted}; "
              + ", ".join(cells), flush=True)
    print("\n| mask | test SI-SNRi | noise removed in pauses |\n|---|---|---|")
    for name, values in rows.items():
        gains, pauses = np.array(values).T
        print(f"| {name} | {gains.mean():+.2f} dB | {pauses.mean():.1f} dB |")


if __name__ == "__main__":
    main()
