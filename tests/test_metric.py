import math

import pytest
import torch

from metric import SI_SNR, reference_si_snr, si_snr, si_snr_improvement


def _orthogonal_error(reference: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    noise = torch.randn(reference.shape, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
    noise -= (noise @ reference) / (reference @ reference) * reference
    return noise * math.sqrt((reference @ reference) / (noise @ noise) / 10 ** (snr_db / 10))


def test_known_snr():
    reference = torch.sin(torch.linspace(0, 300, 16000, dtype=torch.float64))
    estimate = reference + _orthogonal_error(reference, 12.5)
    assert si_snr(estimate[None], reference[None]).item() == pytest.approx(12.5, abs=1e-6)


@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0, -2.0])
def test_scale_invariance(scale):
    reference = torch.randn(2, 8000, generator=torch.Generator().manual_seed(1))
    estimate = reference + 0.3 * torch.randn(2, 8000, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(si_snr(scale * estimate, reference), si_snr(estimate, reference))


def test_silent_estimate_is_finite_and_very_low():
    reference = torch.randn(1, 4000)
    value = si_snr(torch.zeros(1, 4000), reference)
    assert torch.isfinite(value).all() and value.item() == pytest.approx(-100.0)


def test_perfect_estimate_is_capped():
    reference = torch.randn(1, 4000)
    assert si_snr(reference, reference).item() == pytest.approx(100.0, abs=1e-3)


def test_improvement_is_difference():
    clean = torch.sin(torch.linspace(0, 100, 4000, dtype=torch.float64))[None]
    noisy = clean + _orthogonal_error(clean[0], 0.0)[None]
    estimate = clean + _orthogonal_error(clean[0], 9.0, seed=3)[None]
    assert si_snr_improvement(estimate, noisy, clean).item() == pytest.approx(9.0, abs=1e-6)


def test_reference_si_snr_is_the_plain_ratio():
    """The reference release's formula: the bounded one where both are finite, NaN for a
    silent estimate (0 / 0), as its validation mean then is."""
    torch.manual_seed(1)
    clean = torch.randn(3, 800)
    estimate = clean + 0.3 * torch.randn(3, 800)
    torch.testing.assert_close(reference_si_snr(estimate, clean), si_snr(estimate, clean))
    silent = reference_si_snr(torch.zeros(2, 800), clean[:2])
    assert torch.isnan(silent).all() and torch.isnan(silent.mean())
    assert SI_SNR == {"bounded": si_snr, "reference": reference_si_snr}
