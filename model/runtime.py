"""ONNX Runtime under the Predictor: a graph it can trust, threads that never compete.

Trust: the graph is either the exported file the card vouches for (its SHA-256, and
the SHA-256 of the very weights it was exported from, both matching) or, when there is
none, exported afresh in memory from the weights `load_checkpoint` has just verified.
Either way it is compared with the PyTorch network on a check input before use.

Threads: a drawing's preprocessing and its inference run one after the other on the
request's thread. One image runs on a session without a thread pool
(`intra_op_num_threads=1`), so no worker thread exists to wake or to spin; batches run
on a second session, made on the first batch, whose workers may use every core but go
to sleep as soon as a run ends (spinning off), leaving the cores to whatever runs next.
Sessions are thread-safe: Streamlit's sessions share one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.card import ModelCard
from model.onnx_graph import INPUT_NAME, OUTPUT_NAMES, graph_bytes, serving_graph

log = logging.getLogger(__name__)

# Batches of up to this many images run on the one-thread session.
SMALL_BATCH = 8
# Images per run on the batch session: throughput is flat above it, and ONNX Runtime's
# memory arena keeps what the largest run needed.
CHUNK = 256
# Largest difference to PyTorch on the check input at load (float rounding is ~1e-5).
CHECK_ATOL = 1e-3


def _session(graph: bytes, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class OnnxNetwork:
    """An exported graph in ONNX Runtime: (N, 1, 28, 28) float32 -> its three outputs."""

    def __init__(self, graph: bytes, threads: int) -> None:
        self._graph = graph
        self._threads = max(1, int(threads))
        self._single = _session(graph, 1)
        self._batch = self._single if self._threads == 1 else None
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) <= SMALL_BATCH:
            return tuple(self._single.run(None, {INPUT_NAME: x}))
        session = self._batch_session()
        parts = [session.run(None, {INPUT_NAME: x[i : i + CHUNK]}) for i in range(0, len(x), CHUNK)]
        return tuple(np.concatenate(outputs) for outputs in zip(*parts, strict=True))

    def _batch_session(self):
        with self._lock:
            if self._batch is None:
                self._batch = _session(self._graph, self._threads)
            return self._batch


def verified_file(weights: Path, card: ModelCard) -> bytes | None:
    """The bytes of the exported graph the card vouches for; None when there is none.

    None too when the file was exported from other weights or changed since: the
    caller then exports afresh from the verified weights (a warning says why).
    """
    entry = card.onnx
    if entry is None:
        return None
    path = Path(weights).parent / entry.file
    if entry.weights_sha256 != card.weights_sha256:
        problem = "was exported from other weights"
    else:
        try:
            graph = path.read_bytes()
        except OSError as err:
            problem = f"cannot be read ({err.strerror or err})"
        else:
            if hashlib.sha256(graph).hexdigest() == entry.sha256:
                return graph
            problem = "does not match its card"
    log.warning(
        "ONNX graph %s %s: exporting it again from the weights (run: python run_model.py "
        "export --model %s)",
        path,
        problem,
        weights,
    )
    return None


def onnx_network(net: nn.Module, card: ModelCard, graph: bytes | None = None) -> OnnxNetwork:
    """The served network in ONNX Runtime: the verified file's `graph`, else exported now.

    A graph exported now is compared with `net` on a check input; the verified file
    was compared on all of MNIST's test set when it was written, so it is only run
    once to check its outputs' shapes (no PyTorch forward pass: less memory at load).
    Raises (ImportError, ValueError, ONNX Runtime's errors) when it cannot be built or
    disagrees; the Predictor then runs PyTorch.
    """
    threads = torch.get_num_threads()
    if graph is not None:
        return _checked_shapes(OnnxNetwork(graph, threads), card)
    network = OnnxNetwork(graph_bytes(net, card), threads)
    check = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = [t.numpy() for t in serving_graph(net, card).cpu()(check)]
    got = network(check.numpy()[:1]), network(check.numpy())
    for name, one, many, want in zip(OUTPUT_NAMES, *got, expected, strict=True):
        if many.shape != want.shape or not np.allclose(many, want, rtol=0, atol=CHECK_ATOL):
            raise ValueError(f"the ONNX graph's {name} differ from the PyTorch network's")
        if not np.allclose(one, want[:1], rtol=0, atol=CHECK_ATOL):
            raise ValueError(f"the ONNX graph's {name} differ for a single image")
    return network


def _checked_shapes(network: OnnxNetwork, card: ModelCard) -> OnnxNetwork:
    """`network` if it maps two images to 2 x 10 probabilities, 2 x D features, 2 x 10 logits."""
    novelty = card.novelty
    width = (-1 if novelty.dimensions is None else novelty.dimensions) if novelty else 0
    probabilities, features, logits = network(np.zeros((2, 1, 28, 28), np.float32))
    width = features.shape[1] if width == -1 else width  # an older card without the entry
    if probabilities.shape != (2, 10) or logits.shape != (2, 10) or features.shape != (2, width):
        raise ValueError(
            f"the ONNX graph's outputs have shapes {probabilities.shape}, {features.shape}, "
            f"{logits.shape}; the card expects (2, 10), (2, {width}), (2, 10)"
        )
    return network
