"""Training, model selection and test of one stage of a run (``Stage``): the Trainer (one
process's share of the work), the epoch loop and the scoring of the selected model
(``train_stage``); ``stages.py`` sets a run up and runs its stages in order.

Data flow: config lines -> ``dataset.ExampleSet`` (loader workers) -> device ->
``methods`` step (STFT, CNN, loss) -> Adam; after every epoch the validation SI-SNRi
picks the best model, which is finally scored on the test set. One checkpoint dict
(``checkpoint.py``) per epoch makes every run resumable.
"""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

import checkpoint
import dataset
import distributed
import noise_reference
import quality
from checkpoint import jsonable
from methods import (SCALE_HISTOGRAM, Method, Objective, abs_logit_histogram, build_model,
                     completed_config, enhance, first_reference, logit_scale, method_for,
                     model_config, spectral_of)
from metric import SI_SNR
from noise_spans import NoiseSpans
from model import for_inference
from recipes import Options
from report import Scores, progress, summarise_examples, write_metrics
from runtime import UsageError, default_num_workers
from warm_start import StartingPoint, load_into

log = logging.getLogger("pulse")

@dataclass(frozen=True)
class Stage:
    """One stage of a run: the method's own training (index 0, the teacher of any student) or
    student round ``index``, training a network of ``method`` for ``epochs``."""

    index: int
    method: str
    epochs: int

    @property
    def name(self) -> str:
        """``teacher`` for the method's own training, ``studentR`` for student round R."""
        return f"student{self.index}" if self.index else "teacher"

    def kept(self, out_dir: Path) -> Path:
        """Where the stage's selected model is kept for the next round (``teacher.pt``,
        ``student1.pt``, ...)."""
        return out_dir / f"{self.name}.pt"


