"""ONNX Runtime under the Predictor: a graph it can trust, threads that never compete.

Trust: the graph is either the exported file the card vouches for (its SHA-256, and
the SHA-256 of the very weights it was exported from, both matching), or, when there
is none, exported afresh in memory from the verified weights and compared with the
PyTorch network on a check input (`model.onnx_graph.exported_network`). This module
imports no torch: serving a verified file needs none.

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
import os
import threading
from pathlib import Path

import numpy as np

from model.card import ModelCard

# The served graph's input and its outputs, in order (`model.onnx_graph` exports them).
INPUT_NAME = "image"
OUTPUT_NAMES = ("probabilities", "features", "logits")

log = logging.getLogger(__name__)

# Batches of up to this many images run on the one-thread session.
SMALL_BATCH = 8
# Images per run on the batch session: throughput is flat above it, and ONNX Runtime's
# memory arena keeps what the largest run needed.
CHUNK = 256


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
    """An exported graph in ONNX Runtime: (N, 1, 28, 28) float32 -> its three outputs.

    `threads`: the batch session's; None means every CPU this process may run on.
    """

    def __init__(self, graph: bytes, threads: int | None = None) -> None:
        self._graph = graph
        self.threads = max(1, int(threads or _usable_cpus()))
        self._single = _session(graph, 1)
        self._batch = self._single if self.threads == 1 else None
        self._lock = threading.Lock()

    @property
    def graph(self) -> bytes:
        """The serialized graph this network runs."""
        return self._graph

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
                self._batch = _session(self._graph, self.threads)
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


def trusted_network(graph: bytes, card: ModelCard) -> OnnxNetwork:
    """The verified file's `graph` in ONNX Runtime, its outputs' shapes checked.

    The file was compared with PyTorch on all of MNIST's test set when it was written
    (`model.onnx_export`), so it is only run once here: no PyTorch at load. Raises
    (ValueError, ONNX Runtime's errors) when it cannot run; the Predictor then runs
    PyTorch.
    """
    return _checked_shapes(OnnxNetwork(graph), card)


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
