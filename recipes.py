"""The two recipes, and the one function that settles every default of a training run.

``--recipe reference`` makes every choice the reference release makes; ``--recipe pulse``
(the default) makes this project's, chosen on real recordings (SPEC section 9). An option
given on the command line overrides its recipe's value.
"""
from __future__ import annotations

import argparse

import torch

from methods import METHODS

RECIPES: dict[str, dict[str, str]] = {
    "pulse": {"mask": "soft", "risk_norm": "weight", "noise_level": "paired",
              "regulariser": "auto", "precision": "auto", "noisy_fields": "2-3",
              "pu_batches": "paired", "nn_rule": "kiryo", "mixit_loss": "clip",
              "mixit_scale": "shared", "input_norm": "frequency"},
    "reference": {"mask": "binary", "risk_norm": "count", "noise_level": "unit",
                  "regulariser": "auto", "precision": "fp32", "noisy_fields": "5-6",
                  "pu_batches": "shuffled", "nn_rule": "reference", "mixit_loss": "reference",
                  "mixit_scale": "unit", "input_norm": "none"},
}
"""Each recipe's value of every option it sets; ``regulariser auto`` is the method's own
under the recipe (``methods.Method.regulariser``)."""
RECIPE_OPTIONS = tuple(RECIPES["pulse"])

DEFAULT_PRIOR = 0.6
DEFAULT_TEST_FNAME = "voicebank_test_set.txt"


def cpu_has_bf16_units() -> bool:
    """Whether this CPU computes bf16 natively (AMX tiles or AVX-512 BF16)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


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


def resolve(args: argparse.Namespace, device: torch.device,
            trains_on_recordings: bool) -> argparse.Namespace:
    """Settle every option left unset (None): the recipe's choices, those that depend on the
    device, and those that depend on the training data. Records the recipe's choices in
    ``args.recipe_choices`` and the options given explicitly in ``args.overrides``."""
    recipe = RECIPES[args.recipe]
    args.overrides = sorted(key for key in RECIPE_OPTIONS if getattr(args, key) is not None)
    for key in RECIPE_OPTIONS:
        if getattr(args, key) is None:
            setattr(args, key, recipe[key])
    if args.regulariser == "auto":
        args.regulariser = METHODS[args.method].regulariser[args.recipe]
    if args.precision == "auto":
        args.precision = auto_precision(device)[0]
    if args.channels_last is None:
        args.channels_last = trains_channels_last(device)
    if args.prior is None:
        args.prior = "auto" if trains_on_recordings else DEFAULT_PRIOR
    if args.test_fname is None and not trains_on_recordings:
        args.test_fname = DEFAULT_TEST_FNAME
    args.recipe_choices = {key: getattr(args, key) for key in RECIPE_OPTIONS}
    return args


def summary(args: argparse.Namespace, device: torch.device) -> str:
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
