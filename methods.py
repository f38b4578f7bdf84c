"""The one table of method-specific choices: network output, regulariser,
training pairs, training loss and inference mask (SPEC sections 1 and 10).

Adding a method means adding one :class:`Method` to ``METHODS``.
"""
from __future__ import annotations

import math
from argparse import Namespace
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import torch
from torch import nn

import loss
from metric import si_snr
from model import ClipNorm, FrequencyNorm, build_cnn, for_inference
from spectral import Spectral

StepResult = tuple[torch.Tensor, torch.Tensor]
"""(objective to back-propagate, loss to report), both scalars."""
Objective = Callable[..., StepResult]
"""A method's training step with its options bound: (model, spectral, first, second,
reference=None), ``reference`` (B, 2, T) the noise references of ``first`` and ``second``
(``dataset.ExampleSet``; zeros where there is none)."""


@dataclass(frozen=True)
class PUObjective:
    """The PU risk of a batch, with its options bound once (see ``loss.pu_risks`` and
    ``loss.pu_objective``)."""

    prior: float
    p: float = 1.0
    risk_norm: str = "weight"
    surrogate: str = "sigmoid"
    mode: str = "nn"
    beta: float = 0.0
    gamma: float = 0.096
    nn_rule: str = "kiryo"

    def __call__(self, model: nn.Module, spectral: Spectral, first: torch.Tensor,
                 second: torch.Tensor, reference: torch.Tensor | None = None) -> StepResult:
        """``first`` (B, T) noisy clips and ``second`` (B, T) their noise clips, or ``first``
        (B, T) clips of either class and ``second`` (B,) their labels (1: noise, positive;
        0: noisy, unlabelled); every bin takes its clip's label. ``reference``: (B, 2, T)
        the references of both, or (B, 1, T) of the labelled clips."""
        if second.dim() == 1:
            clips, labels = first, second.to(first.dtype)
            references = None if reference is None else reference[:, 0]
        else:
            clips = torch.cat([first, second])
            labels = torch.cat([torch.zeros(len(first), device=first.device),
                                torch.ones(len(second), device=first.device)])
            references = None if reference is None else torch.cat([reference[:, 0],
                                                                   reference[:, 1]])
        magnitude = spectral.stft(clips).abs()
        logits = model(spectral.input_of(magnitude, references))[:, 0].float()
        r_plus, r_minus = loss.pu_risks(logits, labels, magnitude, self.prior, self.p,
                                       self.risk_norm, surrogate=self.surrogate)
        objective = loss.pu_objective(r_plus, r_minus, self.mode, self.beta, self.gamma,
                                      self.nn_rule)
        return objective, (r_plus + r_minus).detach()


def first_reference(references: torch.Tensor | None) -> torch.Tensor | None:
    """The (B, T) references of a batch's first clips, of (B, 2, T) ``references`` (None:
    none)."""
    return None if references is None else references[:, 0]


def pn_objective(model: nn.Module, spectral: Spectral, noisy: torch.Tensor,
                 clean: torch.Tensor, reference: torch.Tensor | None = None) -> StepResult:
    """Signal approximation of (B, T) noisy clips against their (B, T) clean speech, the
    noisy clips' references the first of (B, 2, T) ``reference``."""
    noisy_mag, clean_mag = spectral.stft(torch.cat([noisy, clean])).abs().chunk(2)
    logits = model(spectral.input_of(noisy_mag, first_reference(reference)))[:, 0].float()
    value = loss.signal_approximation(logits, noisy_mag, clean_mag)
    return value, value.detach()


REMIX_LOSSES = ("magnitude", "si_snr")
"""``--remix_loss`` choices of NyTT and students."""


