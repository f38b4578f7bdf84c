"""End-to-end speed and peak memory of ``python pulse.py --enhance`` as a user runs it:
process start, imports, reading and resampling a 48 kHz stereo WAV (120 s, or an hour
with ``--seconds 3600``), the CNN on both channels, writing the output.

The checkpoint is a freshly initialised model of the published PU shape (blocks 2,
channels 8, frame 1024) or, with ``--demo_shape``, of the demo's (blocks 1, frame 512):
speed does not depend on the weights.

    python benchmarks/enhance.py [--seconds 120] [--repeats 3]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import checkpoint  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402


def write_input(path: Path, seconds: float, rate: int = 48000, block_s: int = 60) -> None:
    """Stereo noise with a slow envelope, written a minute at a time: the content does not
    change speed."""
    rng = np.random.default_rng(0)
    total = int(seconds * rate)
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as f:
        for start in range(0, total, block_s * rate):
            n = min(block_s * rate, total - start)
            t = (start + np.arange(n)) / rate
            left = 0.1 * rng.standard_normal(n) * (0.5 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
            f.write(np.stack([left, 0.8 * left + 0.02 * rng.standard_normal(n)], 1))


def write_checkpoint(path: Path, demo_shape: bool) -> None:
    from methods import build_model

    config = {"method": "PU", "blocks": 1 if demo_shape else 2, "fcblocks": 0, "channels": 8,
              "droprate": 0.2, "regulariser": "batchnorm",
              "frame_len": 512 if demo_shape else 1024, "feature": "linear"}
    checkpoint.save({"model": build_model(config).state_dict(), "model_config": config}, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--demo_shape", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_input(folder / "in.wav", args.seconds)
        write_checkpoint(folder / "model.pt", args.demo_shape)
        command = [sys.executable, str(ROOT / "pulse.py"), "--enhance", str(folder / "in.wav"),
                   "--checkpoint", str(folder / "model.pt"), "--output_dir", str(folder / "out"),
                   "--overwrite", "--quiet"]
        started = time.time()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        import_s = time.time() - started
        print(f"{cpu_name()}; {args.seconds:g} s, 48 kHz stereo; `import torch` alone "
              f"{import_s:.2f} s")
        for _ in range(args.repeats):
            started = time.time()
            subprocess.run(command, check=True, capture_output=True)
            seconds = time.time() - started
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"pulse.py --enhance: {seconds:.2f} s, {args.seconds / seconds:.1f}x real "
                  f"time, peak RSS {peak_mb:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
