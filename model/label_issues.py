"""Which labels to look at first: drawings whose label the model finds unlikely.

People mislabel (a slip of the finger on the digit buttons, a joke). cleanlab's
`find_label_issues` (Northcutt et al., "Confident learning", JAIR 2021) picks the
drawings whose given label disagrees with the model's out-of-sample probabilities
more than the per-class confidence thresholds it estimates allow; we rank them by
how little probability the model gives their label. The champion never trained on
these drawings, so its probabilities are out-of-sample as cleanlab needs.
"""

from __future__ import annotations

import warnings

import numpy as np

from model.predictor import Predictor


def suspicious_label_ranking(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indices of the drawings with a likely wrong label, most suspicious first.

    `probs`: (N, 10) probabilities of a model that did not train on these drawings;
    `labels`: (N,) the labels people gave. Drawings not found suspicious are left out.
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or probs.shape != (len(labels), 10):
        raise ValueError(f"probs must be N x 10 for N = {len(labels)} labels, got {probs.shape}")
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError("labels must be digits 0-9")
    from cleanlab.filter import find_label_issues  # here: importing it takes seconds

    with warnings.catch_warnings():  # "too few examples in class k": expected on small stores
        warnings.filterwarnings("ignore", message=".*too few examples.*", category=UserWarning)
        ranked = find_label_issues(
            labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1
        )
    return np.asarray(ranked, dtype=np.int64)


def suspicious_drawings(predictor: Predictor, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`suspicious_label_ranking` with the probabilities of `predictor` (e.g. the champion)."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    return suspicious_label_ranking(predictor.predict_batch(images), labels)
