"""Where one epoch of a real-audio PU run spends its time, on the machine it runs on.

It builds the run as ``pulse.py`` does (``benchmarks/real_audio.py``'s corpus and
settings), then, on one epoch each:

- the loader workers' share: every training and validation example built in this
  process (reading, resampling, mixing), the work the workers do beside training;
- the training epoch, wall time, and the time the training loop waited for its batches;
- PyTorch's profiler over a training epoch and a validation pass, its operators'
  self time grouped into convolutions, BatchNorm, ReLU, STFT, the loss and the rest.

    python benchmarks/profile_epoch.py                      # seen protocol, defaults
    python benchmarks/profile_epoch.py --precision bf16
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dataset  # noqa: E402
import distributed  # noqa: E402
import pulse  # noqa: E402
import recipes  # noqa: E402
import stages  # noqa: E402
import train  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.real_audio import SETTINGS, build_corpus, config  # noqa: E402
from runtime import keep_freed_memory  # noqa: E402

GROUPS = (("convolution", ("convolution", "conv2d", "mkldnn_conv")),
          ("BatchNorm", ("batch_norm",)), ("ReLU", ("relu", "threshold", "clamp_min")),
          ("STFT and features", ("stft", "fft", "abs", "hamming", "div", "pow")),
          ("loss and mask", ("sigmoid", "median", "softplus", "where", "sum", "mul", "sub",
                             "neg", "add", "mean")),
          ("optimizer", ("adam", "lerp", "addcdiv", "sqrt", "_foreach")),
          ("copies and layout", ("copy", "contiguous", "clone", "to", "cat", "empty")))


def group_of(name: str) -> str:
    lowered = name.lower()
    for group, keys in GROUPS:
        if any(key in lowered for key in keys):
            return group
    return "other"


def profiled(run) -> tuple[float, dict[str, float]]:
    """(wall seconds, self CPU seconds per operator group) of ``run()``."""
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    wall = time.perf_counter() - started
    groups: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith("aten::") or "Optimizer" in event.key:
            groups[group_of(event.key)] += event.self_cpu_time_total / 1e6
    return wall, dict(groups)


def table(title: str, wall: float, groups: dict[str, float]) -> None:
    print(f"\n{title}: {wall:.2f} s wall")
    total = sum(groups.values())
    for name, seconds in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"  {name:18s} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")


class Waiting:
    """A loader that adds up the time its user waits for each batch in ``seconds``."""

    def __init__(self, loader):
        self.loader, self.seconds = loader, 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        batches = iter(self.loader)
        while True:
            started = time.perf_counter()
            batch = next(batches, None)
            self.seconds += time.perf_counter() - started
            if batch is None:
                return
            yield batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=("seen", "unseen"), default="seen")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    args = p.parse_args()
    corpus_dir = build_corpus(args.data.resolve())
    os.chdir(corpus_dir)
    keep_freed_memory()
    device = torch.device("cpu")
    run = recipes.resolve(pulse.parse_args([
        *SETTINGS, "--precision", args.precision, "--train_fname",
        config(corpus_dir, args.protocol, "train"), "--val_fname",
        config(corpus_dir, args.protocol, "val"), "--test_fname",
        config(corpus_dir, args.protocol, "test")]), device, trains_on_recordings=False)
    corpus = dataset.Corpus(None, None, run.wav_len, run.resampler, sample_rate=run.sample_rate)
    lines = stages.read_lines(run, corpus, test_given=True)
    trainer = train.build_trainer(run, train.Stage(0, run.method, run.epochs),
                                  distributed.Launch(), device, run.prior)
    examples = train.training_set(run, lines["train"], corpus, trainer.method,
                                  dataset.training_spans(lines["train"], corpus.clip_s))
    loader, sampler = trainer.train_loader(examples)
    _, val_loaders = train.validation_loaders(run, trainer, lines["val"], corpus)
    print(f"{cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{train.loader_workers(run)} loader worker(s); precision {run.precision}, "
          f"channels_last {run.channels_last}; {len(examples)} training lines, "
          f"{len(lines['val'])} validation lines")

    started = time.perf_counter()
    for i in range(len(examples)):
        examples[i]
    val_set = dataset.ExampleSet(lines["val"], corpus)
    for i in range(len(val_set)):
        val_set[i]
    print(f"loader work of one epoch, in one process: {time.perf_counter() - started:.2f} s "
          "(training and validation examples)")

    sampler.set_epoch(1)
    trainer.train_epoch(loader, 1)  # warm-up: workers start, kernels load
    sampler.set_epoch(2)
    started, waiting = time.perf_counter(), Waiting(loader)
    trainer.train_epoch(waiting, 2)
    epoch = time.perf_counter() - started
    print(f"training epoch: {epoch:.2f} s wall, of which {waiting.seconds:.2f} s waiting for "
          "batches; "
          f"{len(examples) * trainer.method.clips_per_line / epoch:.1f} clips/s")
    started = time.perf_counter()
    trainer.evaluate(val_loaders["val_si_snri_db"], "validation")
    val_seconds = time.perf_counter() - started
    print(f"validation: {val_seconds:.2f} s wall, {len(lines['val']) / val_seconds:.1f} clips/s")

    sampler.set_epoch(3)
    table("training epoch under the profiler", *profiled(lambda: trainer.train_epoch(loader, 3)))
    table("validation under the profiler",
          *profiled(lambda: trainer.evaluate(val_loaders["val_si_snri_db"], "validation")))


if __name__ == "__main__":
    main()
