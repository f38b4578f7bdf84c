"""PULSE: speech enhancement learnt from noisy speech and noise alone (PU learning),
with supervised learning (PN) and MixIT as baselines.

    python pulse.py --demo                        # built-in demo corpus, no download
    python pulse.py --method PU --lr_per_GPU 0.000037 --blocks 2   # VoiceBank+DEMAND

Data flow: config line -> waveforms (loader workers) -> device -> STFT features
-> CNN -> mask -> inverse STFT -> SI-SNRi. See README.md.
"""
from __future__ import annotations

import argparse
import csv
import ctypes
import json
import logging
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm import tqdm

import dataset
from dataset import atomic
import distributed
import quality
from methods import METHODS, Method, build_model, enhance, read_checkpoint
from metric import si_snr
from model import for_inference
from spectral import FEATURES, Spectral

log = logging.getLogger("pulse")


class UsageError(Exception):
    """A request that cannot be met, worded for the user."""


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
"""``torch.compile`` modes that ``--compile`` accepts."""
DEMO_SETTINGS = dict(epochs=12, batch_size=8, wav_len=32000, frame_len=512, lr_per_GPU=1e-3)
"""Demo-sized settings that ``--demo`` uses for options left at their defaults."""
MODEL_KEYS = ("method", "blocks", "fcblocks", "channels", "droprate", "regulariser", "frame_len",
              "feature")
"""Arguments that define a trained model; stored in every checkpoint."""


# ---------------------------------------------------------------- command line

def _checked(kind: type, test, why: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"{text!r}: {why}")
        return value
    return parse


positive_int = _checked(int, lambda v: v > 0, "must be a positive integer")
non_negative_int = _checked(int, lambda v: v >= 0, "must be 0 or more")
positive_float = _checked(float, lambda v: math.isfinite(v) and v > 0, "must be a positive number")
non_negative_float = _checked(float, lambda v: math.isfinite(v) and v >= 0,
                              "must be a finite number, 0 or more")
