"""Process set-up shared by training and enhancement: device, CPU allocator, logging,
and the error type for requests that cannot be met."""
from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path

import torch

import distributed


class UsageError(Exception):
    """A request that cannot be met, worded for the user."""


def pick_device(choice: str, launch: distributed.Launch) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for but no CUDA device is available")
        device = torch.device("cuda", launch.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def keep_freed_memory() -> None:
    """Stop glibc from handing every large freed tensor back to the OS.

    By default each CNN activation (about 100 MB for a batch of published-size clips)
    is mmap-ed and unmapped again, so every layer of every step faults in fresh zeroed
    pages; keeping freed memory in the heap made CPU training 1.4-1.9x faster here.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.mallopt(-4, 0)  # M_MMAP_MAX: no mmap-ed chunks
    libc.mallopt(-1, 2 ** 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of free heap


LOG_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")


def setup_logging(is_main: bool, log_file: Path | None = None) -> None:
    """Log to stderr (rank 0 at INFO, others only warnings), and to ``log_file`` if given."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(LOG_FORMAT)
    logging.basicConfig(level=logging.INFO if is_main else logging.WARNING, handlers=handlers,
                        force=True)
