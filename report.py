"""What a run reports: progress lines, metrics.csv, the per-example CSV files,
results.json, the figures and the final lines on stdout.

Nothing here trains or decides; ``train.py`` hands over what the run measured.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import dataset
from checkpoint import atomic, jsonable
from methods import Method
from recipes import Options
from spectral import Spectral

log = logging.getLogger("pulse")


def write_metrics(path: Path, history: list[dict]) -> None:
    """Rewrite the per-epoch CSV from the run's history (atomic, so resumes stay exact)."""
    with atomic(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in history
                                                                 for k in row)))
        writer.writeheader()
        writer.writerows(history)


PROGRESS_EVERY_S = 15.0
"""Seconds between progress lines when stderr is not a terminal (CI, nohup, notebooks)."""


def progress(iterable, desc: str, quiet: bool):
    """A progress bar on an interactive terminal; elsewhere a logged line with the rate and
    the time left every ``PROGRESS_EVERY_S`` seconds. Nothing when ``quiet``."""
    if quiet or sys.stderr.isatty():
        yield from tqdm(iterable, desc=desc, leave=False, disable=quiet)
        return
    total = len(iterable) if hasattr(iterable, "__len__") else None
    started = last = time.monotonic()
    for done, item in enumerate(iterable, 1):
        yield item
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S:
            last = now
            rate = done / (now - started)
            left = f", {(total - done) / rate:.0f} s left" if total else ""
            log.info("%s: %d/%s batches, %.2f batches/s%s", desc, done, total or "?", rate, left)


def write_examples(path: Path, lines: list[dataset.ConfigLine], examples: list[dict]) -> None:
    """test_examples.csv: one row per test line with its scores."""
    extra = [key for key in examples[0]
             if key not in ("index", "input_si_snr_db", "output_si_snr_db")]
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
    """Mean, median and central 95 % interval of the SI-SNRi; means of --metrics over the
    examples that could be scored, and how many could not (``unscored``)."""
    improvements = np.array([r["output_si_snr_db"] - r["input_si_snr_db"] for r in examples])
    summary = {"si_snri_db": {"mean": float(improvements.mean()),
                              "median": float(np.median(improvements)),
                              "interval_95": [float(v) for v in
                                              np.percentile(improvements, [2.5, 97.5])]}}
    unscored = {}
    for key in examples[0]:
        if key not in ("index", "input_si_snr_db", "output_si_snr_db"):
            values = np.array([r[key] for r in examples], dtype=float)
            finite = np.isfinite(values)
            summary[key] = float(values[finite].mean()) if finite.any() else math.nan
            if not finite.all():
                unscored[key] = int((~finite).sum())
    if unscored:
        summary["unscored"] = unscored
        log.warning("examples that could not be scored (silent or too short): %s", unscored)
    return summary


@dataclass
class Scores:
    """What the selected model scored: results.json's content and the per-example rows."""

    results: dict
    test_examples: list[dict] = field(default_factory=list)
    val_examples: list[dict] = field(default_factory=list)


def draw_figures(out_dir: Path, model: nn.Module, method: Method, spectral: Spectral,
                 examples: dataset.ExampleSet, title: str, count: int = 3) -> None:
    """training_curves.png, and example_K.png for the first examples of ``examples`` (the
    test set, or the validation recordings of a run without one) as the inference
    ``model`` and its ``method``'s mask see them."""
    import plots

    plots.plot_curves(out_dir / "metrics.csv", out_dir / "training_curves.png")
    device = next(model.parameters()).device
    for k in range(min(count, len(examples))):
        noisy, second, *references = (x[None].to(device) for x in examples[k])
        with torch.no_grad():
            spec = spectral.stft(noisy)
            heard = references[0][:, 0] if references else None
            mask = method.mask(model(spectral.input_of(spec.abs(), heard)).float())
        second_name = ("noise recording" if isinstance(examples.lines[k], dataset.RecordingLine)
                       else "clean")
        panels = {"noisy": spec.abs(), second_name: spectral.stft(second).abs(),
                  "enhanced": (mask * spec).abs(), "mask": mask}
        plots.plot_example({name: value[0].cpu().numpy() for name, value in panels.items()},
                           f"{examples.lines[k].origin} ({title})",
                           out_dir / f"example_{k + 1}.png", spectral.hop_s)


def write_reports(opts: Options, scores: Scores, lines: dict[str, list[dataset.Line]],
                  out_dir: Path, loss_name: str) -> None:
    """results.json and the per-example CSV files; the final lines on stdout."""
    results = scores.results
    if scores.test_examples:
        write_examples(out_dir / "test_examples.csv", lines["test"], scores.test_examples)
    if scores.val_examples:
        write_examples(out_dir / "val_examples.csv", lines["val"], scores.val_examples)
    results.update({"seed": opts.seed,
                    "versions": {"python": platform.python_version(),
                                 "torch": torch.__version__, "numpy": np.__version__},
                    "args": jsonable(vars(opts))})
    with atomic(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    selection = results["selection"]
    log.info("best epoch %d by %s; results in %s", selection["epoch"], selection["criterion"],
             out_dir)
    if results["val_si_snri_db"] is not None:
        print(f"validation SI-SNRi: {results['val_si_snri_db']:.4f} dB")
    else:
        print(f"validation {loss_name}: {selection['value']:.4f}")
    if "test_si_snri_db" in results:
        print(f"test SI-SNRi: {results['test_si_snri_db']:.4f} dB", flush=True)
