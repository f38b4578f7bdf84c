"""A whole run: the method's own training (the teacher of any student), then each student
round (``student.py``), each stage resumable from ``last.pt``, then the reports.

Stage 0 trains, selects and tests the method (``train.method_stage``); with ``--student
R`` its selected model is kept as ``teacher.pt`` and student rounds 1 to R follow, each
learning from the one before it (``student1.pt``, ...); the last becomes ``best.pt``.
``last.pt`` names the stage it saved, so a stopped run continues in that stage.
"""
from __future__ import annotations

import argparse
import logging

import checkpoint
import dataset
import distributed
import quality
import recipes
import student
from report import draw_figures, write_reports
from runtime import UsageError
from train import (checked_spans, keep_stage, method_stage, open_run_dir, saved_stage, settle,
                   stage_name, start_process)

log = logging.getLogger("pulse")


def stage_summary(results: dict) -> dict:
    """What results.json's ``stages`` keeps of a stage's scores."""
    keys = ("best_epoch", "selection", "val_si_snri_db", "test_si_snri_db", "mask_scale")
    return {key: results[key] for key in keys if key in results}


def run(args: argparse.Namespace) -> int:
    """Train, select and test as ``args`` asks, then any student rounds; returns the exit
    status."""
    launch, device = start_process(args)
    quality.require(args.metrics)
    opts, lines = settle(args, device)
    log.info("config files: %d training, %d validation, %d test examples; all files checked",
             *(len(lines[s]) for s in ("train", "val", "test")))
    corpus = dataset.Corpus(opts.clean_path, opts.noise_path, opts.wav_len, opts.resampler,
                            sample_rate=opts.sample_rate)
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
    test_set = dataset.ExampleSet(lines["test"], corpus) if lines["test"] else None
    resumed = saved_stage(out_dir)
    if resumed > opts.student:
        raise UsageError(f"{out_dir / 'last.pt'} was saved in student round {resumed}; "
                         f"continue it with --student {resumed} or more, or use another "
                         "--out_dir")
    stages = {}
    if resumed == 0:
        trainer, scores = method_stage(opts, launch, device, lines, corpus, out_dir, spans,
                                       test_set)
    for round_ in range(1, opts.student + 1):
        teacher = stage_name(round_ - 1)
        if round_ - 1 < resumed:  # finished before the run was stopped
            stages[teacher] = checkpoint.load(out_dir / f"{teacher}.pt")["results"]
        else:
            keep_stage(trainer, scores, out_dir)
            stages[teacher] = scores.results
        if round_ >= resumed:
            trainer, scores = student.student_round(opts, launch, device, lines, corpus,
                                                    out_dir, spans, round_, test_set)
    if opts.student:
        stages[stage_name(opts.student)] = scores.results
        scores.results.update(method=opts.method, prior=stages["teacher"]["prior"],
                              stages={name: stage_summary(r) for name, r in stages.items()})
    if launch.is_main:
        write_reports(opts, scores, lines, out_dir, trainer.method.loss_name)
        draw_figures(out_dir, trainer.inference_model(), trainer.method, trainer.spectral,
                     test_set or dataset.ExampleSet(lines["val"], corpus,
                                                    trainer.method.second(opts)), opts.method)
        for kept in out_dir.glob(student.TARGETS_GLOB):
            kept.unlink()
    del trainer
    distributed.shutdown()
    return 0
