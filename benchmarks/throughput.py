"""Training and evaluation throughput of PULSE's pipeline against a naive per-item one.

The fast pipeline is what pulse.py runs: loader workers yield waveforms; STFT, features,
labels and losses are computed on the device in batches; the memory format pulse.py trains
in; cuDNN autotuning; freed memory kept in the heap on CPU; evaluation in batches with
pulse.py's inference copy of the CNN (``model.for_inference``); shown in fp32 and with
bf16 autocast (pulse.py's default on CUDA, ``--precision bf16`` on CPU), and with
``--compile MODE`` also trained compiled. The naive pipeline (like the reference
release) computes the STFT of every item in the loader, ships complex spectrograms, runs
the CNN in fp32 and the default memory format, and evaluates one clip at a time. Both run
here, on the same generated data and with the same loader workers, and the ratio is
printed. GPU busy is NVML's utilisation from the first second of a run on.

    python benchmarks/throughput.py                       # CPU defaults, under 3 minutes on 2 cores
    python benchmarks/throughput.py --device cuda --batch_size 16 --blocks 4 --steps 500 --lines 4096
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audio  # noqa: E402
import dataset  # noqa: E402
import loss  # noqa: E402
from methods import METHODS, PUObjective, enhance, enhance_long  # noqa: E402
from metric import si_snr_improvement  # noqa: E402
from model import build_cnn, for_inference  # noqa: E402
from pulse import COMPILE_MODES  # noqa: E402
from recipes import trains_channels_last  # noqa: E402
from runtime import default_num_workers, keep_freed_memory  # noqa: E402
from spectral import Spectral  # noqa: E402


def make_corpus(root: Path, lines: int, wav_len: int) -> list[dataset.ConfigLine]:
    """``lines`` training lines over 16 speech-like files and 2 noise files of 20 s."""
    rng = np.random.default_rng(0)
    (root / "s").mkdir()
    (root / "n").mkdir()
    t = np.arange(wav_len + 8000) / 16000
    for i in range(16):
        tone = np.sin(2 * np.pi * (120 + 10 * i) * t * (1 + 0.1 * np.sin(3 * t)))
        sf.write(root / "s" / f"{i}.wav", 0.3 * tone * (np.sin(2 * np.pi * 3 * t) > 0), 16000)
    for i in range(2):
        sf.write(root / "n" / f"{i}.wav", 0.1 * rng.standard_normal(20 * 16000), 16000)
    span = 20 - wav_len / 16000
    return [dataset.ConfigLine(f"bench:{k}", f"s/{k % 16}.wav", f"n/{k % 2}.wav",
                               float(rng.uniform(0, span)), float(rng.uniform(-5, 10)),
                               f"n/{(k + 1) % 2}.wav", float(rng.uniform(0, span)))
            for k in range(lines)]


class NaiveItems(Dataset):
    """Per-item STFT in the loader worker, as the reference release does."""

    def __init__(self, data: dataset.ExampleSet, spectral: Spectral):
        self.data, self.spectral = data, spectral

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        noisy, second = self.data[index]
        return self.spectral.stft(noisy[None])[0], self.spectral.stft(second[None])[0]


def endless(loader: DataLoader):
    """The loader's batches, epoch after epoch."""
    while True:
        yield from loader


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BUSY_SETTLE_S = 1.0
"""NVML averages utilisation over its own sample period (up to a second), so samples
taken this soon after the timed run starts still count the idle time before it."""


def timed(device: torch.device, run) -> tuple[float, float | None]:
    """(seconds, GPU busy fraction). The fraction is the mean of NVML's utilisation read
    every 50 ms from ``BUSY_SETTLE_S`` into the run on; None on CPU, without NVML or for a
    shorter run."""
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        if not stop.wait(BUSY_SETTLE_S):
            while not stop.wait(0.05):
                samples.append(torch.cuda.utilization(device))

    sampler = None
    if device.type == "cuda":
        torch.cuda.synchronize()
        try:
            torch.cuda.utilization(device)
            sampler = threading.Thread(target=sample, daemon=True)
        except Exception:  # NVML missing: pip install nvidia-ml-py
            sampler = None
    if sampler:
        sampler.start()
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    stop.set()
    if sampler:
        sampler.join()
    busy = sum(samples) / len(samples) / 100 if samples else None
    return seconds, busy


