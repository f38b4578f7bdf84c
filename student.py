"""The student stage (``--student ROUNDS``, SPEC section 10): a teacher's estimates of the
training clips become the targets of a supervised student, heard through real noise.

After the teacher (PU, MixIT or NyTT) is selected, it enhances every training noisy clip
once (``write_estimates``); the student, a NyTT network that starts as its teacher
(``methods.remix_network``; a fresh start lost 0.24 dB, docs/real-audio.md), then learns
(estimate + g * n -> estimate) by ``--remix_loss`` (``methods.RemixObjective``), n an
excerpt of the training noise recordings drawn afresh each epoch inside the span the
training lines read (never a validation or test excerpt) and g bringing it to the level
``--remix_level`` names, by default that of the noise inside the clip (``RemixSet``). The
selected student can teach the next round.
"""
from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

import checkpoint
import dataset
import distributed
from methods import (REMIX_METHOD, Method, enhance, first_reference, model_from_state,
                     remix_network)
from noise_spans import NoiseSpans
from recipes import Options
from report import Scores
from spectral import Spectral
from train import (Stage, Trainer, build_trainer, loader_workers, on_device, train_stage,
                   training_lines)
from warm_start import StartingPoint

log = logging.getLogger("pulse")

TARGETS_GLOB = "student*_targets*.npy"
"""The estimates a run keeps while its student rounds train (removed at the end)."""


def targets_path(out_dir: Path, round_: int, split: str) -> Path:
    """Where round ``round_``'s teacher estimates of the ``split`` clips are kept."""
    return out_dir / f"student{round_}_{split}_targets.npy"


def levels_path(targets: Path) -> Path:
    """The per-clip noise levels kept beside ``targets`` (``REMIX_LEVELS``)."""
    return targets.with_name(targets.stem + "_noise_rms.npy")


REMIX_LEVELS = ("removed", "paired")
"""``--remix_level`` choices, the rms of the noise a student hears with each estimate: what
the teacher removed from the clip (noisy minus estimate; the default until it lost to
``paired``, kept to reproduce the figures measured with it), or the noise inside the clip
(the level of PU's paired noise examples: exact for config lines, estimated for recordings
lines). The columns of the levels file, in this order."""


@torch.no_grad()
def write_estimates(model: nn.Module, method: Method, spectral: Spectral,
                    clips: dataset.ExampleSet, path: Path, launch: distributed.Launch,
                    device: torch.device, batch_size: int,
                    autocast: Callable[[], AbstractContextManager], loader_options: dict
                    ) -> None:
    """The teacher's estimates of ``clips``' noisy clips (first items, heard against their
    references where the items have them) as a (N, T) float32
    .npy at ``path``, and beside it (``levels_path``) a (N, len(REMIX_LEVELS)) array of
    noise levels for each, in ``REMIX_LEVELS``' order: the rms of what the teacher removed
    (noisy minus estimate) and of the noise inside the clip (the rms of ``clips``' second
    items, noise examples at the paired level). Each
    process enhances its share into one memory-mapped file on the shared run folder; the
    file appears under its name only once complete, so a run stopped half-way computes it
    again."""
    count, length = len(clips), clips.corpus.wav_len
    partial = path.with_name(f".{path.stem}.tmp.npy")
    partial_levels = levels_path(partial)
    if launch.is_main:
        np.lib.format.open_memmap(partial, "w+", np.float32, (count, length)).flush()
        np.lib.format.open_memmap(partial_levels, "w+", np.float32,
                                  (count, len(REMIX_LEVELS))).flush()
    distributed.barrier()
    estimates = np.load(partial, mmap_mode="r+")
    levels = np.load(partial_levels, mmap_mode="r+")
    mine = distributed.shard(count, launch)
    loader = DataLoader(Subset(clips, mine), batch_size=batch_size, **loader_options)
    done = 0
    for batch in loader:
        noisy, paired, references = on_device(batch, device)
        with autocast():
            estimate = enhance(model, method, spectral, noisy,
                               first_reference(references)).float()
        rows = mine[done:done + len(noisy)]
        estimates[rows] = estimate.cpu().numpy()
        rms = {"removed": noisy - estimate, "paired": paired}
        levels[rows] = torch.stack([rms[level].pow(2).mean(dim=-1).sqrt().cpu()
                                    for level in REMIX_LEVELS], 1).numpy()
        done += len(noisy)
    estimates.flush()
    levels.flush()
    del estimates, levels
    distributed.barrier()
    if launch.is_main:
        partial_levels.replace(levels_path(path))
        partial.replace(path)
    distributed.barrier()