def on_device(batch: list[torch.Tensor], device: torch.device
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(first, second, references or None) of a batch of ``dataset.ExampleSet`` items."""
    first, second, *references = (x.to(device, non_blocking=True) for x in batch)
    return first, second, references[0] if references else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- training and evaluation

class Trainer:
    """One process's share of training, validation and test."""

    def __init__(self, args: Options, stage: Stage, launch: distributed.Launch,
                 device: torch.device, prior_value: float, start: StartingPoint | None = None):
        self.args, self.stage, self.launch, self.device = args, stage, launch, device
        self.prior = prior_value
        self.model_config = model_config(args, stage.method)
        self.spectral = spectral_of(self.model_config)
        self.method: Method = method_for(self.model_config)
        self.fits_mask_scale = stage.method == "PU" and args.mask == "soft"
        self.mask_scale: float | None = None
        self.model = build_model(self.model_config)
        if start is not None:
            load_into(self.model, start, stage.method)
        self.model = self.model.to(device)
        if args.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_model: nn.Module = self.model
        if launch.world_size > 1:
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        if args.compile:
            self.train_model = torch.compile(self.train_model, mode=args.compile)
        self.objective: Objective = self.method.objective(args, prior_value)
        self.base_lr = args.lr_per_GPU * launch.world_size
        self.lr_schedule, self.epochs = args.lr_schedule, stage.epochs
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.base_lr)
        self.bf16 = args.precision == "bf16"
        self.shuffled_clips = stage.method == "PU" and args.pu_batches == "shuffled"
        self.reshuffles = args.batch_order == "epoch"
        self.si_snr = SI_SNR[args.si_snr]
        workers = loader_workers(args)
        self.loader_options = dict(num_workers=workers, pin_memory=device.type == "cuda",
                                   persistent_workers=workers > 0)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def inference_model(self) -> nn.Module:
        """An inference copy of the current weights (see ``model.for_inference``)."""
        return for_inference(self.model, self.device)

    def train_loader(self, data: dataset.ExampleSet) -> tuple[DataLoader, DistributedSampler]:
        """Batches of ``--batch_size`` clips: the clips of whole lines, or (``--pu_batches
        shuffled``) clips drawn from both PU classes shuffled together. The sampler's
        permutation is drawn from ``--seed`` and the epoch it is set to (``run_epochs``)."""
        items: Dataset = data
        per_batch = max(1, self.args.batch_size // self.method.clips_per_line)
        if self.shuffled_clips:
            items, per_batch = dataset.LabelledClips(data), self.args.batch_size
        sampler = DistributedSampler(items, self.launch.world_size, self.launch.rank,
                                     shuffle=True, seed=self.args.seed)
        loader = DataLoader(items, batch_size=per_batch, sampler=sampler,
                            worker_init_fn=seed_worker, **self.loader_options)
        return loader, sampler

    def train_epoch(self, loader: DataLoader, epoch: int) -> float:
        """One pass over this rank's share; returns the mean reported loss over all ranks."""
        self.train_model.train()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        first_bad = torch.tensor(-1, device=self.device)
        batches = progress(loader, "training", self.args.quiet or not self.launch.is_main)
        steps = len(loader)
        for step, batch in enumerate(batches):
            lr = learning_rate(self.base_lr, self.lr_schedule,
                               ((epoch - 1) * steps + step) / (self.epochs * steps))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            noisy, second, references = on_device(batch, self.device)
            with self.autocast():
                objective, reported = self.objective(self.train_model, self.spectral, noisy,
                                                     second, references)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.optimizer.step()
            total[0] += reported
            total[1] += 1
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(reported), step, first_bad)
        distributed.all_sum(total)
        if first_bad.item() >= 0 or not torch.isfinite(total[0]):
            raise FloatingPointError(
                f"the training loss became NaN or infinite at step {first_bad.item()} of epoch "
                f"{epoch}; stopped, the checkpoints of earlier epochs are kept (try a lower "
                "--lr_per_GPU)")
        return (total[0] / total[1].clamp_min(1)).item()

    def eval_loader(self, data: dataset.ExampleSet) -> DataLoader:
        """This rank's share of an evaluation set; kept for the whole run (workers persist)."""
        mine = Subset(data, distributed.shard(len(data), self.launch))
        return DataLoader(mine, batch_size=self.args.eval_batch_size or self.args.batch_size,
                          **self.loader_options)

    @torch.no_grad()
    def evaluate(self, loader: DataLoader, desc: str,
                 keep_examples: bool = False) -> tuple[float, list[dict]]:
        """Mean SI-SNRi (dB) over every example of the set, each scored on exactly one rank,
        and, if asked, every example's scores (SI-SNR in and out, --metrics), on every rank."""
        model = self.inference_model()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        examples = []
        indices = iter(loader.dataset.indices)
        for batch in progress(loader, desc, self.args.quiet or not self.launch.is_main):
            noisy, clean, references = on_device(batch, self.device)
            with self.autocast():
                estimate = enhance(model, self.method, self.spectral, noisy,
                                   first_reference(references))
            before, after = self.si_snr(noisy, clean), self.si_snr(estimate, clean)
            total[0] += (after - before).sum()
            total[1] += len(noisy)
            if keep_examples:
                for i, (b, a) in enumerate(zip(before.tolist(), after.tolist())):
                    row = {"index": next(indices), "input_si_snr_db": b, "output_si_snr_db": a}
                    if self.args.metrics:
                        row.update(quality.score(self.args.metrics, *(
                            x[i].double().cpu().numpy() for x in (estimate, noisy, clean)),
                            rate=self.args.sample_rate))
                    examples.append(row)
        distributed.all_sum(total)
        if keep_examples:
            examples = sorted(distributed.gather(examples), key=lambda row: row["index"])
        return (total[0] / total[1]).item(), examples

    @torch.no_grad()
    def fit_mask_scale(self, loader: DataLoader) -> None:
        """Fix the soft PU mask's scale for the current weights: the median |logit| over
        every bin of the loader's noisy clips, on all ranks (``methods.logit_scale``)."""
        if not self.fits_mask_scale:
            return
        model = self.inference_model()
        histogram = torch.zeros(SCALE_HISTOGRAM[2], dtype=torch.float64, device=self.device)
        quiet = self.args.quiet or not self.launch.is_main
        for batch in progress(loader, "mask scale", quiet):
            noisy, _, references = on_device(batch, self.device)
            with self.autocast():
                magnitude = self.spectral.stft(noisy).abs()
                logits = model(self.spectral.input_of(
                    magnitude, first_reference(references)))
            histogram += abs_logit_histogram(logits[:, :1])
        distributed.all_sum(histogram)
        self.use_mask_scale(logit_scale(histogram))

    def use_mask_scale(self, scale: float | None) -> None:
        self.mask_scale = scale
        self.method = method_for(self.model_config, scale)

    def use_selected(self, selected: dict) -> None:
        """Load a ``best_by`` entry's weights and the mask scale fitted with them."""
        self.model.load_state_dict(selected["model"])
        self.use_mask_scale(selected.get("mask_scale"))

    @torch.no_grad()
    def validation_loss(self, loader: DataLoader) -> float:
        """The method's training loss (PU: the risk R+ + R-) of the eval-mode model over
        validation pairs of noisy and noise clips: a criterion that needs no clean speech."""
        self.model.eval()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        for batch in progress(loader, "validation loss",
                              self.args.quiet or not self.launch.is_main):
            noisy, noise, references = on_device(batch, self.device)
            with self.autocast():
                _, reported = self.objective(self.model, self.spectral, noisy, noise,
                                             references)
            total[0] += reported.double() * len(noisy)
            total[1] += len(noisy)
        distributed.all_sum(total)
        return (total[0] / total[1]).item()

    def resume(self, state: dict, path: Path) -> tuple[int, dict, list[dict]]:
        """Restore weights, optimiser and random states from a ``last.pt`` checkpoint;
        returns (first epoch to run, the best epoch so far by each criterion, history)."""
        if completed_config(state["model_config"]) != self.model_config:
            raise UsageError(f"{path} holds a model {state['model_config']}, which differs "
                             f"from the one asked for {self.model_config}; use another --out_dir")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        if "best_by" not in state:  # written before selection criteria other than SI-SNRi
            old = state["best"]
            state["best_by"] = {} if old["model"] is None else {"val_si_snri_db": {
                "value": old["val_si_snri_db"], "epoch": old["epoch"], "model": old["model"]}}
        return state["epoch"] + 1, state["best_by"], state["history"]

    def checkpoint(self, epoch: int, best_by: dict, history: list[dict]) -> dict:
        return {"model": self.model.state_dict(), "model_config": self.model_config,
                "mask_scale": self.mask_scale, "prior": self.prior, "stage": self.stage.index,
                "optimizer": self.optimizer.state_dict(), "epoch": epoch, "best_by": best_by,
                "history": history, "args": jsonable(vars(self.args)),
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                        "torch": torch.get_rng_state()}}