def figures_of(examples: int, steps: int, seconds: float, busy: float | None) -> dict:
    figures = {"examples/s": examples / seconds, "ms/step": 1000 * seconds / steps}
    if busy is not None:
        figures["GPU busy %"] = 100 * busy
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--lines", type=int, default=64,
                   help="generated config lines (evaluation uses up to --steps batches of them)")
    p.add_argument("--wav_len", type=int, default=50000)
    p.add_argument("--frame_len", type=int, default=1024)
    p.add_argument("--batch_size", type=int, default=8, help="clips per batch (PU: half noise)")
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--steps", type=int, default=8, help="timed training steps per pipeline")
    p.add_argument("--num_workers", type=int, default=default_num_workers(),
                   help="loader workers of both pipelines (default: pulse.py's)")
    p.add_argument("--enhance_s", type=float, default=60.0, help="length of the file to enhance")
    p.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                   choices=COMPILE_MODES, help="also train the fast pipeline compiled in MODE "
                   "(%(choices)s), as pulse.py --compile MODE")
    args = p.parse_args()
    device = torch.device(args.device)
    spectral = Spectral(args.frame_len, sample_rate=audio.DEFAULT_RATE)
    pu_risk = PUObjective(prior=0.6)
    pairs = args.batch_size // 2
    tmp = tempfile.TemporaryDirectory()
    lines = make_corpus(Path(tmp.name), args.lines, args.wav_len)
    corpus = dataset.Corpus(tmp.name + "/s", tmp.name + "/n", args.wav_len,
                            sample_rate=audio.DEFAULT_RATE)
    train_set = dataset.ExampleSet(lines, corpus, "noise_paired")
    eval_set = dataset.ExampleSet(lines, corpus)
    native_bf16 = device.type == "cuda" or torch.ops.mkldnn._is_mkldnn_bf16_supported()
    print(f"device {device} ({torch.backends.cpu.get_cpu_capability()} CPU, "
          f"{'native' if native_bf16 else 'no native'} bf16), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.wav_len} samples per clip, frame {args.frame_len}, blocks {args.blocks}, "
          f"batch {args.batch_size}")

    def model(fast: bool):
        """The naive pipeline's default memory format, or the one pulse.py trains in."""
        net = build_cnn(args.blocks, 0, 8, 0.2, 1, 1, "batchnorm").to(device)
        if fast and trains_channels_last(device):
            net = net.to(memory_format=torch.channels_last)
        return net

    def loader(data, batch):
        return DataLoader(data, batch_size=batch, shuffle=True, num_workers=args.num_workers,
                          pin_memory=device.type == "cuda", persistent_workers=args.num_workers > 0)

    def train(fast: bool, bf16: bool, compiled: bool = False) -> dict:
        net = model(fast)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        if compiled:
            net = torch.compile(net, mode=args.compile)
        batches = endless(loader(NaiveItems(train_set, spectral) if not fast else train_set, pairs))

        def step():
            first, second = (x.to(device, non_blocking=True) for x in next(batches))
            if fast:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    objective, _ = pu_risk(net, spectral, first, second)
            else:
                spec = torch.cat([first, second])
                magnitude = spec.abs()
                labels = torch.cat([torch.zeros(len(first)), torch.ones(len(second))]).to(device)
                logits = net(spectral.feature_of(magnitude))[:, 0]
                r_plus, r_minus = loss.pu_risks(logits, labels, magnitude, 0.6, 1.0)
                objective = loss.pu_objective(r_plus, r_minus)
            opt.zero_grad(set_to_none=True)
            objective.backward()
            opt.step()

        for _ in range(3 if compiled else 1):
            step()  # warm-up: workers start, kernels load or compile
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds, busy = timed(device, lambda: [step() for _ in range(args.steps)])
        return figures_of(args.steps * 2 * pairs, args.steps, seconds, busy)

    def evaluate(fast: bool, bf16: bool) -> dict:
        net = for_inference(model(False), device) if fast else model(False).eval()
        count = min(len(eval_set), max(8, args.steps) * args.batch_size)
        batches = loader(torch.utils.data.Subset(eval_set, range(count)),
                         args.batch_size if fast else 1)

        def run():
            with torch.no_grad():
                for noisy, clean in batches:
                    noisy, clean = noisy.to(device), clean.to(device)
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                        estimate = enhance(net, METHODS["PU"], spectral, noisy)
                    si_snr_improvement(estimate, noisy, clean).sum().item()

        run()  # warm-up: workers start
        return figures_of(count, len(batches), *timed(device, run))

    pipelines = [("naive", False, False, False), ("fast", True, False, False)]
    if native_bf16:
        pipelines.append(("fast bf16", True, True, False))
    else:
        print("fast bf16 skipped: emulated bf16 on this CPU is several times slower than fp32")
    if args.compile:
        kind, _, bf16, _ = pipelines[-1]
        pipelines.append((f"{kind} compiled {args.compile}", True, bf16, True))
    rows = []
    for kind, fast, bf16, compiled in pipelines:  # naive first: it runs with the default allocator
        if fast:
            torch.backends.cudnn.benchmark = True
            if device.type == "cpu":
                keep_freed_memory()
        for name in ("train",) if compiled else ("train", "evaluate"):
            figures = train(fast, bf16, compiled) if name == "train" else evaluate(fast, bf16)
            figures["peak RSS MB"] = peak_rss_mb()
            if device.type == "cuda":
                figures["peak GPU MB"] = torch.cuda.max_memory_allocated() / 2 ** 20
            rows.append((name, kind, figures))
    rows.sort(key=lambda row: row[0] != "train")
    for name, kind, figures in rows:
        print(f"{name:9s} {kind:10s} " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))
    naive = {name: figures["examples/s"] for name, kind, figures in rows if kind == "naive"}
    for name, kind, figures in rows:
        if kind != "naive":
            print(f"{name}: {kind} / naive = {figures['examples/s'] / naive[name]:.2f}x")
    enhance_speed(device, args)


def enhance_speed(device: torch.device, args: argparse.Namespace) -> None:
    """Real-time factor of enhancing one long file as ``pulse.py --enhance`` does."""
    net = for_inference(build_cnn(args.blocks, 0, 8, 0.2, 1, 1, "batchnorm"), device)
    wave = torch.randn(int(args.enhance_s * 16000), device=device)
    spectral = Spectral(args.frame_len, sample_rate=audio.DEFAULT_RATE)
    enhance_long(net, METHODS["PU"], spectral, wave)
    seconds, _ = timed(device, lambda: enhance_long(net, METHODS["PU"], spectral, wave))
    print(f"enhance a {args.enhance_s:g} s file: {seconds:.2f} s, {args.enhance_s / seconds:.0f}x "
          f"real time, peak RSS MB {peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