finite_float = _checked(float, math.isfinite, "must be a finite number")
probability = _checked(float, lambda v: 0 < v < 1, "must lie strictly between 0 and 1")
rate = _checked(float, lambda v: 0 <= v < 1, "must lie in [0, 1)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Train, select and test a speech enhancement CNN with PULSE (PU learning), "
                    "supervised learning (PN) or MixIT.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("method")
    g.add_argument("--method", choices=sorted(METHODS), default="PU",
                   help="PU: PULSE, from noisy speech and noise; PN: supervised, from parallel "
                        "noisy and clean speech; MixIT: mixture invariant training")
    g.add_argument("--prior", type=probability, default=0.6,
                   help="PU: class prior, the share of noise (positive) bins in noisy speech, "
                        "weighted by |X| under --risk_norm weight")
    g.add_argument("--mode", choices=("nn", "unbiased"), default="nn",
                   help="PU: non-negative (Kiryo et al. 2017) or unbiased empirical risk")
    g.add_argument("--beta", type=non_negative_float, default=0.0,
                   help="PU nn risk: the negative risk may go down to -beta before correction")
    g.add_argument("--gamma", type=positive_float, default=0.096,
                   help="PU nn risk: step size factor of the correction step")
    g.add_argument("--p", type=finite_float, default=1.0,
                   help="PU: exponent of the |X| weight of the sigmoid loss (0: unweighted)")
    g.add_argument("--risk_norm", choices=("weight", "count"), default="weight",
                   help="PU: divide each weighted risk term by its set's total weight (a weighted "
                        "mean, so --prior is the |X|-weighted noise share) or, as the reference, "
                        "by its bin count")
    g.add_argument("--noise_level", choices=("paired", "unit"), default="paired",
                   help="PU: scale of each noise example: 'paired' divides it by its noisy clip's "
                        "scale so noise has one level in both classes; 'unit' is the reference's "
                        "unit standard deviation")
    g = p.add_argument_group("model and features")
    g.add_argument("--blocks", type=non_negative_int, default=2,
                   help="CNN blocks; the CNN has 3 + 2 * blocks layers")
    g.add_argument("--fcblocks", type=non_negative_int, default=0,
                   help="how many of the last blocks use 1x1 convolutions")
    g.add_argument("--channels", type=positive_int, default=8, help="channels of the first layers")
    g.add_argument("--regulariser", choices=("auto", "batchnorm", "dropout"), default="auto",
                   help="layer after each hidden ReLU; auto: BatchNorm2d for PU and PN, Dropout2d "
                        "for MixIT (the reference used Dropout2d for PU)")
    g.add_argument("--droprate", type=rate, default=0.2, help="Dropout2d rate")
    g.add_argument("--frame_len", type=positive_int, default=1024,
                   help="STFT frame length in samples (even); the hop is a quarter of it")
    g.add_argument("--feature", choices=FEATURES, default="linear",
                   help="network input: 'linear' is |X|/15 as in the reference code, 'power' is "
                        "|X|**(1/15) as described in the paper")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=100, help="training epochs")
    g.add_argument("--batch_size", type=positive_int, default=16,
                   help="clips per batch and process (PU: half noisy, half noise)")
    g.add_argument("--lr_per_GPU", type=positive_float, default=3.7e-5,
                   help="Adam learning rate per process; the rate is this times the process count")
    g.add_argument("--wav_len", type=positive_int, default=50000,
                   help="clip length in samples at 16 kHz")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--fix_seed", action="store_true",
                   help="also make every operation deterministic (slower on GPU)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out_dir from its last completed epoch")
    g = p.add_argument_group("data")
    g.add_argument("--train_fname", default="voicebank_train_set.txt", help="training config file")
    g.add_argument("--val_fname", default="voicebank_val_set.txt", help="validation config file")
    g.add_argument("--test_fname", default="voicebank_test_set.txt", help="test config file")
    g.add_argument("--clean_path", default="voicebank",
                   help="directory of the speech dataset: replaces the first directory of "
                        "speech paths in the config files")
    g.add_argument("--noise_path", default="DEMAND",
                   help="directory of the noise dataset: replaces the first directory of noise "
                        "paths in the config files")
    g.add_argument("--demo", action="store_true",
                   help="generate (once) and use the built-in demo corpus in ./demo_data with "
                        f"demo-sized settings {DEMO_SETTINGS} for options left at their defaults")
    g.add_argument("--check_only", action="store_true",
                   help="check the config files and every audio file they name, then stop")
    g = p.add_argument_group("enhancing your own files")
    g.add_argument("--enhance", nargs="+", metavar="IN",
                   help="enhance these WAV/FLAC/OGG files or folders (recursively) with "
                        "--checkpoint instead of training; outputs are 16 kHz mono")
    g.add_argument("--checkpoint", type=Path, help="a trained model, e.g. runs/PU-.../best.pt")
    g.add_argument("--output_dir", type=Path,
                   help="where enhanced files go, with the input names (folders mirrored)")
    g.add_argument("--overwrite", action="store_true", help="replace existing enhanced files")
    g = p.add_argument_group("hardware and output")
    g.add_argument("--out_dir", type=Path, default=None,
                   help="folder for checkpoints, logs and results "
                        "(default: a new runs/METHOD-TIME)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when available, else CPU")
    g.add_argument("--num_workers", type=non_negative_int, default=None,
                   help="data loader processes per training process (default: from the core count)")
    g.add_argument("--eval_batch_size", type=positive_int, default=None,
                   help="clips per evaluation batch (default: --batch_size)")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="CNN arithmetic; auto: bf16 autocast on CUDA, fp32 on CPU")
    g.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format for training the CNN (default: on for CUDA "
                        "and AVX-512 CPUs, off for other CPUs, where it measured slower); "
                        "evaluation always runs channels-last")
    g.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                   choices=COMPILE_MODES,
                   help="train the CNN compiled by torch.compile in MODE (%(choices)s; alone: "
                        "default); reduce-overhead replays CUDA graphs (one process only), "
                        "which pays where the host launches kernels slower than the GPU runs "
                        "them (see README, Throughput)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--metrics", nargs="+", choices=quality.METRICS, default=[],
                   help="also score the test set and, with the best model, the validation set "
                        "(per example and mean) with these; with "
                        "--enhance only dnsmos, which needs no clean reference. Needs "
                        "`pip install -r requirements-metrics.txt`")
    g.add_argument("--plot_only", type=Path, metavar="RUN",
                   help="redraw RUN/training_curves.png from RUN/metrics.csv and stop")
    g.add_argument("--dist", action="store_true",
                   help="distributed data-parallel training under Slurm (srun) or torchrun")
    g.add_argument("--prefix", default="",
                   help="accepted for old command lines; the master host now comes from "
                        "SLURM_JOB_NODELIST")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo:
        parser.set_defaults(**DEMO_SETTINGS,
                            train_fname="demo_data/demo_train_set.txt",
                            val_fname="demo_data/demo_val_set.txt",
                            test_fname="demo_data/demo_test_set.txt",
                            clean_path="demo_data/demo_speech", noise_path="demo_data/demo_noise")
        args = parser.parse_args(argv)
    if args.fcblocks > args.blocks:
        parser.error(f"--fcblocks {args.fcblocks} exceeds --blocks {args.blocks}: "
                     "only existing blocks can use 1x1 convolutions")
    if args.frame_len % 2 or args.frame_len < 4:
        parser.error(f"--frame_len {args.frame_len} must be even and at least 4 "
                     "(the hop is a quarter of it)")
    if args.wav_len < args.frame_len:
        parser.error(f"--wav_len {args.wav_len} is shorter than one frame (--frame_len "
                     f"{args.frame_len})")
    if args.regulariser == "auto":
        args.regulariser = METHODS[args.method].regulariser
    if args.enhance and (args.checkpoint is None or args.output_dir is None):
        parser.error("--enhance needs --checkpoint (a trained model) and --output_dir")
    if args.enhance and set(args.metrics) - {"dnsmos"}:
        parser.error("--enhance can only add --metrics dnsmos: the others need clean speech")
    if args.resume and args.out_dir is None:
        parser.error("--resume needs --out_dir, the run to continue")
    return args


