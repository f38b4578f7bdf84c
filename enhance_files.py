"""Enhance the user's own recordings with a trained checkpoint.

Files of any rate and channel count are mixed to mono and resampled to 16 kHz, the
model's rate; outputs are written at 16 kHz. The CNN runs over overlapping chunks
whose margins cover its receptive field and the STFT frames, so a long file needs
bounded memory and gives the same samples as whole-file processing.
"""
from __future__ import annotations

import csv
import logging
import math
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn
from tqdm import tqdm

import checkpoint
import audio
import dataset
import quality
from methods import Method, build_model, enhance, method_for
from model import for_inference
from spectral import Spectral

log = logging.getLogger("pulse")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}


def load_checkpoint(path: Path, device: torch.device) -> tuple[nn.Module, Method, Spectral]:
    """Rebuild the model, its method and its STFT from a checkpoint alone."""
    return model_from_state(checkpoint.load(path), device)


def model_from_state(state: dict, device: torch.device) -> tuple[nn.Module, Method, Spectral]:
    """The inference model, its method (with its mask scale) and its STFT of a loaded
    checkpoint dict."""
    config = state["model_config"]
    model = build_model(config)
    model.load_state_dict(state["model"])
    spectral = Spectral(config["frame_len"], config["feature"])
    return for_inference(model, device), method_for(config, state.get("mask_scale")), spectral


def receptive_frames(model: nn.Module) -> int:
    """Frames on each side of a frame that can change the network's output there."""
    return sum((m.kernel_size[1] - 1) // 2 for m in model.modules() if isinstance(m, nn.Conv2d))


@torch.no_grad()
def enhance_long(model: nn.Module, method: Method, spectral: Spectral, wave: torch.Tensor,
                 chunk_frames: int = 2000) -> torch.Tensor:
    """Enhance a (T,) waveform chunk by chunk; equal to enhancing it whole.

    Each chunk of ``chunk_frames`` hops is processed with a margin of the receptive field
    plus one frame on both sides, aligned to the hop grid, and only its middle is kept.
    """
    hop, total = spectral.hop, wave.shape[-1]
    margin = (receptive_frames(model) + 2) * hop + spectral.frame_len
    margin = math.ceil(margin / hop) * hop
    step = chunk_frames * hop
    if total <= step + 2 * margin:
        return enhance(model, method, spectral, wave[None])[0]
    out = torch.empty_like(wave)
    for start in range(0, total, step):
        stop = min(start + step, total)
        lo, hi = max(0, start - margin), min(total, stop + margin)
        piece = enhance(model, method, spectral, wave[None, lo:hi])[0]
        out[start:stop] = piece[start - lo:stop - lo]
    return out


def find_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(input file, output path relative to the output folder) for files and folders."""
    found = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                raise dataset.DataError(f"{path}: no .wav, .flac or .ogg files in this folder")
            found += [(p, Path(path.name) / p.relative_to(path)) for p in files]
        elif path.is_file():
            found.append((path, Path(path.name)))
        else:
            raise dataset.DataError(f"{path}: no such file or folder")
    return found


def enhance_files(inputs: list[str], checkpoint_path: Path, output_dir: Path, device: torch.device,
                  overwrite: bool = False, dnsmos: bool = False, quiet: bool = False) -> list[Path]:
    """Enhance every input; refuses to overwrite existing outputs unless asked.

    With ``dnsmos``, also writes ``dnsmos.csv``: DNSMOS of every input and output.
    """
    model, method, spectral = load_checkpoint(checkpoint_path, device)
    jobs = find_inputs(inputs)
    existing = [str(output_dir / rel) for _, rel in jobs if (output_dir / rel).exists()]
    if existing and not overwrite:
        raise dataset.DataError(f"{len(existing)} outputs exist already, e.g. {existing[0]}; "
                                "pass --overwrite to replace them")
    written, scores = [], []
    for source, rel in tqdm(jobs, desc="enhancing", disable=quiet or not sys.stderr.isatty()):
        wave = audio.read_audio(source)
        scale = float(wave.std()) or 1.0
        noisy = torch.from_numpy(wave / scale).float().to(device)
        enhanced = enhance_long(model, method, spectral, noisy).cpu().double().numpy() * scale
        peak = np.abs(enhanced).max(initial=0.0)
        if peak > 1.0:
            log.warning("%s: output peak %.2f would clip; scaled down to 0.99", source, peak)
            enhanced *= 0.99 / peak
        target = output_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with checkpoint.atomic(target) as tmp:
            sf.write(tmp, enhanced, audio.SAMPLE_RATE)
        log.info("%s -> %s (%.1f s, 16 kHz mono)", source, target, len(wave) / audio.SAMPLE_RATE)
        written.append(target)
        if dnsmos:
            scores.append({"input": str(source), "output": str(target),
                           **{f"{k}_noisy": v for k, v in quality.dnsmos(wave).items()},
                           **{f"{k}_enhanced": v for k, v in quality.dnsmos(enhanced).items()}})
    if scores:
        with checkpoint.atomic(output_dir / "dnsmos.csv") as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(scores[0]))
            writer.writeheader()
            writer.writerows(scores)
    return written
