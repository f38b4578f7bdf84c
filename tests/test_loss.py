import math

import pytest
import torch

import loss


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# Two clips of two bins: clip 0 unlabelled, clip 1 positive.
LOGITS = torch.tensor([[[1.0, -1.0]], [[0.0, 2.0]]])
MAGNITUDE = torch.tensor([[[3.0, 1.0]], [[1.0, 2.0]]])
LABELS = torch.tensor([0.0, 1.0])


def test_pu_risks_by_hand_weighted_per_bin_as_reference():
    r_plus, r_minus = loss.pu_risks(LOGITS, LABELS, MAGNITUDE, prior=0.5, p=1.0, normalise="count")
    w = lambda m: m + 1e-7  # noqa: E731
    pos_as_pos = (sig(-0.0) * w(1) + sig(-2.0) * w(2)) / 2
    pos_as_neg = (sig(0.0) * w(1) + sig(2.0) * w(2)) / 2
    unl_as_neg = (sig(1.0) * w(3) + sig(-1.0) * w(1)) / 2
    assert r_plus.item() == pytest.approx(0.5 * pos_as_pos, rel=1e-6)
    assert r_minus.item() == pytest.approx(unl_as_neg - 0.5 * pos_as_neg, rel=1e-6)


def test_pu_risks_by_hand_weighted_mean():
    r_plus, r_minus = loss.pu_risks(LOGITS, LABELS, MAGNITUDE, prior=0.5, p=1.0, normalise="weight")
    pos_as_pos = (sig(-0.0) * 1 + sig(-2.0) * 2) / 3
    pos_as_neg = (sig(0.0) * 1 + sig(2.0) * 2) / 3
    unl_as_neg = (sig(1.0) * 3 + sig(-1.0) * 1) / 4
    assert r_plus.item() == pytest.approx(0.5 * pos_as_pos, rel=1e-6)
    assert r_minus.item() == pytest.approx(unl_as_neg - 0.5 * pos_as_neg, rel=1e-6)


@pytest.mark.parametrize("normalise", ["count", "weight"])
def test_pu_risks_unweighted_is_plain_sigmoid_loss(normalise):
    logits = torch.tensor([[[0.5, -2.0, 1.0]], [[3.0, 0.0, -1.0]]])
    magnitude = torch.tensor([[[9.0, 4.0, 1.0]], [[2.0, 7.0, 5.0]]])
    r_plus, r_minus = loss.pu_risks(logits, torch.tensor([0.0, 1.0]), magnitude, prior=0.6, p=0.0,
                                    normalise=normalise)
    pos_as_pos = (sig(-3.0) + sig(0.0) + sig(1.0)) / 3
    pos_as_neg = (sig(3.0) + sig(0.0) + sig(-1.0)) / 3
    unl_as_neg = (sig(0.5) + sig(-2.0) + sig(1.0)) / 3
    assert r_plus.item() == pytest.approx(0.6 * pos_as_pos, rel=1e-6)
    assert r_minus.item() == pytest.approx(unl_as_neg - 0.6 * pos_as_neg, rel=1e-6)


def test_pu_risks_with_the_logistic_loss_by_hand():
    r_plus, r_minus = loss.pu_risks(LOGITS, LABELS, MAGNITUDE, prior=0.5, p=1.0, normalise="weight",
                                    surrogate="logistic")
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731  l(z) = softplus(-z)
    pos_as_pos = (softplus(-0.0) * 1 + softplus(-2.0) * 2) / 3
    pos_as_neg = (softplus(0.0) * 1 + softplus(2.0) * 2) / 3
    unl_as_neg = (softplus(1.0) * 3 + softplus(-1.0) * 1) / 4
    assert r_plus.item() == pytest.approx(0.5 * pos_as_pos, rel=1e-6)
    assert r_minus.item() == pytest.approx(unl_as_neg - 0.5 * pos_as_neg, rel=1e-6)


def test_logistic_loss_keeps_the_gradient_of_a_confident_mistake():
    z = torch.tensor([-20.0, -20.0], requires_grad=True)  # a positive called negative, surely
    loss.sigmoid_loss(z[:1]).sum().backward()
    loss.logistic_loss(z[1:]).sum().backward()
    assert abs(z.grad[0].item()) < 1e-8 and z.grad[1].item() == pytest.approx(-1.0)


def test_nn_objective_follows_kiryo():
    r_plus, r_minus = torch.tensor(0.3), torch.tensor(-0.2)
    assert loss.pu_objective(r_plus, r_minus, "unbiased").item() == pytest.approx(0.1)
    # R- = -0.2 < -beta: the correction step -gamma * R-, not R+ + R- (= 0.1)
    assert loss.pu_objective(r_plus, r_minus, "nn", beta=0.0, gamma=0.25).item() == pytest.approx(0.05)
    assert loss.pu_objective(r_plus, r_minus, "nn", beta=0.3).item() == pytest.approx(0.1)
    positive = torch.tensor(0.2)
    assert loss.pu_objective(r_plus, positive, "nn").item() == pytest.approx(0.5)


def test_nn_correction_step_pushes_negative_risk_up():
    r_minus = torch.tensor(-0.2, requires_grad=True)
    loss.pu_objective(torch.tensor(0.3), r_minus, "nn", beta=0.0, gamma=0.5).backward()
    assert r_minus.grad.item() == pytest.approx(-0.5)