# ---------------------------------------------------------------- set-up

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


def trains_channels_last(device: torch.device) -> bool:
    """Whether channels-last training is the faster memory format on ``device``.

    On CUDA it is the layout tensor-core convolutions prefer. Measured with the blocks-2
    CNN on CPUs: faster on an AVX-512 one, 1.1x slower on an AVX2-only one, whose oneDNN
    channels-last weight gradient is 3x slower.
    """
    return device.type == "cuda" or torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def new_run_dir(method: str) -> Path:
    base = Path("runs") / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


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


def load_lines(args: argparse.Namespace) -> dict[str, list[dataset.ConfigLine]]:
    uses_noise_example = METHODS[args.method].second(args) != "clean"  # fields 5-6
    fields = {"train": dataset.TRAIN_FIELDS if uses_noise_example else dataset.EVAL_FIELDS,
              "val": dataset.EVAL_FIELDS, "test": dataset.EVAL_FIELDS}
    names = {"train": args.train_fname, "val": args.val_fname, "test": args.test_fname}
    errors, lines = [], {}
    for split, name in names.items():
        try:
            lines[split] = dataset.read_config(name, fields[split])
        except dataset.DataError as err:
            errors.append(str(err))
    if errors:
        raise dataset.DataError("\n".join(errors))
    return lines


def preflight(lines: dict[str, list[dataset.ConfigLine]], corpus: dataset.Corpus) -> None:
    """Check every file the config files name before any training; one message for all."""
    problems, missing = [], 0
    for split_lines in lines.values():
        split_problems, split_missing = dataset.check_files(split_lines, corpus)
        problems += split_problems
        missing += split_missing
    if not problems:
        return
    message = dataset.summarise(problems, 20)
    if missing:
        message += (f"\n{missing} audio files are missing. Get VoiceBank and DEMAND with "
                    "`bash download.sh`, point --clean_path/--noise_path at corpora stored "
                    "elsewhere, or try the built-in corpus with `python pulse.py --demo`.")
    raise dataset.DataError(message)


