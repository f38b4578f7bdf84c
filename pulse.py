"""PULSE: speech enhancement learnt from noisy speech and noise alone (PU learning),
with supervised learning (PN) and MixIT as baselines.

    python pulse.py --demo                        # built-in demo corpus, no download
    python pulse.py --method PU --lr_per_GPU 0.000037 --blocks 2   # VoiceBank+DEMAND

Data flow: config line -> waveforms (loader workers) -> device -> STFT features
-> CNN -> mask -> inverse STFT -> SI-SNRi. See README.md.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import torch

import dataset
import distributed
import quality
from audio import DEFAULT_RATE, RATE_RANGE, RESAMPLERS, rate_problem
from checkpoint import CheckpointError
from loss import MIXIT_LOSSES, NN_RULES, PU_LOSSES
from methods import INPUT_NORMS, METHODS, PU_MASKS, REMIX_LOSSES
from metric import SI_SNR
from recipes import (DEFAULT_PRIOR, DEFAULT_TEST_FNAME, DEMO_CLIP_S, DEMO_FRAME_S, DEMO_SETTINGS,
                     RECIPES, STUDENT_TEACHERS, UNWEIGHTED_PU, method_of)
from runtime import UsageError, keep_freed_memory, pick_device, setup_logging
from dataset import CLIP_S
from spectral import FEATURES, FRAME_S
from student import REMIX_LEVELS
from warm_start import STARTER

log = logging.getLogger("pulse")

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
"""``torch.compile`` modes that ``--compile`` accepts."""


# ---------------------------------------------------------------- command line

def _checked(kind: type, test, why: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"{text!r}: {why}")
        return value
    return parse


positive_int = _checked(int, lambda v: v > 0, "must be a positive integer")
non_negative_int = _checked(int, lambda v: v >= 0, "must be 0 or more")
positive_float = _checked(float, lambda v: math.isfinite(v) and v > 0, "must be a positive number")
non_negative_float = _checked(float, lambda v: math.isfinite(v) and v >= 0,
                              "must be a finite number, 0 or more")
finite_float = _checked(float, math.isfinite, "must be a finite number")
probability = _checked(float, lambda v: 0 < v < 1, "must lie strictly between 0 and 1")
rate = _checked(float, lambda v: 0 <= v < 1, "must lie in [0, 1)")
sample_rate_hz = _checked(int, lambda v: rate_problem(v) is None, rate_problem(0))


def prior_value(text: str) -> float | str:
    """--prior: a probability, or 'auto'."""
    return text if text == "auto" else probability(text)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the None of options settled later (by the recipe, the device
    or the data), whose help says what they become."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)


def recipe_option(group: argparse._ArgumentGroup, name: str, choices, text: str,
                  *aliases: str) -> None:
    """An option that ``--recipe`` settles unless it is given; its help ends with each
    recipe's value."""
    values = "; ".join(f"{recipe}: {chosen[name]}" for recipe, chosen in RECIPES.items())
    group.add_argument(f"--{name}", *aliases, choices=choices, default=None,
                       help=f"{text} (default from --recipe, {values})")


