"""The one place that owns the STFT settings and the network's input feature.

Training, evaluation and file enhancement all go through :class:`Spectral`, so
the analysis used to train a mask is always the one used to apply it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

import noise_reference

FRAME_S = 0.064
"""Seconds of an STFT frame unless ``--frame_len`` says otherwise: the published 1024
samples at 16 kHz."""


def frame_samples(seconds: float, rate: int) -> int:
    """The even number of samples nearest to ``seconds`` at ``rate`` Hz: a frame whose hop,
    a quarter of it, stays whole at the usual rates."""
    return 2 * round(seconds * rate / 2)


FEATURES = ("linear", "power")
"""``linear``: |X| / 15, what the reference code computes (``abs(X) ** 1/15``);
``power``: |X| ** (1/15), the power law the paper describes."""


@dataclass(frozen=True)
class Spectral:
    """Hamming-window, centred, one-sided STFT with hop ``frame_len // 4``, of waveforms at
    ``sample_rate`` Hz."""

    frame_len: int
    feature: str = "linear"
    sample_rate: int = field(kw_only=True)
    reference: bool = field(default=False, kw_only=True)
    """Whether the network also hears each bin against a noise reference
    (``noise_reference``)."""

    @property
    def hop(self) -> int:
        return self.frame_len // 4

    @property
    def hop_s(self) -> float:
        return self.hop / self.sample_rate

    @property
    def bins(self) -> int:
        return self.frame_len // 2 + 1

    def frames(self, num_samples: int) -> int:
        return num_samples // self.hop + 1

    def _window(self, like: torch.Tensor) -> torch.Tensor:
        real = like.real.dtype if like.is_complex() else like.dtype
        return torch.hamming_window(self.frame_len, dtype=real, device=like.device)

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) real waveform -> (B, F, N) complex spectrogram."""
        return torch.stft(wave, self.frame_len, self.hop, window=self._window(wave),
                          center=True, return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """(B, F, N) complex spectrogram -> (B, length) waveform."""
        return torch.istft(spec, self.frame_len, self.hop, window=self._window(spec),
                           center=True, length=length)

    def profile_of(self, magnitude: torch.Tensor, reference: torch.Tensor | None
                   ) -> torch.Tensor | None:
        """The (B, 2, F) noise profile of (B, F, N) ``magnitude``'s clips from their (B, T)
        ``reference`` waveforms (``noise_reference.profile``; a silent one, or None: the
        clip's quietest frames); None for a network without the reference channel."""
        if not self.reference:
            return None
        ref_magnitude = None if reference is None else self.stft(reference).abs()
        return noise_reference.profile(magnitude, ref_magnitude)

    def feature_of(self, magnitude: torch.Tensor,
                   profile: torch.Tensor | None = None) -> torch.Tensor:
        """(B, F, N) magnitude -> (B, C, F, N) network input: the compressed magnitude and,
        for a network with the reference channel, each bin measured against the (B, 2, F)
        ``profile`` (None: the clip's quietest frames)."""
        if self.feature == "linear":
            compressed = magnitude / 15
        else:
            compressed = magnitude ** (1 / 15)
        if not self.reference:
            return compressed.unsqueeze(1)
        if profile is None:
            profile = noise_reference.quiet_profile(magnitude)
        return torch.cat([compressed.unsqueeze(1), noise_reference.measured(magnitude, profile)],
                         1)

    def input_of(self, magnitude: torch.Tensor, reference: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """``feature_of`` (B, F, N) ``magnitude`` with the profile of its clips' (B, T)
        ``reference`` waveforms."""
        return self.feature_of(magnitude, self.profile_of(magnitude, reference))
