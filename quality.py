"""Optional perceptual metrics: PESQ (wide band), STOI, ESTOI and DNSMOS (SIG/BAK/OVRL).

Each needs an install extra (``pip install -r requirements-metrics.txt``); a missing one is
reported by name. Inputs are 16 kHz mono float arrays.
"""
from __future__ import annotations

import importlib
import math

import numpy as np

from dataset import SAMPLE_RATE, DataError

METRICS = ("pesq", "stoi", "estoi", "dnsmos")
_PACKAGES = {"pesq": "pesq", "stoi": "pystoi", "estoi": "pystoi", "dnsmos": "speechmos"}


def require(names: list[str]) -> None:
    """Fail early, naming the package to install, when a metric's extra is missing."""
    for name in names:
        try:
            importlib.import_module(_PACKAGES[name])
        except ImportError as err:
            raise DataError(f"--metrics {name} needs the '{_PACKAGES[name]}' package ({err}); "
                            "install the extras with `pip install -r requirements-metrics.txt`"
                            ) from None


def _pesq(estimate: np.ndarray, clean: np.ndarray) -> float:
    from pesq import PesqError, pesq

    try:
        return float(pesq(SAMPLE_RATE, clean, estimate, "wb"))
    except PesqError:  # e.g. no utterance detected in a silent clip
        return math.nan


def _stoi(estimate: np.ndarray, clean: np.ndarray, extended: bool) -> float:
    from pystoi import stoi

    return float(stoi(clean, estimate, SAMPLE_RATE, extended=extended))


def dnsmos(wave: np.ndarray) -> dict[str, float]:
    """Non-intrusive DNSMOS P.835 of one clip: no clean reference needed."""
    from speechmos import dnsmos as model

    peak = np.abs(wave).max(initial=0.0)
    scores = model.run(wave / peak if peak > 1 else wave, sr=SAMPLE_RATE)
    return {"dnsmos_sig": float(scores["sig_mos"]), "dnsmos_bak": float(scores["bak_mos"]),
            "dnsmos_ovrl": float(scores["ovrl_mos"])}


def score(names: list[str], estimate: np.ndarray, noisy: np.ndarray,
          clean: np.ndarray) -> dict[str, float]:
    """Each asked metric of the noisy input and of the enhanced output, e.g. pesq_noisy."""
    out: dict[str, float] = {}
    for kind, wave in (("noisy", noisy), ("enhanced", estimate)):
        for name in names:
            if name == "pesq":
                out[f"pesq_{kind}"] = _pesq(wave, clean)
            elif name in ("stoi", "estoi"):
                out[f"{name}_{kind}"] = _stoi(wave, clean, extended=name == "estoi")
            else:
                out.update({f"{key}_{kind}": v for key, v in dnsmos(wave).items()})
    return out
