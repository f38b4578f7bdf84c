"""Enhance the user's own recordings with a trained checkpoint.

Every channel of a file is enhanced on its own: brought to the model's rate (16 kHz unless
it was trained with ``--sample_rate``), masked, and brought back, so each output has its
input's rate, channel count, length and format (WAV, FLAC or OGG, same subtype). Above
the model's Nyquist frequency (8 kHz for a 16 kHz model), which the model never hears, the
input's band is kept under the gain the model applied to its top octave (4-8 kHz for a
16 kHz model) in the same frames (``band_gain``). A file is read, enhanced and written
``SEGMENT_S`` seconds at a time with ``MARGIN_S`` of context on both sides, and the CNN runs
over overlapping chunks whose margins cover its receptive field, so a long file needs
bounded memory and gives the samples whole-file processing would.
"""
from __future__ import annotations

import csv
import functools
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn
from tqdm import tqdm

import checkpoint
import audio
import dataset
import noise_clip
import quality
from methods import Method, enhance_long, model_from_state
from model import for_inference
from spectral import Spectral
from warm_start import STARTER

log = logging.getLogger("pulse")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}


def load_checkpoint(path: Path, device: torch.device) -> tuple[nn.Module, Method, Spectral]:
    """Rebuild the model, its method and its STFT from a checkpoint alone."""
    return model_from_state(checkpoint.load(path), device)


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


def scan_take(path: Path, spectral: Spectral) -> tuple[str | None, int]:
    """(what makes ``path`` unusable as a recording to enhance, as ``PATH: what``, or None;
    its channel count, 0 if unreadable): unreadable, no samples, no signal, NaN samples,
    shorter than one frame of the model. Reads the whole file, a block at a time."""
    try:
        info, content = audio.scan(path)
    except audio.READ_ERRORS as err:
        return f"{path}: cannot read audio ({err})", 0
    problem = content.problem() or noise_clip.too_short(info.duration, spectral)
    return (f"{path}: {problem}" if problem else None), info.channels


def input_problems(jobs: list[tuple[Path, Path]], clip_paths: list[Path], output_dir: Path,
                   spectral: Spectral, overwrite: bool) -> list[str]:
    """Every reason not to start, each ``FILE: what``: two inputs that would be written to
    one output, a take or a noise clip that cannot be enhanced or adapted to, outputs that
    exist already (unless ``overwrite``). Checked before any output is written."""
    problems, claimed, channels = [], {}, []
    for source, rel in jobs:
        if rel in claimed:
            problems.append(f"{claimed[rel]} and {source} would both be written to "
                            f"{output_dir / rel}: enhance them into different --output_dir "
                            "folders, or give their parent folders (mirrored by name)")
        claimed.setdefault(rel, source)
        problem, count = scan_take(source, spectral)
        problems += [problem] if problem else []
        channels.append(count)
    clip_checks = {(clip, count): source for (source, _), clip, count
                   in zip(jobs, clip_paths, channels) if count}
    problems += dict.fromkeys(filter(None, (noise_clip.clip_problem(clip, source, count, spectral)
                                            for (clip, count), source in clip_checks.items())))
    existing = [str(output_dir / rel) for _, rel in jobs if (output_dir / rel).exists()]
    if existing and not overwrite:
        problems.append(f"{len(existing)} outputs exist already, e.g. {existing[0]}; pass "
                        "--overwrite to replace them")
    return problems


SEGMENT_S = 60.0
"""Seconds of a file read, enhanced and written at a time."""
MARGIN_S = 1.0
"""Seconds of context read on each side of a segment and dropped after enhancing: more
than the CNN's receptive field, the STFT frames and the resampler's filters."""
Enhancer = Callable[[torch.Tensor], torch.Tensor]
"""(T,) waveform at the model's rate and unit std -> (T,) enhanced waveform."""


def band_gain(noisy: np.ndarray, enhanced: np.ndarray, spectral: Spectral, length: int
              ) -> np.ndarray:
    """(length,) amplitude gain for the band above the model's Nyquist frequency of a file at
    a higher rate: in each frame of (T,) ``noisy`` and ``enhanced`` at the model's rate,
    sqrt(enhanced / noisy energy) over its top octave (a quarter to half its rate), at most
    1, linearly interpolated over the ``length`` samples that span the same time."""
    low = (spectral.bins - 1) // 2
    spec = spectral.stft(torch.from_numpy(np.stack([noisy, enhanced])).float())[:, low:]
    energy = (spec.abs() ** 2).sum(1).numpy()
    gain = np.sqrt(np.minimum(energy[1] / np.maximum(energy[0], 1e-20), 1.0))
    frame_s = np.arange(len(gain)) * spectral.hop_s
    return np.interp(np.arange(length) * (len(noisy) / spectral.sample_rate / length), frame_s,
                     gain)