def _per_teacher(field: str) -> str:
    """Help text: each method a student can learn from with its ``methods.Method`` field."""
    return ", ".join(f"{name} {getattr(METHODS[name], field)}" for name in STUDENT_TEACHERS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Train, select and test a speech enhancement CNN with PULSE (PU learning), "
                    "supervised learning (PN), MixIT or noisy-target training (NyTT).",
        formatter_class=HelpFormatter)
    g = p.add_argument_group("method")
    g.add_argument("--method", choices=[*sorted(METHODS), UNWEIGHTED_PU], default="PU",
                   help="PU: PULSE, from noisy speech and noise; PN: supervised, from parallel "
                        f"noisy and clean speech; MixIT: mixture invariant training; NyTT: "
                        "noisy-target training (noisy clip + noise example -> noisy clip); "
                        f"{UNWEIGHTED_PU}: PU with --p 0, as the reference release names it")
    g.add_argument("--recipe", choices=tuple(RECIPES), default="pulse",
                   help="'reference' makes every choice the reference release makes (binary "
                        "mask, risks over bin counts, unit-std noise examples, Dropout2d for "
                        "PU and MixIT, fp32, noisy training mixtures from fields 5-6, PU "
                        "batches of shuffled clips, its nn rule, its MixIT loss, one batch "
                        "order for every epoch, NaN SI-SNR for silent estimates, its "
                        "resampler and the noise excerpts its config lines name); 'pulse' "
                        "makes this project's, chosen on real recordings. Each option it sets "
                        "can still be given; its help names both recipes' values")
    g.add_argument("--prior", type=prior_value, default=None,
                   help="PU: class prior, the share of noise (positive) bins in noisy speech, "
                        "weighted by |X|**p under --risk_norm weight, plain under count; or "
                        "'auto' to estimate that share from the training data (default: "
                        f"{DEFAULT_PRIOR}; auto when training on recordings)")
    g.add_argument("--mode", choices=("nn", "unbiased"), default="nn",
                   help="PU: non-negative (Kiryo et al. 2017) or unbiased empirical risk")
    g.add_argument("--beta", type=non_negative_float, default=0.0,
                   help="PU nn risk: the negative risk may go down to -beta before correction")
    g.add_argument("--gamma", type=positive_float, default=0.096,
                   help="PU nn risk: step size factor of the correction step")
    g.add_argument("--p", type=finite_float, default=1.0,
                   help="PU: exponent of the |X| weight of the loss (0: unweighted)")
    g.add_argument("--pu_loss", choices=tuple(PU_LOSSES), default="sigmoid",
                   help="PU: the surrogate loss l of the risk (sigmoid: the paper's; logistic: "
                        "log(1 + exp(-z)))")
    recipe_option(g, "risk_norm", ("weight", "count"),
                  "PU: divide each weighted risk term by its set's total weight (a weighted "
                  "mean, so --prior is the |X|-weighted noise share) or by its bin count")
    recipe_option(g, "nn_rule", NN_RULES,
                  "PU --mode nn: 'kiryo' corrects when R- < -beta with the step -gamma * R-; "
                  "'reference' when R- <= beta, with gamma * (beta - R-); the same at beta 0")
    recipe_option(g, "pu_batches", ("paired", "shuffled"),
                  "PU: a batch holds the noisy and the noise clip of batch_size/2 lines "
                  "('paired'), or batch_size clips drawn from all 2N noisy and noise clips "
                  "shuffled together")
    recipe_option(g, "noise_level", ("paired", "unit"),
                  "PU and NyTT: scale of each noise example: 'paired' brings it to the level "
                  "of the noise in its line's noisy clip; 'unit' gives it unit standard deviation")
    recipe_option(g, "noisy_fields", ("2-3", "5-6"),
                  "PU and MixIT training: the noise fields of a training line mixed with its "
                  "speech; the other two make the separate noise example (the reference "
                  "README describes 2-3, the reference code uses 5-6)")
    recipe_option(g, "mixit_loss", MIXIT_LOSSES,
                  "MixIT: pick the better assignment of the noise outputs for each clip "
                  "(standard MixIT) or once for the batch; 'reference' is the reference "
                  "release's loss, which also scores every clip's masks against every mixture "
                  "of the batch (a broadcast), not standard MixIT", "--mixit_assignment")
    recipe_option(g, "mixit_scale", ("shared", "unit"),
                  "MixIT: 'shared' divides the mixture of mixtures and both of its parts by the "
                  "mixture's standard deviation, so the targets add up to the mixture; 'unit' "
                  "rescales only the mixture, its parts keep unit std")
    recipe_option(g, "mask", tuple(PU_MASKS),
                  "PU: inference mask; 'binary' keeps the bins the classifier does not call "
                  "noise (the paper), 'soft' is sigmoid(-logit / s), s the median |logit| "
                  "over the validation clips' bins, fitted with the weights and stored in "
                  "the checkpoint")
    g = p.add_argument_group("model and features")
    g.add_argument("--blocks", type=non_negative_int, default=2,
                   help="CNN blocks; the CNN has 3 + 2 * blocks layers")
    g.add_argument("--fcblocks", type=non_negative_int, default=0,
                   help="how many of the last blocks use 1x1 convolutions")
    g.add_argument("--channels", type=positive_int, default=8, help="channels of the first layers")
    recipe_option(g, "regulariser", ("auto", "batchnorm", "dropout"),
                  "layer after each hidden ReLU; auto: the method's under the recipe (pulse: "
                  "BatchNorm2d for PU and PN, Dropout2d for MixIT; reference: BatchNorm2d for "
                  "PN, Dropout2d for PU and MixIT)")
    g.add_argument("--droprate", type=rate, default=0.2, help="Dropout2d rate")
    g.add_argument("--frame_len", type=positive_int, default=None,
                   help="STFT frame length in samples at --sample_rate (even); the hop is a "
                        f"quarter of it (default: {FRAME_S * 1000:g} ms, "
                        f"{round(FRAME_S * DEFAULT_RATE)} samples at {DEFAULT_RATE} Hz)")
    g.add_argument("--sample_rate", type=sample_rate_hz, default=DEFAULT_RATE, metavar="HZ",
                   help="the rate the model hears and is trained, validated and tested at "
                        f"({RATE_RANGE[0]}-{RATE_RANGE[1]} Hz; files at other rates are "
                        "resampled); stored in the checkpoint, so --enhance brings every "
                        "file to it. 16000 is the paper's; a higher rate lets the model "
                        "hear the band above 8 kHz (measured in docs/one-recording.md)")
    g.add_argument("--feature", choices=FEATURES, default="linear",
                   help="network input: 'linear' is |X|/15 as in the reference code, 'power' is "
                        "|X|**(1/15) as described in the paper")
    recipe_option(g, "input_norm", INPUT_NORMS,
                  "'frequency' normalises each frequency bin of the network's input (batch "
                  "normalisation over clips and frames, before the first convolution); "
                  "'clip' standardises each bin over the clip's own frames (no training "
                  "statistics kept); 'none' feeds the feature as it is (the paper)")
    recipe_option(g, "noise_reference", ("on", "off"),
                  "'on': the network also hears each bin against a noise-only reference of "
                  "the clip's place (per-frequency mean and spread of its log-magnitude): "
                  "training clips another excerpt of their noise file, validation and test "
                  "lines their fields 5-6, --enhance its --noise_clip; without one, the clip's "
                  "quietest frames (SPEC section 11)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=100, help="training epochs")
    g.add_argument("--batch_size", type=positive_int, default=16,
                   help="clips per batch and process (PU: half noisy, half noise)")
    g.add_argument("--lr_per_GPU", type=positive_float, default=3.7e-5,
                   help="Adam learning rate per process; the rate is this times the process count")
    g.add_argument("--lr_schedule", choices=("constant", "cosine"), default="constant",
                   help="'cosine' decays the rate to 0 over the --epochs of the run, a half cosine")
    recipe_option(g, "batch_order", ("epoch", "fixed"),
                  "'epoch' shuffles the training lines anew every epoch; 'fixed' trains on one "
                  "permutation, drawn from --seed, in every epoch, as the reference release "
                  "does (its sampler is never told the epoch)")
    recipe_option(g, "si_snr", tuple(SI_SNR),
                  "scoring of validation and test clips: 'bounded' keeps SI-SNR within "
                  "+-100 dB (a silent estimate scores -100 dB); 'reference' is the plain "
                  "ratio of the reference release, NaN for a silent estimate, so an epoch "
                  "with one silent validation clip has a NaN mean and is never selected"),
    g.add_argument("--wav_len", type=positive_int, default=None,
                   help=f"clip length in samples at --sample_rate (default: {CLIP_S:g} s, "
                        f"{round(CLIP_S * DEFAULT_RATE)} samples at {DEFAULT_RATE} Hz)")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--fix_seed", action="store_true",
                   help="also make every operation deterministic (slower on GPU); every run is "
                        "seeded by --seed either way (the reference seeded only with this flag, "
                        "and always with 0)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out_dir from its last completed epoch")
    g.add_argument("--init_from", type=Path, metavar="CKPT",
                   help="start from the weights of a trained model (best.pt or last.pt of "
                        "any run) instead of random ones: the same network options, any "
                        "method (the output layer is kept only for the same method); the "
                        "optimiser starts afresh; a run being resumed keeps its own weights"),
    g = p.add_argument_group("student stage (PU, MixIT, NyTT)")
    g.add_argument("--student", type=non_negative_int, default=None, metavar="ROUNDS",
                   help="after the method's own training, ROUNDS rounds of a student: the "
                        "selected model enhances every training clip once, and a supervised "
                        "network learns those estimates heard through fresh excerpts of the "
                        "training noise recordings; it is selected and tested as its teacher "
                        "was and becomes the run's model (and the next round's teacher). "
                        f"Default under --recipe pulse: {_per_teacher('student_rounds')}; 0 "
                        "under --recipe reference")
    g.add_argument("--student_epochs", type=positive_int, default=None,
                   help="epochs of each student round (default: --epochs)")
    g.add_argument("--remix_level", choices=REMIX_LEVELS, default="paired",
                   help="students: the rms of the training noise heard with each estimate: "
                        "that of the noise inside the clip (as PU's paired noise examples; "
                        "the default), or of what the teacher removed from it (the default "
                        "before 2026-12-07, for the figures measured with it)")
    g.add_argument("--remix_loss", choices=("auto", *REMIX_LOSSES), default="auto",
                   help="NyTT and students: signal approximation on magnitudes, or the "
                        "negative SI-SNR of the masked waveform; auto: "
                        f"{_per_teacher('remix_loss')} (the run's method: its students, and "
                        "NyTT's own stage)")
    g = p.add_argument_group("data")
    g.add_argument("--train_fname", default="voicebank_train_set.txt", help="training config file")
    g.add_argument("--val_fname", default="voicebank_val_set.txt", help="validation config file")
    g.add_argument("--test_fname", default=None,
                   help=f"test config file (default: {DEFAULT_TEST_FNAME}; none when "
                        "--train_fname holds recordings)")
    g.add_argument("--clean_path", default=None, metavar="DIR",
                   help="speech dataset folder: replaces the first directory of the speech paths "
                        "in the config files (a bare file name is looked for in DIR); by default "
                        "paths are used as written, from the working directory")
    g.add_argument("--noise_path", default=None, metavar="DIR",
                   help="noise dataset folder, used like --clean_path for the noise paths")
    recipe_option(g, "resampler", tuple(RESAMPLERS),
                  "how audio files that are not at 16 kHz are resampled: 'soxr' at very high "
                  "quality, or 'sinc', the reference release's windowed sinc (Hann window, "
                  "6 zero crossings each side, cut-off at 0.99 of the Nyquist rate)")
    recipe_option(g, "noise_excerpts", ("auto", "fixed", "random"),
                  "PU and MixIT: read each training line's noise example where its config line "
                  "says ('fixed'), or at a new random start every epoch ('random'), inside the "
                  "part of its file that the training lines read; auto: the method's (random "
                  "for PU, where it was measured to pay; fixed for MixIT)")
    g.add_argument("--tilt_db", type=non_negative_float, default=0.0, metavar="DB",
                   help="training augmentation: each training clip and what comes beside it "
                        "(clean speech or noise) pass through one random spectral tilt, drawn "
                        "uniformly within +-DB dB per octave around 1 kHz, anew every epoch; "
                        "0: none")
    g.add_argument("--select_by", choices=("auto", "si_snri", "loss"), default="auto",
                   help="model selection: validation SI-SNRi (needs clean speech) or the "
                        "method's loss on validation noisy and noise clips (PU: the risk; "
                        "needs recordings or 6-field validation lines); auto: SI-SNRi when "
                        "the validation set has clean speech")
    g.add_argument("--demo", action="store_true",
                   help="generate (once) and use the built-in demo corpus in ./demo_data with "
                        f"demo-sized settings {DEMO_SETTINGS}, {DEMO_CLIP_S:g} s clips and "
                        f"{DEMO_FRAME_S * 1000:g} ms frames for options left at their defaults")
    g.add_argument("--check_only", action="store_true",
                   help="check the config files and every audio file they name, then stop")
    g = p.add_argument_group("enhancing your own files")
    g.add_argument("--enhance", nargs="+", metavar="IN",
                   help="enhance these WAV/FLAC/OGG files or folders (recursively) with "
                        "--checkpoint (default: the starter model) instead of training; each "
                        "output keeps its input's sample rate, channels, length and format")
    g.add_argument("--noise_clip", nargs="+", type=Path, metavar="CLIP",
                   help="a few seconds of the recording's noise alone (same channels): the "
                        "model first adapts to each input from it (20 steps; a 60 s take "
                        "adapted and enhanced in 7.5-8 s on 2 cores) and, trained with "
                        "--noise_reference on, hears it as its reference; one clip for all "
                        "inputs, or one per input file in order")
    g.add_argument("--checkpoint", type=Path,
                   help="a trained model, e.g. runs/PU-.../best.pt (default with --enhance: "
                        "the starter model in pretrained/, trained on real speech in real "
                        "ambience; adapt it to your recordings with --init_from)")
    g.add_argument("--output_dir", type=Path,
                   help="where enhanced files go, with the input names (folders mirrored); "
                        "two inputs that would be written to one output are refused before "
                        "anything is written")
    g.add_argument("--overwrite", action="store_true", help="replace existing enhanced files")
    g = p.add_argument_group("hardware and output")
    g.add_argument("--out_dir", type=Path, default=None,
                   help="folder for checkpoints, logs and results "
                        "(default: a new runs/METHOD-TIME)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when available, else CPU")
    g.add_argument("--num_workers", type=non_negative_int, default=None,
                   help="data loader processes per training process (default: from the core count)")
    g.add_argument("--eval_batch_size", type=positive_int, default=None,
                   help="clips per evaluation batch (default: --batch_size)")
    recipe_option(g, "precision", ("auto", "fp32", "bf16"),
                  "CNN arithmetic (losses and metrics stay fp32); auto: bf16 autocast on CUDA "
                  "and on CPUs with bf16 units (AMX or AVX-512 BF16), else fp32 (train.log "
                  "says which and why)")
    g.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format for training the CNN (default: on for CUDA "
                        "and AVX-512 CPUs, off for other CPUs, where it measured slower); "
                        "evaluation always runs channels-last")
    g.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                   choices=COMPILE_MODES,
                   help="train the CNN compiled by torch.compile in MODE (%(choices)s; alone: "
                        "default); reduce-overhead replays CUDA graphs (one process only), "
                        "which pays where the host launches kernels slower than the GPU runs "
                        "them (measured in docs/performance.md)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--metrics", nargs="+", choices=quality.METRICS, default=[],
                   help="also score the test set and, with the best model, the validation set "
                        "(per example and mean) with these; with "
                        "--enhance only dnsmos, which needs no clean reference. Needs "
                        "`pip install -r requirements-metrics.txt`")
    g.add_argument("--figures", action=argparse.BooleanOptionalAction, default=True,
                   help="draw training_curves.png and example_K.png at the end of a run "
                        "(about 2 s on a CPU); --no-figures for sweeps and scripted runs, "
                        "whose curves --plot_only can draw later")
    g.add_argument("--plot_only", type=Path, metavar="RUN",
                   help="redraw RUN/training_curves.png from RUN/metrics.csv and stop")
    g.add_argument("--dist", action="store_true",
                   help="distributed data-parallel training under Slurm (srun) or torchrun")
    g.add_argument("--prefix", default="",
                   help="accepted for the reference's command lines and ignored: the master "
                        "host is the first of SLURM_STEP_NODELIST (or SLURM_JOB_NODELIST), "
                        "expanded whole, so no node-name prefix is needed")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line as given (``--demo`` lends its settings to the options left at their
    defaults), each value checked on its own; ``recipes.resolve`` settles the rest."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo:
        parser.set_defaults(**DEMO_SETTINGS,
                            train_fname="demo_data/demo_train_set.txt",
                            val_fname="demo_data/demo_val_set.txt",
                            test_fname="demo_data/demo_test_set.txt",
                            clean_path="demo_data/demo_speech", noise_path="demo_data/demo_noise")
        args = parser.parse_args(argv)
    if args.enhance and args.sample_rate != DEFAULT_RATE:
        parser.error("--sample_rate is a training option: --enhance works at the rate its "
                     "model was trained at, stored in the checkpoint")
    if args.fcblocks > args.blocks:
        parser.error(f"--fcblocks {args.fcblocks} exceeds --blocks {args.blocks}: "
                     "only existing blocks can use 1x1 convolutions")
    if args.frame_len is not None and (args.frame_len % 2 or args.frame_len < 4):
        parser.error(f"--frame_len {args.frame_len} must be even and at least 4 "
                     "(the hop is a quarter of it)")
    if args.method == UNWEIGHTED_PU and args.p not in (0.0, parser.get_default("p")):
        parser.error(f"--method {UNWEIGHTED_PU} is PU with --p 0; it cannot take --p {args.p}")
    if args.enhance and args.output_dir is None:
        parser.error("--enhance needs --output_dir, where the enhanced files go")
    if args.noise_clip and not args.enhance:
        parser.error("--noise_clip goes with --enhance: the recordings it is the noise of")
    if args.enhance and set(args.metrics) - {"dnsmos"}:
        parser.error("--enhance can only add --metrics dnsmos: the others need clean speech")
    if args.student and args.recipe == "reference":
        parser.error("--student trains a student after the reference release's method, which "
                     "has none: use --recipe pulse")
    if args.student and method_of(args.method) not in STUDENT_TEACHERS:
        parser.error(f"--student needs a teacher that learnt without clean speech "
                     f"({', '.join(STUDENT_TEACHERS)}); --method {args.method} has clean "
                     "speech to learn from")
    if args.resume and args.out_dir is None:
        parser.error("--resume needs --out_dir, the run to continue")
    return args


