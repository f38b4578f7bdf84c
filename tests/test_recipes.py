"""``--recipe``: every choice it settles, explicit flags over it, and the reference recipe's
maths on fixed tensors against hand-derived values."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import dataset
import pulse
import recipes
from conftest import TINY_RUN, make_tiny_corpus
from methods import METHODS, build_model, method_for
from spectral import Spectral

CPU = torch.device("cpu")
REFERENCE = {"mask": "binary", "risk_norm": "count", "noise_level": "unit",
             "precision": "fp32", "noisy_fields": "5-6", "pu_batches": "shuffled",
             "nn_rule": "reference", "mixit_loss": "reference", "mixit_scale": "unit",
             "input_norm": "none", "batch_order": "fixed", "si_snr": "reference",
             "resampler": "sinc", "noise_excerpts": "fixed", "noise_reference": "off"}
PULSE = {"mask": "soft", "risk_norm": "weight", "noise_level": "paired", "noisy_fields": "2-3",
         "pu_batches": "paired", "nn_rule": "kiryo", "mixit_loss": "clip",
         "mixit_scale": "shared", "input_norm": "frequency", "batch_order": "epoch",
         "si_snr": "bounded", "resampler": "soxr", "noise_excerpts": "random",
         "noise_reference": "off"}
OTHER_VALUE = {"mask": "soft", "risk_norm": "weight", "noise_level": "paired",
               "precision": "bf16", "noisy_fields": "2-3", "pu_batches": "paired",
               "nn_rule": "kiryo", "mixit_loss": "batch", "mixit_scale": "shared",
               "regulariser": "batchnorm", "input_norm": "frequency", "batch_order": "epoch",
               "si_snr": "bounded", "resampler": "soxr", "noise_excerpts": "random",
         "noise_reference": "off"}


def resolved(*argv: str, device: torch.device = CPU, recordings: bool = False):
    return recipes.resolve(pulse.parse_args(list(argv)), device, recordings)


@pytest.mark.parametrize("option", sorted(REFERENCE))
def test_reference_recipe_sets_every_choice(option):
    args = resolved("--recipe", "reference")
    assert getattr(args, option) == REFERENCE[option]
    assert args.recipe_choices[option] == REFERENCE[option] and args.overrides == []


@pytest.mark.parametrize("option", sorted(PULSE))
def test_pulse_recipe_is_the_default(option):
    assert getattr(resolved(), option) == PULSE[option]


@pytest.mark.parametrize("method, reference, pulse_recipe", [
    ("PU", "dropout", "batchnorm"), ("PN", "batchnorm", "batchnorm"),
    ("MixIT", "dropout", "dropout")])
def test_regulariser_per_method_and_recipe(method, reference, pulse_recipe):
    assert resolved("--method", method, "--recipe", "reference").regulariser == reference
    assert resolved("--method", method).regulariser == pulse_recipe


@pytest.mark.parametrize("method, pulse_recipe", [("PU", "random"), ("MixIT", "fixed")])
def test_noise_excerpts_per_method_and_recipe(method, pulse_recipe):
    assert resolved("--method", method).noise_excerpts == pulse_recipe
    assert resolved("--method", method, "--recipe", "reference").noise_excerpts == "fixed"
    assert resolved("--method", "MixIT", "--noise_excerpts", "random").noise_excerpts == "random"


@pytest.mark.parametrize("method, rounds", [("PU", 1), ("MixIT", 0), ("NyTT", 0), ("PN", 0)])
def test_student_rounds_per_method_and_recipe(method, rounds):
    assert resolved("--method", method).student == rounds
    assert resolved("--method", method, "--recipe", "reference").student == 0
    assert resolved("--method", method).student_epochs == 100  # --epochs
    assert resolved("--method", method, "--epochs", "7").student_epochs == 7
    if method in recipes.STUDENT_TEACHERS:  # PN has no student to ask for
        given = resolved("--method", method, "--student", "2", "--student_epochs", "3")
        assert (given.student, given.student_epochs) == (2, 3)


def test_reference_recipe_trains_in_fp32_on_cuda_too():
    assert resolved("--recipe", "reference", device=torch.device("cuda")).precision == "fp32"
    assert resolved(device=torch.device("cuda")).precision == "bf16"


@pytest.mark.parametrize("option", sorted(OTHER_VALUE))
def test_an_explicit_flag_overrides_the_recipe(option):
    args = resolved("--recipe", "reference", f"--{option}", OTHER_VALUE[option])
    assert getattr(args, option) == OTHER_VALUE[option]
    assert args.overrides == [option]


def test_data_and_device_defaults_are_settled_in_the_same_place():
    published = resolved()
    assert published.prior == recipes.DEFAULT_PRIOR
    assert published.test_fname == recipes.DEFAULT_TEST_FNAME
    assert published.channels_last is recipes.trains_channels_last(CPU)
    on_recordings = resolved(recordings=True)
    assert on_recordings.prior == "auto" and on_recordings.test_fname is None


@pytest.mark.parametrize("units, expected", [(False, "fp32"), (True, "bf16")])
def test_auto_precision_on_cpu_follows_the_bf16_units(monkeypatch, units, expected):
    precision, why = recipes.auto_precision(CPU, bf16_units=units)
    assert precision == expected and why.startswith(expected)
    monkeypatch.setattr(recipes, "cpu_has_bf16_units", lambda: units)
    args = resolved()
    assert args.precision == expected
    assert recipes.summary(args, CPU).endswith(f"precision: {why}")
    reference = resolved("--recipe", "reference")
    assert reference.precision == "fp32"
    assert recipes.summary(reference, CPU).endswith("precision: fp32, the reference recipe's")


def test_bf16_units_are_read_from_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert recipes.cpu_has_bf16_units()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert not recipes.cpu_has_bf16_units()


def test_unweighted_pu_is_the_reference_name_for_p_0():
    args = resolved("--method", "PU_no_weight")
    assert (args.method, args.p) == ("PU", 0.0)
    with pytest.raises(SystemExit):
        pulse.parse_args(["--method", "PU_no_weight", "--p", "0.5"])


def test_help_names_the_recipe_and_both_values(capsys):
    with pytest.raises(SystemExit):
        pulse.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--recipe {pulse,reference}" in text
    assert "pulse: soft; reference: binary" in text
    assert "(default: None)" not in text


# ---------------------------------------------------------------- the reference's maths

class FixedLogits(nn.Module):
    """A "network" whose output is a fixed logit tensor, to differentiate the risk by it."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.logits


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def reference_risk_by_hand(logits, magnitude, labels, prior, p, mode, beta, gamma):
    """The reference release's weighted PU loss and its gradient by the logits, written
    out bin by bin: counts normalise, l(z) = sigmoid(-z), dl/dz = -sigmoid(z)sigmoid(-z)."""
    z, w = logits[:, 0].double(), (magnitude.double() + 1e-7) ** p
    positive = labels.bool()
    n_pos, n_unl = positive.sum() * z[0].numel(), (~positive).sum() * z[0].numel()
    pos = prior * (w[positive] * torch.sigmoid(-z[positive])).sum() / n_pos
    neg = ((w[~positive] * torch.sigmoid(z[~positive])).sum() / n_unl
           - prior * (w[positive] * torch.sigmoid(z[positive])).sum() / n_pos)
    slope = torch.sigmoid(z) * torch.sigmoid(-z)
    d_pos = torch.where(positive.view(-1, 1, 1), -prior * w * slope / n_pos, 0.0)
    d_neg = torch.where(positive.view(-1, 1, 1), -prior * w * slope / n_pos,
                        w * slope / n_unl)
    if mode == "unbiased" or neg > beta:
        return (pos + neg).item(), (d_pos + d_neg)[:, None]
    return (gamma * (beta - neg)).item(), -gamma * d_neg[:, None]


