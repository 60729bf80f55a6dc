"""The pooled features the novelty detector reads, taken from a PyTorch network.

`FeatureTap` keeps chosen layers' pooled outputs with forward hooks (eager PyTorch,
training and evaluation); `WithFeatures` returns them as outputs beside the logits,
for tracing and ONNX export. The detector itself (`model.novelty`) is plain NumPy,
so serving an exported graph needs none of this.
"""

from __future__ import annotations

import copy
import threading

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.device import pixel_batches


class FeatureTap:
    """Forward hooks that keep the pooled outputs of chosen layers, per thread.

    Registered once per network; each thread (Streamlit serves sessions from several)
    sees only the features of its own last forward pass.
    """

    def __init__(self, net: nn.Module, layers: tuple[str, ...]) -> None:
        self.layers = layers
        self._local = threading.local()
        modules = dict(net.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing:
            raise ValueError(f"the network has no layer named {', '.join(missing)}")
        self._handles = [modules[name].register_forward_hook(self._keeper(name)) for name in layers]

    def remove(self) -> None:
        """Take the hooks off the network (a tap used for one measurement)."""
        for handle in self._handles:
            handle.remove()

    def _keeper(self, name: str):
        def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self._captured()[name] = pooled(output)

        return keep

    def _captured(self) -> dict[str, torch.Tensor]:
        if not hasattr(self._local, "captured"):
            self._local.captured = {}
        return self._local.captured

    def features(self) -> torch.Tensor:
        """(N, D) features of this thread's last forward pass."""
        captured = self._captured()
        return torch.cat([captured[name] for name in self.layers], dim=1)


def pooled(output: torch.Tensor) -> torch.Tensor:
    """(N, D) features of one layer's output: a feature map is mean- and max-pooled.

    Global pooling rather than a mean and a max over (2, 3): the same numbers, but
    exported as GlobalAveragePool / GlobalMaxPool, which ONNX Runtime runs in its
    blocked convolution layout instead of converting the map back first.
    """
    out = output.float()
    if out.ndim == 4:  # (N, C, H, W): where and how strongly each channel fired
        out = torch.cat([F.adaptive_avg_pool2d(out, 1), F.adaptive_max_pool2d(out, 1)], dim=1)
    return out.flatten(1)


class WithFeatures(nn.Module):
    """A copy of the network whose forward returns (logits, features) as outputs.

    Forward hooks do not survive `torch.jit.trace` (the traced graph keeps only what
    flows to its outputs), so the compiled inference path (`model.predictor`) traces
    this wrapper instead: a FeatureTap on the copy collects the features while
    tracing, and they become outputs beside the logits. The original network and its
    own hooks are not touched.
    """

    def __init__(self, net: nn.Module, layers: tuple[str, ...]) -> None:
        super().__init__()
        self.net = copy.deepcopy(net)
        for module in self.net.modules():
            module._forward_hooks.clear()  # any FeatureTap's, copied with the network
        self._tap = FeatureTap(self.net, layers) if layers else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        if self._tap is None:  # a model without a detector: no features
            return logits, logits[:, :0]
        return logits, self._tap.features()


@torch.inference_mode()
def logits_and_features(
    net: nn.Module, tap: FeatureTap, images: np.ndarray, batch_size: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 10) logits and (N, D) features of N x 28 x 28 uint8 images, in eval mode."""
    net.eval()
    device = next(net.parameters()).device
    logits, features = [], []
    for x in pixel_batches(images, device, batch_size):
        logits.append(net(x).float().cpu().numpy())
        features.append(tap.features().cpu().numpy())
    return np.concatenate(logits), np.concatenate(features)
