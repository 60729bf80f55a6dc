"""ONNX Runtime, TorchScript and eager inference on the committed models: same answers.

The fast paths (`DIGITLAB_INFERENCE=onnx`, the default, and `torchscript`) must be
faster ways to the same result, never a different model: the same calibrated
probabilities to float rounding and the very same unsure and novel flags.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from torch import nn

from model.checkpoint import card_path, load_checkpoint, weights_path
from model.data import Mnist
from model.predictor import BatchScores, Predictor, available_models
from model.preprocess import canvas_to_mnist
from model.synthetic import non_digit_shapes
from settings import DEFAULT_ARCHITECTURE, REPO_ROOT, get_settings

MODELS_DIR = REPO_ROOT / "saved_models"
PROBABILITY_ATOL = 1e-5


@pytest.fixture(scope="module")
def eager() -> Predictor:
    return Predictor.load(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE), inference="eager")


@pytest.fixture(scope="module")
def compiled() -> Predictor:
    weights = weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE)
    predictor = Predictor.load(weights, inference="torchscript")
    assert predictor.inference == "torchscript"
    return predictor


@pytest.fixture(scope="module")
def onnx() -> Predictor:
    predictor = Predictor.load(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE), inference="onnx")
    assert predictor.inference == "onnx"
    return predictor


@pytest.fixture(params=["onnx", "torchscript"])
def fast(request, onnx, compiled) -> Predictor:
    """Each fast path of the default model in turn."""
    return {"onnx": onnx, "torchscript": compiled}[request.param]


def assert_same_answers(a: Predictor, b: Predictor, images: np.ndarray) -> None:
    first, second = a.score_batch(images), b.score_batch(images)
    np.testing.assert_allclose(first.probabilities, second.probabilities, atol=PROBABILITY_ATOL)
    np.testing.assert_array_equal(first.probabilities.argmax(1), second.probabilities.argmax(1))
    np.testing.assert_array_equal(first.novel, second.novel)
    np.testing.assert_array_equal(first.unsure, second.unsure)


def test_same_answers_on_mnist_test_digits(eager, fast, mnist: Mnist) -> None:
    images = mnist.test_images[:3000]
    assert_same_answers(eager, fast, images)
    assert eager.score_batch(images).unsure.any()  # the flags compared are not all False


def test_same_answers_on_non_digits_and_blank(eager, fast) -> None:
    compiled = fast
    shapes, _ = non_digit_shapes(130, np.random.default_rng(0))
    forms = [canvas_to_mnist(shape) for shape in shapes]
    forms28 = np.stack([f for f in forms if f is not None])
    assert_same_answers(eager, compiled, forms28)
    assert compiled.score_batch(forms28).novel.mean() > 0.5  # most of them are novel
    blank = np.zeros((280, 280, 4), np.uint8)
    assert eager.predict(blank) is None and compiled.predict(blank) is None
    one, two = eager.predict(shapes[0]), compiled.predict(shapes[0])
    assert one is not None and two is not None
    assert (one.digit, one.unsure) == (two.digit, two.unsure)
    np.testing.assert_allclose(one.probabilities, two.probabilities, atol=PROBABILITY_ATOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("path", ["onnx", "torchscript", "eager"])
def test_on_cuda_every_path_gives_the_cpus_answers(onnx, path: str, mnist: Mnist) -> None:
    """On a GPU "onnx" runs TorchScript (ONNX Runtime serves on the CPU). The GPU's
    kernels (cuDNN, TF32) move probabilities slightly more than float rounding on the
    CPU, never the digit; a flag may turn only for a digit that sits on its cut."""
    weights = weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE)
    gpu = Predictor.load(weights, device="cuda", inference=path)
    assert gpu.inference == ("torchscript" if path == "onnx" else path)
    images = mnist.test_images[:3000]
    here, there = onnx.score_batch(images), gpu.score_batch(images)
    np.testing.assert_allclose(there.probabilities, here.probabilities, atol=2e-3)
    np.testing.assert_array_equal(there.probabilities.argmax(1), here.probabilities.argmax(1))
    assert_flags_differ_only_at_their_cuts(onnx, images, here, there)


def assert_flags_differ_only_at_their_cuts(
    cpu: Predictor, images: np.ndarray, here: BatchScores, there: BatchScores
) -> None:
    """Where `there` flags otherwise than `here`, the digit lies within 1 % of the
    novelty threshold, or its confidence within float noise of the unsure cut."""
    novel_differs = here.novel != there.novel
    assert novel_differs.mean() <= 0.001, "more than a few novelty flags turned"
    if novel_differs.any():
        _, features = cpu._logits_and_features(images[novel_differs])
        distances = cpu.novelty.distances(features)
        np.testing.assert_allclose(distances, cpu.novelty.threshold, rtol=0.01)
    confidence_differs = (here.unsure != there.unsure) & ~novel_differs
    confidence = here.probabilities.max(axis=1)[confidence_differs]
    np.testing.assert_allclose(confidence, cpu.unsure_threshold, atol=2e-3)


@pytest.mark.parametrize("path", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", available_models(MODELS_DIR))
def test_every_committed_model_compiles_to_the_same_answers(
    name: str, path: str, mnist: Mnist
) -> None:
    weights = weights_path(MODELS_DIR, name)
    compiled = Predictor.load(weights, inference=path)
    assert compiled.inference == path
    eager = Predictor.load(weights, inference="eager")
    assert_same_answers(eager, compiled, mnist.test_images[:500])


def test_compiled_predictor_is_shared_across_threads(fast, mnist: Mnist) -> None:
    compiled = fast
    canvases = [np.kron(img, np.ones((10, 10), np.uint8)) for img in mnist.test_images[:12]]
    expected = [compiled.predict(c).probabilities for c in canvases]
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda c: compiled.predict(c).probabilities, canvases * 4))
    for i, probs in enumerate(got):
        np.testing.assert_allclose(probs, expected[i % 12], atol=1e-6)


def test_the_setting_selects_the_path(monkeypatch) -> None:
    weights = weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE)
    monkeypatch.delenv("DIGITLAB_INFERENCE", raising=False)
    assert get_settings().inference == "onnx"
    assert Predictor.load(weights).inference == "onnx"
    monkeypatch.setenv("DIGITLAB_INFERENCE", "eager")
    assert get_settings().inference == "eager"
    assert Predictor.load(weights).inference == "eager"
    monkeypatch.setenv("DIGITLAB_INFERENCE", " TorchScript ")
    assert Predictor.load(weights).inference == "torchscript"
    # An explicit argument wins over the environment.
    assert Predictor.load(weights, inference="eager").inference == "eager"


def test_a_wrong_choice_says_what_is_allowed(monkeypatch) -> None:
    monkeypatch.setenv("DIGITLAB_INFERENCE", "tensorrt")
    with pytest.raises(
        ValueError, match="DIGITLAB_INFERENCE must be one of onnx, torchscript, eager"
    ):
        get_settings()
    monkeypatch.delenv("DIGITLAB_INFERENCE")
    with pytest.raises(ValueError, match="unknown inference path 'jit'; choose one of"):
        Predictor.load(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE), inference="jit")


class ThroughNumPy(nn.Module):
    """The real network, its logits taken through NumPy: tracing freezes them as constants."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.net(x).detach().numpy().copy())


