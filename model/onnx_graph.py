"""The network as served: one ONNX graph of pixels in [0, 1] -> probabilities, features, logits.

Shared by `model.onnx_export` (which writes and verifies the file) and the Predictor
(which exports one in memory when no verified file exists, `exported_network`). The
PyTorch side of serving: `model.runtime` runs a graph without torch.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn

from model.card import ModelCard
from model.features import WithFeatures
from model.runtime import INPUT_NAME, OUTPUT_NAMES, OnnxNetwork

OPSET = 17
# Largest difference to PyTorch on the check input at load (float rounding is ~1e-5).
CHECK_ATOL = 1e-3


class ServingGraph(nn.Module):
    """The network as served: pixels in [0, 1] -> (probabilities, features, logits)."""

    def __init__(self, net: nn.Module, layers: tuple[str, ...], temperature: float) -> None:
        super().__init__()
        self.body = WithFeatures(net, layers).eval()
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, features = self.body(x)
        return torch.softmax(logits / self.temperature, dim=1), features, logits


def serving_graph(net: nn.Module, card: ModelCard) -> ServingGraph:
    """The card's network, temperature and (when it has a detector) feature layers."""
    layers = card.novelty.layers if card.novelty else ()
    return ServingGraph(net, layers, card.calibration.temperature).eval()


def graph_bytes(net: nn.Module, card: ModelCard) -> bytes:
    """The serialised ONNX graph of `net` as served, for any batch size N."""
    graph = serving_graph(net, card).cpu()
    buffer = io.BytesIO()
    batch_axis = {name: {0: "N"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with torch.no_grad(), warnings.catch_warnings():
        # The legacy exporter announces its deprecation (it is the one that works
        # offline) and which constants it could not fold: nothing for the user to do.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding")
        torch.onnx.export(
            graph,
            (torch.zeros(1, 1, 28, 28),),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=batch_axis,
        )
    return buffer.getvalue()


def exported_network(net: nn.Module, card: ModelCard) -> OnnxNetwork:
    """`net` exported now and run in ONNX Runtime, once it agrees with `net` on a check input.

    Raises (ImportError, ValueError, ONNX Runtime's errors) when it cannot be built or
    disagrees; the Predictor then runs PyTorch.
    """
    network = OnnxNetwork(graph_bytes(net, card))
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
