"""Process-group set-up for data-parallel training under Slurm or torchrun."""
from __future__ import annotations

import gc
import os
import re
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.distributed as dist

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


class LaunchError(Exception):
    """The launch environment is incomplete or malformed."""


def expand_hostlist(hostlist: str) -> list[str]:
    """Expand a Slurm compressed host list: ``node[01-03,07],gpu5`` -> node01 ... gpu5.

    Zero padding of ranges is kept; several bracket groups in one name are expanded
    left to right.
    """
    hosts: list[str] = []
    for name in _split_top_level(hostlist):
        hosts.extend(_expand_name(name, hostlist))
    if not hosts:
        raise LaunchError(f"empty host list {hostlist!r}")
    return hosts


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise LaunchError(f"unbalanced ']' in host list {text!r}")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0:
        raise LaunchError(f"unbalanced '[' in host list {text!r}")
    parts.append(current)
    if any(not part.strip() for part in parts):
        raise LaunchError(f"empty host name in host list {text!r}")
    return [part.strip() for part in parts]


def _expand_name(name: str, whole: str) -> list[str]:
    open_at = name.find("[")
    if open_at < 0:
        return [name]
    close_at = name.index("]", open_at)
    head, body, tail = name[:open_at], name[open_at + 1:close_at], name[close_at + 1:]
    if "[" in body:
        raise LaunchError(f"nested brackets in host list {whole!r}")
    numbers: list[str] = []
    for item in body.split(","):
        match = _RANGE.match(item.strip())
        if not match:
            raise LaunchError(f"bad range {item!r} in host list {whole!r}")
        low, high = match.group(1), match.group(2) or match.group(1)
        if int(high) < int(low):
            raise LaunchError(f"descending range {item!r} in host list {whole!r}")
        width = len(low)
        numbers.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1))
    return [head + number + rest for number in numbers for rest in _expand_name(tail, whole)]


@dataclass(frozen=True)
class Launch:
    """Where this process sits in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    launcher: str = "none"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int(env: Mapping[str, str], key: str) -> int:
    try:
        return int(env[key])
    except ValueError:
        raise LaunchError(f"{key}={env[key]!r} is not an integer") from None


def detect_launch(env: Mapping[str, str] = os.environ) -> Launch:
    """Read rank and master from torchrun's or Slurm's variables, else one process.

    torchrun is checked first, since it may run inside a Slurm allocation. Under
    Slurm the master is the first host of the step's nodes (SLURM_STEP_NODELIST, set by
    srun; else SLURM_JOB_NODELIST) and the port is MASTER_PORT, or one every node of the
    step agrees on and two steps of a job do not share: 15000 + (10 * job id + step id)
    modulo 20000.
    """
    if "RANK" in env and "WORLD_SIZE" in env:
        return Launch(_int(env, "RANK"), _int(env, "LOCAL_RANK") if "LOCAL_RANK" in env else 0,
                      _int(env, "WORLD_SIZE"), env.get("MASTER_ADDR", "127.0.0.1"),
                      _int(env, "MASTER_PORT") if "MASTER_PORT" in env else 29500, "torchrun")
    if "SLURM_PROCID" in env:
        nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST")
        missing = [k for k, present in (("SLURM_NTASKS", "SLURM_NTASKS" in env),
                                        ("SLURM_JOB_NODELIST", nodelist is not None))
                   if not present]
        if missing:
            raise LaunchError(f"Slurm launch without {', '.join(missing)}")
        if "MASTER_PORT" in env:
            port = _int(env, "MASTER_PORT")
        elif "SLURM_JOB_ID" in env:
            step = env.get("SLURM_STEP_ID", "0")
            port = 15000 + (10 * _int(env, "SLURM_JOB_ID")
                            + (int(step) if step.isdigit() else 0)) % 20000
        else:
            port = 29500
        return Launch(_int(env, "SLURM_PROCID"),
                      _int(env, "SLURM_LOCALID") if "SLURM_LOCALID" in env else 0,
                      _int(env, "SLURM_NTASKS"),
                      env.get("MASTER_ADDR") or expand_hostlist(nodelist)[0], port, "slurm")
    return Launch()


def init(launch: Launch, device: torch.device) -> None:
    """Join the process group (NCCL with a GPU, gloo otherwise) when world size > 1."""
    if launch.world_size <= 1:
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://{launch.master_addr}:{launch.master_port}",
                            rank=launch.rank, world_size=launch.world_size)


def shutdown() -> None:
    """Leave the process group; call it after dropping every DDP-wrapped model.

    Garbage is collected first: with gloo, tearing the group down while a DDP
    reducer is still alive can abort the interpreter at exit.
    """
    gc.collect()
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    if dist.is_initialized():
        dist.barrier()


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all processes (identity for one process)."""
    if dist.is_initialized():
        dist.all_reduce(values)
    return values


def gather(items: list) -> list:
    """Concatenate every process's list, on every process (the list itself for one process)."""
    if not dist.is_initialized():
        return items
    parts: list[list] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part]


def shard(count: int, launch: Launch) -> list[int]:
    """This rank's indices of ``count`` examples: every example on exactly one rank."""
    return list(range(launch.rank, count, launch.world_size))