class RemixSet(Dataset):
    """A student's training (or validation) pairs: (target, noise) float32 tensors of
    ``wav_len`` samples, the target the teacher's estimate of line k's noisy clip, the
    noise an excerpt of line k's noise example file (fields 5-6 of a training line, the
    noise recording of a recordings line) brought to the rms ``level`` names
    (``REMIX_LEVELS``). With ``spans`` (the span of each noise file the training lines
    read) the excerpt starts anew at random inside it every time, drawn from NumPy's global
    generator; without, it is read where the line says. ``methods.RemixObjective`` adds
    the two. With ``references``, items also hold (2, T) references: zeros for the target,
    and for the noise another excerpt of its file at its level, inside the spans (the
    lines' own without ``spans``), never overlapping it."""

    def __init__(self, lines: list[dataset.Line], corpus: dataset.Corpus, targets: Path,
                 level: str, spans: NoiseSpans | None = None, references: bool = False):
        unpaired = [line.origin for line in lines
                    if isinstance(line, dataset.ConfigLine) and line.extra_noise is None]
        if unpaired:
            raise dataset.DataError(f"{unpaired[0]}: a student needs a noise example on every "
                                    "line (6-field lines or recordings lines)")
        self.lines, self.corpus, self.level, self.spans = lines, corpus, level, spans
        self.references = references
        self.reference_spans = (spans if spans is not None
                                else dataset.training_spans(lines, corpus.clip_s))
        self.targets_file = targets
        self.targets: np.ndarray | None = None  # memory-mapped in each loader worker
        self.levels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lines)

    def noise_example(self, line: dataset.Line, rng: np.random.Generator) -> list[np.ndarray]:
        """A unit-std excerpt of ``line``'s noise example file and, with ``references``, its
        reference (zeros where the spans hold none)."""
        if self.spans is not None:
            line = dataset.fresh_noise_line(line, self.spans, rng, self.corpus.clip_s)
        name, start_s = ((line.noise, line.noise_start_s)
                         if isinstance(line, dataset.RecordingLine)
                         else (line.extra_noise, line.extra_noise_start_s))
        wave, path = self.corpus.excerpt(name, self.corpus.noise_root, start_s, "loop")
        waves = [dataset.standardise(wave, path)]
        if self.references:
            waves.append(dataset.drawn_reference(self.corpus, self.reference_spans, name,
                                                 start_s, "loop", rng))
        return waves

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        if self.targets is None:
            self.targets = np.load(self.targets_file, mmap_mode="r")
            self.levels = np.load(levels_path(self.targets_file), mmap_mode="r")
        line = self.lines[index]
        level = float(self.levels[index][REMIX_LEVELS.index(self.level)])
        rng = np.random.default_rng(np.random.randint(2 ** 32) if self.spans is not None else index)
        try:
            noise, *reference = (wave * level for wave in self.noise_example(line, rng))
        except dataset.DataError as err:
            raise dataset.DataError(f"{line.origin}: {err}") from None
        target = np.array(self.targets[index], dtype=np.float32)
        item = torch.from_numpy(target), torch.from_numpy(noise).float()
        if not reference:
            return item
        return (*item, torch.from_numpy(np.stack([np.zeros_like(noise), reference[0]])).float())


def teacher_estimates(opts: Options, launch: distributed.Launch, device: torch.device,
                      teacher: dict, lines: list[dataset.Line], corpus: dataset.Corpus,
                      path: Path) -> Path:
    """``path``, holding the ``teacher`` checkpoint's estimates of the noisy clips of
    ``lines`` (``write_estimates``), computed unless a stopped run left them."""
    if not path.exists():
        model, method, spectral = model_from_state(teacher, device)
        started = time.time()
        write_estimates(
            model, method, spectral, dataset.ExampleSet(
                lines, corpus, "noise_paired",
                references="drawn" if opts.noise_reference == "on" else "none"), path,
            launch, device, opts.eval_batch_size or opts.batch_size,
            lambda: torch.autocast(device.type, torch.bfloat16, opts.precision == "bf16"),
            dict(num_workers=loader_workers(opts)))
        log.info("teacher estimates of %d clips in %s (%.1f s)", len(lines), path.name,
                 time.time() - started)
    return path


def student_round(opts: Options, stage: Stage, teacher_stage: Stage,
                  launch: distributed.Launch, device: torch.device,
                  lines: dict[str, list[dataset.Line]], corpus: dataset.Corpus, out_dir: Path,
                  spans: NoiseSpans, test_set: dataset.ExampleSet | None
                  ) -> tuple[Trainer, Scores]:
    """Student round ``stage``: the selected model of ``teacher_stage`` enhances every
    training clip once; a student learns those estimates heard through fresh training noise
    inside ``spans``, and is selected and tested as its teacher was."""
    teacher_file = teacher_stage.kept(out_dir)
    teacher = checkpoint.load(teacher_file)
    train_lines = training_lines(opts, lines["train"])
    targets = teacher_estimates(opts, launch, device, teacher, train_lines, corpus,
                                targets_path(out_dir, stage.index, "train"))
    start = StartingPoint(teacher_file, REMIX_METHOD, remix_network(teacher).state_dict())
    trainer = build_trainer(opts, stage, launch, device, teacher["prior"], start)

    def remixed_validation() -> Dataset:
        return RemixSet(lines["val"], corpus, teacher_estimates(
            opts, launch, device, teacher, lines["val"], corpus,
            targets_path(out_dir, stage.index, "val")), opts.remix_level,
            references=opts.noise_reference == "on")

    history = [row if row.get("stage") else {"stage": teacher_stage.name, **row}
               for row in teacher["history"]]  # a teacher trained without --student
    log.info("student round %d: %d %s epochs from %s's estimates, starting as it", stage.index,
             stage.epochs, stage.method, teacher_file.name)
    training = RemixSet(train_lines, corpus, targets, opts.remix_level, spans,
                        references=opts.noise_reference == "on")
    scores = train_stage(trainer, training, lines["val"], corpus, out_dir, test_set, start,
                         history, remixed_validation)
    return trainer, scores