@pytest.mark.parametrize("p", [1.0, 0.0])
@pytest.mark.parametrize("mode, beta", [("nn", 0.0), ("nn", 0.3), ("unbiased", 0.0)])
@pytest.mark.parametrize("shift", [0.0, 3.0])  # 3: confident "noise" on every bin, R- < beta
def test_reference_pu_risk_and_gradient_by_hand(p, mode, beta, shift):
    torch.manual_seed(0)
    spectral = Spectral(16, sample_rate=16000)
    clips = torch.randn(4, 64)
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])  # shuffled batches: any mix of both classes
    magnitude = spectral.stft(clips).abs()
    logits = torch.randn(4, 1, *magnitude.shape[1:]) + shift
    args = resolved("--recipe", "reference", "--p", str(p), "--mode", mode, "--beta", str(beta),
                    "--gamma", "0.25")
    model = FixedLogits(logits)
    objective, _ = METHODS["PU"].objective(args, args.prior)(model, spectral, clips, labels)
    objective.backward()
    value, gradient = reference_risk_by_hand(logits, magnitude, labels, 0.6, p, mode, beta, 0.25)
    assert objective.item() == pytest.approx(value, rel=1e-5, abs=1e-7)
    torch.testing.assert_close(model.logits.grad.double(), gradient, rtol=1e-5, atol=1e-8)


