"""PNG figures of a run: training curves and test examples (matplotlib, no display needed)."""
from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_curves(metrics_csv: Path, png: Path) -> None:
    """Training (and validation) risk/loss and validation SI-SNRi per epoch, from
    metrics.csv; the stages of a run with a student (its ``stage`` column) one after the
    other, each its own line."""
    with metrics_csv.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{metrics_csv}: no epochs recorded")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    stages = list(dict.fromkeys(row.get("stage", "") for row in rows))

    def curve(ax, key: str, stage: str, label: str, **style) -> None:
        points = [(n, float(row[key])) for n, row in enumerate(rows, 1)
                  if row.get("stage", "") == stage and row.get(key, "") != ""]
        if points:
            ax.plot(*zip(*points), marker="o", label=f"{stage} {label}".strip(), **style)

    for stage in stages:
        curve(top, "train_loss", stage, "training")
        curve(top, "val_loss", stage, "validation")
        curve(bottom, "val_si_snri_db", stage, "")
    for ax in (top, bottom):
        if any(label for label in ax.get_legend_handles_labels()[1]):
            ax.legend()
    top.set_ylabel("risk / loss")
    bottom.set_ylabel("validation SI-SNRi (dB)")
    bottom.set_xlabel("epoch" if len(stages) == 1 else "epoch, stage after stage")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.suptitle(metrics_csv.parent.name)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def plot_example(panels: dict[str, np.ndarray], title: str, png: Path, hop_s: float) -> None:
    """One row per (F, N) array: spectrograms in dB (magnitudes) and the mask in [0, 1]."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True)
    for ax, (name, values) in zip(axes, panels.items()):
        is_mask = name == "mask"
        image = values if is_mask else 20 * np.log10(values + 1e-5)
        extent = (0, values.shape[1] * hop_s, 0, 8)
        shown = ax.imshow(image, origin="lower", aspect="auto", extent=extent, cmap="magma",
                          vmin=0 if is_mask else image.max() - 80, vmax=1 if is_mask else None)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("kHz")
        fig.colorbar(shown, ax=ax, pad=0.01, label="" if is_mask else "dB")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
