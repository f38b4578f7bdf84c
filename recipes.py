"""The two recipes, and the one function that settles every option of a training run.

``--recipe reference`` makes every choice the reference release makes; ``--recipe pulse``
(the default) makes this project's, chosen on real recordings (SPEC section 9). An option
given on the command line overrides its recipe's value. ``resolve`` runs once, after
the training lines are read, and returns the run's ``Options``, which nothing changes
afterwards.
"""
from __future__ import annotations

import argparse

import torch

from audio import samples
from dataset import CLIP_S
from methods import METHODS
from runtime import UsageError
from spectral import FRAME_S, frame_samples

RECIPES: dict[str, dict[str, str]] = {
    "pulse": {"mask": "soft", "risk_norm": "weight", "noise_level": "paired",
              "regulariser": "auto", "precision": "auto", "noisy_fields": "2-3",
              "pu_batches": "paired", "nn_rule": "kiryo", "mixit_loss": "clip",
              "mixit_scale": "shared", "input_norm": "frequency", "batch_order": "epoch",
              "si_snr": "bounded", "resampler": "soxr", "noise_excerpts": "auto",
              "noise_reference": "off"},
    "reference": {"mask": "binary", "risk_norm": "count", "noise_level": "unit",
                  "regulariser": "auto", "precision": "fp32", "noisy_fields": "5-6",
                  "pu_batches": "shuffled", "nn_rule": "reference", "mixit_loss": "reference",
                  "mixit_scale": "unit", "input_norm": "none", "batch_order": "fixed",
                  "si_snr": "reference", "resampler": "sinc", "noise_excerpts": "fixed",
                  "noise_reference": "off"},
}
"""Each recipe's value of every option it sets; ``regulariser auto`` is the method's own
under the recipe (``methods.Method.regulariser``), ``noise_excerpts auto`` the method's
``methods.Method.noise_excerpts``."""
RECIPE_OPTIONS = tuple(RECIPES["pulse"])

DEFAULT_PRIOR = 0.6
UNWEIGHTED_PU = "PU_no_weight"
"""The reference release's name for PU with an unweighted loss (--p 0)."""
DEMO_SETTINGS = dict(epochs=12, batch_size=8, lr_per_GPU=1e-3, blocks=1)
"""Demo-sized settings that ``--demo`` uses for options left at their defaults."""
DEMO_CLIP_S, DEMO_FRAME_S = 1.0, 0.032
"""The demo's clip and frame (16000 and 512 samples at 16 kHz), unless given."""
STUDENT_TEACHERS = tuple(name for name, method in METHODS.items() if method.teaches)
"""The methods a student can learn from: those that need no clean speech."""
DEFAULT_TEST_FNAME = "voicebank_test_set.txt"


def cpu_has_bf16_units() -> bool:
    """Whether this CPU computes bf16 natively (AMX tiles or AVX-512 BF16)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def method_of(name: str) -> str:
    """The method ``--method name`` trains: ``UNWEIGHTED_PU`` is PU (with --p 0)."""
    return "PU" if name == UNWEIGHTED_PU else name


def auto_precision(device: torch.device, bf16_units: bool | None = None) -> tuple[str, str]:
    """(precision, why) of ``--precision auto`` on ``device``: bf16 autocast on CUDA and on
    CPUs with bf16 units, where it halves a real-audio PU run at no measured cost in
    quality (docs/performance.md); fp32 elsewhere, where bf16 is emulated and slower."""
    if device.type == "cuda":
        return "bf16", "bf16 autocast on CUDA"
    units = cpu_has_bf16_units() if bf16_units is None else bf16_units
    if units:
        return "bf16", "bf16 autocast: this CPU has bf16 units (AMX or AVX-512 BF16)"
    return "fp32", "fp32: this CPU has no bf16 units (AMX or AVX-512 BF16)"


def trains_channels_last(device: torch.device) -> bool:
    """Whether channels-last training is the faster memory format on ``device``.

    On CUDA it is the layout tensor-core convolutions prefer. Measured with the blocks-2
    CNN on CPUs: faster on an AVX-512 one, 1.1x slower on an AVX2-only one, whose oneDNN
    channels-last weight gradient is 3x slower.
    """
    return device.type == "cuda" or torch.backends.cpu.get_cpu_capability().startswith("AVX512")


class Options(argparse.Namespace):
    """A training run's options as ``resolve`` settled them: read-only, so every part of
    the run sees the same values (an attempt to change one raises AttributeError)."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"option {name!r} was settled by recipes.resolve and is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"option {name!r} was settled by recipes.resolve and is read-only")


