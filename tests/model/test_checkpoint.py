"""Saving and loading: identical logits, SHA-256 checks, clear failures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from model.card import Calibration, ModelCard, sha256_file
from model.checkpoint import ModelLoadError, card_path, load_checkpoint, save_checkpoint
from model.nets import build
from tests.model_files import MODEL_FAULTS, break_model

MINIMAL_CARD = ModelCard(
    name="tiny", architecture="lenet5", calibration=Calibration(1.0), unsure_threshold=0.5
)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    net = build("lenet5").eval()
    # Non-trivial BatchNorm statistics, so the round trip must carry buffers too.
    net.features[3].running_mean.uniform_(-1, 1)
    weights = tmp_path / "tiny.pt"
    save_checkpoint(net, MINIMAL_CARD, weights)
    return net, weights


def test_round_trip_gives_identical_logits(saved) -> None:
    net, weights = saved
    loaded, card = load_checkpoint(weights)
    x = torch.rand(16, 1, 28, 28)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)
    assert card.weights_sha256 == sha256_file(weights)
    assert json.loads(card_path(weights).read_text())["weights_file"] == "tiny.pt"


def test_weights_load_without_pickle(saved) -> None:
    _, weights = saved
    state = torch.load(weights, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


@pytest.mark.parametrize("fault", MODEL_FAULTS)
def test_damaged_weights_or_card_are_refused_with_what_happened(saved, fault: str) -> None:
    _, weights = saved
    break_model(weights, fault)
    with pytest.raises(ModelLoadError, match=re.escape(MODEL_FAULTS[fault])) as refused:
        load_checkpoint(weights)
    assert "tiny" in str(refused.value)
    if fault == "missing":
        assert "retrain it with" in str(refused.value)


def test_corrupt_card(saved) -> None:
    _, weights = saved
    card_path(weights).write_text("{not json")
    with pytest.raises(ModelLoadError, match=r"tiny\.json is not valid JSON"):
        load_checkpoint(weights)