# ---------------------------------------------------------------- training and evaluation

class Trainer:
    """One process's share of training, validation and test."""

    def __init__(self, args: argparse.Namespace, launch: distributed.Launch, device: torch.device):
        self.args, self.launch, self.device = args, launch, device
        self.method: Method = METHODS[args.method]
        self.spectral = Spectral(args.frame_len, args.feature)
        self.model_config = {key: getattr(args, key) for key in MODEL_KEYS}
        self.model = build_model(self.model_config).to(device)
        if args.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_model: nn.Module = self.model
        if launch.world_size > 1:
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        if args.compile:
            self.train_model = torch.compile(self.train_model, mode=args.compile)
        self.optimizer = torch.optim.Adam(self.model.parameters(),
                                          lr=args.lr_per_GPU * launch.world_size)
        self.bf16 = args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")
        workers = default_num_workers() if args.num_workers is None else args.num_workers
        self.loader_options = dict(num_workers=workers, pin_memory=device.type == "cuda",
                                   persistent_workers=workers > 0)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def inference_model(self) -> nn.Module:
        """An inference copy of the current weights (see ``model.for_inference``)."""
        return for_inference(self.model, self.device)

    def train_loader(self, data: dataset.ExampleSet) -> tuple[DataLoader, DistributedSampler]:
        sampler = DistributedSampler(data, self.launch.world_size, self.launch.rank,
                                     shuffle=True, seed=self.args.seed)
        lines = max(1, self.args.batch_size // self.method.clips_per_line)
        loader = DataLoader(data, batch_size=lines, sampler=sampler,
                            worker_init_fn=_seed_worker, **self.loader_options)
        return loader, sampler

    def train_epoch(self, loader: DataLoader, epoch: int) -> float:
        """One pass over this rank's share; returns the mean reported loss over all ranks."""
        self.train_model.train()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        first_bad = torch.tensor(-1, device=self.device)
        batches = progress(loader, "training", self.args.quiet or not self.launch.is_main)
        for step, (noisy, second) in enumerate(batches):
            noisy = noisy.to(self.device, non_blocking=True)
            second = second.to(self.device, non_blocking=True)
            with self.autocast():
                objective, reported = self.method.step(self.train_model, self.spectral, noisy,
                                                       second, self.args)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.optimizer.step()
            total[0] += reported
            total[1] += 1
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(reported), step, first_bad)
        distributed.all_sum(total)
        if first_bad.item() >= 0 or not torch.isfinite(total[0]):
            raise FloatingPointError(
                f"the training loss became NaN or infinite at step {first_bad.item()} of epoch "
                f"{epoch}; stopped, the checkpoints of earlier epochs are kept (try a lower "
                "--lr_per_GPU)")
        return (total[0] / total[1].clamp_min(1)).item()

    def eval_loader(self, data: dataset.ExampleSet) -> DataLoader:
        """This rank's share of an evaluation set; kept for the whole run (workers persist)."""
        mine = Subset(data, distributed.shard(len(data), self.launch))
        return DataLoader(mine, batch_size=self.args.eval_batch_size or self.args.batch_size,
                          **self.loader_options)

    @torch.no_grad()
    def evaluate(self, loader: DataLoader, desc: str,
                 keep_examples: bool = False) -> tuple[float, list[dict]]:
        """Mean SI-SNRi (dB) over every example of the set, each scored on exactly one rank,
        and, if asked, every example's scores (SI-SNR in and out, --metrics), on every rank."""
        model = self.inference_model()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        examples = []
        indices = iter(loader.dataset.indices)
        for noisy, clean in progress(loader, desc, self.args.quiet or not self.launch.is_main):
            noisy = noisy.to(self.device, non_blocking=True)
            clean = clean.to(self.device, non_blocking=True)
            with self.autocast():
                estimate = enhance(model, self.method, self.spectral, noisy)
            before, after = si_snr(noisy, clean), si_snr(estimate, clean)
            total[0] += (after - before).sum()
            total[1] += len(noisy)
            if keep_examples:
                for i, (b, a) in enumerate(zip(before.tolist(), after.tolist())):
                    row = {"index": next(indices), "input_si_snr_db": b, "output_si_snr_db": a}
                    if self.args.metrics:
                        row.update(quality.score(self.args.metrics, *(
                            x[i].double().cpu().numpy() for x in (estimate, noisy, clean))))
                    examples.append(row)
        distributed.all_sum(total)
        if keep_examples:
            examples = sorted(distributed.gather(examples), key=lambda row: row["index"])
        return (total[0] / total[1]).item(), examples

    def checkpoint(self, epoch: int, best: dict, history: list[dict]) -> dict:
        return {"model": self.model.state_dict(), "model_config": self.model_config,
                "optimizer": self.optimizer.state_dict(), "epoch": epoch, "best": best,
                "history": history, "args": _jsonable(vars(self.args)),
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                        "torch": torch.get_rng_state()}}


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


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)