@dataclass(frozen=True)
class RemixObjective:
    """A mask learnt from (B, T) ``target`` clips heard through (B, T) added ``noise``: the
    network sees target + noise, each clip at unit std, and learns to give back the target,
    by signal approximation on magnitudes (``magnitude``) or by the negative SI-SNR of the
    masked waveform (``si_snr``). Noisy-target training (NyTT) when the targets are noisy
    clips; a student's step when they are its teacher's estimates (``student.py``). The
    mixture's reference is the second of (B, 2, T) ``reference``, the added noise's, scaled
    with the mixture."""

    loss: str = "magnitude"

    def __call__(self, model: nn.Module, spectral: Spectral, target: torch.Tensor,
                 noise: torch.Tensor, reference: torch.Tensor | None = None) -> StepResult:
        mixture = target + noise
        scale = mixture.std(dim=-1, keepdim=True).clamp_min(1e-8)
        heard = None if reference is None else reference[:, 1:] / scale[:, None]
        if self.loss == "magnitude":
            return pn_objective(model, spectral, mixture / scale, target / scale, heard)
        spec = spectral.stft(mixture / scale)
        logits = model(spectral.input_of(spec.abs(), first_reference(heard)))[:, 0].float()
        estimate = spectral.istft(torch.sigmoid(logits) * spec, mixture.shape[-1])
        value = -si_snr(estimate, target).mean().float()
        return value, value.detach()


@dataclass(frozen=True)
class MixITObjective:
    """MixIT of (B, T) noisy clips and (B, T) separate noise clips.

    The mixture of mixtures is brought to unit std; its parts share its scaling
    (``scale="shared"``) or keep their own unit std (``"unit"``, the reference's).
    ``assignment`` is a ``loss.MIXIT_LOSSES`` choice."""

    scale: str = "shared"
    assignment: str = "clip"

    def __call__(self, model: nn.Module, spectral: Spectral, noisy: torch.Tensor,
                 noise: torch.Tensor, reference: torch.Tensor | None = None) -> StepResult:
        """The mixture of mixtures holds two noises, so it hears its quietest frames
        (``reference`` is not used)."""
        mixture = noisy + noise
        scale = mixture.std(dim=-1, keepdim=True).clamp_min(1e-8)
        parts = torch.cat([noisy, noise])
        if self.scale == "shared":
            parts = parts / scale.repeat(2, 1)
        mags = spectral.stft(torch.cat([mixture / scale, parts])).abs()
        mixture_mag, noisy_mag, noise_mag = mags.chunk(3)
        logits = model(spectral.feature_of(mixture_mag)).float()
        value = loss.mixit_loss(logits, mixture_mag, noisy_mag, noise_mag, self.assignment)
        return value, value.detach()


def _pu_binary_mask(logits: torch.Tensor) -> torch.Tensor:
    """The paper's mask: keep the bins the classifier does not call noise (logit < 0)."""
    return (logits[:, 0] < 0).to(logits.dtype)


