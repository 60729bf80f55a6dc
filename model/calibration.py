"""Honest confidence: temperature scaling, calibration error and the "unsure" threshold.

A network trained with cross-entropy is usually over- or under-confident. Dividing
its logits by one temperature fitted on held-out data (Guo et al., ICML 2017) fixes
most of that without changing which digit wins. A calibrated confidence can then be
read as a chance of being right, and "unsure" as a cut on it (`UNSURE_BELOW`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

ECE_BINS = 15
# A prediction is unsure when its calibrated chance of being right is below this: one
# in five wrong. A cut at a share of validation digits instead sat where MNIST's own
# confident digits end, and flagged every unfamiliar writing style with them. An
# architecture may set its own (`model.nets.Architecture.unsure_below`).
UNSURE_BELOW = 0.8


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


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
