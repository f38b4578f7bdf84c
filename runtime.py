"""Process set-up shared by training and enhancement: device, processes and loader
workers per machine, CPU allocator, logging, and the error type for requests that cannot
be met."""
from __future__ import annotations

import ctypes
import logging
import os
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


def local_processes() -> int:
    """Training processes sharing this machine's cores."""
    for key in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(key, "").split("(")[0]
        if value.isdigit():
            return int(value)
    return 1


def default_num_workers() -> int:
    """Loader workers per training process: half its share of the cores, 1 to 8.

    One worker builds about 300 training lines of 3.125 s clips a second on a GPU host's
    core. For an H100 training the blocks-2 CNN in bf16 (9 ms a step of 8 lines), 4 workers
    (7.9 ms a batch) barely keep pace and 8 (3.1 ms) leave a margin.
    """
    return min(8, max(1, (os.cpu_count() or 2) // (2 * max(1, local_processes()))))


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