def enhance_channel(enhancer: Enhancer, spectral: Spectral, wave: np.ndarray, rate: int,
                    device: torch.device) -> np.ndarray:
    """(T,) samples of one channel at ``rate`` and unit std -> (T,) enhanced samples at
    ``rate``: the model hears the version at its own rate; above its Nyquist frequency,
    the input's band under ``band_gain``."""
    model_rate = spectral.sample_rate
    heard = wave if rate == model_rate else audio.soxr_resample(wave, rate, model_rate)
    enhanced = enhancer(torch.from_numpy(heard).float().to(device)).cpu().double().numpy()
    if rate == model_rate:
        return enhanced
    out = audio.fit_length(audio.soxr_resample(enhanced, model_rate, rate), len(wave))
    if rate > model_rate:
        low_band = audio.fit_length(audio.soxr_resample(heard, model_rate, rate), len(wave))
        out += (wave - low_band) * band_gain(heard, enhanced, spectral, len(wave))
    return out


def channel_stds(blocks: Iterable[np.ndarray]) -> np.ndarray:
    """(C,) standard deviation of each channel over (T, C) ``blocks`` of one recording; 1 for
    a silent channel."""
    total, square, count = 0.0, 0.0, 0
    for data in blocks:
        total, square, count = total + data.sum(0), square + (data ** 2).sum(0), count + len(data)
    std = np.sqrt(np.maximum(square / max(count, 1) - (total / max(count, 1)) ** 2, 0.0))
    return np.where(std > 0, std, 1.0)


def enhance_block(enhancer: Enhancer, spectral: Spectral, block: np.ndarray, rate: int,
                  scales: np.ndarray, device: torch.device) -> np.ndarray:
    """(T, C) samples at ``rate`` -> (T, C) enhanced samples: each channel heard divided by
    its ``scales`` entry (the recording's std, so the model hears unit std) and brought
    back (``enhance_channel``)."""
    return np.stack([enhance_channel(enhancer, spectral, block[:, k] / scales[k], rate,
                                     device) * scales[k] for k in range(block.shape[1])], axis=1)


def enhance_file(enhancer: Enhancer, spectral: Spectral, source: Path, target: Path,
                 device: torch.device) -> int:
    """Write ``source`` (checked by ``scan_take``) enhanced, channel by channel, to
    ``target`` (atomically) at its rate, channel count, format and subtype; returns the
    number of samples clipped at full scale (integer and Vorbis subtypes only)."""
    info = sf.info(str(source))
    rate, frames = info.samplerate, info.frames
    segment, margin = round(SEGMENT_S * rate), round(MARGIN_S * rate)
    scales = channel_stds(sf.blocks(str(source), blocksize=segment, dtype="float64",
                                    always_2d=True))
    clips = info.subtype not in ("FLOAT", "DOUBLE")
    clipped = 0
    with checkpoint.atomic(target) as tmp, sf.SoundFile(str(source)) as reader, \
            sf.SoundFile(str(tmp), "w", rate, info.channels, info.subtype,
                         format=info.format) as writer:
        for start in range(0, frames, segment):
            lo, hi = max(0, start - margin), min(frames, start + segment + margin)
            reader.seek(lo)
            block = reader.read(hi - lo, dtype="float64", always_2d=True)
            out = enhance_block(enhancer, spectral, block, rate, scales, device)
            out = out[start - lo:start - lo + min(segment, frames - start)]
            if clips:
                clipped += int((np.abs(out) > 1.0).sum())
                out = np.clip(out, -1.0, 1.0)
            writer.write(out)
    return clipped


def model_enhancer(model: nn.Module, method: Method, spectral: Spectral,
                   reference: torch.Tensor | None = None) -> Enhancer:
    """``enhance_long`` by ``model``, heard against the (T',) ``reference`` (the noise clip
    at the scale of the recording) where the network has the reference channel."""
    return lambda wave: enhance_long(model, method, spectral, wave, reference=reference)


