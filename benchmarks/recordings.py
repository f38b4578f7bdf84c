"""What learning from recordings alone costs, on data whose truth is known (the demo corpus).

1. The true class prior of the training data (``prior.true_prior``) against ``--prior auto``.
2. Model selection: one PU run whose validation lines also carry a noise example reports
   the test SI-SNRi of the epoch chosen by validation SI-SNRi (needs clean speech) and of
   the one chosen by the validation risk (needs none).
3. The user's workflow: the noisy training and validation mixtures and the noise files'
   training parts are written to disk as recordings, their clean speech forgotten;
   ``create_config_files.py --noisy --noise`` and ``pulse.py`` (``--prior auto``, selection
   by the risk) train; ``pulse.py --enhance`` enhances the test mixtures, scored at last
   against the clean speech kept aside. Compared with a run that has clean validation
   speech and the true prior.

    python benchmarks/recordings.py [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
import dataset  # noqa: E402
from benchmarks.demo import cpu_name  # noqa: E402
from demo_corpus import ensure_demo_corpus  # noqa: E402
from metric import si_snr_improvement  # noqa: E402
from prior import true_prior  # noqa: E402
from recipes import DEMO_CLIP_S, DEMO_FRAME_S, DEMO_SETTINGS  # noqa: E402
from spectral import FRAME_S, Spectral, frame_samples  # noqa: E402

DEMO = [*(f"--{key}={value}" for key, value in DEMO_SETTINGS.items()), "--quiet"]


def pulse(folder: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "pulse.py"), *args], cwd=folder,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])


def training_prior(lines: list[dataset.ConfigLine], corpus: dataset.Corpus,
                   frame_len: int) -> float:
    """The |X|-weighted noise share of the noisy training clips (``--prior``'s meaning) at
    the runs' STFT frame."""
    spectral = Spectral(frame_len, sample_rate=audio.DEFAULT_RATE)
    mags = {"noisy": [], "speech": [], "noise": []}
    for line in lines:
        noisy, clean, _ = dataset.load_parallel(line, corpus)
        for name, wave in (("noisy", noisy), ("speech", clean), ("noise", noisy - clean)):
            mags[name].append(spectral.stft(torch.from_numpy(wave)[None]).abs())
    return true_prior(*(torch.cat(mags[name]) for name in ("noisy", "speech", "noise")))


def with_noise_examples(val: Path, train: Path, out: Path) -> None:
    """Validation lines with the noise fields of training lines appended (6 fields)."""
    extras = [" ".join(line.split()[4:]) for line in train.read_text().splitlines()]
    out.write_text("".join(f"{line} {extras[i % len(extras)]}\n"
                           for i, line in enumerate(val.read_text().splitlines())))


def write_recordings(folder: Path, lines: list[dataset.ConfigLine], corpus: dataset.Corpus,
                     noise_files: list[Path]) -> None:
    """Noisy mixtures as recordings (their clean speech dropped) and the noise files cut to
    their training part (the first 90 %, which never holds test excerpts)."""
    (folder / "noisy").mkdir(parents=True)
    (folder / "noise").mkdir()
    for i, line in enumerate(lines):
        noisy, _, _ = dataset.load_parallel(line, corpus)
        sf.write(folder / "noisy" / f"take{i:04d}.wav", noisy, 16000, subtype="FLOAT")
    for path in noise_files:
        wave, rate = sf.read(path)
        sf.write(folder / "noise" / f"{path.parent.name}_{path.name}",
                 wave[:int(0.9 * len(wave))], rate)


def score_enhanced(folder: Path, checkpoint: Path, lines: list[dataset.ConfigLine],
                   corpus: dataset.Corpus) -> float:
    """Mean SI-SNRi of ``pulse.py --enhance`` on the test mixtures, against kept clean."""
    (folder / "test").mkdir(exist_ok=True)
    pairs = []
    for i, line in enumerate(lines):
        noisy, clean, _ = dataset.load_parallel(line, corpus)
        sf.write(folder / "test" / f"t{i:04d}.wav", noisy, 16000, subtype="FLOAT")
        pairs.append((noisy, clean))
    pulse(folder, "--enhance", "test", "--checkpoint", str(checkpoint), "--output_dir",
          "enhanced", "--overwrite", "--quiet")
    gains = []
    for i, (noisy, clean) in enumerate(pairs):
        enhanced, _ = sf.read(folder / "enhanced" / "test" / f"t{i:04d}.wav")
        gains.append(si_snr_improvement(*(torch.from_numpy(x)[None]
                                          for x in (enhanced, noisy, clean))).item())
    return float(np.mean(gains))


def level_errors(recordings: Path, lines: list[dataset.ConfigLine],
                 corpus: dataset.Corpus) -> np.ndarray:
    """Error (dB) of the estimated level of every training recordings line's noise example
    against the true level of the noise inside its noisy excerpt (``noise_paired``),
    matched against the training and validation noise recordings as a run does."""
    truth = {}
    for i, line in enumerate(lines):  # take{i}.wav is the i-th mixture, at unit std
        noisy, clean, _ = dataset.load_parallel(line, corpus)
        truth[f"noisy/take{i:04d}.wav"] = float(np.std(noisy - clean))
    rec_lines = dataset.read_config(recordings / "rec_train_set.txt", dataset.TRAIN_FIELDS)
    val_lines = dataset.read_config(recordings / "rec_val_set.txt", dataset.TRAIN_FIELDS)
    here = os.getcwd()
    os.chdir(recordings)
    try:
        rec_corpus = dataset.Corpus(
            None, None, corpus.wav_len, sample_rate=audio.DEFAULT_RATE).with_noise_profiles(
            rec_lines + val_lines)
        pairs = dataset.ExampleSet(rec_lines, rec_corpus, "noise_paired")
        levels = [pairs[i][1].std().item() for i in range(len(rec_lines))]
    finally:
        os.chdir(here)
    return np.array([20 * np.log10(level / truth[line.noisy])
                     for level, line in zip(levels, rec_lines)])


def selection(cwd: Path, work: Path, seed_args: list[str], files: list[str], truth: float,
              seed: int) -> None:
    """Clean validation and the true prior; the epoch the validation risk would pick."""
    pulse(cwd, *seed_args, *files, "--prior", f"{truth:.4f}", "--out_dir", str(work / f"a{seed}"))
    a = json.loads((work / f"a{seed}" / "results.json").read_text())
    alternative = a["selection"]["alternative"]
    print(f"seed {seed}: clean validation, true prior: test {a['test_si_snri_db']:.2f} dB "
          f"(epoch {a['best_epoch']}); selected by validation risk: "
          f"{alternative['test_si_snri_db']:.2f} dB (epoch {alternative['epoch']})", flush=True)


def prior_auto(cwd: Path, work: Path, seed_args: list[str], files: list[str], seed: int) -> None:
    pulse(cwd, *seed_args, *files, "--prior", "auto", "--out_dir", str(work / f"b{seed}"))
    b = json.loads((work / f"b{seed}" / "results.json").read_text())
    print(f"seed {seed}: --prior auto {b['prior']['value']:.3f}: test "
          f"{b['test_si_snri_db']:.2f} dB", flush=True)


def demo_setup(work: Path) -> dict:
    rate = audio.DEFAULT_RATE
    wav_len = audio.samples(DEMO_CLIP_S, rate)
    demo = ensure_demo_corpus(work / "demo_data", clip_s=DEMO_CLIP_S)
    return {"cwd": work, "settings": DEMO, "wav_len": wav_len,
            "frame_len": frame_samples(DEMO_FRAME_S, rate),
            "corpus": dataset.Corpus(str(demo.clean_path), str(demo.noise_path), wav_len,
                                     sample_rate=rate),
            "train": demo.train, "val": demo.val, "test": demo.test,
            "noise_files": sorted(demo.noise_path.glob("*/*.wav")),
            "roots": ["--clean_path", str(demo.clean_path), "--noise_path",
                      str(demo.noise_path)]}


def real_setup(work: Path) -> dict:
    """The unseen-noise-files protocol of ``benchmarks/real_audio.py`` (real speech, real
    ambience; its config paths are relative to the corpus folder)."""
    from benchmarks import real_audio

    folder = real_audio.build_corpus(ROOT / "real_audio_data")
    os.chdir(folder)
    return {"cwd": folder, "settings": [*real_audio.SETTINGS], "wav_len": real_audio.WAV_LEN,
            "frame_len": frame_samples(FRAME_S, audio.DEFAULT_RATE),
            "corpus": dataset.Corpus(None, None, real_audio.WAV_LEN,
                                     sample_rate=audio.DEFAULT_RATE),
            **{split: folder / f"unseen_{split}_set.txt" for split in ("train", "val", "test")},
            "noise_files": sorted((folder / "unseen" / "train").glob("*.wav")), "roots": []}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--parts", nargs="+", choices=("level", "selection", "prior", "recordings"),
                   default=["level", "selection", "prior", "recordings"])
    p.add_argument("--corpus", choices=("demo", "real"), default="demo",
                   help="the demo corpus at demo settings, or the real-audio benchmark's "
                        "unseen-noise-files protocol at its settings")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        setup = (demo_setup if args.corpus == "demo" else real_setup)(work)
        print(f"{cpu_name()}; {args.corpus} corpus, settings {' '.join(setup['settings'])}")
        corpus, cwd = setup["corpus"], setup["cwd"]
        train = dataset.read_config(setup["train"], dataset.TRAIN_FIELDS)
        val = dataset.read_config(setup["val"], dataset.EVAL_FIELDS)
        test = dataset.read_config(setup["test"], dataset.EVAL_FIELDS)
        truth = training_prior(train, corpus, setup["frame_len"])
        print(f"true prior of the training data: {truth:.3f}")
        with_noise_examples(setup["val"], setup["train"], work / "val6.txt")
        files = ["--train_fname", str(setup["train"]), "--val_fname", str(work / "val6.txt"),
                 "--test_fname", str(setup["test"]), *setup["roots"]]
        recordings = work / "recordings"
        write_recordings(recordings, train + val, corpus, setup["noise_files"])
        subprocess.run([sys.executable, str(ROOT / "create_config_files.py"), "--name", "rec",
                        "--noisy", "noisy/*.wav", "--noise", "noise/*.wav",
                        "--wav_len", str(setup["wav_len"]), "--n_val", str(len(val))],
                       cwd=recordings, check=True, capture_output=True)
        if "level" in args.parts:
            errors = level_errors(recordings, train + val, corpus)
            print(f"noise level of the recordings lines' noise examples, error against the "
                  f"truth: median {np.median(errors):+.2f} dB, within 2 dB on "
                  f"{np.mean(np.abs(errors) < 2):.0%} of lines, within 3 dB on "
                  f"{np.mean(np.abs(errors) < 3):.0%}, 10th/90th percentiles "
                  f"{np.percentile(errors, 10):+.1f}/{np.percentile(errors, 90):+.1f} dB",
                  flush=True)
        for seed in args.seeds:
            seed_args = [*setup["settings"], "--seed", str(seed)]
            if "selection" in args.parts:
                selection(cwd, work, seed_args, files, truth, seed)
            if "prior" in args.parts:
                prior_auto(cwd, work, seed_args, files, seed)
            if "recordings" not in args.parts:
                continue
            pulse(recordings, *seed_args, "--train_fname", "rec_train_set.txt", "--val_fname",
                  "rec_val_set.txt", "--out_dir", f"c{seed}")
            c = json.loads((recordings / f"c{seed}" / "results.json").read_text())
            enhanced = score_enhanced(recordings, recordings / f"c{seed}" / "best.pt", test,
                                      corpus)
            print(f"seed {seed}: recordings alone (prior {c['prior']['value']:.3f}, epoch "
                  f"{c['best_epoch']} by validation risk): enhanced test files "
                  f"{enhanced:.2f} dB", flush=True)


if __name__ == "__main__":
    main()
