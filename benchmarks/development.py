"""The development benchmark, the one to run to measure PULSE: its defaults decided on
several corpora, not one.

For every corpus of ``benchmarks/corpora.py`` (speech in ambience, GSM speech in city
noise, animal calls in music, Italian speech in engine rumble), both protocols (``seen`` environments, ``unseen`` noise
files) and every seed, it trains the chosen methods at the real-audio benchmark's budget
(``benchmarks/real_audio.py``'s SETTINGS, the corpus's clip length) and scores the
methods that need no training once: DeepFilterNet3 and RNNoise with both warm-ups,
spectral gating and the oracle binary mask. Each score is appended to
``DATA/RUNS/scores.jsonl`` as it comes, and the tables (per corpus, and the mean over
corpora) are printed from that file at the end, so separate invocations with the same
``--runs`` add up.

    pip install -r benchmarks/requirements.txt
    python benchmarks/development.py --seeds 0 1 2
    python benchmarks/development.py --methods PU --no_baselines --runs norm_none \\
        --extra --input_norm none
    python benchmarks/development.py --table_only --runs norm_none --baseline development
    git worktree add /tmp/old COMMIT && python benchmarks/development.py --methods PU \\
        --no_baselines --runs old --code /tmp/old
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dataset  # noqa: E402
from benchmarks import corpora  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.real_audio import SETTINGS, run_pulse, untrained_scores  # noqa: E402
from benchmarks.resampler import scores as starter_scores  # noqa: E402
from warm_start import STARTER  # noqa: E402

PROTOCOLS = ("seen", "unseen")
MAX_CORPUS_LOSS_DB = 0.3
"""A lever may lose no more than this on any corpus's mean to become a default."""


def record(scores: Path, **entry) -> None:
    with scores.open("a") as f:
        f.write(json.dumps(entry) + "\n")
    print(" ".join(f"{key} {value:+.2f}" if isinstance(value, float) else f"{value}"
                   for key, value in entry.items()), flush=True)


def tables(scores: Path) -> str:
    """Markdown tables of the mean test SI-SNRi over seeds: one row per method, one column
    per corpus and protocol, and the mean over the corpora that have every cell."""
    entries = [json.loads(line) for line in scores.read_text().splitlines()]
    cells: dict[tuple[str, str, str], list[float]] = {}
    for e in entries:
        cells.setdefault((e["method"], e["corpus"], e["protocol"]), []).append(e["test_db"])
    names = list(dict.fromkeys(e["corpus"] for e in entries))
    out = []
    for protocol in PROTOCOLS:
        rows = [f"| {protocol}: test SI-SNRi | {' | '.join(names)} | mean |",
                f"|---|{'---|' * (len(names) + 1)}"]
        for method in dict.fromkeys(e["method"] for e in entries):
            values = [cells.get((method, name, protocol)) for name in names]
            if not any(values):
                continue
            text = [f"{np.mean(v):+.2f}" + (f" (n={len(v)})" if len(v) > 1 else "")
                    if v else "" for v in values]
            mean = f"{np.mean([np.mean(v) for v in values]):+.2f}" if all(values) else ""
            rows.append(f"| {method} | {' | '.join(text)} | {mean} |")
        out.append("\n".join(rows))
    return "\n\n".join(out)


def seed_scores(scores: Path, method: str) -> dict[tuple[str, str, int], float]:
    """(corpus, protocol, seed) -> test SI-SNRi of ``method``'s runs in ``scores``."""
    return {(e["corpus"], e["protocol"], e["seed"]): e["test_db"]
            for e in map(json.loads, scores.read_text().splitlines()) if e["method"] == method}


def lever_table(candidate: Path, baseline: Path, method: str = "PU",
                baseline_method: str | None = None) -> str:
    """A markdown table of the candidate's gain over the baseline (``method``'s runs
    against ``baseline_method``'s, by default the same), over the (corpus, protocol, seed)
    runs both hold: per corpus and protocol, per corpus (both protocols) and overall, with
    the verdict of the development rule (wins the overall mean, loses no more than
    ``MAX_CORPUS_LOSS_DB`` on any corpus)."""
    new = seed_scores(candidate, method)
    old = seed_scores(baseline, baseline_method or method)
    gains: dict[str, dict[str, list[float]]] = {}
    for (corpus, protocol, seed) in sorted(new.keys() & old.keys()):
        gains.setdefault(corpus, {}).setdefault(protocol, []).append(
            new[corpus, protocol, seed] - old[corpus, protocol, seed])
    if not gains:
        return f"{candidate} and {baseline} share no {method} run"
    rows = [f"| {method}: {candidate.parent.name} - {baseline.parent.name} | "
            f"{' | '.join(PROTOCOLS)} | corpus mean | seeds |", "|---|---|---|---|---|"]
    corpus_gains = {}
    for corpus, by_protocol in gains.items():
        corpus_gains[corpus] = float(np.mean([np.mean(v) for v in by_protocol.values()]))
        cells = [f"{np.mean(by_protocol[p]):+.2f}" if p in by_protocol else ""
                 for p in PROTOCOLS]
        seeds = sorted({len(v) for v in by_protocol.values()})
        rows.append(f"| {corpus} | {' | '.join(cells)} | {corpus_gains[corpus]:+.2f} | "
                    f"{'/'.join(map(str, seeds))} |")
    overall, worst = np.mean(list(corpus_gains.values())), min(corpus_gains.values())
    adopt = overall > 0 and worst >= -MAX_CORPUS_LOSS_DB
    rows.append(f"| mean | | | {overall:+.2f} | |")
    return "\n".join(rows) + (f"\n\nverdict: {'adopt' if adopt else 'keep the baseline'} "
                              f"(overall {overall:+.2f} dB, worst corpus {worst:+.2f} dB)")


