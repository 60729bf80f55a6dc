"""Saved models for tests that need one that loads, and the four ways one can be broken.

Why untrained: these tests are about loading, messages and storage, not accuracy, and
a freshly initialised LeNet-5 is saved in milliseconds (no training competes for the
CPU). It is still the real network, checkpoint format, card and Predictor.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from model.card import Calibration, ModelCard
from model.checkpoint import card_path, save_checkpoint
from model.nets import build

# fault -> what the message says (besides the file name and the command to run)
MODEL_FAULTS = {
    "missing": "not found",
    "truncated": "do not match their card",
    "wrong-sha256": "do not match their card",
    "other-architecture": "cannot be loaded as a 'mlp' network",
}


def save_untrained(folder: Path, name: str, architecture: str = "lenet5") -> Path:
    """`folder/<name>.pt` and its card, for a randomly initialised network; the weights."""
    torch.manual_seed(0)
    net = build(architecture).eval()
    card = ModelCard(
        name=name,
        architecture=architecture,
        parameters=sum(p.numel() for p in net.parameters()),
        test_accuracy=0.1,
        calibration=Calibration(1.0),
        unsure_threshold=0.5,
    )
    weights = Path(folder) / f"{name}.pt"
    save_checkpoint(net, card, weights)
    return weights


def break_model(weights: Path, fault: str) -> None:
    """Damage a saved model the way `fault` (a key of MODEL_FAULTS) says."""
    card = json.loads(card_path(weights).read_text())
    if fault == "missing":
        weights.unlink()
    elif fault == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif fault == "wrong-sha256":
        card_path(weights).write_text(json.dumps(card | {"weights_sha256": "0" * 64}))
    elif fault == "other-architecture":
        card_path(weights).write_text(json.dumps(card | {"architecture": "mlp"}))
    else:
        raise ValueError(f"unknown fault {fault!r}")