def test_reference_recipe_masks_with_the_binary_decision():
    args = resolved("--recipe", "reference")
    config = {"method": "PU", "mask": args.mask}
    logits = torch.tensor([[[[-2.0, -1e-3, 0.0, 1e-3, 5.0]]]])
    assert method_for(config).mask(logits).tolist() == [[[1.0, 1.0, 0.0, 0.0, 0.0]]]


def test_reference_mixit_objective_is_the_broadcast_loss():
    """Through the objective the reference recipe builds: unit-std parts, broadcast loss."""
    torch.manual_seed(2)
    spectral = Spectral(16, sample_rate=16000)
    noisy, noise = torch.randn(3, 64), 2 * torch.randn(3, 64)
    logits = torch.randn(3, 3, 9, 17)
    args = resolved("--recipe", "reference", "--method", "MixIT")
    value, _ = METHODS["MixIT"].objective(args, args.prior)(FixedLogits(logits), spectral, noisy, noise)
    mixture = noisy + noise
    mixture = mixture / mixture.std(dim=-1, keepdim=True)
    mix_mag, noisy_mag, noise_mag = (spectral.stft(x).abs() for x in (mixture, noisy, noise))
    masks = torch.sigmoid(logits)
    terms = []
    for speech_and, alone in ((1, 2), (2, 1)):
        total = 0.0
        for i in range(3):
            for j in range(3):
                est = (masks[j, 0] + masks[j, speech_and]) * mix_mag[i]
                total += ((est - noisy_mag[i]) ** 2).sum() + (
                    (masks[j, alone] * mix_mag[i] - noise_mag[i]) ** 2).sum()
        terms.append(total / (9 * mix_mag[0].numel()))
    assert value.item() == pytest.approx(min(terms).item(), rel=1e-5)


# ---------------------------------------------------------------- data the recipe picks

def test_noisy_fields_decide_which_noise_the_training_mixture_holds(tmp_path):
    corpus = make_tiny_corpus(tmp_path)
    lines = dataset.read_config(corpus.train, dataset.TRAIN_FIELDS)
    where = dataset.Corpus(str(corpus.clean_path), str(corpus.noise_path), 4000, sample_rate=16000)
    line = next(x for x in lines if x.noise != x.extra_noise)

    def excerpt(name: str, start_s: float) -> np.ndarray:
        path = dataset.resolve(name, where.noise_root)
        return dataset.standardise(dataset.read_excerpt(path, start_s, 4000, rate=16000), path)

    for swap, mixed, separate in ((False, (line.noise, line.noise_start_s),
                                   (line.extra_noise, line.extra_noise_start_s)),
                                  (True, (line.extra_noise, line.extra_noise_start_s),
                                   (line.noise, line.noise_start_s))):
        chosen = dataset.with_noise_fields_swapped([line]) if swap else [line]
        noisy, noise = dataset.ExampleSet(chosen, where, "noise")[0]
        np.testing.assert_allclose(noise.numpy(), excerpt(*separate), rtol=1e-5, atol=1e-5)
        clean = dataset.load_parallel(chosen[0], where)[1]
        residual = noisy.double().numpy() - clean
        expected = excerpt(*mixed)
        scale = residual @ expected / (expected @ expected)
        np.testing.assert_allclose(residual, scale * expected, rtol=1e-4, atol=1e-4)