def run_protocol(args: argparse.Namespace, folder: Path, name: str, protocol: str,
                 runs: Path) -> None:
    """Every score that ``args`` asks for on one corpus's protocol, appended to
    ``runs/scores.jsonl``; the working directory is the corpus ``folder``."""
    scores, wav_len = runs / "scores.jsonl", corpora.CORPORA[name].wav_len
    fnames = {split: f"{protocol}_{split}_set.txt" for split in ("train", "val", "test")}
    if args.val_noise == "held_out":
        fnames.update({split: f"{protocol}_{corpora.HELD_OUT_VAL}_{split}_set.txt"
                       for split in ("train", "val")})
    if not args.no_baselines:
        for method, values in untrained_scores(fnames["test"], wav_len,
                                               f"{name} {protocol}").items():
            record(scores, corpus=name, protocol=protocol, method=method, seed=0,
                   test_db=float(values.mean()))
    if args.starter:
        lines = dataset.read_config(fnames["test"], dataset.EVAL_FIELDS)
        record(scores, corpus=name, protocol=protocol, method="starter, zero-shot", seed=0,
               test_db=float(starter_scores(args.starter, lines, "soxr", wav_len).mean()))
    for method in args.methods:
        for seed in args.seeds:
            options = ["--method", method, *SETTINGS, "--wav_len", str(wav_len),
                       "--seed", str(seed),
                       *(f"--{split}_fname={fname}" for split, fname in fnames.items()),
                       *args.extra]
            out = runs / f"{name}-{protocol}-{method}-{seed}"
            teacher = args.data.resolve() / args.teachers / out.name if args.teachers else None
            test, val, wall, _ = run_pulse(folder, out, options, args.code.resolve(), teacher)
            record(scores, corpus=name, protocol=protocol, method=method, seed=seed,
                   test_db=test, val_db=val, minutes=wall / 60)
            stages = json.loads((out / "results.json").read_text()).get("stages", {})
            for stage, result in stages.items():
                record(scores, corpus=name, protocol=protocol, method=f"{method}/{stage}",
                       seed=seed, test_db=result["test_si_snri_db"],
                       val_db=result["val_si_snri_db"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data",
                   help="where the downloaded packages, the corpora and the runs go")
    p.add_argument("--corpora", nargs="+", choices=list(corpora.CORPORA),
                   default=list(corpora.CORPORA))
    p.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="*", choices=("PU", "PN", "MixIT", "NyTT"),
                   default=["PU", "PN"])
    p.add_argument("--code", type=Path, default=ROOT,
                   help="the checkout whose pulse.py trains, e.g. a git worktree of an earlier "
                        "commit (default: this one)")
    p.add_argument("--val_noise", choices=("shared", "held_out"), default="shared",
                   help="validation excerpts from the training noise files, or from files "
                        f"training never reads (every {corpora.VAL_NOISE_EVERY}th, held out "
                        "of training)")
    p.add_argument("--no_baselines", action="store_true",
                   help="skip the pretrained anchors, gating and oracle")
    p.add_argument("--starter", nargs="?", type=lambda path: Path(path).resolve(),
                   const=STARTER, metavar="CKPT",
                   help="score a starter model as it is on every test set (without CKPT: "
                        "the shipped one)")
    p.add_argument("--runs", default="development",
                   help="folder under --data for the runs and scores.jsonl")
    p.add_argument("--teachers", metavar="RUNS",
                   help="continue each training run from the finished run of the same corpus, "
                        "protocol, method and seed in this --runs folder (with --extra "
                        "--student R: students of those teachers, without training them again)")
    p.add_argument("--table_only", action="store_true", help="print the tables and stop")
    p.add_argument("--baseline", metavar="RUNS",
                   help="also print the gain over this --runs folder's runs of the same "
                        "corpus, protocol and seed, and whether the lever passes the rule")
    p.add_argument("--method", default="PU",
                   help="the method (as scores.jsonl names it, e.g. PU/teacher) that "
                        "--baseline compares")
    p.add_argument("--baseline_method", metavar="METHOD",
                   help="the baseline's method to compare with (default: --method)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further pulse.py options for every training run (put it last)")
    args = p.parse_args()
    runs = args.data.resolve() / args.runs
    runs.mkdir(parents=True, exist_ok=True)
    scores = runs / "scores.jsonl"
    if not args.table_only:
        print(f"{cpu_name()}; torch {torch.__version__}; settings {' '.join(SETTINGS)} "
              f"{' '.join(args.extra)}", flush=True)
        for name in args.corpora:
            folder = corpora.build(args.data.resolve(), name)
            os.chdir(folder)
            for protocol in args.protocols:
                run_protocol(args, folder, name, protocol, runs)
    print(tables(scores))
    if args.baseline:
        print("\n" + lever_table(scores, args.data.resolve() / args.baseline / "scores.jsonl",
                                 args.method, args.baseline_method))


if __name__ == "__main__":
    main()
