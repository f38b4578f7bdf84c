"""Wall time and figures of ``python pulse.py --demo`` as a newcomer runs it.

Each method runs in a fresh folder, so the time includes generating the demo corpus, the
process start, training, test and figures. Spectral gating (``noisereduce``, stationary,
given a 3 s take of each test clip's noise file just before the clip; ``pip install
noisereduce``) is scored on the same test set for comparison.

    python benchmarks/demo.py                    # PU (with its student), PN and MixIT
    python benchmarks/demo.py --methods MixIT --extra --recipe reference
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
"""The CPU features that decide PULSE's speed: vector width and native bf16."""


def cpu_name() -> str:
    """The CPU's model, core count and which of ``CPU_FLAGS`` it has."""
    name, flags = platform.processor() or "unknown CPU", set()
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
    have = " ".join(flag for flag in CPU_FLAGS if flag in flags) or "none of " + "/".join(CPU_FLAGS)
    return f"{name}, {os.cpu_count()} cores, flags: {have}"


def run_demo(method: str, extra: list[str], folder: Path) -> dict:
    started = time.time()
    result = subprocess.run([sys.executable, str(ROOT / "pulse.py"), "--demo", "--method", method,
                             "--out_dir", "run", "--quiet", *extra], cwd=folder,
                            capture_output=True, text=True)
    seconds = time.time() - started
    if result.returncode != 0:
        raise SystemExit(f"{method} demo failed:\n{result.stderr[-2000:]}")
    results = json.loads((folder / "run" / "results.json").read_text())
    teacher = results.get("stages", {}).get("teacher", {})
    return {"seconds": seconds, "val": results["val_si_snri_db"],
            "test": results["test_si_snri_db"], "best_epoch": results["best_epoch"],
            "teacher_test": teacher.get("test_si_snri_db")}


def gating(folder: Path) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "spectral_gating.py"),
                             "--wav_len", "16000"], cwd=folder, capture_output=True, text=True)
    return result.stdout.strip() or result.stderr.strip().splitlines()[-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=["PU", "PN", "MixIT"])
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="more pulse.py options for every run")
    args = p.parse_args()
    print(f"{cpu_name()}, Python {platform.python_version()}")
    for method in args.methods:
        with tempfile.TemporaryDirectory() as folder:
            row = run_demo(method, args.extra, Path(folder))
            print(f"{method:6s} {' '.join(args.extra)}: {row['seconds']:.0f} s wall, validation "
                  f"{row['val']:.2f} dB, test {row['test']:.2f} dB (best epoch "
                  f"{row['best_epoch']})"
                  + (f"; its teacher: test {row['teacher_test']:.2f} dB"
                     if row["teacher_test"] is not None else ""), flush=True)
            if method == args.methods[-1]:
                print(gating(Path(folder)))


if __name__ == "__main__":
    main()