@pytest.mark.parametrize(
    ("path", "what"), [("torchscript", "TorchScript compilation"), ("onnx", "ONNX Runtime")]
)
def test_a_network_that_cannot_be_traced_runs_eager_with_a_warning(
    path: str, what: str, caplog, mnist: Mnist
) -> None:
    net, card = load_checkpoint(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE))
    untraceable = ThroughNumPy(net).eval()
    with caplog.at_level(logging.WARNING, logger="model.predictor"):
        predictor = Predictor(untraceable, card, torch.device("cpu"), inference=path)
    assert predictor.inference == "eager"
    assert f"{what} failed, running eager PyTorch" in caplog.text
    expected = Predictor(net, card, torch.device("cpu"), inference="eager")
    np.testing.assert_allclose(
        predictor.predict_batch(mnist.test_images[:50]),
        expected.predict_batch(mnist.test_images[:50]),
        atol=1e-6,
    )


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_onnx_predictions_of_one_drawing_start_no_worker_threads(mnist: Mnist) -> None:
    """One image runs on a session without a thread pool; batches get one of their own."""
    before = os_threads()
    predictor = Predictor.load(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE), inference="onnx")
    canvases = [np.kron(img, np.ones((10, 10), np.uint8)) for img in mnist.test_images[:20]]
    for canvas in canvases:
        predictor.predict(canvas)
    assert os_threads() == before
    predictor.predict_batch(mnist.test_images[:100])
    assert os_threads() == before + predictor.onnx.threads - 1


