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
    python benchmarks/starter.py --epochs 10 --leave_out gsm_city   # never replaces it

``--leave_out CORPUS`` trains on the development benchmark's other corpora instead
(``benchmarks/corpora.py``; not those of the same signal): every training line of both
their protocols, the validation and test lines of their unseen protocol, at the shortest
of their clip lengths; the starter it makes is scored and adapted on the corpus it never
heard with ``development.py --corpora CORPUS --starter CKPT`` and ``--extra --init_from
CKPT``.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import checkpoint  # noqa: E402
from benchmarks import corpora  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.development import PROTOCOLS  # noqa: E402
from benchmarks.real_audio import WAV_LEN, build_corpus, config  # noqa: E402
from warm_start import STARTER  # noqa: E402

SETTINGS = ["--batch_size", "8", "--lr_per_GPU", "0.001", "--blocks", "2", "--quiet"]
PATH_FIELDS = (0, 1, 4)
"""The fields of a config line that name files (signal, noise, extra noise)."""


def pooled_corpora(data: Path, left_out: str) -> tuple[Path, list[str], int]:
    """Training, validation and test config files of every development corpus but
    ``left_out`` and those that share its signal (``prompts_steady`` holds the prompts of
    ``prompts_ambience``), paths relative to the corpora's folder, which is returned with
    the files' names and the clip length in samples (the shortest of the pooled corpora's)."""
    signal = corpora.CORPORA[left_out].signal
    kept = [name for name, recipe in corpora.CORPORA.items() if recipe.signal is not signal]
    for name in kept:
        root = corpora.build(data, name).parent  # one folder holds every corpus
    sources = {"train": PROTOCOLS, "val": ("unseen",), "test": ("unseen",)}
    files = []
    for split, protocols in sources.items():
        lines = [shlex.join(f"{name}/{field}" if i in PATH_FIELDS else field
                            for i, field in enumerate(shlex.split(line)))
                 for name in kept for protocol in protocols
                 for line in (root / name / f"{protocol}_{split}_set.txt").read_text().splitlines()]
        files.append(f"without_{left_out}_{split}_set.txt")
        (root / files[-1]).write_text("\n".join(lines) + "\n")
    return root, files, min(corpora.CORPORA[name].wav_len for name in kept)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--method", choices=("PN", "PU"), default="PN")
    p.add_argument("--train_lines", type=int, default=520,
                   help="training lines of the first corpus (--leave_out takes every "
                        "training line of the other corpora)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init_from", type=Path, help="start from these weights (PN then PU)")
    p.add_argument("--no_write", action="store_true", help=f"do not replace {STARTER}")
    p.add_argument("--leave_out", choices=list(corpora.CORPORA),
                   help="learn from the development benchmark's other corpora instead "
                        "(implies --no_write)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further pulse.py options, e.g. --channels 16 (put it last)")
    args = p.parse_args()
    data = args.data.resolve()
    if args.leave_out:
        corpus, files, wav_len = pooled_corpora(data, args.leave_out)
        name = f"starter-without_{args.leave_out}-{args.method}-{args.epochs}-{args.seed}"
    else:
        corpus, wav_len = build_corpus(data), WAV_LEN
        files = [Path(config(corpus, "unseen", split, args.train_lines)).name
                 for split in ("train", "val", "test")]  # in the corpus folder
        name = f"starter-{args.method}-{args.train_lines}-{args.epochs}-{args.seed}"
    if args.init_from:
        name += "-warm"
    name += "".join(args.extra).replace("--", "-")
    out = data / "starter_runs" / name
    shutil.rmtree(out, ignore_errors=True)
    command = ["--method", args.method, *SETTINGS, "--wav_len", str(wav_len), "--epochs",
               str(args.epochs), "--seed", str(args.seed), "--train_fname", files[0],
               "--val_fname", files[1], "--test_fname", files[2], *args.extra,
               "--out_dir", str(out)]
    if args.init_from:
        command += ["--init_from", str(args.init_from.resolve())]
    print(f"{cpu_name()}; torch {torch.__version__}; pulse.py {' '.join(command)}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "pulse.py"), *command], cwd=corpus, check=True)
    results = json.loads((out / "results.json").read_text())
    print(f"{name}: validation {results['val_si_snri_db']:+.2f} dB, test (unseen signals and "
          f"noise files) {results['test_si_snri_db']:+.2f} dB; {out / 'best.pt'}", flush=True)
    if args.no_write or args.leave_out:
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
