"""The Predictor on a small real model: shapes, calibration, empty input, threads, errors."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from model.calibration import fit_temperature
from model.card import Calibration, ModelCard, sha256_file
from model.checkpoint import save_checkpoint
from model.config import TrainConfig
from model.data import Mnist
from model.predictor import ModelLoadError, Predictor, available_models
from model.train import predict_logits, train


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, mnist: Mnist) -> Path:
    """A folder with one small but real model ('tiny', LeNet-5 on 3,000 images)."""
    folder = tmp_path_factory.mktemp("saved_models")
    x, y = mnist.train_images, mnist.train_labels
    config = TrainConfig.for_arch("lenet5", epochs=2, batch_size=32, device="cpu")
    result = train(config, x[:3000], y[:3000], x[-2000:], y[-2000:], progress=False)
    val_logits = predict_logits(result.net, x[-2000:])
    temperature = fit_temperature(val_logits, torch.from_numpy(y[-2000:].astype(np.int64)))
    card = ModelCard(
        name="tiny",
        architecture="lenet5",
        calibration=Calibration(temperature),
        unsure_threshold=0.6,
    )
    save_checkpoint(result.net, card, folder / "tiny.pt")
    (folder / "orphan.pt").write_bytes(b"weights without a card")
    return folder


@pytest.fixture
def predictor(models_dir: Path) -> Predictor:
    return Predictor.load(models_dir / "tiny.pt")


def upscale(digit28: np.ndarray, factor: int = 10) -> np.ndarray:
    return np.kron(digit28, np.ones((factor, factor), dtype=np.uint8))


def test_batch_probabilities_are_calibrated_distributions(predictor, mnist: Mnist) -> None:
    probs = predictor.predict_batch(mnist.test_images[:500])
    assert probs.shape == (500, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.argmax(1) == mnist.test_labels[:500]).mean() > 0.85
    assert predictor.predict_batch(mnist.test_images[:0]).shape == (0, 10)


def test_batch_equals_one_by_one(predictor, mnist: Mnist) -> None:
    batch = predictor.predict_batch(mnist.test_images[:20])
    single = np.concatenate([predictor.predict_batch(img[None]) for img in mnist.test_images[:20]])
    np.testing.assert_allclose(batch, single, atol=1e-5)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((3, 28, 28), np.float32),
        np.zeros((28, 28), np.uint8),
        np.zeros((2, 32, 32), np.uint8),
    ],
)
def test_batch_refuses_input_not_in_mnist_form(predictor, bad) -> None:
    with pytest.raises(ValueError, match="N x 28 x 28 uint8"):
        predictor.predict_batch(bad)


def test_predict_one_canvas(predictor, mnist: Mnist, models_dir: Path) -> None:
    canvas = upscale(mnist.test_images[0])  # a 7, 280 x 280
    prediction = predictor.predict(canvas)
    assert prediction is not None
    assert prediction.digit == int(mnist.test_labels[0])
    assert prediction.confidence == pytest.approx(float(prediction.probabilities.max()))
    assert prediction.input28.shape == (28, 28) and prediction.input28.dtype == np.uint8
    assert prediction.unsure == (prediction.confidence < predictor.unsure_threshold)
    assert prediction.model_name == "tiny"
    assert prediction.model_sha256 == sha256_file(models_dir / "tiny.pt")
    assert prediction.latency_ms > 0
    record = json.loads(json.dumps(prediction.as_dict()))
    assert record["digit"] == prediction.digit and len(record["probabilities"]) == 10
    second, chance = prediction.runner_up
    assert second != prediction.digit
    ranked = np.sort(prediction.probabilities)
    assert chance == float(ranked[-2]) == prediction.probabilities[second]


def test_empty_canvas_is_no_prediction(predictor) -> None:
    assert predictor.predict(np.zeros((280, 280, 4), np.uint8)) is None


def test_shared_across_threads(predictor, mnist: Mnist) -> None:
    canvases = [upscale(img) for img in mnist.test_images[:16]]
    expected = [predictor.predict(c).probabilities for c in canvases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda c: predictor.predict(c).probabilities, canvases * 4))
    for i, probs in enumerate(got):
        np.testing.assert_allclose(probs, expected[i % 16], atol=1e-6)


def test_default_model_and_listing(models_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("DIGITLAB_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("DIGITLAB_DEFAULT_MODEL", "tiny")
    assert available_models() == ["tiny"]  # the orphan without a card is not offered
    assert Predictor.load().name == "tiny"
    assert Predictor.load("tiny").sha256 == Predictor.load(models_dir / "tiny.pt").sha256


def test_tampered_weights_are_refused(models_dir: Path, tmp_path: Path) -> None:
    for suffix in (".pt", ".json"):
        shutil.copy(models_dir / f"tiny{suffix}", tmp_path / f"tiny{suffix}")
    weights = tmp_path / "tiny.pt"
    data = bytearray(weights.read_bytes())
    data[-20] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="do not match their card"):
        Predictor.load(weights)
    with pytest.raises(ModelLoadError, match="not found"):
        Predictor.load(tmp_path / "missing.pt")
