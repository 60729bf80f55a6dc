"""Batched, on-device augmentation and the "not a digit" scribbles of outlier exposure.

Everything works on whole batches already on the training device: a few kernels per
step instead of a per-sample Python loop. `canvas_to_mnist` removes most of how a
person's drawing differs from MNIST (box, centre of mass, stroke width), so the
network needs to tolerate only what is left: small affine changes, pens of slightly
different widths and, where the recipe asks (`TrainConfig.stretch`), digits wider or
narrower than MNIST's: people draw wider on a square canvas than on a form.
Scribbles with a uniform target (Hendrycks et al., ICLR 2019) are off by default
(`TrainConfig.outlier_weight`): `model.novelty` answers "not a digit" without
costing accuracy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 12.0
SCALE_RANGE = (0.85, 1.12)
MAX_SHEAR = 0.2
MAX_SHIFT_PX = 2.5
THICKEN_PROB = 0.25
THIN_PROB = 0.2


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device):
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def random_affine(x: torch.Tensor, gen: torch.Generator, stretch: float = 1.0) -> torch.Tensor:
    """Rotate, scale, shear and shift each image of (N, 1, H, W) independently.

    `stretch` above 1 also scales widths by a log-uniform factor in [1/stretch,
    stretch]; at 1 no random number is drawn for it, so older recipes replay exactly.
    """
    n, device = x.shape[0], x.device
    angle = _uniform(n, -MAX_ROTATION_DEG, MAX_ROTATION_DEG, gen, device) * math.pi / 180
    scale = _uniform(n, *SCALE_RANGE, gen, device)
    shear = _uniform(n, -MAX_SHEAR, MAX_SHEAR, gen, device)
    shift = _uniform(2 * n, -MAX_SHIFT_PX, MAX_SHIFT_PX, gen, device).view(n, 2) * 2 / x.shape[-1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid maps output to input coordinates, hence the inverse scale.
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[:, 0]], dim=1),
            torch.stack([sin, cos + shear * sin, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    if stretch != 1.0:  # the input's x coordinates are read 1/widen as far apart
        bound = math.log(stretch)
        widen = torch.exp(_uniform(n, -bound, bound, gen, device))
        theta = torch.cat([theta[:, :1] / widen.view(n, 1, 1), theta[:, 1:]], dim=1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_stroke_width(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Thicken some images and thin others by a random fraction of one pixel.

    Grey-level dilation (max over 3x3) and erosion (min over 3x3), blended with the
    original by a random amount, imitate pens of slightly different widths.
    """
    n, device = x.shape[0], x.device
    u = torch.rand(n, generator=gen, device=device).view(n, 1, 1, 1)
    amount = torch.rand(n, generator=gen, device=device).view(n, 1, 1, 1)
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-x, 3, stride=1, padding=1)
    thick = u < THICKEN_PROB
    thin = (u >= THICKEN_PROB) & (u < THICKEN_PROB + THIN_PROB)
    out = torch.where(thick, x + amount * (dilated - x), x)
    return torch.where(thin, out - 0.6 * amount * (out - eroded), out)


def augment(x: torch.Tensor, gen: torch.Generator, stretch: float = 1.0) -> torch.Tensor:
    """The training-time transform of a float batch in [0, 1]."""
    return random_stroke_width(random_affine(x, gen, stretch), gen).clamp_(0, 1)


def random_scribbles(n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """(n, 1, 28, 28) random pen strokes: 4-8 point zigzags rendered anti-aliased.

    Each pixel's ink is a smooth function of its distance to the nearest segment, so
    strokes look like MNIST's (about 2.5 px wide, soft edges), not like noise.
    """
    max_points = 8
    points = torch.rand(n, max_points, 2, generator=gen, device=device) * 20 + 4
    n_points = torch.randint(4, max_points + 1, (n, 1), generator=gen, device=device)
    a, b = points[:, :-1], points[:, 1:]  # (n, S, 2) segment ends
    used = torch.arange(max_points - 1, device=device).view(1, -1) < (n_points - 1)
    coords = torch.arange(28, device=device, dtype=points.dtype) + 0.5
    pixels = torch.stack(torch.meshgrid(coords, coords, indexing="xy"), dim=-1).view(1, 1, -1, 2)
    ab = (b - a).unsqueeze(2)  # (n, S, 1, 2)
    ap = pixels - a.unsqueeze(2)  # (n, S, P, 2)
    t = ((ap * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-6)).clamp(0, 1)
    dist = (ap - t.unsqueeze(-1) * ab).norm(dim=-1)  # (n, S, P)
    dist = torch.where(used.unsqueeze(-1), dist, torch.full_like(dist, 1e3))
    width = _uniform(n, 1.0, 1.8, gen, device).view(n, 1)
    ink = (width + 0.5 - dist.min(dim=1).values).clamp(0, 1)
    return ink.view(n, 1, 28, 28)