def test_signal_approximation_by_hand():
    logits = torch.tensor([[[0.0, 2.0]]])
    noisy = torch.tensor([[[2.0, 1.0]]])
    clean = torch.tensor([[[0.5, 1.0]]])
    expected = ((sig(0) * 2 - 0.5) ** 2 + (sig(2) * 1 - 1.0) ** 2) / 2
    assert loss.signal_approximation(logits, noisy, clean).item() == pytest.approx(expected)


MIXIT_SHARES = [sig(1.0), sig(-1.0), sig(0.5)]


def _two_clip_mixit() -> tuple[torch.Tensor, ...]:
    """(logits, mixture, noisy, noise) of two one-bin clips: clip 0 is explained exactly by
    the first assignment (m0 + m1 -> noisy), clip 1 by the second (m0 + m2 -> noisy)."""
    s = MIXIT_SHARES
    logits = torch.tensor([1.0, -1.0, 0.5]).view(1, 3, 1, 1).repeat(2, 1, 1, 1)
    mixture = torch.full((2, 1, 1), 2.0)
    noisy = torch.tensor([[[2 * (s[0] + s[1])]], [[2 * (s[0] + s[2])]]])
    noise = torch.tensor([[[2 * s[2]]], [[2 * s[1]]]])
    return logits, mixture, noisy, noise


def test_mixit_picks_the_better_assignment_per_clip():
    s = MIXIT_SHARES
    logits, mixture, noisy, noise = _two_clip_mixit()
    assert loss.mixit_loss(logits, mixture, noisy, noise).item() == pytest.approx(0.0, abs=1e-12)
    noise_off = noise + torch.tensor([[[0.0]], [[1.0]]])
    first_for_clip1 = (2 * s[1] - 2 * s[2]) ** 2 + (2 * s[2] - 2 * s[1] - 1) ** 2
    second_for_clip1 = 1.0
    expected = (0.0 + min(first_for_clip1, second_for_clip1)) / 2
    value = loss.mixit_loss(logits, mixture, noisy, noise_off).item()
    assert value == pytest.approx(expected, rel=1e-5)


def test_mixit_batch_assignment_is_one_choice_for_all_clips():
    """The reference's variant: the assignment with the lower batch mean, for every clip."""
    s = MIXIT_SHARES
    logits, mixture, noisy, noise = _two_clip_mixit()
    mismatch = (2 * s[1] - 2 * s[2]) ** 2 * 2  # the wrong assignment's error on one clip
    value = loss.mixit_loss(logits, mixture, noisy, noise, "batch").item()
    assert value == pytest.approx(mismatch / 2, rel=1e-5)
    assert loss.mixit_loss(logits, mixture, noisy, noise, "clip").item() < value


def test_reference_mixit_loss_scores_every_clips_masks_against_every_mixture():
    """The reference release's loss on 3 distinct clips of 2 bins, by hand: the masks of
    clip j times the mixture of clip i against clip i's targets, averaged over all (i, j)
    and bins, the better assignment taken once for the batch."""
    torch.manual_seed(1)
    logits = torch.randn(3, 3, 1, 2)
    mixture, noisy, noise = (torch.rand(3, 1, 2) + 0.5 for _ in range(3))
    m = torch.sigmoid(logits).tolist()

    def term(speech_and: int, alone: int) -> float:
        total = 0.0
        for i in range(3):
            for j in range(3):
                for b in range(2):
                    est = (m[j][0][0][b] + m[j][speech_and][0][b]) * mixture[i, 0, b].item()
                    total += (est - noisy[i, 0, b].item()) ** 2
                    total += (m[j][alone][0][b] * mixture[i, 0, b].item()
                              - noise[i, 0, b].item()) ** 2
        return total / (3 * 3 * 2)

    expected = min(term(1, 2), term(2, 1))
    value = loss.mixit_loss(logits, mixture, noisy, noise, "reference").item()
    assert value == pytest.approx(expected, rel=1e-6)
    assert value != pytest.approx(loss.mixit_loss(logits, mixture, noisy, noise, "batch").item(),
                                  rel=1e-3)


def test_reference_mixit_loss_is_the_batch_loss_for_one_clip():
    logits, mixture, noisy, noise = (x[:1] for x in _two_clip_mixit())
    assert loss.mixit_loss(logits, mixture, noisy, noise, "reference").item() == pytest.approx(
        loss.mixit_loss(logits, mixture, noisy, noise, "batch").item(), rel=1e-6)


@pytest.mark.parametrize("r_minus, beta, expected", [
    (0.2, 0.1, 0.5),  # R- > beta: R+ + R-
    (0.05, 0.1, 0.25 * (0.1 - 0.05)),  # R- <= beta: gamma * (beta - R-)
    (-0.2, 0.0, 0.25 * 0.2),  # beta 0: the same as Kiryo's -gamma * R-
    (0.0, 0.0, 0.0)])  # R- = 0: the reference corrects, Kiryo takes R+ + R- (0.3)
def test_nn_objective_reference_rule(r_minus, beta, expected):
    value = loss.pu_objective(torch.tensor(0.3), torch.tensor(r_minus), "nn", beta=beta,
                              gamma=0.25, rule="reference")
    assert value.item() == pytest.approx(expected)
    kiryo = loss.pu_objective(torch.tensor(0.3), torch.tensor(0.0), "nn", gamma=0.25)
    assert kiryo.item() == pytest.approx(0.3)
