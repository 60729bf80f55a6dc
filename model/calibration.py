"""Honest confidence: temperature scaling, calibration error and the "unsure" threshold.

A network trained with cross-entropy is usually over- or under-confident. Dividing
its logits by one temperature fitted on held-out data (Guo et al., ICML 2017) fixes
most of that without changing which digit wins. The "unsure" threshold is then a
cut on the calibrated confidence, chosen on the validation split so that a known
share of real digits is flagged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

ECE_BINS = 15
# Share of validation digits the confidence test alone flags as unsure (the novelty
# test adds more: `model.novelty.COMBINED_UNSURE_SHARE`).
CONFIDENCE_UNSURE_SHARE = 0.012


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) on `labels`."""
    import torch  # here, not at the top: serving uses `softmax` without torch
    import torch.nn.functional as F

    # clone(): logits may come from inference mode, which autograd cannot reuse.
    logits, labels = logits.detach().float().cpu().clone(), labels.detach().long().cpu()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.exp().item())


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy, in [0, 1]."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(ece)


def choose_unsure_threshold(probs: np.ndarray, share: float = CONFIDENCE_UNSURE_SHARE) -> float:
    """The confidence below which `share` of these (validation) predictions fall."""
    return float(np.quantile(probs.max(axis=1), share))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
