"""A whole run: its set-up (process, options settled once, checked config lines, run
folder), the method's own training (the teacher of any student), then each student round
(``student.py``), each stage resumable from ``last.pt``, then the reports.

Stage 0 trains, selects and tests the method (``method_stage``); with ``--student R`` its
selected model is kept as ``teacher.pt`` and student rounds 1 to R follow, each learning
from the one before it (``student1.pt``, ...); the last becomes ``best.pt``. ``last.pt``
names the stage it saved, so a stopped run continues in that stage.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import torch

import checkpoint
import dataset
import distributed
import noise_spans
import prior
import quality
import recipes
import student
from methods import METHODS, REMIX_METHOD, build_model, model_config, spectral_of
from noise_spans import NoiseSpans
from recipes import Options
from report import Scores, draw_figures, write_reports
from runtime import UsageError, keep_freed_memory, local_processes, pick_device, setup_logging
from train import (Stage, Trainer, build_trainer, evaluation_set, loader_workers,
                   seed_everything, seed_worker, train_stage, training_set)
from warm_start import starting_point

log = logging.getLogger("pulse")


def start_process(args: argparse.Namespace) -> tuple[distributed.Launch, torch.device]:
    """Launch detection, device, threads, logging and the process group."""
    launch = distributed.detect_launch() if args.dist else distributed.Launch()
    if args.compile == "reduce-overhead" and launch.world_size > 1:
        raise UsageError("--compile reduce-overhead works in one process only; use --compile "
                         "default with several processes")
    device = pick_device(args.device, launch)
    if device.type == "cpu":
        keep_freed_memory()
        if launch.world_size > 1:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_processes()))
    setup_logging(launch.is_main)
    distributed.init(launch, device)
    return launch, device


def read_lines(opts: Options, corpus: dataset.Corpus, test_given: bool
               ) -> dict[str, list[dataset.Line]]:
    """Every example of the run's config files, after checking each line's format and every
    audio file the well-formed lines name: all problems in one message, before training.
    The default test file (``recipes.DEFAULT_TEST_FNAME``, unless ``test_given``) is looked
    at only if the training file could be read."""
    uses_noise_example = opts.method != "PN"  # fields 5-6
    checker = dataset.ConfigChecker(corpus)
    lines = {"train": checker.load(opts.train_fname, dataset.TRAIN_FIELDS if uses_noise_example
                                   else dataset.EVAL_FIELDS),
             "val": checker.load(opts.val_fname, dataset.EVAL_FIELDS)}
    wanted = opts.test_fname is not None and (bool(lines["train"]) or test_given)
    lines["test"] = checker.load(opts.test_fname, dataset.EVAL_FIELDS) if wanted else []
    checker.raise_problems()
    recordings = isinstance(lines["train"][0], dataset.RecordingLine)
    if recordings and opts.method == "PN":
        raise UsageError(f"--method PN learns from clean speech, and {opts.train_fname} holds "
                         "recordings (REC lines) without any; use --method PU or MixIT")
    if lines["test"] and isinstance(lines["test"][0], dataset.RecordingLine):
        raise UsageError(f"{opts.test_fname} holds recordings: a test set needs clean speech "
                         "to score; judge recordings with --enhance and --metrics dnsmos")
    return lines


def checked_spans(lines: dict[str, list[dataset.Line]], clip_s: float) -> NoiseSpans:
    """The parts of the noise files that training may draw fresh excerpts from
    (``noise_spans.check``): a test excerpt that overlaps a training excerpt is refused,
    one inside a training span is cut out of it, and validation excerpts that share noise
    with training are reported (the published protocol draws both from the same part). A
    test line's fields 5-6, which scoring never reads, are not looked at. Clips last
    ``clip_s`` seconds."""
    found = noise_spans.check(dataset.noise_excerpts(lines["train"], clip_s),
                              dataset.noise_excerpts(lines["val"], clip_s),
                              dataset.noise_excerpts(lines["test"], clip_s, extra=False))
    if found.refused:
        raise dataset.DataError("test lines read noise that training lines read:\n"
                                + dataset.summarise(found.refused, 5))
    if found.avoided:
        log.info("fresh noise excerpts avoid %d test excerpts inside the part of their files "
                 "that training lines read: %s", len(found.avoided), found.avoided[0])
    if found.shared:
        log.info("%d validation excerpts lie where training lines read noise too, so model "
                 "selection hears noise training heard: %s", len(found.shared), found.shared[0])
    return found.spans


def new_run_dir(method: str) -> Path:
    base = Path("runs") / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def open_run_dir(opts: Options, launch: distributed.Launch) -> Path:
    """The run's folder (``--out_dir`` or a new one), with ``train.log`` from now on. A
    folder holding another run's ``best.pt`` and no ``last.pt`` to resume is refused: a
    run that selects no epoch would leave that stale model behind as its own."""
    out_dir = opts.out_dir or new_run_dir(opts.method)
    if (out_dir / "best.pt").exists() and not (out_dir / "last.pt").exists():
        raise UsageError(f"{out_dir} holds a best.pt but no last.pt to resume from: the output "
                         "of another run; give another --out_dir or move it away")
    if launch.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(True, out_dir / "train.log")
    return out_dir


def saved_stage(out_dir: Path) -> int:
    """The index of the stage that ``out_dir/last.pt`` saved (0 where there is none, or it
    predates stages)."""
    last_path = out_dir / "last.pt"
    return checkpoint.load(last_path).get("stage", 0) if last_path.exists() else 0


def keep_stage(trainer: Trainer, scores: Scores, out_dir: Path) -> None:
    """Keep the selected model of the stage ``trainer`` just finished (``Stage.kept``) with
    its scores and the run's history so far, for the next round to learn from and a resumed
    run to report."""
    if trainer.launch.is_main:
        state = checkpoint.load(out_dir / "last.pt")
        state.update(model=trainer.model.state_dict(), mask_scale=trainer.mask_scale,
                     results=scores.results)
        checkpoint.save(state, trainer.stage.kept(out_dir))
    distributed.barrier()


def class_prior(args: Options, lines: list[dataset.Line], corpus: dataset.Corpus,
                last_path: Path, device: torch.device) -> float:
    """The class prior the run trains with: ``--prior`` as settled, or under ``--prior
    auto`` (PU) the estimate a resumed run made or a new one (see ``prior.py``), averaged
    over processes so that every one trains with the same prior. Under ``--risk_norm
    count`` the estimate is the plain share of noise bins, under ``weight`` their
    |X|**p-weighted share: the prior each risk means."""
    if args.prior != "auto":
        return args.prior
    if last_path.exists():
        state = checkpoint.load(last_path)
        return state.get("prior", state["args"]["prior"])  # before "prior": args held it
    seed_everything(args.seed)
    pairs = dataset.ExampleSet(lines, corpus, METHODS[args.method].second(args))
    started = time.time()
    value = prior.estimate_prior(
        lambda: build_model(model_config(args, args.method)),
        spectral_of(model_config(args, args.method)), pairs,
        device, max(1, args.batch_size // 2), p=args.p if args.risk_norm == "weight" else 0.0,
        loader_options=dict(num_workers=loader_workers(args), worker_init_fn=seed_worker))
    value = distributed.all_sum(torch.tensor([value, 1.0], dtype=torch.float64, device=device))
    estimate = (value[0] / value[1]).item()
    log.info("class prior estimated from the training data: %.3f (%.1f s)", estimate,
             time.time() - started)
    return estimate


def method_stage(opts: Options, stage: Stage, launch: distributed.Launch, device: torch.device,
                 lines: dict[str, list[dataset.Line]], corpus: dataset.Corpus, out_dir: Path,
                 spans: NoiseSpans, test_set: dataset.ExampleSet | None
                 ) -> tuple[Trainer, Scores]:
    """Train the method itself (the teacher of any student), select and test it."""
    start = None
    if opts.init_from and not (out_dir / "last.pt").exists():  # a resumed run's weights win
        start = starting_point(opts.init_from, model_config(opts, opts.method))
        log.info("weights from %s (%s; output layer %s)", opts.init_from, start.method,
                 start.record(opts.method)["output_layer"])
    trainer = build_trainer(opts, stage, launch, device, class_prior(
        opts, lines["train"], corpus, out_dir / "last.pt", device), start)
    scores = train_stage(trainer, training_set(opts, lines["train"], corpus, trainer.method,
                                               spans),
                         lines["val"], corpus, out_dir, test_set, start)
    return trainer, scores


def stage_summary(results: dict) -> dict:
    """What results.json's ``stages`` keeps of a stage's scores."""
    keys = ("best_epoch", "selection", "val_si_snri_db", "test_si_snri_db", "mask_scale")
    return {key: results[key] for key in keys if key in results}


def run(args: argparse.Namespace) -> int:
    """Train, select and test as ``args`` asks, then any student rounds; returns the exit
    status."""
    launch, device = start_process(args)
    quality.require(args.metrics)
    opts = recipes.resolve(args, device, dataset.holds_recordings(args.train_fname))
    corpus = dataset.Corpus(opts.clean_path, opts.noise_path, opts.wav_len, opts.resampler,
                            sample_rate=opts.sample_rate)
    if opts.demo and launch.is_main:
        from demo_corpus import ensure_demo_corpus
        ensure_demo_corpus(Path("demo_data"), clip_s=corpus.clip_s)
    distributed.barrier()
    lines = read_lines(opts, corpus, test_given=args.test_fname is not None)
    log.info("config files: %d training, %d validation, %d test examples; all files checked",
             *(len(lines[s]) for s in ("train", "val", "test")))
    spans = checked_spans(lines, corpus.clip_s)
    choices = recipes.summary(opts, device)
    if opts.check_only:
        log.info(choices)
        distributed.shutdown()
        return 0
    out_dir = open_run_dir(opts, launch)
    log.info(choices)
    # the noise level of a recordings line's noise example is matched against every noise
    # recording of the run, the validation files' too (none for published-format lines)
    corpus = corpus.with_noise_profiles(lines["train"] + lines["val"])
    test_set = evaluation_set(opts, lines["test"], corpus) if lines["test"] else None
    resumed = saved_stage(out_dir)
    if resumed > opts.student:
        raise UsageError(f"{out_dir / 'last.pt'} was saved in student round {resumed}; "
                         f"continue it with --student {resumed} or more, or use another "
                         "--out_dir")
    stages = [Stage(0, opts.method, opts.epochs),
              *(Stage(r, REMIX_METHOD, opts.student_epochs) for r in range(1, opts.student + 1))]
    results = {}
    if resumed == 0:
        trainer, scores = method_stage(opts, stages[0], launch, device, lines, corpus, out_dir,
                                       spans, test_set)
    for teacher, stage in zip(stages, stages[1:]):
        if teacher.index < resumed:  # finished before the run was stopped
            results[teacher.name] = checkpoint.load(teacher.kept(out_dir))["results"]
        else:
            keep_stage(trainer, scores, out_dir)
            results[teacher.name] = scores.results
        if stage.index >= resumed:
            trainer, scores = student.student_round(opts, stage, teacher, launch, device, lines,
                                                    corpus, out_dir, spans, test_set)
    if opts.student:
        results[stages[-1].name] = scores.results
        scores.results["stages"] = {name: stage_summary(r) for name, r in results.items()}
    if launch.is_main:
        write_reports(opts, scores, lines, out_dir, trainer.method.loss_name)
        if opts.figures:
            draw_figures(out_dir, trainer.inference_model(), trainer.method, trainer.spectral,
                         test_set or evaluation_set(opts, lines["val"], corpus,
                                                    trainer.method.second(opts)), opts.method)
        for kept in out_dir.glob(student.TARGETS_GLOB):
            kept.unlink()
    del trainer
    distributed.shutdown()
    return 0
