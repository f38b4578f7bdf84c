"""train.py: the batch order, the selection rule for silent estimates, options settled once
and the run folder it refuses; each through real tiny runs."""
from __future__ import annotations

import json

import pytest
import torch

import pulse
import recipes
import train
from conftest import TINY_RUN


def _run(corpus, out, *flags: str) -> int:
    return pulse.main([*TINY_RUN, *corpus.options(), "--out_dir", str(out), "--quiet", *flags])


def _record_orders(monkeypatch) -> list[list[int]]:
    """The order in which every epoch's sampler hands out the training items."""
    orders, original = [], train.Trainer.train_epoch

    def recording(self, loader, epoch):
        orders.append(list(loader.sampler))
        return original(self, loader, epoch)

    monkeypatch.setattr(train.Trainer, "train_epoch", recording)
    return orders


def test_the_reference_recipe_trains_on_one_permutation_drawn_as_the_reference_draws_it(
        tiny_corpus, tmp_path, monkeypatch):
    """The reference's DistributedSampler is never told the epoch: seed 0, epoch 0, the same
    permutation of the 2N shuffled PU clips in every epoch. (Bounded scores: this tiny
    reference run's binary mask silences a validation clip, which would leave no epoch.)"""
    orders = _record_orders(monkeypatch)
    assert _run(tiny_corpus, tmp_path / "r", "--recipe", "reference", "--epochs", "3",
                "--si_snr", "bounded") == 0
    expected = torch.randperm(12, generator=torch.Generator().manual_seed(0)).tolist()
    assert orders == [expected] * 3


def test_the_default_reshuffles_every_epoch_and_fixed_can_be_asked_for(tiny_corpus, tmp_path,
                                                                       monkeypatch):
    orders = _record_orders(monkeypatch)
    assert _run(tiny_corpus, tmp_path / "d", "--epochs", "3") == 0
    assert len({tuple(order) for order in orders}) == 3
    orders.clear()
    assert _run(tiny_corpus, tmp_path / "f", "--epochs", "3", "--batch_order", "fixed") == 0
    assert len({tuple(order) for order in orders}) == 1


def _silence_validation(monkeypatch, silent_epochs: set[int]) -> None:
    """Every validation estimate of ``silent_epochs`` is all zeros (a collapsed mask)."""
    state = {"epoch": 0}
    train_epoch, enhance = train.Trainer.train_epoch, train.enhance

    def tracking(self, loader, epoch):
        state["epoch"] = epoch
        return train_epoch(self, loader, epoch)

    def maybe_silent(model, method, spectral, noisy, *reference):
        estimate = enhance(model, method, spectral, noisy, *reference)
        return torch.zeros_like(estimate) if state["epoch"] in silent_epochs else estimate

    monkeypatch.setattr(train.Trainer, "train_epoch", tracking)
    monkeypatch.setattr(train, "enhance", maybe_silent)


def test_reference_scoring_never_selects_an_epoch_with_a_silent_estimate(tiny_corpus, tmp_path,
                                                                       monkeypatch):
    _silence_validation(monkeypatch, {1})
    assert _run(tiny_corpus, tmp_path / "r", "--si_snr", "reference") == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["best_epoch"] == 2
    first = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[1]
    assert ",nan," in first.lower()


def test_no_selectable_epoch_is_a_clear_error_and_leaves_no_model(tiny_corpus, tmp_path,
                                                                  monkeypatch, capsys):
    _silence_validation(monkeypatch, {1, 2})
    assert _run(tiny_corpus, tmp_path / "r", "--recipe", "reference") == 1
    error = capsys.readouterr().err
    assert "no epoch can be selected" in error and "--si_snr reference" in error
    assert not (tmp_path / "r" / "best.pt").exists() and (tmp_path / "r" / "last.pt").exists()
    assert _run(tiny_corpus, tmp_path / "b", "--si_snr", "bounded") == 0  # -100 dB, selectable
    assert (tmp_path / "b" / "best.pt").exists()


def test_another_runs_model_in_the_output_folder_is_refused(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "best.pt").write_bytes(b"another run's model")
    assert _run(tiny_corpus, out) == 1
    assert "holds a best.pt but no last.pt" in capsys.readouterr().err
    assert (out / "best.pt").read_bytes() == b"another run's model"


def test_options_are_settled_once_and_read_only(tiny_corpus, tmp_path, monkeypatch):
    """One resolve per run, after the lines are read; the options it returns cannot change
    (so --prior auto keeps its word and the estimate lives beside it), and the parsed
    arguments are left as given."""
    import prior

    calls, resolve = [], recipes.resolve

    def counting(args, device, recordings):
        calls.append(vars(args).copy())
        return resolve(args, device, recordings)

    monkeypatch.setattr(recipes, "resolve", counting)
    monkeypatch.setattr(prior, "estimate_prior", lambda *args, **kwargs: 0.55)
    assert _run(tiny_corpus, tmp_path / "o", "--prior", "auto") == 0
    assert len(calls) == 1 and calls[0]["mask"] is None  # the recipe's choices not yet made
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["prior"] == {"value": 0.55, "estimated": True}
    assert results["args"]["prior"] == "auto" and results["args"]["mask"] == "soft"
    assert torch.load(tmp_path / "o" / "last.pt", weights_only=False)["prior"] == 0.55
    settled = resolve(pulse.parse_args([]), torch.device("cpu"), False)
    with pytest.raises(AttributeError, match="read-only"):
        settled.prior = 0.7


def test_a_resumed_run_keeps_its_estimated_prior(tiny_corpus, tmp_path, monkeypatch):
    import prior

    monkeypatch.setattr(prior, "estimate_prior", lambda *args, **kwargs: 0.55)
    assert _run(tiny_corpus, tmp_path / "o", "--prior", "auto", "--epochs", "1") == 0
    monkeypatch.setattr(prior, "estimate_prior", lambda *args, **kwargs: 0.9)
    assert _run(tiny_corpus, tmp_path / "o", "--prior", "auto", "--resume") == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["prior"] == {"value": 0.55, "estimated": True}