def enhance_main(args: argparse.Namespace) -> int:
    from enhance_files import enhance_files

    setup_logging(True)
    device = pick_device(args.device, distributed.Launch())
    if device.type == "cpu":
        keep_freed_memory()
    quality.require(args.metrics)
    model = args.checkpoint
    if model is None:
        model = STARTER
        log.info("no --checkpoint: enhancing with the starter model %s (docs/starter.md); "
                 "train on your own recordings with --init_from %s to adapt it", model, model)
    written = enhance_files(args.enhance, model, args.output_dir, device, args.overwrite,
                            dnsmos="dnsmos" in args.metrics, quiet=args.quiet,
                            noise_clips=args.noise_clip)
    log.info("%d files enhanced into %s", len(written), args.output_dir)
    return 0


def enhance(y, sr: int, noise=None, checkpoint: str | Path | None = None,
            device: str = "auto"):
    """Enhance a recording held in memory, as ``--enhance`` does a file.

    ``y``: a NumPy array of samples, (T,) or (T, channels), at ``sr`` Hz (any rate);
    returns an array of the same shape and dtype. ``noise``: a few seconds of the same
    recording's noise alone (same channels and rate), as ``--noise_clip`` takes it (and
    noisereduce's ``y_noise``): the model first adapts to ``y`` from it. ``checkpoint``: a
    trained model (default: the starter model); each one is loaded once and kept for later
    calls. Raises ValueError for an array that holds no signal, NaN samples or less than
    one frame of the model.

        import soundfile as sf, pulse
        y, sr = sf.read("take.wav")
        cleaned = pulse.enhance(y, sr, noise=sf.read("noise.wav")[0])
    """
    from enhance_files import enhance_array

    return enhance_array(y, sr, noise, Path(checkpoint or STARTER),
                         pick_device(device, distributed.Launch()))


def plot_main(run_dir: Path) -> int:
    import plots

    metrics = run_dir / "metrics.csv"
    try:
        plots.plot_curves(metrics, run_dir / "training_curves.png")
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"{metrics}: cannot draw training curves ({err})") from None
    print(run_dir / "training_curves.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.plot_only:
            return plot_main(args.plot_only)
        if args.enhance:
            return enhance_main(args)
        from stages import run

        return run(args)
    except (dataset.DataError, CheckpointError, FloatingPointError, UsageError,
            distributed.LaunchError, OSError) as err:
        message = str(err).strip()
        if "Traceback" in message:  # raised in a data loader worker: keep the worker's message
            message = message.splitlines()[-1].split(": ", 1)[-1]
        print(f"pulse.py: error: {message}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        if not torch.distributed.is_initialized():
            raise
        first_line = str(err).strip().splitlines()[0]
        print(f"pulse.py: error: rank {torch.distributed.get_rank()} stops because another "
              f"process of the job failed (see its messages): {first_line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
