"""Training losses: small pure functions over tensors.

Shapes: logits and magnitudes are (B, F, N) unless stated; ``labels`` is a
(B,) tensor with 1 for a positive (noise-only) clip and 0 for an unlabelled
(noisy) clip, so every bin of a clip shares its clip's label.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_loss(z: torch.Tensor) -> torch.Tensor:
    """l(z) = sigmoid(-z): the loss of predicting margin ``z`` for a positive."""
    return torch.sigmoid(-z)


def logistic_loss(z: torch.Tensor) -> torch.Tensor:
    """l(z) = log(1 + exp(-z)): unbounded, so a confidently wrong margin keeps its gradient."""
    return F.softplus(-z)


PU_LOSSES = {"sigmoid": sigmoid_loss, "logistic": logistic_loss}
"""``--pu_loss`` choices: the surrogate loss l of the PU risks."""


def pu_risks(logits: torch.Tensor, labels: torch.Tensor, magnitude: torch.Tensor,
             prior: float, p: float = 1.0, normalise: str = "weight",
             surrogate: str = "sigmoid") -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted PU risks (R+, R-) of one batch, scalars.

    R+ = prior * mean_w_P l(y),  R- = mean_w_U l(-y) - prior * mean_w_P l(-y), with
    w = (|X| + 1e-7) ** p and mean_w over a set's bins the sum of loss * w divided by
    the set's bin count (``normalise="count"``, the reference) or by the set's sum of
    weights (``"weight"``: a true weighted mean, so ``prior`` is the |X|-weighted share
    of noise in noisy speech and the two sets' loudness cannot tilt the balance).
    For p = 0 both are the plain mean. l is ``PU_LOSSES[surrogate]``.
    """
    ell = PU_LOSSES[surrogate]
    weight = (magnitude + 1e-7) ** p
    positive = labels.bool().view(-1, *([1] * (logits.dim() - 1))).expand_as(logits)
    pos_weight = weight * positive
    unl_weight = weight * ~positive
    if normalise == "count":
        pos_total, unl_total = positive.sum(), (~positive).sum()
    else:
        pos_total, unl_total = pos_weight.sum(), unl_weight.sum()
    pos_total, unl_total = pos_total.clamp_min(1e-12), unl_total.clamp_min(1e-12)
    pos_as_pos = (ell(logits) * pos_weight).sum() / pos_total
    pos_as_neg = (ell(-logits) * pos_weight).sum() / pos_total
    unl_as_neg = (ell(-logits) * unl_weight).sum() / unl_total
    return prior * pos_as_pos, unl_as_neg - prior * pos_as_neg


NN_RULES = ("kiryo", "reference")
"""``--nn_rule`` choices: when and how the non-negative risk corrects itself."""


def pu_objective(r_plus: torch.Tensor, r_minus: torch.Tensor, mode: str = "nn",
                 beta: float = 0.0, gamma: float = 0.096, rule: str = "kiryo") -> torch.Tensor:
    """What to back-propagate for the PU risk.

    ``unbiased``: R+ + R-.  ``nn`` with rule ``kiryo`` (Kiryo et al., 2017): R+ + R- while
    R- >= -beta, otherwise -gamma * R-, a step that pushes the negative risk back up.
    Rule ``reference`` (the reference release): R+ + R- while R- > beta, otherwise
    gamma * (beta - R-). The two agree at beta = 0 but where R- is exactly 0.
    Chosen with ``torch.where`` so no host synchronisation is needed.
    """
    if mode == "unbiased":
        return r_plus + r_minus
    if rule == "reference":
        return torch.where(r_minus > beta, r_plus + r_minus, gamma * (beta - r_minus))
    return torch.where(r_minus >= -beta, r_plus + r_minus, -gamma * r_minus)


def signal_approximation(logits: torch.Tensor, noisy_mag: torch.Tensor,
                         clean_mag: torch.Tensor) -> torch.Tensor:
    """Supervised loss: mean over bins of (sigmoid(y) * |X| - |S|) ** 2."""
    return ((torch.sigmoid(logits) * noisy_mag - clean_mag) ** 2).mean()


MIXIT_LOSSES = ("clip", "batch", "reference")
"""``--mixit_loss`` choices: where the better assignment of the noise outputs is picked."""


def mixit_loss(logits: torch.Tensor, mixture_mag: torch.Tensor, noisy_mag: torch.Tensor,
               noise_mag: torch.Tensor, assignment: str = "clip") -> torch.Tensor:
    """MixIT over magnitudes; ``logits`` is (B, 3, F, N): speech, noise a, noise b.

    Estimates m_k = sigmoid(y_k) * |M|. Two assignments, (m0 + m1 -> |Y|, m2 -> |N|) and
    (m0 + m2 -> |Y|, m1 -> |N|), each a sum of two mean squared errors over bins.
    ``clip`` takes the better one for each clip, then averages over the batch (standard
    MixIT); ``batch`` the one with the lower batch mean. ``reference`` is the reference
    release's loss: it keeps |M|, |Y| and |N| as (B, 1, F, N) against (B, F, N) masks, so
    each error term broadcasts to (B, B, F, N), the masks of clip j applied to the mixture
    of clip i and compared with clip i's target, averaged over all pairs, and the better
    assignment is taken once for the batch. It equals ``batch`` only for one clip.
    """
    masks = torch.sigmoid(logits)
    if assignment == "reference":
        def error(mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return ((mask * mixture_mag.unsqueeze(1) - target.unsqueeze(1)) ** 2).mean()

        first = error(masks[:, 0] + masks[:, 1], noisy_mag) + error(masks[:, 2], noise_mag)
        second = error(masks[:, 0] + masks[:, 2], noisy_mag) + error(masks[:, 1], noise_mag)
        return torch.minimum(first, second)
    est = masks * mixture_mag.unsqueeze(1)
    dims = (-2, -1)
    first = (F.mse_loss(est[:, 0] + est[:, 1], noisy_mag, reduction="none").mean(dims)
             + F.mse_loss(est[:, 2], noise_mag, reduction="none").mean(dims))
    second = (F.mse_loss(est[:, 0] + est[:, 2], noisy_mag, reduction="none").mean(dims)
              + F.mse_loss(est[:, 1], noise_mag, reduction="none").mean(dims))
    if assignment == "clip":
        return torch.minimum(first, second).mean()
    return torch.minimum(first.mean(), second.mean())