def _pu_soft_mask(logits: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """sigmoid(-logit / s): the classifier's decision softened on a scale s its own logits
    set, since a PU classifier's logits have no fixed scale (a bin of median confidence
    gets 0.27 or 0.73). s is the run's ``mask_scale`` (see ``logit_scale``), fixed once
    the weights are: a frame called noise throughout is removed as surely as the
    classifier calls it. Checkpoints written before it existed use each frame's median
    |logit| over frequency. Both are frame by frame, so a file enhanced in chunks gets
    the mask it would get whole."""
    if scale is None:
        frame_scale = logits[:, 0].abs().median(dim=1, keepdim=True).values.clamp_min(1e-6)
        return torch.sigmoid(-logits[:, 0] / frame_scale)
    return torch.sigmoid(-logits[:, 0] / scale)


SCALE_HISTOGRAM = (-6.0, 6.0, 4800)
"""log10 |logit| range and bins of ``abs_logit_histogram`` (0.6 % wide bins)."""


def abs_logit_histogram(logits: torch.Tensor) -> torch.Tensor:
    """(SCALE_HISTOGRAM bins,) float64 counts of log10 |logit| over every bin of (B, 1, F,
    N) logits; counts of several batches or processes add up."""
    low, high, bins = SCALE_HISTOGRAM
    values = logits.float().abs().clamp(10 ** low, 10 ** high).log10()
    return torch.histc(values, bins, low, high).double()


def logit_scale(histogram: torch.Tensor) -> float:
    """PU's ``mask_scale``: the median |logit| of an ``abs_logit_histogram`` (the centre of
    the bin that holds it), fitted on the validation clips' bins with the weights it goes
    with; it needs no clean speech."""
    low, high, bins = SCALE_HISTOGRAM
    median_bin = int(torch.searchsorted(histogram.cumsum(0), histogram.sum() / 2))
    return float(10 ** (low + (median_bin + 0.5) * (high - low) / bins))


PU_MASKS = {"soft": _pu_soft_mask, "binary": _pu_binary_mask}
"""``--mask`` choices of PU."""
PU_MASK_BEFORE_CHOICE = "binary"
"""The mask of PU checkpoints written before ``--mask`` existed."""
INPUT_NORMS = ("frequency", "clip", "none")
"""``--input_norm`` choices: the network's input normalised per frequency bin with the
training set's statistics, or with each clip's own, or left as it is."""
INPUT_NORM_BEFORE_CHOICE = "none"
"""The input normalisation of checkpoints written before ``--input_norm`` existed."""


@dataclass(frozen=True)
class Method:
    """Everything that differs between the training methods."""

    out_channels: int
    out_kernel: int
    regulariser: dict[str, str]
    """The layer after each hidden ReLU under each recipe (``--regulariser auto``)."""
    second: Callable[[Namespace], str]
    """What the training set pairs with each noisy clip (see ``dataset.ExampleSet``)."""
    objective: Callable[[Namespace, float], Objective]
    """The training step with the run's settled options and class prior bound, built once
    per run."""
    mask: Callable[[torch.Tensor], torch.Tensor]
    """(B, C, F, N) logits -> (B, F, N) mask in [0, 1]."""
    clips_per_line: int = 1
    """Clips the network sees per training line (PU: the noisy clip and the noise clip)."""
    noise_excerpts: str = "fixed"
    """The separate noise examples under ``--recipe pulse`` (``--noise_excerpts auto``):
    read afresh every epoch only where that was measured to pay (PU)."""
    teaches: bool = True
    """Whether a student can learn from it (``--student``): not where clean speech is."""
    student_rounds: int = 0
    """Student rounds under ``--recipe pulse`` (``--student``): only where they were
    measured to pay (PU)."""
    remix_loss: str = "magnitude"
    """The loss of the run's remix stages under ``--remix_loss auto``: NyTT's own and
    students' (``RemixObjective``); the negative SI-SNR only for the students of the
    method it was measured on (PU)."""
    loss_name: str = "loss"


def _sigmoid_of_first(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits[:, 0])


METHODS: dict[str, Method] = {
    "PU": Method(1, 1, {"pulse": "batchnorm", "reference": "dropout"},
                 lambda args: "noise_paired" if args.noise_level == "paired" else "noise",
                 lambda args, prior: PUObjective(prior, args.p, args.risk_norm, args.pu_loss,
                                                 args.mode, args.beta, args.gamma, args.nn_rule),
                 _pu_binary_mask, clips_per_line=2, loss_name="risk", noise_excerpts="random",
                 student_rounds=1, remix_loss="si_snr"),
    "PN": Method(1, 3, {"pulse": "batchnorm", "reference": "batchnorm"}, lambda args: "clean",
                 lambda args, prior: pn_objective, _sigmoid_of_first, teaches=False),
    "MixIT": Method(3, 3, {"pulse": "dropout", "reference": "dropout"}, lambda args: "noise",
                    lambda args, prior: MixITObjective(args.mixit_scale, args.mixit_loss),
                    _sigmoid_of_first),
    "NyTT": Method(1, 3, {"pulse": "batchnorm", "reference": "batchnorm"},
                   lambda args: "noise_paired" if args.noise_level == "paired" else "noise",
                   lambda args, prior: RemixObjective(args.remix_loss), _sigmoid_of_first,
                   noise_excerpts="random"),
}


def method_for(config: dict, mask_scale: float | None = None) -> Method:
    """The method of a ``model_config``, with PU's inference mask set by its ``mask`` and,
    for the soft mask, the weights' ``mask_scale`` (None: each frame's median |logit|)."""
    method = METHODS[config["method"]]
    if config["method"] == "PU":
        mask = PU_MASKS[completed_config(config)["mask"]]
        if mask is _pu_soft_mask and mask_scale is not None:
            mask = partial(_pu_soft_mask, scale=mask_scale)
        method = replace(method, mask=mask)
    return method


# ---------------------------------------------------------------- the model's configuration

MODEL_KEYS = ("method", "blocks", "fcblocks", "channels", "droprate", "regulariser", "frame_len",
              "feature", "input_norm", "mask", "sample_rate", "noise_reference")
"""The options that define a trained network, stored in every checkpoint as
``model_config`` (``model_config``)."""
BODY_KEYS = ("blocks", "fcblocks", "channels", "regulariser", "frame_len", "feature",
             "input_norm", "sample_rate", "noise_reference")
"""The ``model_config`` entries that the weights below the output layer depend on (the
input feature and the rate included: weights learnt on one mean nothing on another)."""
RATE_BEFORE_CHOICE = 16000
"""Hz: the rate of checkpoints written before ``--sample_rate`` existed."""
REMIX_METHOD = "NyTT"
"""The network and objective of a mask learnt from noise added to known targets: a
student's, and a model adapted to one recording's noise clip (``remix_network``)."""


def model_config(options: Namespace, method: str) -> dict:
    """The network a run's settled ``options`` ask for, for a stage of ``method`` (the run's
    own, or a student's ``REMIX_METHOD``); ``mask`` only for PU, the one method with a
    choice of mask."""
    config = {key: method if key == "method" else getattr(options, key) for key in MODEL_KEYS}
    return {**config, "mask": config["mask"] if method == "PU" else None}


def completed_config(config: dict) -> dict:
    """A ``model_config`` with what checkpoints written before ``--mask``, ``--input_norm``,
    ``--sample_rate`` and ``--noise_reference`` existed did not store: PU's binary mask, no
    input normalisation, 16 kHz, no reference."""
    return {"mask": PU_MASK_BEFORE_CHOICE if config["method"] == "PU" else None,
            "input_norm": INPUT_NORM_BEFORE_CHOICE, "sample_rate": RATE_BEFORE_CHOICE,
            "noise_reference": "off", **config}


def spectral_of(config: dict) -> Spectral:
    """The STFT and input a ``model_config`` was trained with."""
    config = completed_config(config)
    return Spectral(config["frame_len"], config["feature"], sample_rate=config["sample_rate"],
                    reference=config["noise_reference"] == "on")


def build_model(config: dict) -> nn.Sequential:
    """The CNN described by a checkpoint's ``model_config`` (method, blocks, fcblocks,
    channels, droprate, regulariser, input_norm, frame_len)."""
    method = METHODS[config["method"]]
    norm = {"frequency": lambda: FrequencyNorm(spectral_of(config).bins),
            "clip": ClipNorm, "none": lambda: None}[completed_config(config)["input_norm"]]
    return build_cnn(config["blocks"], config["fcblocks"], config["channels"], config["droprate"],
                     method.out_channels, method.out_kernel, config["regulariser"], norm(),
                     in_channels=1 + spectral_of(config).reference)


def mask_weights(teacher: dict, student: nn.Sequential) -> dict[str, torch.Tensor]:
    """The weights of a one-output mask network (a student, or a model adapted to one
    recording) that starts as the checkpoint dict ``teacher`` (same body): every layer below
    the output copied; the output layer turned into one whose sigmoid is the teacher's mask.
    A PU teacher's 1x1 noise logit y becomes the 3x3 kernel's centre tap of -y / s, s its
    mask scale (so sigmoid(-y / s) is kept exactly); a MixIT teacher gives its speech
    channel; a NyTT teacher its own layer."""
    output = f"{len(student) - 1}."
    weights = {key: value for key, value in teacher["model"].items()
               if not key.startswith(output)}
    weight, bias = teacher["model"][output + "weight"], teacher["model"][output + "bias"]
    config = teacher["model_config"]
    if config["method"] == "PU":
        scale = -1.0 / (teacher.get("mask_scale") or 1.0)
        kernel = student[-1].kernel_size
        centred = torch.zeros(1, weight.shape[1], *kernel, dtype=weight.dtype)
        centred[:, :, kernel[0] // 2, kernel[1] // 2] = weight[:1, :, 0, 0] * scale
        weight, bias = centred, bias[:1] * scale
    else:
        weight, bias = weight[:1], bias[:1]
    return {**weights, output + "weight": weight, output + "bias": bias}


def remix_network(state: dict) -> nn.Sequential:
    """A ``REMIX_METHOD`` network that starts as the model of checkpoint dict ``state``
    (``mask_weights``), to be trained on its estimates plus noise: a student, or a model
    adapted to one recording."""
    network = build_model({**state["model_config"], "method": REMIX_METHOD, "mask": None})
    network.load_state_dict(mask_weights(state, network))
    return network


def model_from_state(state: dict, device: torch.device) -> tuple[nn.Module, Method, Spectral]:
    """The inference model, its method (with its mask scale) and its STFT of a loaded
    checkpoint dict."""
    config = state["model_config"]
    model = build_model(config)
    model.load_state_dict(state["model"])
    spectral = spectral_of(config)
    return for_inference(model, device), method_for(config, state.get("mask_scale")), spectral


@torch.no_grad()
def enhance(model: nn.Module, method: Method, spectral: Spectral, noisy: torch.Tensor,
            reference: torch.Tensor | None = None, profile: torch.Tensor | None = None
            ) -> torch.Tensor:
    """(B, T) noisy waveforms -> (B, T) enhanced waveforms (model in eval mode), heard
    against their (B, T') ``reference`` waveforms or an already measured (B, 2, F)
    ``profile`` (neither: their quietest frames)."""
    spec = spectral.stft(noisy)
    magnitude = spec.abs()
    if profile is None:
        profile = spectral.profile_of(magnitude, reference)
    logits = model(spectral.feature_of(magnitude, profile)).float()
    return spectral.istft(method.mask(logits) * spec, noisy.shape[-1])


def receptive_frames(model: nn.Module) -> int:
    """Frames on each side of a frame that can change the network's output there."""
    return sum((m.kernel_size[1] - 1) // 2 for m in model.modules() if isinstance(m, nn.Conv2d))


@torch.no_grad()
def enhance_long(model: nn.Module, method: Method, spectral: Spectral, wave: torch.Tensor,
                 chunk_frames: int = 2000, reference: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Enhance a (T,) waveform chunk by chunk; equal to enhancing it whole.

    Each chunk of ``chunk_frames`` hops is processed with a margin of the receptive field
    plus one frame on both sides, aligned to the hop grid, and only its middle is kept.
    A network with the reference channel hears every chunk against one profile: of the
    (T',) ``reference`` waveform, or of the whole wave's quietest frames.
    """
    hop, total = spectral.hop, wave.shape[-1]
    margin = (receptive_frames(model) + 2) * hop + spectral.frame_len
    margin = math.ceil(margin / hop) * hop
    step = chunk_frames * hop
    profile = None
    if spectral.reference:
        profile = spectral.profile_of(spectral.stft(wave[None]).abs(),
                                      None if reference is None else reference[None])
    if total <= step + 2 * margin:
        return enhance(model, method, spectral, wave[None], profile=profile)[0]
    out = torch.empty_like(wave)
    for start in range(0, total, step):
        stop = min(start + step, total)
        lo, hi = max(0, start - margin), min(total, stop + margin)
        piece = enhance(model, method, spectral, wave[None, lo:hi], profile=profile)[0]
        out[start:stop] = piece[start - lo:stop - lo]
    return out
