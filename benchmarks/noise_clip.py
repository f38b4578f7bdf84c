"""One recording and a clip of its noise: PULSE adapted to the recording
(``--enhance --noise_clip``) against noisereduce given the same clip, on the development
corpora's test lines.

Each test line is a recording; its clip is a 3 s take of the line's noise file ending
0.1 s before the clip, at the file's own level there (``spectral_gating.noise_take``).
A model trained with ``--noise_reference on`` also hears the take as its reference, with
or without adaptation. The model starts from the starter, from nothing, or from a run of
the development benchmark on the same corpus and protocol (``--runs``: its
``PROTOCOL-PU-SEED`` folders; ``teacher.pt`` or ``best.pt``). Scores (test SI-SNRi, dB) go to ``--out`` as JSON lines,
one per line and variant, and a table per corpus is printed.

    python benchmarks/noise_clip.py --lines 12 --start starter --steps 0 60
    python benchmarks/noise_clip.py --start student --runs real_audio_data/dev_student_sisnr
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import checkpoint  # noqa: E402
import dataset  # noqa: E402
import noise_clip  # noqa: E402
from benchmarks import corpora  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from benchmarks.development import PROTOCOLS  # noqa: E402
from benchmarks.spectral_gating import noise_take  # noqa: E402
from methods import build_model, enhance_long, method_for, spectral_of  # noqa: E402
from metric import si_snr_improvement  # noqa: E402
from model import for_inference  # noqa: E402
from warm_start import STARTER  # noqa: E402

TAKE_S = 3.0
STARTS = ("starter", "teacher", "student", "none")


def starting_state(start: str, runs: Path, corpus: str, protocol: str, seed: int) -> dict:
    """The checkpoint dict a variant starts from; ``none``: the starter's network, re-drawn."""
    if start in ("starter", "none"):
        state = checkpoint.load(STARTER)
        if start == "none":
            torch.manual_seed(seed)
            state = {**state, "model": build_model(state["model_config"]).state_dict()}
        return state
    name = "teacher.pt" if start == "teacher" else "best.pt"
    return checkpoint.load(runs / f"{corpus}-{protocol}-PU-{seed}" / name)


def score(enhanced: torch.Tensor, noisy: np.ndarray, clean: np.ndarray) -> float:
    return si_snr_improvement(enhanced[None].double(), torch.from_numpy(noisy[None]),
                              torch.from_numpy(clean[None])).item()


def run_corpus(name: str, protocol: str, args: argparse.Namespace, out) -> None:
    import noisereduce

    root = corpora.build(args.data.resolve(), name)
    wav_len = corpora.CORPORA[name].wav_len
    cwd = os.getcwd()
    os.chdir(root)
    try:
        corpus = dataset.Corpus(None, None, wav_len, sample_rate=audio.DEFAULT_RATE)
        lines = dataset.read_config(f"{protocol}_test_set.txt", dataset.EVAL_FIELDS)
        lines = lines[args.first:args.first + args.lines]
        items = []
        for line in lines:
            noisy, clean, scale = dataset.load_parallel(line, corpus)
            items.append((line, noisy, clean, noise_take(line, corpus, TAKE_S, scale)))
    finally:
        os.chdir(cwd)
    device = torch.device("cpu")
    if args.noisereduce:
        for line, noisy, clean, take in items:
            gated = noisereduce.reduce_noise(y=noisy, sr=16000, y_noise=take, stationary=True)
            entry = dict(corpus=name, protocol=protocol, line=line.origin,
                         variant="noisereduce", si_snri=score(torch.from_numpy(gated),
                                                              noisy, clean))
            out.write(json.dumps(entry) + "\n")
    for seed in args.seeds:
        state = starting_state(args.start, args.runs, name, protocol, seed)
        config = state["model_config"]
        model = build_model(config)
        model.load_state_dict(state["model"])
        spectral = spectral_of(config)
        for steps in args.steps:
            settings = noise_clip.Adaptation(steps=steps, lr=args.lr, crops=args.crops,
                                             crop_s=args.crop_s)
            variant = f"{args.start} {args.label}steps {steps}"
            started = time.perf_counter()
            values = []
            for line, noisy, clean, take in items:
                y, c = (torch.from_numpy(x).float() for x in (noisy, take))
                if steps == 0:
                    net = for_inference(model, device)
                    method = method_for(config, state.get("mask_scale"))
                else:
                    adapted, method = noise_clip.adapt(state, spectral, y, c, settings, seed)
                    net = for_inference(adapted, device)
                values.append(score(enhance_long(net, method, spectral, y, reference=c), noisy,
                                    clean))
                out.write(json.dumps(dict(corpus=name, protocol=protocol, line=line.origin,
                                          variant=variant, seed=seed,
                                          si_snri=values[-1])) + "\n")
            out.flush()
            print(f"{name} {protocol} seed {seed} {variant}: {np.mean(values):+.2f} dB "
                  f"({(time.perf_counter() - started) / len(items):.2f} s per recording)",
                  flush=True)


def table(path: Path) -> str:
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    cells: dict[tuple[str, str, str], list[float]] = {}
    for e in entries:
        cells.setdefault((e["variant"], e["corpus"], e["protocol"]), []).append(e["si_snri"])
    columns = sorted({(c, p) for _, c, p in cells})
    rows = [f"| variant | {' | '.join(f'{c} {p}' for c, p in columns)} | mean |",
            "|---" * (len(columns) + 2) + "|"]
    for variant in sorted({v for v, _, _ in cells}):
        means = [np.mean(cells[(variant, c, p)]) if (variant, c, p) in cells else np.nan
                 for c, p in columns]
        rows.append(f"| {variant} | {' | '.join(f'{m:+.2f}' for m in means)} | "
                    f"{np.mean(means):+.2f} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "real_audio_data",
                   help="where the development benchmark keeps its corpora")
    p.add_argument("--corpora", nargs="+", choices=list(corpora.CORPORA),
                   default=list(corpora.CORPORA))
    p.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    p.add_argument("--lines", type=int, default=50, help="test lines per corpus and protocol")
    p.add_argument("--start", choices=STARTS, default="starter")
    p.add_argument("--runs", type=Path, default=ROOT / "real_audio_data" / "dev_student_sisnr")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, nargs="+", default=[0, 60])
    p.add_argument("--lr", type=float, default=noise_clip.Adaptation.lr)
    p.add_argument("--crops", type=int, default=noise_clip.Adaptation.crops)
    p.add_argument("--crop_s", type=float, default=noise_clip.Adaptation.crop_s)
    p.add_argument("--label", default="", help="added to the variant's name")
    p.add_argument("--first", type=int, default=0, help="skip this many test lines")
    p.add_argument("--noisereduce", action="store_true", help="also score noisereduce")
    p.add_argument("--out", type=Path, default=ROOT / "real_audio_data" / "noise_clip.jsonl")
    p.add_argument("--table_only", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    if not args.table_only:
        print(f"{cpu_name()}, torch {torch.__version__}", flush=True)
        with args.out.open("a") as out:
            for name in args.corpora:
                for protocol in args.protocols:
                    run_corpus(name, protocol, args, out)
    print(table(args.out))


if __name__ == "__main__":
    main()
