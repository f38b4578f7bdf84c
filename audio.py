"""Audio files -> mono float64 waveforms at a run's rate: reading, excerpts, resampling.

The one place that knows the sample rates a model may be trained at (``RATE_RANGE``,
``DEFAULT_RATE``), how a duration becomes samples at a rate (``samples``) and how a file at
another rate is brought to a run's (``RESAMPLERS``). Every function here is told the rate
it works at.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soundfile as sf

DEFAULT_RATE = 16000
"""Hz: the paper's rate, ``--sample_rate``'s default (and, by their own constants, the
rate of the demo corpus, the starter model and the perceptual metrics)."""
RATE_RANGE = (16000, 48000)
"""Hz: the sample rates a model may be trained at."""


def rate_problem(rate: int) -> str | None:
    """Why a model cannot be trained at ``rate`` Hz, or None."""
    low, high = RATE_RANGE
    return None if low <= rate <= high else f"must lie in {low}-{high} Hz"


def samples(seconds: float, rate: int) -> int:
    """The number of samples that last ``seconds`` at ``rate`` Hz."""
    return round(seconds * rate)


class DataError(Exception):
    """A problem with a config line or an audio file, worded for the user."""


READ_ERRORS = (sf.LibsndfileError, RuntimeError, OSError)
"""What soundfile raises for a file it cannot read."""


SINC_ZERO_CROSSINGS = 6
"""Zero crossings of the windowed sinc on each side of its centre (``sinc`` resampler)."""
SINC_ROLLOFF = 0.99
"""Cut-off of the ``sinc`` resampler as a share of the lower of the two Nyquist rates."""


def sinc_kernels(rate_in: int, rate_out: int) -> tuple[np.ndarray, int, int, int]:
    """Polyphase kernels of the reference release's resampler (torchaudio 0.9's
    ``Resample`` defaults): a low-pass sinc cut off at ``SINC_ROLLOFF`` of the lower
    Nyquist rate under a Hann window ``SINC_ZERO_CROSSINGS`` zero crossings wide on each
    side.

    Returns (kernels, step, phases, pad): with the rates reduced to ``step`` input and
    ``phases`` output samples per period, output sample q * phases + r is
    ``kernels[r] @ x[q * step - pad : q * step - pad + kernels.shape[1]]`` (zeros outside
    ``x``)."""
    common = math.gcd(rate_in, rate_out)
    step, phases = rate_in // common, rate_out // common
    cutoff = min(step, phases) * SINC_ROLLOFF
    pad = math.ceil(SINC_ZERO_CROSSINGS * step / cutoff)
    offsets = np.arange(-pad, pad + step) / step
    # t: distance from each output sample's position, in periods of the cut-off
    t = (offsets[None, :] - np.arange(phases)[:, None] / phases) * cutoff
    t = np.clip(t, -SINC_ZERO_CROSSINGS, SINC_ZERO_CROSSINGS)
    window = np.cos(t * math.pi / (2 * SINC_ZERO_CROSSINGS)) ** 2
    return np.sinc(t) * window * cutoff / step, step, phases, pad


def sinc_resample(wave: np.ndarray, rate_in: int, rate_out: int,
                  block: int = 1 << 16) -> np.ndarray:
    """(T,) samples at ``rate_in`` -> ceil(T * rate_out / rate_in) samples at ``rate_out``
    through ``sinc_kernels``, ``block`` output periods at a time (bounded memory)."""
    kernels, step, phases, pad = sinc_kernels(rate_in, rate_out)
    periods = len(wave) // step + 1
    padded = np.pad(wave, (pad, pad + step))
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernels.shape[1])[::step]
    out = np.concatenate([windows[first:min(first + block, periods)] @ kernels.T
                          for first in range(0, periods, block)])
    return out.reshape(-1)[:math.ceil(len(wave) * phases / step)]


def soxr_resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """soxr at its very high quality setting."""
    import soxr  # imported only when needed: most corpora are 16 kHz already

    return soxr.resample(wave, rate_in, rate_out, quality="VHQ")


RESAMPLERS = {"soxr": soxr_resample, "sinc": sinc_resample}
"""``--resampler`` choices: (T,) wave, rate in, rate out -> wave at the rate out."""


def to_mono(data: np.ndarray, rate: int, path, resampler: str = "soxr", *,
            rate_out: int) -> np.ndarray:
    """(T, channels) samples at ``rate`` -> channel mean at ``rate_out``."""
    # a matrix product: numpy's mean over a short axis is about 10x slower
    mono = data @ np.full(data.shape[1], 1 / data.shape[1]) if data.ndim == 2 else data
    if not np.all(np.isfinite(mono)):
        raise DataError(f"{path}: audio contains NaN or infinite samples")
    if rate != rate_out:
        mono = RESAMPLERS[resampler](mono, rate, rate_out)
    return mono


def read_audio(path, resampler: str = "soxr", *, rate: int) -> np.ndarray:
    """A whole file as mono float64 at ``rate``."""
    try:
        data, file_rate = sf.read(path, dtype="float64", always_2d=True)
    except READ_ERRORS as err:
        raise DataError(f"{path}: cannot read audio ({err})") from None
    return to_mono(data, file_rate, path, resampler, rate_out=rate)


def excerpt_span(start_s: float, num_samples: int, file_rate: int, rate: int
                 ) -> tuple[int, int]:
    """(first frame, frame count) at ``file_rate`` of ``num_samples`` samples at ``rate``
    from ``start_s`` seconds on."""
    return math.floor(start_s * file_rate), math.ceil(num_samples * file_rate / rate)


def excerpt_fits(start_s: float, num_samples: int, file_rate: int, total_frames: int,
                 short: str = "refuse", *, rate: int) -> bool:
    """Whether a file of ``total_frames`` holds the excerpt (or, unless ``short`` is
    "refuse", the excerpt starts at 0 s and a short file is padded or looped)."""
    start, frames = excerpt_span(start_s, num_samples, file_rate, rate)
    return start + frames <= total_frames or (short != "refuse" and start == 0)


def read_excerpt(path, start_s: float, num_samples: int, short: str = "refuse",
                 resampler: str = "soxr", *, rate: int) -> np.ndarray:
    """``num_samples`` samples at ``rate`` from ``start_s`` seconds on, mono float64.

    Only the excerpt is read; a file at another rate is read over the same span
    in seconds at its own rate, then resampled. A file shorter than the excerpt, read
    from 0 s, is refused (``short="refuse"``), zero-padded (``"pad"``) or repeated
    until the excerpt is full (``"loop"``).
    """
    try:
        with sf.SoundFile(path) as f:
            file_rate, total = f.samplerate, f.frames
            start, frames = excerpt_span(start_s, num_samples, file_rate, rate)
            if not excerpt_fits(start_s, num_samples, file_rate, total, short, rate=rate):
                raise DataError(
                    f"{path}: needs {frames / file_rate:.3f} s from {start_s:g} s but the "
                    f"file lasts {total / file_rate:.3f} s")
            f.seek(start)
            data = f.read(frames, dtype="float64", always_2d=True)
    except READ_ERRORS as err:
        raise DataError(f"{path}: cannot read audio ({err})") from None
    wave = to_mono(data, file_rate, path, resampler, rate_out=rate)
    if short == "loop" and 0 < len(wave) < num_samples:
        wave = np.tile(wave, -(-num_samples // len(wave)))
    return fit_length(wave, num_samples)


def fit_length(wave: np.ndarray, num_samples: int) -> np.ndarray:
    """Zero-pad or truncate to ``num_samples``."""
    if len(wave) >= num_samples:
        return wave[:num_samples]
    return np.pad(wave, (0, num_samples - len(wave)))


@dataclass
class Content:
    """What a scan of (T, C) sample blocks found: how many frames, whether every sample was
    finite, and each channel's lowest and highest sample."""

    frames: int = 0
    finite: bool = True
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        """Count a (T, C) block of samples."""
        if not len(block):
            return
        self.frames += len(block)
        self.finite = self.finite and bool(np.all(np.isfinite(block)))
        low, high = block.min(0), block.max(0)
        self.low = low if self.low is None else np.minimum(self.low, low)
        self.high = high if self.high is None else np.maximum(self.high, high)

    @property
    def varies(self) -> bool:
        """Whether some channel holds more than one value (a signal, not silence or DC)."""
        return self.low is not None and bool(np.any(self.high > self.low))

    def problem(self) -> str | None:
        """What makes these samples unusable as a recording, worded after a file name; None
        if nothing does."""
        if not self.frames:
            return "holds no audio samples (0 frames)"
        if not self.finite:
            return "contains NaN or infinite samples"
        if not self.varies:
            if not np.any(self.low) and not np.any(self.high):
                return "is silent: every sample is 0"
            return "holds only a constant (DC) value in every channel, no signal"
        return None


def scan(path, whole: bool = True, block: int = 1 << 16) -> tuple[sf._SoundFileInfo, Content]:
    """(header, ``Content``) of an audio file, read ``block`` frames at a time: every block,
    or (``whole=False``) until the first that shows a signal. Raises ``READ_ERRORS``."""
    content = Content()
    info = sf.info(str(path))
    for data in sf.blocks(str(path), blocksize=block, dtype="float64", always_2d=True):
        content.add(data)
        if not whole and content.varies:
            break
    return info, content


def channel_count(path) -> int:
    """The number of channels of an audio file."""
    try:
        return sf.info(str(path)).channels
    except READ_ERRORS as err:
        raise DataError(f"{path}: cannot read audio ({err})") from None