# Serves the default model in a fresh interpreter, then asks for the PyTorch network.
SERVE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from model.checkpoint import ModelLoadError
    from model.predictor import Predictor

    def torch_modules():
        return sorted(m for m in sys.modules if m.split(".")[0] == "torch")

    try:
        predictor = Predictor.load(sys.argv[1] if len(sys.argv) > 1 else None)
    except ModelLoadError as error:
        print(json.dumps({"error": str(error)}))
        raise SystemExit(0)
    canvas = np.kron(np.array(json.load(sys.stdin), np.uint8), np.ones((10, 10), np.uint8))
    prediction = predictor.predict(canvas)
    batch = predictor.score_batch(prediction.input28[None])
    served = {"path": predictor.inference, "torch": torch_modules()[:3],
              "probabilities": prediction.probabilities.tolist()}
    net = predictor.net  # loaded now, from the verified weights
    print(json.dumps({**served, "net": type(net).__name__, "torch_after": len(torch_modules()),
                      "logits": batch.logits.tolist()}))
    """
)


def serve_in_a_fresh_process(digit: np.ndarray, *args: str) -> dict:
    """SERVE_SCRIPT's report on the default path (DIGITLAB_INFERENCE unset)."""
    env = {k: v for k, v in os.environ.items() if k != "DIGITLAB_INFERENCE"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, *args],
        input=json.dumps(digit.tolist()),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_serving_the_verified_graph_imports_no_torch(eager, mnist: Mnist) -> None:
    """Load, predict and score run torch-free; `net` then loads the same network."""
    digit = mnist.test_images[0]
    report = serve_in_a_fresh_process(digit)
    assert report["path"] == "onnx"
    assert report["torch"] == []
    assert report["net"] == type(eager.net).__name__ and report["torch_after"] > 0
    expected = eager.predict(np.kron(digit, np.ones((10, 10), np.uint8)))
    np.testing.assert_allclose(report["probabilities"], expected.probabilities, atol=1e-5)
    logits = eager.score_batch(expected.input28[None]).logits
    np.testing.assert_allclose(report["logits"], logits, atol=1e-4)


def test_corrupt_weights_beside_a_verified_graph_are_refused(mnist: Mnist, tmp_path) -> None:
    """The graph runs without the weights, but their checksum is still checked at load."""
    weights = weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE)
    for source in weights.parent.glob(f"{weights.stem}.*"):
        shutil.copy(source, tmp_path / source.name)
    copy = tmp_path / weights.name
    assert json.loads(card_path(copy).read_text())["onnx"] is not None
    data = bytearray(copy.read_bytes())
    data[-20] ^= 0xFF
    copy.write_bytes(bytes(data))
    report = serve_in_a_fresh_process(mnist.test_images[0], str(copy))
    assert "do not match their card" in report["error"]
    assert "restore it from git" in report["error"]