def learning_rate(base: float, schedule: str, progress: float) -> float:
    """The rate at ``progress`` (the share of the run's steps done, in [0, 1))."""
    if schedule == "constant":
        return base
    return base * 0.5 * (1 + math.cos(math.pi * progress))


def loader_workers(args: Options) -> int:
    """``--num_workers``, or the default for this machine."""
    return default_num_workers() if args.num_workers is None else args.num_workers


def seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)


CRITERIA = {"val_si_snri_db": "validation SI-SNRi (needs clean speech)",
            "val_loss": "validation loss of the method (PU: risk) on noisy and noise clips (a "
                        "student: its loss on its teacher's estimates of them)"}
"""Model selection criteria: the higher SI-SNRi or the lower loss wins."""


def improves(criterion: str, value: float, best: dict | None) -> bool:
    """Whether ``value`` of ``criterion`` beats the best so far (finite values only)."""
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value > best["value"] if criterion == "val_si_snri_db" else value < best["value"]


def selection_criteria(args: Options, method: str, val_lines: list[dataset.Line]) -> list[str]:
    """The criteria the validation set allows a stage of ``method``, the one that selects
    the model first."""
    has_clean = isinstance(val_lines[0], dataset.ConfigLine)
    has_noise = not has_clean or all(line.extra_noise is not None for line in val_lines)
    available = [name for name, ok in (("val_si_snri_db", has_clean),
                                       ("val_loss", has_noise and method != "PN")) if ok]
    wanted = {"auto": available[:1], "si_snri": ["val_si_snri_db"], "loss": ["val_loss"]}
    chosen = wanted[args.select_by]
    if not chosen or chosen[0] not in available:
        raise UsageError(f"--select_by {args.select_by} needs a validation set with "
                         + ("clean speech (published-format lines)" if args.select_by == "si_snri"
                            else "noise examples (recordings lines, or 6-field lines) and "
                                 "--method PU or MixIT"))
    return chosen + [name for name in available if name != chosen[0]]


