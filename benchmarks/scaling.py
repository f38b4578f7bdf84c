"""Test SI-SNRi against the number of training lines on the real-audio benchmark, with
the pretrained anchors as horizontal lines (issue #19): does PU's gap to PN shrink with
data?

Runs ``benchmarks/real_audio.py``'s training for every size, method, protocol and seed
into ``real_audio_data/scale{N}/`` (a run whose ``results.json`` exists is kept, so the
study resumes where it stopped), then writes the figure and prints the table.

    python benchmarks/scaling.py --sizes 130 520 --seeds 0 1 --methods PU PN MixIT
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import dataset  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.pretrained import ANCHORS, anchor_si_snri  # noqa: E402
from benchmarks.real_audio import WAV_LEN, build_corpus, config, train  # noqa: E402

PROTOCOLS = ("seen", "unseen")
COLOURS = {"PU": "tab:blue", "PN": "tab:green", "MixIT": "tab:orange"}


def run_scores(data: Path, sizes: list[int], methods: list[str], seeds: list[int],
               corpus: Path, run_missing: bool) -> dict[tuple[str, str, int], list[float]]:
    """Test SI-SNRi per (protocol, method, size), one value per seed; runs what is missing
    or, without ``run_missing``, leaves it out."""
    scores: dict[tuple[str, str, int], list[float]] = {}
    for size, protocol, method, seed in product(sizes, PROTOCOLS, methods, seeds):
        runs = data / f"scale{size}"
        results = runs / f"{protocol}-{method}-{seed}" / "results.json"
        if results.exists():
            test = json.loads(results.read_text())["test_si_snri_db"]
        elif not run_missing:
            continue
        else:
            test, _, wall, _ = train(corpus, protocol, method, seed, [], runs, size)
            print(f"{size} lines, {protocol}, {method}, seed {seed}: {test:+.2f} dB in "
                  f"{wall / 60:.1f} min", flush=True)
        scores.setdefault((protocol, method, size), []).append(test)
    return scores


def anchor_scores(corpus: Path) -> dict[tuple[str, str], float]:
    """Mean test SI-SNRi of each pretrained anchor per protocol."""
    files = dataset.Corpus(None, None, WAV_LEN, sample_rate=audio.DEFAULT_RATE)
    out = {}
    for protocol in PROTOCOLS:
        lines = dataset.read_config(config(corpus, protocol, "test"), dataset.EVAL_FIELDS)
        for anchor in ANCHORS:
            enhancer = anchor()
            out[protocol, enhancer.name] = float(anchor_si_snri(enhancer, lines, files).mean())
    return out


def plot(path: Path, scores: dict, anchors: dict, sizes: list[int], methods: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
    for ax, protocol in zip(axes, PROTOCOLS):
        for method in methods:
            done = [n for n in sizes if (protocol, method, n) in scores]
            means = [np.mean(scores[protocol, method, n]) for n in done]
            ax.plot(done, means, "o-", color=COLOURS[method], label=method)
            for n in done:
                ax.plot([n] * len(scores[protocol, method, n]), scores[protocol, method, n],
                        ".", color=COLOURS[method], alpha=0.4)
        for (where, name), value in anchors.items():
            if where == protocol:
                ax.axhline(value, linestyle="--", color="grey" if "RNN" in name else "black",
                           label=name)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_title(f"{protocol} {'environments' if protocol == 'seen' else 'noise files'}")
        ax.set_xlabel("training lines (2 s each)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test SI-SNRi (dB)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle("Real-audio benchmark: 10 epochs, blocks 2 (dots: seeds)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data")
    p.add_argument("--sizes", type=int, nargs="+", default=[130, 520])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--methods", nargs="+", choices=tuple(COLOURS), default=list(COLOURS))
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "scaling.png")
    p.add_argument("--no_train", action="store_true",
                   help="plot the runs that exist, train nothing")
    args = p.parse_args()
    data = args.data.resolve()
    figure = args.figure.resolve()
    corpus = build_corpus(data)
    os.chdir(corpus)
    print(cpu_name(), flush=True)
    scores = run_scores(data, args.sizes, args.methods, args.seeds, corpus, not args.no_train)
    anchors = anchor_scores(corpus)
    plot(figure, scores, anchors, args.sizes, args.methods)
    columns = [f"{protocol} ({n} lines)" for protocol in PROTOCOLS for n in args.sizes]
    print(f"\n| test SI-SNRi | {' | '.join(columns)} |")
    print(f"|---|{'---|' * len(PROTOCOLS) * len(args.sizes)}")
    for method in args.methods:
        cells = [f"{np.mean(scores[p, method, n]):+.2f} dB ({len(scores[p, method, n])} seeds)"
                 if (p, method, n) in scores else "" for p in PROTOCOLS for n in args.sizes]
        print(f"| {method} | {' | '.join(cells)} |")
    for name in dict.fromkeys(name for _, name in anchors):
        cells = [f"{anchors[p, name]:+.2f} dB" for p in PROTOCOLS for n in args.sizes]
        print(f"| {name} | {' | '.join(cells)} |")
    print(f"\nfigure: {figure}")


if __name__ == "__main__":
    main()