def _jsonable(values: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def better(value: float, best: float | None) -> bool:
    return math.isfinite(value) and (best is None or value > best)


def write_metrics(path: Path, history: list[dict]) -> None:
    """Rewrite the per-epoch CSV from the run's history (atomic, so resumes stay exact)."""
    with atomic(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def progress(iterable, desc: str, quiet: bool):
    """A progress bar on an interactive terminal, unless quiet."""
    return tqdm(iterable, desc=desc, leave=False, disable=quiet or not sys.stderr.isatty())


def write_examples(path: Path, lines: list[dataset.ConfigLine], examples: list[dict]) -> None:
    """test_examples.csv: one row per test line with its scores."""
    extra = [key for key in examples[0] if key not in ("index", "input_si_snr_db",
                                                        "output_si_snr_db")]
    with atomic(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["line", "clean", "noise", "snr_db", "input_si_snr_db",
                         "output_si_snr_db", "si_snri_db", *extra])
        for row in examples:
            line = lines[row["index"]]
            before, after = row["input_si_snr_db"], row["output_si_snr_db"]
            writer.writerow([line.origin, line.clean, line.noise, line.snr_db, f"{before:.4f}",
                             f"{after:.4f}", f"{after - before:.4f}",
                             *(f"{row[key]:.4f}" for key in extra)])


def summarise_examples(examples: list[dict]) -> dict:
    """Mean, median and central 95 % interval of the test SI-SNRi; means of --metrics."""
    improvements = np.array([r["output_si_snr_db"] - r["input_si_snr_db"] for r in examples])
    summary = {"si_snri_db": {"mean": float(improvements.mean()),
                              "median": float(np.median(improvements)),
                              "interval_95": [float(v) for v in
                                              np.percentile(improvements, [2.5, 97.5])]}}
    for key in examples[0]:
        if key not in ("index", "input_si_snr_db", "output_si_snr_db"):
            summary[key] = float(np.nanmean([r[key] for r in examples]))
    return summary


def draw_figures(out_dir: Path, trainer: "Trainer", test_set: dataset.ExampleSet,
                 count: int = 3) -> None:
    """training_curves.png, and example_K.png for the first test examples."""
    import plots

    plots.plot_curves(out_dir / "metrics.csv", out_dir / "training_curves.png")
    spectral, model = trainer.spectral, trainer.inference_model()
    for k in range(min(count, len(test_set))):
        noisy, clean = (x[None].to(trainer.device) for x in test_set[k])
        with torch.no_grad():
            spec = spectral.stft(noisy)
            mask = trainer.method.mask(model(spectral.feature_of(spec.abs())).float())
        panels = {"noisy": spec.abs(), "clean": spectral.stft(clean).abs(),
                  "enhanced": (mask * spec).abs(), "mask": mask}
        plots.plot_example({name: value[0].cpu().numpy() for name, value in panels.items()},
                           f"{test_set.lines[k].origin} ({trainer.args.method})",
                           out_dir / f"example_{k + 1}.png", spectral.hop / dataset.SAMPLE_RATE)


def run(args: argparse.Namespace) -> int:
    launch = distributed.detect_launch() if args.dist else distributed.Launch()
    if args.compile == "reduce-overhead" and launch.world_size > 1:
        raise UsageError("--compile reduce-overhead works in one process only; use --compile "
                         "default with several processes")
    device = pick_device(args.device, launch)
    if args.channels_last is None:
        args.channels_last = trains_channels_last(device)
    if device.type == "cpu":
        keep_freed_memory()
        if launch.world_size > 1:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_processes()))
    setup_logging(launch.is_main)
    if args.prefix:
        log.info("--prefix is no longer needed: the master host comes from SLURM_JOB_NODELIST")
    distributed.init(launch, device)
    if args.demo and launch.is_main:
        from demo_corpus import ensure_demo_corpus
        ensure_demo_corpus(Path("demo_data"), wav_len=args.wav_len)
    distributed.barrier()

    quality.require(args.metrics)
    corpus = dataset.Corpus(args.clean_path, args.noise_path, args.wav_len)
    lines = load_lines(args)
    preflight(lines, corpus)
    log.info("config files: %d training, %d validation, %d test examples; all files checked",
             *(len(lines[s]) for s in ("train", "val", "test")))
    if args.check_only:
        distributed.shutdown()
        return 0
    out_dir = args.out_dir or new_run_dir(args.method)
    if launch.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(True, out_dir / "train.log")

    seed_everything(args.seed)
    if args.fix_seed:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True
    trainer = Trainer(args, launch, device)
    seed_everything(args.seed + launch.rank)
    method = trainer.method
    train_set = dataset.ExampleSet(lines["train"], corpus, method.second(args))
    loader, sampler = trainer.train_loader(train_set)
    val_loader = trainer.eval_loader(dataset.ExampleSet(lines["val"], corpus))

    start_epoch, best, history = 1, {"val_si_snri_db": None, "epoch": 0, "model": None}, []
    last_path = out_dir / "last.pt"
    if last_path.exists():
        state = read_checkpoint(last_path)
        if state["model_config"] != trainer.model_config:
            raise UsageError(f"{last_path} holds a model {state['model_config']}, which differs "
                             f"from the one asked for {trainer.model_config}; "
                             "use another --out_dir")
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        start_epoch, best, history = state["epoch"] + 1, state["best"], state["history"]
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        log.info("resuming %s after epoch %d", out_dir, state["epoch"])
    resumed = distributed.all_sum(torch.tensor([start_epoch, 1.0], dtype=torch.float64,
                                               device=device))
    if resumed[0].item() != start_epoch * resumed[1].item():
        raise UsageError(f"the processes disagree on where to resume: {last_path} must be "
                         "visible to every process (a shared file system)")
    log.info("%s on %s, %d process(es), lr %.3g, %d parameters, output in %s", args.method,
             device, launch.world_size, args.lr_per_GPU * launch.world_size,
             sum(p.numel() for p in trainer.model.parameters()), out_dir)

    for epoch in range(start_epoch, args.epochs + 1):
        started = time.time()
        sampler.set_epoch(epoch)
        train_loss = trainer.train_epoch(loader, epoch)
        train_seconds = time.time() - started
        val, _ = trainer.evaluate(val_loader, "validation")
        if better(val, best["val_si_snri_db"]):
            best = {"val_si_snri_db": val, "epoch": epoch,
                    "model": {k: v.detach().cpu().clone()
                              for k, v in trainer.model.state_dict().items()}}
        seconds = time.time() - started
        history.append({"epoch": epoch, "train_loss": train_loss, "val_si_snri_db": val,
                        "seconds": round(seconds, 2), "lr": trainer.optimizer.param_groups[0]["lr"],
                        "train_clips_per_s": round(len(train_set) * method.clips_per_line
                                                   / train_seconds, 2)})
        log.info("epoch %d/%d: train %s %.4f, validation SI-SNRi %.3f dB (best %.3f dB, epoch "
                 "%d), %.1f s", epoch, args.epochs, method.loss_name,
                 train_loss, val, best["val_si_snri_db"] or float("nan"), best["epoch"], seconds)
        if launch.is_main:
            state = trainer.checkpoint(epoch, best, history)
            if best["epoch"] == epoch:
                with atomic(out_dir / "best.pt") as tmp:
                    torch.save({**state, "model": best["model"]}, tmp)
            with atomic(last_path) as tmp:
                torch.save(state, tmp)
            write_metrics(out_dir / "metrics.csv", history)

    if best["model"] is None:
        raise FloatingPointError("no epoch gave a finite validation SI-SNRi")
    trainer.model.load_state_dict(best["model"])
    test_set = dataset.ExampleSet(lines["test"], corpus)
    test, examples = trainer.evaluate(trainer.eval_loader(test_set), "test", keep_examples=True)
    summaries = {"test_summary": summarise_examples(examples)}
    if args.metrics:  # the best model's validation set, scored like the test set
        _, val_examples = trainer.evaluate(val_loader, "validation metrics", keep_examples=True)
        summaries["val_summary"] = summarise_examples(val_examples)
    if launch.is_main:
        write_examples(out_dir / "test_examples.csv", lines["test"], examples)
        if args.metrics:
            write_examples(out_dir / "val_examples.csv", lines["val"], val_examples)
        results = {"method": args.method, "val_si_snri_db": best["val_si_snri_db"],
                   "test_si_snri_db": test, "best_epoch": best["epoch"], **summaries,
                   "world_size": launch.world_size, "device": str(device), "seed": args.seed,
                   "versions": {"python": platform.python_version(), "torch": torch.__version__,
                                "numpy": np.__version__},
                   "args": _jsonable(vars(args))}
        with atomic(out_dir / "results.json") as tmp:
            tmp.write_text(json.dumps(results, indent=2) + "\n")
        draw_figures(out_dir, trainer, test_set)
        log.info("best epoch %d; results in %s", best["epoch"], out_dir)
        print(f"validation SI-SNRi: {best['val_si_snri_db']:.4f} dB")
        print(f"test SI-SNRi: {test:.4f} dB", flush=True)
    del trainer, loader, val_loader
    distributed.shutdown()
    return 0


