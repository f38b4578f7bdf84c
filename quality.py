"""Optional perceptual metrics: PESQ (wide band), STOI, ESTOI and DNSMOS (SIG/BAK/OVRL).

Each needs an install extra (``pip install -r requirements-metrics.txt``); a missing one is
reported by name. The metrics are defined on mono float arrays at ``METRICS_RATE``;
``score`` brings clips at another rate there first.
"""
from __future__ import annotations

import importlib
import math

import numpy as np

from audio import DataError, soxr_resample

METRICS = ("pesq", "stoi", "estoi", "dnsmos")
METRICS_RATE = 16000
"""Hz: the rate wide-band PESQ, STOI and DNSMOS are defined at, whatever a model's rate."""
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


def _intrusive(metric, estimate: np.ndarray, clean: np.ndarray) -> float:
    """``metric(estimate, clean)``, or NaN where it is undefined: a silent estimate or
    reference (which a collapsed model produces) or a clip too short for the metric."""
    if not (np.any(estimate) and np.any(clean)):
        return math.nan
    try:
        return float(metric(estimate, clean))
    except (ValueError, IndexError, ArithmeticError, RuntimeError):
        # pesq: ValueError on NaN levels, PesqError (a RuntimeError) for no utterance or a
        # buffer under 0.25 s; pystoi: numpy's AxisError for fewer frames than it needs
        return math.nan


def _pesq(estimate: np.ndarray, clean: np.ndarray) -> float:
    from pesq import pesq

    return pesq(METRICS_RATE, clean, estimate, "wb")


def _stoi(estimate: np.ndarray, clean: np.ndarray) -> float:
    from pystoi import stoi

    return stoi(clean, estimate, METRICS_RATE)


def _estoi(estimate: np.ndarray, clean: np.ndarray) -> float:
    from pystoi import stoi

    return stoi(clean, estimate, METRICS_RATE, extended=True)


_INTRUSIVE = {"pesq": _pesq, "stoi": _stoi, "estoi": _estoi}


def dnsmos(wave: np.ndarray) -> dict[str, float]:
    """Non-intrusive DNSMOS P.835 of one clip at ``METRICS_RATE``: no clean reference
    needed."""
    from speechmos import dnsmos as model

    peak = np.abs(wave).max(initial=0.0)
    scores = model.run(wave / peak if peak > 1 else wave, sr=METRICS_RATE)
    return {"dnsmos_sig": float(scores["sig_mos"]), "dnsmos_bak": float(scores["bak_mos"]),
            "dnsmos_ovrl": float(scores["ovrl_mos"])}


def score(names: list[str], estimate: np.ndarray, noisy: np.ndarray,
          clean: np.ndarray, rate: int) -> dict[str, float]:
    """Each asked metric of the noisy input and of the enhanced output (clips at ``rate``
    Hz), e.g. pesq_noisy; NaN where an intrusive metric is undefined for the clip (see
    ``_intrusive``)."""
    if rate != METRICS_RATE:
        estimate, noisy, clean = (soxr_resample(x, rate, METRICS_RATE)
                                  for x in (estimate, noisy, clean))
    out: dict[str, float] = {}
    for kind, wave in (("noisy", noisy), ("enhanced", estimate)):
        for name in names:
            if name in _INTRUSIVE:
                out[f"{name}_{kind}"] = _intrusive(_INTRUSIVE[name], wave, clean)
            else:
                out.update({f"{key}_{kind}": v for key, v in dnsmos(wave).items()})
    return out