def build_trainer(args: Options, stage: Stage, launch: distributed.Launch, device: torch.device,
                  prior_value: float, start: StartingPoint | None = None) -> Trainer:
    """The Trainer of ``stage``, its weights drawn from ``--seed`` (and the stage's index) or
    taken from ``start``; afterwards each rank draws its own random numbers."""
    seed_everything(args.seed + stage.index)
    if args.fix_seed:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True
    trainer = Trainer(args, stage, launch, device, prior_value, start)
    seed_everything(args.seed + launch.rank)
    return trainer


def training_lines(args: Options, lines: list[dataset.Line]) -> list[dataset.Line]:
    """The training lines as the method reads them: fields swapped under ``--noisy_fields
    5-6`` (every method with a noise example)."""
    if args.method != "PN" and args.noisy_fields == "5-6":
        return dataset.with_noise_fields_swapped(lines)
    return lines


def training_set(args: Options, lines: list[dataset.Line], corpus: dataset.Corpus,
                 method: Method, spans: NoiseSpans) -> dataset.ExampleSet:
    """The training pairs of ``training_lines``: noise excerpts drawn afresh inside
    ``spans`` under ``--noise_excerpts random``, random tilts of up to ``--tilt_db``."""
    return dataset.ExampleSet(training_lines(args, lines), corpus, method.second(args),
                              fresh_noise=args.noise_excerpts == "random",
                              tilt_db=args.tilt_db, spans=spans,
                              references="drawn" if args.noise_reference == "on" else "none",
                              reference_drop=noise_reference.DROP_SHARE)


def evaluation_set(args: Options, lines: list[dataset.Line], corpus: dataset.Corpus,
                   second: str = "clean") -> dataset.ExampleSet:
    """Validation or test examples of ``lines``: with the references the lines give (fields
    5-6) under ``--noise_reference on``, or for noise pairs (``second``) references drawn
    beside them, the same every time."""
    references = "none"
    if args.noise_reference == "on":
        references = "given" if second == "clean" else "drawn"
    return dataset.ExampleSet(lines, corpus, second, references=references)


def validation_loaders(args: Options, trainer: Trainer, lines: list[dataset.Line],
                       corpus: dataset.Corpus, loss_set: Callable[[], Dataset] | None = None
                       ) -> tuple[list[str], dict[str, DataLoader]]:
    """The selection criteria (the deciding one first) and a loader for each; the loss is
    taken over ``loss_set()`` where given (a student's), else over the method's pairs."""
    criteria = selection_criteria(args, trainer.stage.method, lines)
    sets = {"val_si_snri_db": lambda: evaluation_set(args, lines, corpus),
            "val_loss": loss_set or (lambda: evaluation_set(args, lines, corpus,
                                                            trainer.method.second(args)))}
    return criteria, {name: trainer.eval_loader(sets[name]()) for name in criteria}


@dataclass
class Progress:
    """Where a run stands: the next epoch, the best epoch so far by each criterion (value,
    epoch, weights) and one row of figures per epoch."""

    next_epoch: int = 1
    best_by: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


def restore_progress(trainer: Trainer, out_dir: Path, history: list[dict]) -> Progress:
    """The progress of ``out_dir/last.pt`` restored into ``trainer`` where it saved the
    trainer's stage (a checkpoint written before stages holds stage 0), or a fresh start
    after the earlier stages' ``history``; every process must agree."""
    progress_made, last_path = Progress(history=list(history)), out_dir / "last.pt"
    state = checkpoint.load(last_path) if last_path.exists() else {}
    if state and state.get("stage", 0) == trainer.stage.index:
        progress_made = Progress(*trainer.resume(state, last_path))
        log.info("resuming %s after epoch %d", out_dir, progress_made.next_epoch - 1)
    resumed = distributed.all_sum(torch.tensor([progress_made.next_epoch, 1.0],
                                               dtype=torch.float64, device=trainer.device))
    if resumed[0].item() != progress_made.next_epoch * resumed[1].item():
        raise UsageError(f"the processes disagree on where to resume: {last_path} must be "
                         "visible to every process (a shared file system)")
    return progress_made


