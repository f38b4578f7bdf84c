"""The batched, on-device pipeline gives what a naive per-item one gives."""
from __future__ import annotations

import pytest
import torch

import dataset
import loss
from conftest import make_tiny_corpus
from distributed import Launch
from methods import METHODS, PUObjective, build_model, enhance
from metric import si_snr_improvement
from pulse import parse_args
from recipes import resolve, trains_channels_last
from runtime import default_num_workers
from spectral import Spectral
from train import Stage, Trainer

PU_RISK = PUObjective(prior=0.6, p=1.0, risk_norm="weight")
CONFIG = {"method": "PU", "blocks": 2, "fcblocks": 0, "channels": 4, "droprate": 0.2,
          "regulariser": "batchnorm", "frame_len": 128, "feature": "linear"}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    corpus = make_tiny_corpus(tmp_path_factory.mktemp("fast"))
    lines = dataset.read_config(corpus.train, dataset.TRAIN_FIELDS)
    data = dataset.ExampleSet(lines, dataset.Corpus(corpus.clean_path, corpus.noise_path, 4000,
                                                    sample_rate=16000),
                              "noise_paired")
    noisy, noise = zip(*(data[i] for i in range(len(data))))
    return torch.stack(noisy), torch.stack(noise)


def _model(channels_last: bool):
    torch.manual_seed(0)
    model = build_model(CONFIG).eval()
    return model.to(memory_format=torch.channels_last) if channels_last else model


def test_batched_features_and_loss_equal_per_item(batch):
    noisy, noise = batch
    spectral = Spectral(128, sample_rate=16000)
    per_item = torch.stack([spectral.stft(w[None])[0] for w in torch.cat([noisy, noise])])
    torch.testing.assert_close(spectral.stft(torch.cat([noisy, noise])), per_item)
    magnitude = per_item.abs()
    labels = torch.cat([torch.zeros(len(noisy)), torch.ones(len(noise))])
    naive_model = _model(False)
    logits = naive_model(spectral.feature_of(magnitude))[:, 0]
    naive = sum(loss.pu_risks(logits, labels, magnitude, 0.6, 1.0, "weight"))
    _, fast = PU_RISK(_model(True), spectral, noisy, noise)
    torch.testing.assert_close(fast, naive.detach(), rtol=1e-5, atol=1e-6)


def test_batched_evaluation_equals_one_clip_at_a_time(batch):
    noisy, noise = batch
    clean = noisy - noise
    spectral = Spectral(128, sample_rate=16000)
    model = _model(True)
    batched = si_snr_improvement(enhance(model, METHODS["PU"], spectral, noisy), noisy, clean)
    one_by_one = torch.cat([si_snr_improvement(enhance(_model(False), METHODS["PU"], spectral,
                                                       n[None]), n[None], c[None])
                            for n, c in zip(noisy, clean)])
    torch.testing.assert_close(batched, one_by_one, rtol=0, atol=1e-4)


@pytest.mark.parametrize("layout", ["--channels_last", "--no-channels_last"])
def test_evaluation_runs_channels_last_with_the_current_weights(batch, layout):
    noisy, noise = batch
    args = parse_args(["--blocks", "2", "--channels", "4", "--frame_len", "128", "--prior", "0.6",
                       layout])
    opts = resolve(args, torch.device("cpu"), False)
    trainer = Trainer(opts, Stage(0, opts.method, opts.epochs), Launch(), torch.device("cpu"), 0.6)
    trainer.model.train()
    objective, _ = trainer.objective(trainer.model, trainer.spectral, noisy, noise)
    objective.backward()
    trainer.optimizer.step()  # moves the weights and the BatchNorm statistics
    model = trainer.inference_model()
    assert not model.training and trainer.model.training
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in model.parameters() if p.dim() == 4)
    features = trainer.spectral.feature_of(trainer.spectral.stft(noisy).abs())
    with torch.no_grad():
        torch.testing.assert_close(model(features), trainer.model.eval()(features))


def test_bf16_autocast_stays_close_to_fp32(batch):
    """bf16 (the CUDA default) against fp32: loss within 2 %, SI-SNRi within 0.5 dB."""
    noisy, noise = batch
    spectral = Spectral(128, sample_rate=16000)
    unweighted = PUObjective(prior=0.6, p=0.0)
    model = _model(True)
    pn = build_model({**CONFIG, "method": "PN"}).eval()
    _, fp32 = unweighted(model, spectral, noisy, noise)
    fp32_snri = si_snr_improvement(enhance(pn, METHODS["PN"], spectral, noisy), noisy, noisy - noise)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, bf16 = unweighted(model, spectral, noisy, noise)
        bf16_snri = si_snr_improvement(enhance(pn, METHODS["PN"], spectral, noisy), noisy,
                                       noisy - noise)
    assert bf16.item() == pytest.approx(fp32.item(), rel=0.02)
    assert (bf16_snri - fp32_snri).abs().max().item() < 0.5


@pytest.mark.parametrize("device, capability, expected", [
    ("cuda", "AVX2", True), ("cpu", "AVX512", True), ("cpu", "AVX2", False),
    ("cpu", "DEFAULT", False)])
def test_training_memory_format_follows_the_hardware(monkeypatch, device, capability, expected):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    assert trains_channels_last(torch.device(device)) is expected


@pytest.mark.parametrize("cores, local_processes, expected", [
    (2, None, 1), (1, None, 1), (16, None, 8), (64, None, 8), (16, "4", 2), (8, "16", 1)])
def test_loader_workers_from_the_core_count(monkeypatch, cores, local_processes, expected):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    monkeypatch.delenv("SLURM_NTASKS_PER_NODE", raising=False)
    if local_processes:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local_processes)
    else:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert default_num_workers() == expected