def enhance_files(inputs: list[str], checkpoint_path: Path, output_dir: Path, device: torch.device,
                  overwrite: bool = False, dnsmos: bool = False, quiet: bool = False,
                  noise_clips: list[Path] | None = None) -> list[Path]:
    """Enhance every input; refuses to overwrite existing outputs unless asked.

    With ``noise_clips`` (one for all inputs, or one per input file), the model is first
    adapted to each input from its clip (``noise_clip.adapt``). Every input and clip is
    checked before any output is written (``input_problems``); a clip is read when an
    input first needs it and kept while the next inputs share it. With ``dnsmos``, also
    writes ``dnsmos.csv``: DNSMOS of every input and output (16 kHz mono mixes).
    """
    state, model, method, spectral = loaded_model(checkpoint_path, device)
    jobs = find_inputs(inputs)
    clip_paths = noise_clip.clips_for(noise_clips, [source for source, _ in jobs]) or []
    problems = input_problems(jobs, clip_paths, output_dir, spectral, overwrite)
    if problems:
        raise dataset.DataError(dataset.summarise(problems, 20))
    unadapted = model_enhancer(model, method, spectral)
    written, scores = [], []
    clip_path, clip = None, None
    for index, (source, rel) in enumerate(tqdm(jobs, desc="enhancing",
                                                disable=quiet or not sys.stderr.isatty())):
        enhancer = unadapted
        if clip_paths:
            if clip_paths[index] != clip_path:
                clip_path, clip = clip_paths[index], noise_clip.read_heard(clip_paths[index],
                                                                          spectral)
            adapted, adapted_method, reference = noise_clip.adapt_to_file(
                state, spectral, source, clip_path, clip, device)
            enhancer = model_enhancer(for_inference(adapted, device), adapted_method, spectral,
                                      reference)
        target = output_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        clipped = enhance_file(enhancer, spectral, source, target, device)
        if clipped:
            log.warning("%s: %d samples would exceed full scale; clipped", target, clipped)
        info = sf.info(str(target))
        log.info("%s -> %s (%.1f s, %d Hz, %d channels)", source, target, info.duration,
                 info.samplerate, info.channels)
        written.append(target)
        if dnsmos:
            scores.append({"input": str(source), "output": str(target),
                           **{f"{k}_{kind}": v for kind, path in (("noisy", source),
                                                                  ("enhanced", target))
                              for k, v in quality.dnsmos(audio.read_audio(
                                  path, rate=quality.METRICS_RATE)).items()}})
    if scores:
        with checkpoint.atomic(output_dir / "dnsmos.csv") as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(scores[0]))
            writer.writeheader()
            writer.writerows(scores)
    return written


@functools.lru_cache(maxsize=4)
def _loaded(path: str, modified_ns: int, device: torch.device
            ) -> tuple[dict, nn.Module, Method, Spectral]:
    state = checkpoint.load(Path(path))
    return (state, *model_from_state(state, device))


def loaded_model(path: Path, device: torch.device) -> tuple[dict, nn.Module, Method, Spectral]:
    """(checkpoint dict, inference model, method, STFT) of ``path``, loaded once per file
    version and device and kept for later calls."""
    path = Path(path).resolve()
    return _loaded(str(path), path.stat().st_mtime_ns if path.exists() else 0, device)


def recording_of(array, rate: int, spectral: Spectral, name: str) -> np.ndarray:
    """A (T,) or (T, C) array of samples at ``rate`` Hz as (T, C) float64, or a ValueError
    naming ``name`` and what is wrong: another shape, no signal, NaN samples, shorter than
    one frame of the model."""
    wave = np.asarray(array)
    if wave.ndim not in (1, 2) or not (np.issubdtype(wave.dtype, np.floating)
                                       or np.issubdtype(wave.dtype, np.integer)):
        raise ValueError(f"{name}: expected a (T,) or (T, channels) array of samples, got "
                         f"shape {wave.shape} of {wave.dtype}")
    wave = (wave[:, None] if wave.ndim == 1 else wave).astype(np.float64)
    content = audio.Content()
    content.add(wave)
    problem = content.problem() or noise_clip.too_short(len(wave) / rate, spectral)
    if problem:
        raise ValueError(f"{name}: {problem}")
    return wave


def enhance_array(y, rate: int, noise=None, checkpoint_path: Path = STARTER,
                  device: torch.device = torch.device("cpu")) -> np.ndarray:
    """``y`` enhanced, an array of its shape and dtype (integers rounded and clipped to
    their range): (T,) or (T, C) samples at ``rate`` Hz, every channel heard at the model's
    rate as ``--enhance`` hears a file's. ``noise``, (T',) or (T', C) samples of the
    recording's noise alone at the same rate, first adapts the model to ``y`` as
    ``--noise_clip`` does."""
    if not (isinstance(rate, (int, np.integer)) and rate > 0):
        raise ValueError(f"sr: expected a positive whole number of samples per second, got "
                         f"{rate!r}")
    state, model, method, spectral = loaded_model(checkpoint_path, device)
    wave = recording_of(y, rate, spectral, "y")
    enhancer = model_enhancer(model, method, spectral)
    if noise is not None:
        clip = recording_of(noise, rate, spectral, "noise")
        if clip.shape[1] != wave.shape[1]:
            raise ValueError(f"noise: {clip.shape[1]} channels, y has {wave.shape[1]}: record "
                             "the clip with the same channels")
        adapted, adapted_method, reference = noise_clip.adapt_to_recording(state, spectral, *(
            audio.to_mono(x, rate, name, rate_out=spectral.sample_rate)
            for x, name in ((wave, "y"), (clip, "noise"))), device)
        enhancer = model_enhancer(for_inference(adapted, device), adapted_method, spectral,
                                  reference)
    out = enhance_block(enhancer, spectral, wave, rate, channel_stds([wave]), device)
    given = np.asarray(y)
    if np.issubdtype(given.dtype, np.integer):
        limits = np.iinfo(given.dtype)
        out = np.clip(np.round(out), limits.min, limits.max)
    return out.reshape(given.shape).astype(given.dtype)
