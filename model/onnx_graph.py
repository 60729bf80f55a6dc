"""The network as served: one ONNX graph of pixels in [0, 1] -> probabilities, features, logits.

Shared by `model.onnx_export` (which writes and verifies the file) and `model.runtime`
(which builds a graph in memory when no verified file exists), so neither imports the other.
"""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

from model.card import ModelCard
from model.novelty import WithFeatures

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ("probabilities", "features", "logits")


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