def enhance_main(args: argparse.Namespace) -> int:
    from enhance_files import enhance_files

    setup_logging(True)
    device = pick_device(args.device, distributed.Launch())
    if device.type == "cpu":
        keep_freed_memory()
    quality.require(args.metrics)
    written = enhance_files(args.enhance, args.checkpoint, args.output_dir, device, args.overwrite,
                            dnsmos="dnsmos" in args.metrics, quiet=args.quiet)
    log.info("%d files enhanced into %s", len(written), args.output_dir)
    return 0


def plot_main(run_dir: Path) -> int:
    import plots

    metrics = run_dir / "metrics.csv"
    try:
        plots.plot_curves(metrics, run_dir / "training_curves.png")
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"{metrics}: cannot draw training curves ({err})") from None
    print(run_dir / "training_curves.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.plot_only:
            return plot_main(args.plot_only)
        return enhance_main(args) if args.enhance else run(args)
    except (dataset.DataError, FloatingPointError, UsageError, distributed.LaunchError,
            OSError) as err:
        message = str(err).strip()
        if "Traceback" in message:  # raised in a data loader worker: keep the worker's message
            message = message.splitlines()[-1].split(": ", 1)[-1]
        print(f"pulse.py: error: {message}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        if not torch.distributed.is_initialized():
            raise
        first_line = str(err).strip().splitlines()[0]
        print(f"pulse.py: error: rank {torch.distributed.get_rank()} stops because another "
              f"process of the job failed (see its messages): {first_line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
