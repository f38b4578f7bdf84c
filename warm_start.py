"""Training that starts from trained weights (``--init_from CKPT``) instead of random ones,
and the starter model shipped in ``pretrained/`` (``STARTER``).

The network of the checkpoint and the one the run asks for must be the same below the
output layer; the output layer is carried over only when the method is the same, since
another method's output means something else (PN's is a speech mask, PU's a noise logit,
MixIT's three masks). The optimiser, the mask scale and the epoch count start afresh.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import checkpoint
from methods import BODY_KEYS, completed_config
from runtime import UsageError

STARTER = Path(__file__).resolve().parent / "pretrained" / "pulse_starter.pt"
"""The model ``--enhance`` uses without ``--checkpoint`` and ``--init_from`` can adapt:
PN on real speech in real ambience (``benchmarks/starter.py``; docs/starter.md)."""

@dataclass(frozen=True)
class StartingPoint:
    """The weights a run starts from, and where they came from."""

    path: Path
    method: str
    weights: dict[str, torch.Tensor]

    def record(self, method: str) -> dict:
        """What results.json says of the starting point of a run of ``method``."""
        return {"path": str(self.path), "method": self.method,
                "output_layer": "copied" if method == self.method else "new"}


def starting_point(path: Path, config: dict) -> StartingPoint:
    """The weights of checkpoint ``path`` for a network of ``config`` (a ``model_config``),
    or a UsageError naming every option on which the two networks differ."""
    state = checkpoint.load(path)
    source = completed_config(state["model_config"])
    differs = [f"--{key} {source[key]} there, {config[key]} here" for key in BODY_KEYS
               if source.get(key) != config[key]]
    if differs:
        raise UsageError(f"--init_from {path}: its network differs from this run's "
                         f"({'; '.join(differs)}); give the same options, or another "
                         "checkpoint")
    return StartingPoint(path, source["method"], state["model"])


def load_into(model: nn.Sequential, start: StartingPoint, method: str) -> None:
    """Copy ``start``'s weights into ``model`` of ``method``: every layer, the output layer
    (the last) only when the method is the same."""
    output = f"{len(model) - 1}."  # the output layer's state-dict prefix
    weights = start.weights
    if start.method != method:
        weights = {key: value for key, value in weights.items() if not key.startswith(output)}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not key.startswith(output) for key in missing):
        raise UsageError(f"--init_from {start.path}: its weights do not fit this network "
                         f"(missing {missing}, unexpected {unexpected})")
