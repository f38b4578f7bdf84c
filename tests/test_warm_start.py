"""--init_from: a run starts from another run's weights (any method, the same network),
with a clear error when the networks differ; a resumed run keeps its own weights."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import pulse
from conftest import ROOT, TINY_RUN, pink_noise, real_speech

STILL = ["--lr_per_GPU", "1e-12"]
"""A rate at which one epoch leaves every weight where it started (to 1e-9)."""


def _run(corpus, out, *flags: str) -> int:
    return pulse.main([*TINY_RUN, *corpus.options(), "--out_dir", str(out), "--quiet", *flags])


def _convolutions(path) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=False)["model"]
    return {key: value for key, value in state.items() if value.dim() == 4}


@pytest.fixture(scope="module")
def pn_model(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("pn") / "run"
    assert _run(tiny_corpus, out, "--method", "PN", "--epochs", "1") == 0
    return out / "best.pt"


def test_the_same_method_starts_from_every_weight(tiny_corpus, tmp_path, pn_model):
    assert _run(tiny_corpus, tmp_path / "o", "--method", "PN", "--epochs", "1",
                "--init_from", str(pn_model), *STILL) == 0
    source, started = _convolutions(pn_model), _convolutions(tmp_path / "o" / "best.pt")
    assert source.keys() == started.keys()
    for key in source:
        torch.testing.assert_close(started[key], source[key], rtol=0, atol=1e-8)
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["init_from"] == {"path": str(pn_model), "method": "PN",
                                    "output_layer": "copied"}
    assert f"weights from {pn_model} (PN; output layer copied)" in (
        tmp_path / "o" / "train.log").read_text()


def test_another_method_keeps_the_body_and_draws_a_new_output_layer(tiny_corpus, tmp_path,
                                                                     pn_model):
    assert _run(tiny_corpus, tmp_path / "o", "--method", "PU", "--epochs", "1",
                "--init_from", str(pn_model), *STILL) == 0
    assert _run(tiny_corpus, tmp_path / "fresh", "--method", "PU", "--epochs", "1", *STILL) == 0
    source, started = _convolutions(pn_model), _convolutions(tmp_path / "o" / "best.pt")
    fresh = _convolutions(tmp_path / "fresh" / "best.pt")
    output = max(started, key=lambda key: int(key.split(".")[0]))
    for key in started:
        expected = fresh[key] if key == output else source[key]  # PU's 1x1 output is new
        torch.testing.assert_close(started[key], expected, rtol=0, atol=1e-8)
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["init_from"]["output_layer"] == "new"


def test_a_different_network_is_a_clear_error(tiny_corpus, tmp_path, pn_model, capsys):
    assert _run(tiny_corpus, tmp_path / "o", "--blocks", "1", "--channels", "8",
                "--init_from", str(pn_model)) == 1
    error = capsys.readouterr().err
    assert f"--init_from {pn_model}: its network differs" in error
    assert "--blocks 2 there, 1 here" in error and "--channels 4 there, 8 here" in error
    assert not (tmp_path / "o" / "last.pt").exists()
    assert _run(tiny_corpus, tmp_path / "m", "--init_from", str(tmp_path / "none.pt")) == 1
    assert "not a PULSE checkpoint" in capsys.readouterr().err


def test_a_resumed_run_keeps_its_own_weights(tiny_corpus, tmp_path, pn_model):
    out = tmp_path / "o"
    assert _run(tiny_corpus, out, "--method", "PU", "--epochs", "1") == 0
    own = _convolutions(out / "last.pt")
    assert _run(tiny_corpus, out, "--method", "PU", "--epochs", "2", "--resume",
                "--init_from", str(pn_model), *STILL) == 0
    assert json.loads((out / "results.json").read_text())["init_from"] is None
    resumed = _convolutions(out / "last.pt")
    for key in own:
        torch.testing.assert_close(resumed[key], own[key], rtol=0, atol=1e-8)


def test_two_processes_start_from_the_checkpoint(tiny_corpus, tmp_path, pn_model):
    out = tmp_path / "o"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2"]
    result = subprocess.run([*torchrun, str(ROOT / "pulse.py"), "--dist", "--device", "cpu",
                             *TINY_RUN, *tiny_corpus.options(), "--out_dir", str(out),
                             "--method", "PU", "--epochs", "1", "--init_from", str(pn_model),
                             *STILL], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2 and results["init_from"]["method"] == "PN"
    source, started = _convolutions(pn_model), _convolutions(out / "best.pt")
    body = [key for key in started if key in source and started[key].shape == source[key].shape]
    assert len(body) == len(started) - 1
    for key in body:
        torch.testing.assert_close(started[key], source[key], rtol=0, atol=1e-8)


def test_the_shipped_starter_enhances_without_a_checkpoint(tmp_path):
    """--enhance alone uses pretrained/'s starter model and says so."""
    from test_pulse import pulse as run_in_process
    from warm_start import STARTER

    from metric import si_snr_improvement

    state = torch.load(STARTER, weights_only=False)
    assert state["model_config"]["method"] == "PN" and STARTER.stat().st_size < 200_000
    speech = real_speech()[:32000]
    noisy = speech + pink_noise(np.random.default_rng(0), 32000)  # 1.8 dB SI-SNR
    sf.write(tmp_path / "take.wav", noisy, 16000)
    result = run_in_process("--enhance", str(tmp_path / "take.wav"), "--output_dir",
                            str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "no --checkpoint: enhancing with the starter model" in result.stderr
    enhanced, rate = sf.read(tmp_path / "out" / "take.wav")
    assert rate == 16000 and len(enhanced) == 32000
    gain_db = si_snr_improvement(*(torch.from_numpy(x)[None] for x in (enhanced, noisy, speech)))
    assert gain_db.item() > 4.0  # 6.6 dB seen; scaling the input alone gives 0 dB


def test_pu_adapts_the_starter_with_the_default_network(tiny_corpus, tmp_path):
    from warm_start import STARTER

    assert _run(tiny_corpus, tmp_path / "o", "--method", "PU", "--epochs", "1", "--frame_len",
                "1024", "--channels", "8", "--init_from", str(STARTER)) == 0
    record = json.loads((tmp_path / "o" / "results.json").read_text())["init_from"]
    assert record == {"path": str(STARTER), "method": "PN", "output_layer": "new"}