def validate(trainer: Trainer, val_loaders: dict[str, DataLoader], criteria: list[str],
             run: Progress, epoch: int, row: dict) -> None:
    """Score the current weights (after fitting the soft mask's scale) on every criterion
    into ``row``, and keep them as epoch ``epoch``'s candidate for each criterion they
    improve."""
    trainer.fit_mask_scale(val_loaders[criteria[0]])
    if trainer.mask_scale is not None:
        row["mask_scale"] = trainer.mask_scale
    for name in criteria:
        if name == "val_si_snri_db":
            row[name] = trainer.evaluate(val_loaders[name], "validation")[0]
        else:
            row[name] = trainer.validation_loss(val_loaders[name])
        if improves(name, row[name], run.best_by.get(name)):
            run.best_by[name] = {"value": row[name], "epoch": epoch,
                                 "mask_scale": trainer.mask_scale,
                                 "model": {k: v.detach().cpu().clone()
                                           for k, v in trainer.model.state_dict().items()}}


def score_the_start(trainer: Trainer, val_loaders: dict[str, DataLoader], criteria: list[str],
                    run: Progress, out_dir: Path) -> None:
    """Epoch 0 of a student: the weights it starts from, exactly its teacher's mask, scored
    on the criteria and kept as a candidate, so the student selected is never worse on them
    than its teacher. The random state is left as it was, so the epochs that follow are
    the same as without it."""
    row = {"stage": trainer.stage.name, "epoch": 0}
    with torch.random.fork_rng(devices=[]):
        validate(trainer, val_loaders, criteria, run, 0, row)
    run.history.append(row)
    log.info("epoch 0 (the weights it starts from): %s",
             ", ".join(f"{name} {row[name]:.4g}" for name in criteria))
    if trainer.launch.is_main and criteria[0] in run.best_by:
        best = run.best_by[criteria[0]]
        checkpoint.save({**trainer.checkpoint(0, run.best_by, run.history),
                         "model": best["model"], "mask_scale": best["mask_scale"]},
                        out_dir / "best.pt")
        write_metrics(out_dir / "metrics.csv", run.history)


def run_epochs(trainer: Trainer, loader: DataLoader, sampler: DistributedSampler,
               val_loaders: dict[str, DataLoader], criteria: list[str], run: Progress,
               out_dir: Path) -> None:
    """Train, validate and checkpoint every remaining epoch."""
    clips = len(loader.dataset) * (1 if trainer.shuffled_clips else trainer.method.clips_per_line)
    for epoch in range(run.next_epoch, trainer.epochs + 1):
        started = time.time()
        # --batch_order fixed: the one permutation the reference trains on (its sampler
        # never has set_epoch called, so every epoch is epoch 0)
        sampler.set_epoch(epoch if trainer.reshuffles else 0)
        train_loss = trainer.train_epoch(loader, epoch)
        train_seconds = time.time() - started
        row = {"stage": trainer.stage.name} if trainer.args.student else {}
        row.update({"epoch": epoch, "train_loss": train_loss})
        validate(trainer, val_loaders, criteria, run, epoch, row)
        seconds = time.time() - started
        row.update({"seconds": round(seconds, 2), "lr": trainer.optimizer.param_groups[0]["lr"],
                    "train_clips_per_s": round(clips / train_seconds, 2),
                    "val_seconds": round(seconds - train_seconds, 2)})
        run.history.append(row)
        best = run.best_by.get(criteria[0], {"value": math.nan, "epoch": 0})
        log.info("epoch %d/%d: train %s %.4f, %s (best %s %.4g, epoch %d), %.1f s", epoch,
                 trainer.epochs, trainer.method.loss_name, train_loss,
                 ", ".join(f"{name} {row[name]:.4g}" for name in criteria), criteria[0],
                 best["value"], best["epoch"], seconds)
        if trainer.launch.is_main:
            state = trainer.checkpoint(epoch, run.best_by, run.history)
            if best["epoch"] == epoch:
                checkpoint.save({**state, "model": best["model"],
                                 "mask_scale": best.get("mask_scale")}, out_dir / "best.pt")
            checkpoint.save(state, out_dir / "last.pt")
            write_metrics(out_dir / "metrics.csv", run.history)
        run.next_epoch = epoch + 1