def resolve(args: argparse.Namespace, device: torch.device,
            trains_on_recordings: bool) -> Options:
    """Every option of a training run settled, ``args`` left as it is: the method (PU for
    ``UNWEIGHTED_PU``, with --p 0), the frame and the clip in samples at the run's rate
    (their durations kept unless given), the recipe's choices, those that depend on the
    device, and those that depend on the training data. The result records the recipe's
    choices in ``recipe_choices`` and the options given explicitly in ``overrides``.
    ``prior`` stays ``auto`` only where PU estimates it. A clip shorter than a frame is a
    UsageError."""
    given, recipe = vars(args), RECIPES[args.recipe]
    settled = {**given, **{key: recipe[key] for key in RECIPE_OPTIONS if given[key] is None}}
    method = settled["method"] = method_of(args.method)
    if args.method == UNWEIGHTED_PU:
        settled["p"] = 0.0
    clip_s, frame_s = (DEMO_CLIP_S, DEMO_FRAME_S) if args.demo else (CLIP_S, FRAME_S)
    if settled["frame_len"] is None:
        settled["frame_len"] = frame_samples(frame_s, args.sample_rate)
    if settled["wav_len"] is None:
        settled["wav_len"] = samples(clip_s, args.sample_rate)
    if settled["wav_len"] < settled["frame_len"]:
        raise UsageError(f"--wav_len {settled['wav_len']} is shorter than one frame "
                         f"(--frame_len {settled['frame_len']})")
    if settled["regulariser"] == "auto":
        settled["regulariser"] = METHODS[method].regulariser[args.recipe]
    if settled["noise_excerpts"] == "auto":
        settled["noise_excerpts"] = METHODS[method].noise_excerpts
    if settled["precision"] == "auto":
        settled["precision"] = auto_precision(device)[0]
    if settled["channels_last"] is None:
        settled["channels_last"] = trains_channels_last(device)
    if settled["prior"] is None:
        settled["prior"] = "auto" if trains_on_recordings else DEFAULT_PRIOR
    if settled["prior"] == "auto" and method != "PU":
        settled["prior"] = DEFAULT_PRIOR  # unused: only PU has a class prior
    if settled["student"] is None:
        settled["student"] = METHODS[method].student_rounds if args.recipe == "pulse" else 0
    if settled["remix_loss"] == "auto":
        settled["remix_loss"] = METHODS[method].remix_loss
    if settled["student_epochs"] is None:
        settled["student_epochs"] = settled["epochs"]
    if settled["test_fname"] is None and not trains_on_recordings:
        settled["test_fname"] = DEFAULT_TEST_FNAME
    return Options(**settled, overrides=sorted(key for key in RECIPE_OPTIONS
                                               if given[key] is not None),
                   recipe_choices={key: settled[key] for key in RECIPE_OPTIONS})


def summary(args: Options, device: torch.device) -> str:
    """One line for the log: the recipe, its resolved choices, those given explicitly, and
    why the run has its precision."""
    given = f" (given: {', '.join(args.overrides)})" if args.overrides else ""
    if "precision" in args.overrides:
        why = f"--precision {args.precision}"
    elif RECIPES[args.recipe]["precision"] == "auto":
        why = auto_precision(device)[1]
    else:
        why = f"{args.precision}, the {args.recipe} recipe's"
    choices = ", ".join(f"{key} {value}" for key, value in args.recipe_choices.items())
    return f"recipe {args.recipe}: {choices}{given}; precision: {why}"
