"""One recording adapted to from a clip of its own noise (``--enhance IN --noise_clip CLIP``).

The model's own estimate of the recording becomes the target of a student of that one
recording (SPEC section 10, on one file): the network hears the estimate with excerpts of
the clip added at the level of the noise the model removed, and learns by the negative
SI-SNR to give the estimate back, so it learns this recording's noise from the clip, as
a spectral gate is told it. The clip lends its sound, not its level: a take recorded a
moment apart can be much louder or quieter than the noise under the signal (the level of
that noise, estimated from the clip's floor, lost to the removed level:
docs/one-recording.md). Any trained model starts (``methods.remix_network``); batch
normalisation keeps its training statistics, since one recording is too little to
re-estimate them. A model with the noise reference channel hears the clip as its reference
too: the teacher's estimate, each step (other excerpts of the clip, at the noise's level)
and the adapted model's output.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

import audio
from audio import DataError
from methods import (METHODS, REMIX_METHOD, Method, RemixObjective, enhance_long,
                     model_from_state, remix_network)
from spectral import Spectral

log = logging.getLogger("pulse")
MAX_HEARD_S = 600.0
"""Seconds of a recording and of its noise clip, from their starts, that an adaptation
hears: a long file's memory stays bounded."""


@dataclass(frozen=True)
class Adaptation:
    """How a model is fine-tuned on one recording and its noise clip."""

    steps: int = 20
    lr: float = 1e-4
    crop_s: float = 1.0
    """Seconds of each excerpt of the estimate and of the clip a step sees."""
    crops: int = 2
    """Excerpts per step."""


def _crops(wave: torch.Tensor, length: int, count: int, generator: torch.Generator
           ) -> torch.Tensor:
    """(count, length) excerpts of a (T,) waveform at random starts."""
    starts = torch.randint(0, wave.shape[-1] - length + 1, (count,), generator=generator)
    return torch.stack([wave[s:s + length] for s in starts.tolist()])


def too_short(duration_s: float, spectral: Spectral) -> str | None:
    """Why a recording of ``duration_s`` is too short for a model of STFT ``spectral``, or
    None: the model needs one frame of it."""
    frame_s = spectral.frame_len / spectral.sample_rate
    if duration_s < frame_s:
        return f"lasts {duration_s:.3f} s, shorter than one frame of the model ({frame_s:.3f} s)"
    return None


def clip_problem(path: Path, source: Path, channels: int, spectral: Spectral) -> str | None:
    """What makes ``path`` unusable as the noise clip of the recording ``source`` of
    ``channels`` channels (unreadable, no samples, no signal, too short, another channel
    count), as ``PATH: what``; None if nothing does. Reads the clip whole, a block at a
    time, keeping none of it."""
    try:
        info, content = audio.scan(path)
    except audio.READ_ERRORS as err:
        return f"{path}: cannot read audio ({err})"
    problem = content.problem() or too_short(info.duration, spectral)
    if problem:
        return f"{path}: the noise clip {problem}"
    if info.channels != channels:
        return (f"{path}: the noise clip has {info.channels} channels, {source} has {channels}: "
                "record the clip with the same channels")
    return None


def read_heard(path: Path, spectral: Spectral) -> np.ndarray:
    """The first ``MAX_HEARD_S`` of a recording or a noise clip (checked before) as (T,)
    mono at the model's rate: what an adaptation hears of it."""
    heard_s = min(sf.info(str(path)).duration, MAX_HEARD_S)
    return audio.read_excerpt(path, 0.0, audio.samples(heard_s, spectral.sample_rate),
                              short="pad", rate=spectral.sample_rate)


def adapt(state: dict, spectral: Spectral, noisy: torch.Tensor, clip: torch.Tensor,
          settings: Adaptation = Adaptation(), seed: int = 0) -> tuple[nn.Sequential, Method]:
    """The model of checkpoint dict ``state`` adapted to a (T,) recording at the model's rate
    from a (T',) clip of its noise (both on one device); returns the mask network and its
    method."""
    device = noisy.device
    teacher, method, _ = model_from_state(state, device)
    estimate = enhance_long(teacher, method, spectral, noisy, reference=clip)
    removed_rms = (noisy - estimate).pow(2).mean().sqrt()
    network = remix_network(state).to(device).eval()  # batch statistics stay the training set's
    objective = RemixObjective("si_snr")
    generator = torch.Generator().manual_seed(seed)
    length = min(round(settings.crop_s * spectral.sample_rate), noisy.shape[-1], clip.shape[-1])
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.lr)
    for _ in range(settings.steps):
        noise = _crops(clip, length, settings.crops, generator)
        std = noise.std(dim=-1, keepdim=True).clamp_min(1e-8)
        noise = noise * removed_rms / std
        target = _crops(estimate, length, settings.crops, generator)
        references = None
        if spectral.reference:  # other excerpts of the clip, at the same gain
            heard = _crops(clip, length, settings.crops, generator) * removed_rms / std
            references = torch.stack([torch.zeros_like(heard), heard], 1)
        value, _ = objective(network, spectral, target, noise, references)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return network, METHODS[REMIX_METHOD]


def clips_for(clips: list[Path] | None, sources: list[Path]) -> list[Path] | None:
    """The noise clip of each input file: one for all, or one per file in order."""
    if not clips:
        return None
    if len(clips) == 1:
        return clips * len(sources)
    if len(clips) != len(sources):
        raise DataError(f"{len(clips)} noise clips for {len(sources)} input files: give one "
                        "clip for all inputs, or one per input file, in the same order")
    return clips


def adapt_to_recording(state: dict, spectral: Spectral, noisy: np.ndarray, clip: np.ndarray,
                       device: torch.device, settings: Adaptation = Adaptation()
                       ) -> tuple[nn.Sequential, Method, torch.Tensor]:
    """``adapt`` on a (T,) recording and a (T',) clip of its noise, both mono at the model's
    rate (the recording's first ``MAX_HEARD_S`` are heard), scaled alike to the recording's
    unit std; also returns the clip so scaled, the reference the adapted model hears."""
    noisy = noisy[:round(MAX_HEARD_S * spectral.sample_rate)]
    scale = float(noisy.std()) or 1.0  # a mono mix can cancel out
    noisy_t, clip_t = (torch.from_numpy(x / scale).float().to(device) for x in (noisy, clip))
    return (*adapt(state, spectral, noisy_t, clip_t, settings), clip_t)


def adapt_to_file(state: dict, spectral: Spectral, source: Path, clip_path: Path,
                  clip: np.ndarray, device: torch.device, settings: Adaptation = Adaptation()
                  ) -> tuple[nn.Sequential, Method, torch.Tensor]:
    """``adapt_to_recording`` on a file, mixed to mono at the model's rate, and its (T,) clip
    from ``clip_path`` (as ``read_heard`` gives it)."""
    log.info("adapting to %s from the noise clip %s (%.1f s; %d steps)", source, clip_path,
             len(clip) / spectral.sample_rate, settings.steps)
    return adapt_to_recording(state, spectral, read_heard(source, spectral), clip, device,
                              settings)
