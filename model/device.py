"""Where tensors live: the device choice, seeding, and images fed to a network in batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU -- or exactly what the user asked for."""
    if name != "auto":
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"--device {name}: Apple MPS is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed torch and return the generator that drives shuffling and augmentation."""
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def to_device_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) uint8 on `device` (converted per batch)."""
    return torch.tensor(images, dtype=torch.uint8).unsqueeze(1).to(device)


def layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def pixel_batches(
    images: np.ndarray | torch.Tensor,
    device: torch.device,
    batch_size: int,
    channels_last: bool = False,
) -> Iterator[torch.Tensor]:
    """(B, 1, 28, 28) float batches in [0, 1] on `device`, from uint8 images.

    `images` is N x 28 x 28 (numpy, copied: callers' arrays may be read-only) or an
    N x 1 x 28 x 28 tensor already on the device.
    """
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        x = chunk if isinstance(chunk, torch.Tensor) else torch.tensor(chunk).unsqueeze(1)
        yield layout(x.to(device).float().div_(255), channels_last)
