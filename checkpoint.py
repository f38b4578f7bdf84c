"""Everything PULSE writes to disk goes through here: atomic writes and checkpoints.

A checkpoint is one dict (``torch.save``): ``model`` (state dict), ``model_config`` (what
rebuilds the network: ``methods.build_model``), ``mask_scale`` (the soft PU mask's scale
fitted with these weights, else None), ``optimizer``, ``epoch``, ``best_by`` (the
best epoch so far by each selection criterion), ``history``, ``args`` and ``rng``.
``best.pt`` holds the selected epoch's weights, ``last.pt`` the last completed epoch, from
which ``--resume`` continues.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class CheckpointError(Exception):
    """A file that is not a readable PULSE checkpoint, worded for the user."""


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``, renamed onto it only when the block succeeds:
    a crash mid-write never leaves a half-written file. The suffix is kept (audio formats)."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def jsonable(values: dict) -> dict:
    """``values`` with paths as strings, for results.json and checkpoints' ``args``."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def save(state: dict, path: Path) -> None:
    """Write a checkpoint dict atomically."""
    import torch

    with atomic(path) as tmp:
        torch.save(state, tmp)


def load(path: Path) -> dict:
    """A checkpoint written by pulse.py (on the CPU), or a CheckpointError saying why not."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch.load raises anything from OSError to unpickling errors
        raise CheckpointError(f"{path}: not a PULSE checkpoint ({err})") from None
    if not isinstance(state, dict) or not {"model", "model_config"} <= state.keys():
        raise CheckpointError(f"{path}: not a PULSE checkpoint (no model or model_config)")
    return state