def test_shuffled_pu_batches_mix_both_classes_from_all_2n_clips(tmp_path):
    corpus = make_tiny_corpus(tmp_path, n_train=12)
    lines = dataset.read_config(corpus.train, dataset.TRAIN_FIELDS)
    pairs = dataset.ExampleSet(lines, dataset.Corpus(str(corpus.clean_path),
                                                     str(corpus.noise_path), 4000,
                                                     sample_rate=16000), "noise")
    clips = dataset.LabelledClips(pairs)
    assert len(clips) == 24
    clip, label = clips[5]
    assert label.item() == 1.0 and torch.equal(clip, pairs[2][1])
    assert clips[4][1].item() == 0.0 and torch.equal(clips[4][0], pairs[2][0])


def _run(tmp_path, *flags: str) -> dict:
    corpus = make_tiny_corpus(tmp_path / "data")
    out = tmp_path / "o"
    assert pulse.main([*TINY_RUN, *corpus.options(), "--epochs", "1", "--out_dir", str(out),
                       "--quiet", *flags]) == 0
    return json.loads((out / "results.json").read_text())


def test_a_reference_run_records_its_recipe_everywhere(tmp_path):
    results = _run(tmp_path, "--recipe", "reference", "--mask", "soft")
    assert results["recipe"] == "reference" and results["overrides"] == ["mask"]
    assert results["recipe_choices"] == {**REFERENCE, "mask": "soft", "regulariser": "dropout"}
    state = torch.load(tmp_path / "o" / "last.pt", weights_only=False)
    assert state["args"]["recipe"] == "reference" and state["args"]["pu_batches"] == "shuffled"
    assert build_model(state["model_config"])[2].__class__ is nn.Dropout2d
    assert state["model"]["0.weight"].shape[1] == 1  # the paper's input: no reference channel
    log = (tmp_path / "o" / "train.log").read_text()
    assert "recipe reference: mask soft, risk_norm count" in log and "(given: mask)" in log


def test_prior_auto_estimates_the_share_its_risk_means(tmp_path, monkeypatch):
    import prior

    seen = []

    def estimate(*args, p, **kwargs):
        seen.append(p)
        return 0.55

    monkeypatch.setattr(prior, "estimate_prior", estimate)
    assert _run(tmp_path, "--prior", "auto", "--risk_norm", "count")["prior"] == {
        "value": 0.55, "estimated": True}
    _run(tmp_path / "w", "--prior", "auto", "--p", "0.5")
    assert seen == [0.0, 0.5]


@pytest.mark.parametrize("method, loss", [("PU", "si_snr"), ("MixIT", "magnitude"),
                                          ("NyTT", "magnitude")])
def test_remix_loss_per_method(method, loss):
    assert resolved("--method", method).remix_loss == loss  # PU's students: measured to pay
    other = {"si_snr": "magnitude", "magnitude": "si_snr"}[loss]
    assert resolved("--method", method, "--remix_loss", other).remix_loss == other


def test_students_remix_at_the_noise_level_inside_the_clip_unless_told():
    assert resolved("--method", "PU").remix_level == "paired"  # measured to pay: real-audio.md
    assert resolved("--method", "PU", "--remix_level", "removed").remix_level == "removed"
