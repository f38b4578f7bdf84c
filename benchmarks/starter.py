"""Train the starter model shipped in ``pretrained/``: what ``pulse.py --enhance`` uses
without ``--checkpoint``, and what ``--init_from`` adapts to a user's place.

Its data is the real-audio benchmark's training material (``benchmarks/real_audio.py``:
Asterisk prompts in four languages, CC-BY-SA 3.0 / CC-BY 3.0, in 0 A.D.'s ambience
recordings, CC-BY-SA 3.0): the unseen protocol's training noise files only, so that its
test noise files and test prompts stay unheard and score the starter fairly; with
``--train_lines`` above 130 more prompts that no validation or test line uses. The
network is the paper's (``--blocks 2``, 8 channels) under the pulse recipe.

    python benchmarks/starter.py                          # PN, writes pretrained/
    python benchmarks/starter.py --method PU --no_write   # a candidate, scored only
    python benchmarks/starter.py --init_from RUN/best.pt --method PU --no_write
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import checkpoint  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.real_audio import build_corpus, config  # noqa: E402
from warm_start import STARTER  # noqa: E402

SETTINGS = ["--batch_size", "8", "--lr_per_GPU", "0.001", "--blocks", "2", "--wav_len",
            "32000", "--quiet"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--method", choices=("PN", "PU"), default="PN")
    p.add_argument("--train_lines", type=int, default=520)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init_from", type=Path, help="start from these weights (PN then PU)")
    p.add_argument("--no_write", action="store_true", help=f"do not replace {STARTER}")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further pulse.py options, e.g. --channels 16 (put it last)")
    args = p.parse_args()
    data = args.data.resolve()
    corpus = build_corpus(data)
    name = f"starter-{args.method}-{args.train_lines}-{args.epochs}-{args.seed}"
    if args.init_from:
        name += "-warm"
    name += "".join(args.extra).replace("--", "-")
    out = data / "starter_runs" / name
    shutil.rmtree(out, ignore_errors=True)
    files = [Path(config(corpus, "unseen", split, args.train_lines)).name
             for split in ("train", "val", "test")]  # in the corpus folder, the working one
    command = ["--method", args.method, *SETTINGS, "--epochs", str(args.epochs), "--seed",
               str(args.seed), "--train_fname", files[0], "--val_fname", files[1],
               "--test_fname", files[2], *args.extra, "--out_dir", str(out)]
    if args.init_from:
        command += ["--init_from", str(args.init_from.resolve())]
    print(f"{cpu_name()}; torch {torch.__version__}; pulse.py {' '.join(command)}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "pulse.py"), *command], cwd=corpus, check=True)
    results = json.loads((out / "results.json").read_text())
    print(f"{name}: validation {results['val_si_snri_db']:+.2f} dB, test (unseen prompts and "
          f"noise files) {results['test_si_snri_db']:+.2f} dB", flush=True)
    if args.no_write:
        return
    best = checkpoint.load(out / "best.pt")
    STARTER.parent.mkdir(exist_ok=True)
    checkpoint.save({"model": best["model"], "model_config": best["model_config"],
                     "mask_scale": best.get("mask_scale"), "epoch": best["epoch"],
                     "trained": {"script": "benchmarks/starter.py", "command": command[:-2],
                                 "val_si_snri_db": results["val_si_snri_db"],
                                 "test_si_snri_db": results["test_si_snri_db"]}}, STARTER)
    print(f"wrote {STARTER} ({STARTER.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
