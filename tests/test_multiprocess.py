"""Two real CPU processes with gloo: under torchrun and under hand-set Slurm variables."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, TINY_RUN, make_tiny_corpus

import dataset
from methods import build_model, enhance, method_for
from model import for_inference
from metric import si_snr_improvement
from spectral import Spectral


DIST_RUN = [*TINY_RUN, "--mask", "binary"]
"""With the binary mask: a 2-epoch model's logits sit near 0, where the soft mask turns
the float differences between batched, sharded evaluation and the one-clip-at-a-time
check below into 3e-4 dB (seen), more than its 1e-4 dB tolerance."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_process_val(out_dir, corpus, model_file: str = "best.pt") -> float:
    """Validation SI-SNRi of a run's model file computed here, in one process, one clip at
    a time."""
    state = torch.load(out_dir / model_file, weights_only=False)
    model = build_model(state["model_config"])
    model.load_state_dict(state["model"])
    model = for_inference(model, torch.device("cpu"))  # the form pulse.py evaluates
    config = state["model_config"]
    spectral = Spectral(config["frame_len"], config["feature"], sample_rate=16000)
    lines = dataset.read_config(corpus.val, dataset.EVAL_FIELDS)
    data = dataset.ExampleSet(lines, dataset.Corpus(corpus.clean_path, corpus.noise_path, 4000,
                                                    sample_rate=16000))
    scores = []
    for noisy, clean in data:
        estimate = enhance(model, method_for(config), spectral, noisy[None])
        scores.append(si_snr_improvement(estimate, noisy[None], clean[None]).item())
    return sum(scores) / len(scores)


def _check_run(result, out_dir, corpus, tolerance_db: float = 1e-4):
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("test SI-SNRi:") == 1  # rank 0 alone prints
    results = json.loads((out_dir / "results.json").read_text())
    assert results["world_size"] == 2
    assert results["val_si_snri_db"] == pytest.approx(_single_process_val(out_dir, corpus),
                                                      abs=tolerance_db)
    assert not list(out_dir.glob(".*.tmp*"))


def _torchrun(corpus, out, *options: str) -> subprocess.CompletedProcess:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2"]
    return subprocess.run([*torchrun, str(ROOT / "pulse.py"), "--dist", "--device", "cpu",
                           *DIST_RUN, *corpus.options(), "--out_dir", str(out), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_torchrun_two_cpu_processes_train_a_teacher_and_its_student(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    result = _torchrun(tiny_corpus, out, "--student", "1")
    # the student's soft mask, in bf16 there and fp32 here: 2e-4 dB apart (seen)
    _check_run(result, out, tiny_corpus, tolerance_db=2e-3)
    assert "2 process(es)" in result.stderr
    results = json.loads((out / "results.json").read_text())
    assert list(results["stages"]) == ["teacher", "student1"]
    assert results["stages"]["teacher"]["val_si_snri_db"] == pytest.approx(
        _single_process_val(out, tiny_corpus, "teacher.pt"), abs=1e-4)
    assert "teacher estimates of 6 clips" in result.stderr


def _slurm_job(corpus, out) -> tuple[list[int], list[tuple[str, str]]]:
    """Two processes started as srun would, with hand-set SLURM_* variables on localhost."""
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SLURM", "RANK",
                                                                            "WORLD_SIZE"))},
               "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank), "SLURM_NTASKS": "2",
               "SLURM_JOB_NODELIST": "localhost", "SLURM_JOB_ID": "77", "MASTER_PORT": port}
        procs.append(subprocess.Popen(
            [sys.executable, str(ROOT / "pulse.py"), "--dist", "--prefix", "node", "--device",
             "cpu", *DIST_RUN, *corpus.options(), "--out_dir", str(out)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in procs]
    return [p.returncode for p in procs], outputs


def test_slurm_variables_on_localhost(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    codes, outputs = _slurm_job(tiny_corpus, out)
    assert codes == [0, 0], outputs[1][1][-3000:]
    result = subprocess.CompletedProcess([], 0, outputs[0][0] + outputs[1][0], outputs[0][1])
    _check_run(result, out, tiny_corpus)


def test_a_failing_rank_ends_the_job_without_hanging(tmp_path):
    corpus = make_tiny_corpus(tmp_path / "data")
    wave, rate = sf.read(corpus.noise_path / "hum.wav")
    wave[20000:20200] = np.nan  # in training line 4's excerpt, past what the pre-flight reads
    sf.write(corpus.noise_path / "hum.wav", wave, rate, subtype="FLOAT")
    codes, outputs = _slurm_job(corpus, tmp_path / "run")
    assert codes[0] != 0 and codes[1] != 0
    errors = outputs[0][1] + outputs[1][1]
    assert "audio contains NaN" in errors and "Traceback" not in errors
