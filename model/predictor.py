"""From an image to an honest prediction: the one object the app and the CLI use.

`Predictor.load()` reads a checkpoint and its card (verifying the weights' SHA-256),
`predict()` turns any canvas or photo into a `Prediction` through `canvas_to_mnist`,
and `predict_batch()` scores many MNIST-form images at once. The network runs in ONNX
Runtime, TorchScript or eager PyTorch (`DIGITLAB_INFERENCE`), with the same answers;
README's "How the network runs" says how each is built and checked.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.calibration import softmax
from model.card import ModelCard
from model.checkpoint import (
    ModelLoadError,
    load_detector,
    load_network,
    verified_card,
    weights_path,
)
from model.novelty import NoveltyDetector
from model.preprocess import canvas_to_mnist
from model.runtime import OnnxNetwork, trusted_network, verified_file
from settings import INFERENCE_PATHS, get_settings

if TYPE_CHECKING:
    import torch

__all__ = [
    "BatchScores",
    "ModelLoadError",
    "Prediction",
    "Predictor",
    "available_models",
    "default_model_name",
]

BATCH = 4096  # images per forward pass in predict_batch: bounded memory, few calls
# Largest difference in logits between the compiled and the eager network, on the
# check input at load, above which the compiled one is not used (float rounding in
# BatchNorm folding is about 1e-5). On CUDA it is relative to the outputs' size:
# cuDNN's TF32 convolutions keep 10 mantissa bits, and folding changes what is rounded.
COMPILED_ATOL = 1e-3
COMPILED_RTOL_CUDA = 1e-2

log = logging.getLogger(__name__)


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

    @property
    def runner_up(self) -> tuple[int, float]:
        """The second most likely digit and its probability."""
        digit = int(np.argsort(self.probabilities)[-2])
        return digit, float(self.probabilities[digit])

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


def inference_path(inference: str | None) -> str:
    """The inference path to use: `inference` checked, or `DIGITLAB_INFERENCE` when None."""
    if inference is None:
        return get_settings().inference
    if inference not in INFERENCE_PATHS:
        raise ValueError(
            f"unknown inference path {inference!r}; choose one of: {', '.join(INFERENCE_PATHS)} "
            "(DIGITLAB_INFERENCE in settings.py)"
        )
    return inference


def compile_torchscript(
    net: torch.nn.Module, layers: tuple[str, ...], device: torch.device | str
) -> torch.jit.ScriptModule:
    """`net` traced with its pooled `layers` as outputs, frozen and optimised for inference.

    The result maps an (N, 1, 28, 28) float batch to (logits, features) for any N.
    Raises if tracing fails or if it disagrees with the eager network on a check input.
    torch 2.13 marks `torch.jit` deprecated in favour of `torch.compile`, which needs a
    C++ compiler at run time and takes far longer to start; the warnings are silenced
    here, and the eager path remains for the day `torch.jit` is gone.
    """
    import torch

    from model.features import WithFeatures

    device = torch.device(device)
    wrapper = WithFeatures(net, layers).eval()
    check = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        traced = torch.jit.trace(wrapper, check[:1], check_trace=False)
        compiled = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        expected = wrapper(check)
    with torch.inference_mode():
        for _ in range(2):  # the profiling executor optimises on the first calls
            compiled(check[:1])
        got = compiled(check)
    for name, a, b in zip(("logits", "features"), got, expected, strict=True):
        # A plain comparison: torch.testing would import modules serving never needs.
        tolerance = COMPILED_ATOL
        if device.type == "cuda":
            tolerance = COMPILED_RTOL_CUDA * max(1.0, float(b.abs().max()))
        if a.shape != b.shape or not bool((a - b).abs().max() <= tolerance):
            raise ValueError(f"the compiled network's {name} differ from the eager network's")
    return compiled


class Predictor:
    """A verified model, its card and its novelty detector, ready to answer.

    Probabilities are calibrated: logits are divided by the card's temperature (fitted
    at training, `model.pipeline`), so "90 %" means right about nine times in ten. A
    prediction is `unsure` when its confidence is below the card's threshold or when its
    features lie far from every digit the model was trained on (`model.novelty`): the
    app says so instead of presenting a confident wrong answer.

    If building the compiled graph fails, or it disagrees with the eager network on a
    check input, the Predictor logs a warning and runs eager.

    Streamlit sessions share one Predictor, and concurrent calls need no lock: PyTorch
    runs in eval mode under `torch.inference_mode` (BatchNorm reads its stored
    statistics, nothing shared is written), ONNX Runtime sessions are thread-safe, the
    compiled networks return their features instead of storing them, and the eager
    path's hooks (`FeatureTap`) keep what they see per thread. Loading the network on
    first use takes a lock.
    """

    def __init__(
        self,
        net: torch.nn.Module | None,
        card: ModelCard,
        device: torch.device | str = "cpu",
        novelty: NoveltyDetector | None = None,
        inference: str | None = None,
        onnx_graph: bytes | None = None,
        weights: Path | None = None,
    ) -> None:
        """`inference`: "onnx", "torchscript" or "eager"; None reads `DIGITLAB_INFERENCE`.

        `onnx_graph`: the verified exported graph (`model.runtime.verified_file`); without
        it the "onnx" path exports one from `net`. `net` None: loaded from `weights`
        (verified against the card) when first needed, so that serving a verified graph
        never imports torch.
        """
        requested = inference_path(inference)
        self.card = card
        self.device = device
        self.name = card.name
        self.sha256 = card.weights_sha256
        self.temperature = card.calibration.temperature
        self.unsure_threshold = card.unsure_threshold
        self.novelty = novelty
        self._net, self._weights, self._net_lock = net, weights, threading.Lock()
        if net is None and weights is None:
            raise ValueError("a Predictor needs the network or the path of its weights")
        layers = card.novelty.layers if novelty and card.novelty else ()
        # The path in use: "onnx" and "torchscript" may fall back to "eager" (logged).
        self.inference = "eager"
        self._onnx: OnnxNetwork | None = None
        self._compiled: torch.jit.ScriptModule | None = None
        if requested == "onnx" and not _on_cpu(device):
            log.info("model %s: ONNX Runtime runs on the CPU; TorchScript on %s", self.name, device)
            requested = "torchscript"
        if requested == "onnx":
            self._onnx = self._fast_network("ONNX Runtime", lambda: self._onnx_network(onnx_graph))
        elif requested == "torchscript":
            self._compiled = self._fast_network(
                "TorchScript compilation", lambda: compile_torchscript(self.net, layers, device)
            )
        if self._onnx is not None or self._compiled is not None:
            self.inference = requested
        self._tap = None
        if layers and self.inference == "eager":
            from model.features import FeatureTap

            self._tap = FeatureTap(self.net, layers)

    @property
    def net(self) -> torch.nn.Module:
        """The PyTorch network; loaded (and torch imported) on first use when not given."""
        with self._net_lock:
            if self._net is None:
                self._net = load_network(self._weights, self.card, self.device)
            return self._net

    def _onnx_network(self, graph: bytes | None) -> OnnxNetwork:
        """The verified file's graph, else one exported now from the PyTorch network."""
        if graph is not None:
            return trusted_network(graph, self.card)
        from model.onnx_graph import exported_network

        return exported_network(self.net, self.card)

    def _fast_network(self, what: str, build):
        """`build()`, or None with a warning when it fails: eager PyTorch always works."""
        try:
            return build()
        except ModelLoadError:
            raise
        except Exception as err:  # tracing and exporting can fail many ways
            log.warning(
                "model %s: %s failed, running eager PyTorch instead (%s: %s)",
                self.name,
                what,
                type(err).__name__,
                str(err).splitlines()[0][:300] if str(err) else "",
            )
            return None

    @property
    def onnx(self) -> OnnxNetwork | None:
        """The ONNX Runtime network ((N, 1, 28, 28) float32 -> its outputs), None otherwise."""
        return self._onnx

    @property
    def compiled(self) -> torch.jit.ScriptModule | None:
        """The TorchScript network ((N, 1, 28, 28) -> logits, features), None when eager."""
        return self._compiled

    @classmethod
    def load(
        cls, path: str | Path | None = None, device: str = "cpu", inference: str | None = None
    ) -> Predictor:
        """Load a checkpoint; `ModelLoadError` says which file is wrong and what to run.

        `inference`: "onnx", "torchscript" or "eager"; None reads `DIGITLAB_INFERENCE`.
        With "onnx" and an exported graph the card vouches for, the weights are checked
        against the card but loaded into PyTorch only if `net` is asked for.
        """
        requested = inference_path(inference)  # a wrong choice is the caller's, not the card's
        weights = resolve_model_path(path)
        card = verified_card(weights)
        novelty = load_detector(weights, card)
        serving_graph = requested == "onnx" and _on_cpu(device)
        graph = verified_file(weights, card) if serving_graph else None
        net = None if graph is not None else load_network(weights, card, device)
        return cls(net, card, device, novelty, inference, graph, weights)

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
        for start in range(0, len(x), BATCH):
            out, features = self._logits_and_features(x[start : start + BATCH])
            logits.append(out)
            if features is not None and self.novelty is not None:
                novel.append(self.novelty.is_novel(features))
            else:
                novel.append(np.zeros(len(out), dtype=bool))
        raw = np.concatenate(logits)
        probabilities = softmax(raw, self.temperature).astype(np.float32)
        flags = np.concatenate(novel)
        unsure = self.unsure_flags(probabilities, flags)
        return BatchScores(logits=raw, probabilities=probabilities, novel=flags, unsure=unsure)

    def unsure_flags(self, probabilities: np.ndarray, novel: np.ndarray) -> np.ndarray:
        """The card's rule: calibrated confidence below its threshold, or novel."""
        return (probabilities.max(axis=1) < self.unsure_threshold) | novel

    def _logits_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, 10) logits and (N, D) features (None without a detector) of uint8 images."""
        if self._onnx is not None:
            _, features, out = self._onnx(np.divide(x[:, None], 255, dtype=np.float32))
            return out, features
        import torch

        with torch.inference_mode():
            batch = torch.tensor(x)  # a copy: inputs may be read-only
            batch = batch.to(self.device).unsqueeze(1).float().div_(255)
            if self._compiled is not None:
                out, features = self._compiled(batch)
            else:
                out = self.net(batch)
                features = self._tap.features() if self._tap is not None else None
            features = features.cpu().numpy() if features is not None else None
            return out.float().cpu().numpy(), features


def _on_cpu(device: torch.device | str) -> bool:
    return str(device).partition(":")[0] == "cpu"