def score_selected(args: Options, trainer: Trainer, run: Progress, criteria: list[str],
                   test_set: dataset.ExampleSet | None, val_loaders: dict[str, DataLoader],
                   start: StartingPoint | None) -> Scores:
    """Load the epoch the deciding criterion chose and score it on the test set (and with
    ``--metrics`` on the validation set); also score what the other criterion chose."""
    if criteria[0] not in run.best_by:
        silent = (" (under --si_snr reference one silent estimate makes an epoch's mean NaN, "
                  "and such an epoch is never selected, as in the reference release)"
                  if criteria[0] == "val_si_snri_db" and args.si_snr == "reference" else "")
        raise FloatingPointError(f"no epoch can be selected: no epoch gave a finite "
                                 f"{CRITERIA[criteria[0]]}{silent}; no best.pt was written")
    best = run.best_by[criteria[0]]
    results = {"method": args.method, "recipe": args.recipe,
               "recipe_choices": args.recipe_choices, "overrides": args.overrides,
               "best_epoch": best["epoch"],
               "prior": ({"value": trainer.prior, "estimated": args.prior == "auto"}
                         if args.method == "PU" else None),
               "selection": {"criterion": criteria[0], "value": best["value"],
                             "epoch": best["epoch"]},
               **{name: run.best_by[name]["value"] for name in criteria if name in run.best_by}}
    results["val_si_snri_db"] = best["value"] if criteria[0] == "val_si_snri_db" else None
    results.update({"world_size": trainer.launch.world_size, "device": str(trainer.device),
                    "init_from": start.record(trainer.stage.method) if start else None})
    scores = Scores(results)
    if test_set is not None:
        test_loader = trainer.eval_loader(test_set)
        for name in criteria[1:]:  # what the other criterion would have chosen, for comparison
            if name in run.best_by:
                trainer.use_selected(run.best_by[name])
                results["selection"]["alternative"] = {
                    "criterion": name, "epoch": run.best_by[name]["epoch"],
                    "test_si_snri_db": trainer.evaluate(test_loader, "test")[0]}
        trainer.use_selected(best)
        results["test_si_snri_db"], scores.test_examples = trainer.evaluate(
            test_loader, "test", keep_examples=True)
        results["test_summary"] = summarise_examples(scores.test_examples)
    trainer.use_selected(best)
    results["mask_scale"] = trainer.mask_scale
    if args.metrics and "val_si_snri_db" in criteria:  # scored like the test set
        _, scores.val_examples = trainer.evaluate(val_loaders["val_si_snri_db"],
                                                  "validation metrics", keep_examples=True)
        results["val_summary"] = summarise_examples(scores.val_examples)
    return scores


def train_stage(trainer: Trainer, training: Dataset, val_lines: list[dataset.Line],
                corpus: dataset.Corpus, out_dir: Path, test_set: dataset.ExampleSet | None,
                start: StartingPoint | None = None, history: list[dict] = (),
                loss_set: Callable[[], Dataset] | None = None) -> Scores:
    """Train ``trainer``'s stage on ``training`` (continuing ``out_dir/last.pt`` where it
    saved this stage, else after the earlier stages' ``history``), select an epoch by the
    validation lines (the loss over ``loss_set()`` where given) and score it."""
    loader, sampler = trainer.train_loader(training)
    criteria, val_loaders = validation_loaders(trainer.args, trainer, val_lines, corpus,
                                               loss_set)
    run = restore_progress(trainer, out_dir, history)
    if trainer.stage.index and run.next_epoch == 1:
        score_the_start(trainer, val_loaders, criteria, run, out_dir)
    log.info("%s: %s on %s, %d process(es), lr %.3g, %d parameters, %d epochs, model selected "
             "by %s; output in %s", trainer.stage.name, trainer.stage.method, trainer.device,
             trainer.launch.world_size, trainer.base_lr,
             sum(p.numel() for p in trainer.model.parameters()), trainer.epochs,
             CRITERIA[criteria[0]], out_dir)
    run_epochs(trainer, loader, sampler, val_loaders, criteria, run, out_dir)
    if run.best_by.get(criteria[0], {}).get("epoch") == 0:
        log.info("%s: no epoch beat the weights it started from by %s; they are its model "
                 "(epoch 0)", trainer.stage.name, CRITERIA[criteria[0]])
    return score_selected(trainer.args, trainer, run, criteria, test_set, val_loaders, start)
