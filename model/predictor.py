"""From an image to an honest prediction: the one object the app and the CLI use.

`Predictor.load()` reads a checkpoint and its card (verifying the weights' SHA-256),
`predict()` turns any canvas or photo into a `Prediction` through `canvas_to_mnist`,
and `predict_batch()` scores many MNIST-form images at once.

Probabilities are calibrated: logits are divided by the card's temperature, fitted
on the validation split, so "90 %" means right about nine times in ten. A prediction
is `unsure` when its confidence is below the card's threshold or when the drawing's
features lie far from every digit the model was trained on (`model.novelty`): the
app says so instead of presenting a confident wrong answer.

Thread safety: Streamlit sessions share one cached Predictor. Inference runs in
eval mode under `torch.inference_mode`, which reads the weights and writes nothing
shared (BatchNorm uses its stored statistics); the feature hooks keep what they see
per thread. Concurrent calls need no lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.calibration import softmax
from model.checkpoint import ModelLoadError, load_checkpoint, load_detector, weights_path
from model.novelty import FEATURE_LAYERS, FeatureTap, NoveltyDetector
from model.preprocess import canvas_to_mnist
from settings import get_settings

__all__ = [
    "BatchScores",
    "ModelLoadError",
    "Prediction",
    "Predictor",
    "available_models",
    "default_model_name",
]

BATCH = 4096  # images per forward pass in predict_batch: bounded memory, few calls


@dataclass(frozen=True)
class Prediction:
    digit: int
    probabilities: np.ndarray  # (10,) calibrated, sums to 1
    confidence: float  # probabilities[digit]
    unsure: bool
    input28: np.ndarray  # the 28 x 28 uint8 image the model saw
    model_name: str
    model_sha256: str
    latency_ms: float  # preprocessing + inference

    def as_dict(self) -> dict:
        """JSON-friendly form (the CLI's --json line)."""
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "unsure": self.unsure,
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "model": self.model_name,
            "model_sha256": self.model_sha256,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass(frozen=True)
class BatchScores:
    """Everything the model says about N images, for evaluation and robustness reports."""

    logits: np.ndarray  # (N, 10) raw
    probabilities: np.ndarray  # (N, 10) calibrated
    novel: np.ndarray  # (N,) bool: far from every digit class (all False without a detector)
    unsure: np.ndarray  # (N,) bool: low confidence or novel


def default_model_name() -> str:
    return get_settings().default_model


def available_models(models_dir: Path | None = None) -> list[str]:
    """Names of the complete checkpoints (weights and card) in `models_dir`."""
    folder = Path(models_dir or get_settings().models_dir)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pt") if p.with_suffix(".json").is_file())


def resolve_model_path(model: str | Path | None) -> Path:
    """None -> the default model; a bare name -> saved_models/<name>.pt; else a path."""
    settings = get_settings()
    if model is None:
        return weights_path(settings.models_dir, settings.default_model)
    path = Path(model)
    if path.suffix == "" and not path.exists() and len(path.parts) == 1:
        return weights_path(settings.models_dir, str(model))
    return path


class Predictor:
    def __init__(
        self,
        net: torch.nn.Module,
        card: dict,
        device: torch.device,
        novelty: NoveltyDetector | None = None,
    ) -> None:
        self.net = net
        self.card = card
        self.device = device
        self.name: str = card["name"]
        self.sha256: str = card["weights_sha256"]
        self.temperature = float(card["calibration"]["temperature"])
        self.unsure_threshold = float(card["unsure_threshold"])
        self.novelty = novelty
        self._tap = FeatureTap(net, FEATURE_LAYERS[card["architecture"]]) if novelty else None

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> Predictor:
        """Load a checkpoint; `ModelLoadError` says which file is wrong and what to run."""
        weights = resolve_model_path(path)
        net, card = load_checkpoint(weights, device)
        novelty = load_detector(weights, card)
        try:
            return cls(net, card, torch.device(device), novelty)
        except (KeyError, TypeError, ValueError) as err:  # a card with a malformed field
            raise ModelLoadError(
                f"model card {weights.with_suffix('.json')} has no usable calibration "
                f"temperature or unsure threshold ({type(err).__name__}: {err}); retrain it "
                f"with: python run_model.py --arch {card.get('architecture', '<arch>')}"
            ) from err

    def predict(self, image) -> Prediction | None:
        """Predict one canvas, photo or array; None when there is nothing drawn.

        Raises ValueError (from `canvas_to_mnist`) for input that is not an image.
        """
        started = time.perf_counter()
        input28 = canvas_to_mnist(image)
        if input28 is None:
            return None
        scores = self.score_batch(input28[None])
        probabilities = scores.probabilities[0]
        digit = int(probabilities.argmax())
        return Prediction(
            digit=digit,
            probabilities=probabilities,
            confidence=float(probabilities[digit]),
            unsure=bool(scores.unsure[0]),
            input28=input28,
            model_name=self.name,
            model_sha256=self.sha256,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """N x 28 x 28 uint8 images in MNIST form -> N x 10 calibrated probabilities."""
        return self.score_batch(x).probabilities

    def score_batch(self, x: np.ndarray) -> BatchScores:
        """N x 28 x 28 uint8 images in MNIST form -> logits, probabilities, unsure flags."""
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise ValueError(
                f"predict_batch expects an N x 28 x 28 uint8 array in MNIST form, got "
                f"shape {x.shape} and dtype {x.dtype} (use canvas_to_mnist first)"
            )
        logits, novel = [np.empty((0, 10), dtype=np.float32)], [np.zeros(0, dtype=bool)]
        with torch.inference_mode():
            for start in range(0, len(x), BATCH):
                batch = torch.tensor(x[start : start + BATCH])  # a copy: inputs may be read-only
                batch = batch.to(self.device).unsqueeze(1).float().div_(255)
                logits.append(self.net(batch).float().cpu().numpy())
                if self._tap is not None and self.novelty is not None:
                    novel.append(self.novelty.is_novel(self._tap.features().cpu().numpy()))
                else:
                    novel.append(np.zeros(len(batch), dtype=bool))
        raw = np.concatenate(logits)
        probabilities = softmax(raw, self.temperature).astype(np.float32)
        flags = np.concatenate(novel)
        unsure = (probabilities.max(axis=1) < self.unsure_threshold) | flags
        return BatchScores(logits=raw, probabilities=probabilities, novel=flags, unsure=unsure)
