"""Drawing digits and letters the way a canvas does: polylines with a round brush.

Tests, benchmarks and the model card need drawings that look like what a person
makes with a mouse or a finger (uniform thick strokes, anti-aliased edges, anywhere
on the canvas), not like MNIST. `render_strokes` paints polylines with a round brush
as an HTML canvas does; `digit_paths` and `letter_paths` give hand-written-looking
paths for each digit and for a few letters, several styles each, jittered by a
NumPy random generator so that every call with the same seed draws the same thing.

Template coordinates are (x, y) in a unit box, y pointing down, as on a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

Stroke = np.ndarray  # (N, 2) float array of (x, y) points, pen-down to pen-up
# The side of the app's square drawing canvas, in px: drawings are painted at it by default.
CANVAS_SIDE = 280


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points on an elliptical arc; angles in degrees, 0 = right, 90 = down (screen)."""
    count = max(2, int(abs(end - start) / 6) + 1)
    angles = np.radians(np.linspace(start, end, count))
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def line(*points: tuple[float, float]) -> Stroke:
    return np.asarray(points, dtype=float)


def join(*parts: Stroke) -> Stroke:
    return np.concatenate(parts, axis=0)


def _figure_eight() -> Stroke:
    t = np.linspace(0, 2 * np.pi, 80)
    return np.stack([0.5 + 0.42 * np.sin(2 * t) / 1.2, 0.5 - 0.5 * np.cos(t)], axis=1)


# Each digit: style name -> strokes (one pen-down each). Written as people draw them.
# fmt: off
DIGIT_TEMPLATES: dict[int, dict[str, list[Stroke]]] = {
    0: {
        "oval": [arc(0.5, 0.5, 0.42, 0.5, -90, 275)],
        "narrow": [arc(0.5, 0.5, 0.3, 0.5, -80, 290)],
        "round": [arc(0.5, 0.5, 0.5, 0.5, -120, 250)],
    },
    1: {
        "bar": [line((0.5, 0.0), (0.5, 1.0))],
        "flag": [line((0.25, 0.22), (0.55, 0.0), (0.55, 1.0))],
        "flag-base": [line((0.25, 0.22), (0.55, 0.0), (0.55, 1.0)), line((0.25, 1), (0.85, 1))],
    },
    2: {
        "curved": [join(arc(0.5, 0.3, 0.42, 0.3, 190, 400), line((0.05, 1.0), (0.95, 1.0)))],
        "angular": [line((0.1, 0.25), (0.35, 0.02), (0.75, 0.05), (0.85, 0.3), (0.1, 1.0),
                          (0.95, 0.98))],
        "curly": [join(arc(0.5, 0.3, 0.42, 0.3, 190, 400), line((0.12, 0.92)),
                        arc(0.22, 0.88, 0.12, 0.1, 180, 0), line((0.95, 0.98)))],
    },
    3: {
        "round": [join(arc(0.5, 0.26, 0.4, 0.25, 200, 450), arc(0.5, 0.74, 0.45, 0.26, -90, 160))],
        "flat-top": [join(line((0.1, 0.02), (0.9, 0.02), (0.4, 0.42)),
                           arc(0.5, 0.7, 0.45, 0.3, -100, 160))],
    },
    4: {
        "closed": [line((0.72, 1.0), (0.72, 0.0), (0.05, 0.68), (0.97, 0.68))],
        "open": [line((0.25, 0.0), (0.1, 0.6), (0.95, 0.6)), line((0.75, 0.1), (0.75, 1.0))],
    },
    5: {
        "two-stroke": [join(line((0.25, 0.02), (0.15, 0.45)),
                             arc(0.5, 0.68, 0.42, 0.3, -150, 150)),
                       line((0.25, 0.02), (0.9, 0.02))],
        "one-stroke": [join(line((0.9, 0.02), (0.25, 0.02), (0.15, 0.45)),
                             arc(0.5, 0.68, 0.42, 0.3, -150, 150))],
    },
    6: {
        "curved": [join(arc(0.85, 0.7, 0.75, 0.68, -100, -180),
                         arc(0.5, 0.72, 0.4, 0.27, 180, -180))],
        "straight": [join(line((0.7, 0.0), (0.15, 0.65)), arc(0.5, 0.72, 0.36, 0.27, 200, -160))],
    },
    7: {
        "plain": [line((0.05, 0.05), (0.95, 0.05), (0.35, 1.0))],
        "crossbar": [line((0.05, 0.05), (0.95, 0.05), (0.35, 1.0)),
                     line((0.3, 0.5), (0.85, 0.5))],
        "hooked": [line((0.05, 0.22), (0.1, 0.05), (0.95, 0.05), (0.4, 1.0))],
    },
    8: {
        "crossing": [_figure_eight()],
        "two-loops": [join(arc(0.5, 0.26, 0.32, 0.25, 90, 450),
                            arc(0.5, 0.74, 0.42, 0.26, -90, 270))],
    },
    9: {
        "straight": [join(arc(0.5, 0.3, 0.4, 0.28, 0, -360), line((0.88, 1.0)))],
        "curved": [join(arc(0.5, 0.3, 0.4, 0.28, 0, -360),
                         line((0.88, 0.7), (0.65, 0.98), (0.3, 0.95)))],
    },
}

# Letters that no one would read as a digit (O, I, l, Z, S, B, G, b, g, q, T, J are
# left out on purpose: they are 0, 1, 2, 5, 8, 6, 9, 7 in disguise).
LETTER_TEMPLATES: dict[str, list[Stroke]] = {
    "A": [line((0.0, 1.0), (0.5, 0.0), (1.0, 1.0)), line((0.22, 0.6), (0.78, 0.6))],
    "E": [line((0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)), line((0.1, 0.5), (0.7, 0.5))],
    "F": [line((0.9, 0.0), (0.1, 0.0), (0.1, 1.0)), line((0.1, 0.5), (0.7, 0.5))],
    "H": [line((0.1, 0.0), (0.1, 1.0)), line((0.9, 0.0), (0.9, 1.0)),
          line((0.1, 0.5), (0.9, 0.5))],
    "K": [line((0.1, 0.0), (0.1, 1.0)), line((0.9, 0.0), (0.1, 0.55), (0.9, 1.0))],
    "M": [line((0.0, 1.0), (0.1, 0.0), (0.5, 0.6), (0.9, 0.0), (1.0, 1.0))],
    "N": [line((0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0))],
    "R": [join(line((0.1, 1.0), (0.1, 0.0)), arc(0.45, 0.25, 0.4, 0.25, -90, 90),
                line((0.1, 0.5), (0.9, 1.0)))],
    "W": [line((0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0))],
    "X": [line((0.0, 0.0), (1.0, 1.0)), line((1.0, 0.0), (0.0, 1.0))],
}
# fmt: on


def digit_styles() -> list[tuple[int, str]]:
    """Every (digit, style) pair that `digit_paths` can draw."""
    return [(d, s) for d in sorted(DIGIT_TEMPLATES) for s in sorted(DIGIT_TEMPLATES[d])]


def jitter(
    strokes: Sequence[Stroke],
    rng: np.random.Generator,
    *,
    rotation: float = 8.0,
    shear: float = 0.15,
    wobble: float = 0.012,
) -> list[Stroke]:
    """A hand-made variant of unit-box strokes: small rotation, slant and wobble."""
    angle = np.radians(rng.uniform(-rotation, rotation))
    slant = rng.uniform(-shear, shear)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, slant], [0.0, 1.0]])
    return [
        (np.asarray(s, dtype=float) - 0.5) @ matrix.T + 0.5 + rng.normal(0, wobble, np.shape(s))
        for s in strokes
    ]


def place(
    strokes: Sequence[Stroke],
    *,
    size: int = CANVAS_SIDE,
    height: float = 0.7,
    aspect: float = 0.65,
    centre: tuple[float, float] = (0.5, 0.5),
) -> list[Stroke]:
    """Unit-box strokes -> canvas pixels: `height` and `centre` as shares of `size`."""
    box = np.array([aspect * height * size, height * size])
    middle = np.array(centre) * size
    return [(np.asarray(s, dtype=float) - 0.5) * box + middle for s in strokes]


def digit_paths(
    digit: int,
    rng: np.random.Generator,
    *,
    size: int = CANVAS_SIDE,
    style: str | None = None,
    height: float | None = None,
    centre: tuple[float, float] | None = None,
) -> list[Stroke]:
    """Canvas-pixel strokes of a hand-drawn `digit`; unset options are drawn from `rng`."""
    styles = DIGIT_TEMPLATES[digit]
    chosen = style if style is not None else str(rng.choice(sorted(styles)))
    height = height if height is not None else float(rng.uniform(0.45, 0.8))
    if centre is None:
        room = max(0.0, 0.85 - height) / 2  # keeps a brush of up to ~10 % inside
        centre = (0.5 + rng.uniform(-room, room), 0.5 + rng.uniform(-room, room))
    strokes = jitter(styles[chosen], rng)
    return place(strokes, size=size, height=height, aspect=rng.uniform(0.55, 0.75), centre=centre)


# How the canvas (fabric.js 6's PencilBrush, in streamlit-drawable-canvas) turns the
# pointer positions it records into the path it paints: a point closer than this to
# the last one kept is dropped, and the curves are painted within the tolerance.
CANVAS_DECIMATE_PX = 0.4
CURVE_TOLERANCE_PX = 0.25


def canvas_path(points: Stroke) -> Stroke:
    """The path the app's canvas paints through the pointer positions it recorded.

    Fabric's PencilBrush draws a line to the first midpoint, then a quadratic curve
    from each midpoint to the next bent towards the recorded point between, then a
    line to the last point: a slow recorder's few points make round loops, not
    polygons. It first drops points closer than `CANVAS_DECIMATE_PX` to the last one
    kept and, as fabric 6 does, always the second-to-last. Returned as a polyline
    for `render_strokes`.
    """
    points = np.asarray(points, dtype=float)
    if len(points) < 3:
        return points
    kept = [points[0]]
    for point in points[1:-2]:
        if np.sum((point - kept[-1]) ** 2) >= CANVAS_DECIMATE_PX**2:
            kept.append(point)
    points = np.array([*kept, points[-1]])
    if len(points) < 3:
        return points
    mids = (points[:-1] + points[1:]) / 2
    starts, bends, ends = mids[:-1], points[1:-1], mids[1:]
    # A quadratic cut into k equal steps of t strays bulge / k^2 from its chords.
    bulge = np.linalg.norm(bends - (starts + ends) / 2, axis=1) / 2
    steps = np.maximum(1, np.ceil(np.sqrt(bulge / CURVE_TOLERANCE_PX))).astype(int)
    curve = np.repeat(np.arange(len(steps)), steps)  # the curve each point lies on
    first = np.repeat(np.cumsum(steps) - steps, steps)  # where that curve's points begin
    t = ((np.arange(len(curve)) - first) / steps[curve])[:, None]
    on_curves = (1 - t) ** 2 * starts[curve] + 2 * (1 - t) * t * bends[curve] + t**2 * ends[curve]
    return np.concatenate([points[:1], on_curves, mids[-1:], points[-1:]])


def render_strokes(
    paths: Sequence[Stroke],
    size: int | tuple[int, int] = CANVAS_SIDE,
    brush: float = 18.0,
    *,
    polarity: str = "light",
    rgba: bool = False,
) -> np.ndarray:
    """Paint polylines with a round, anti-aliased brush, as a drawing canvas does.

    `paths` are (N, 2) arrays of (x, y) pixel coordinates; a one-point path is a
    dot. Returns uint8: H x W light ink on black (`polarity="light"`) or dark ink on
    white (`"dark"`); with `rgba=True`, H x W x 4 on a transparent background, the
    ink in the alpha channel, coloured white (light) or black (dark).
    """
    if polarity not in ("light", "dark"):
        raise ValueError(f"polarity must be 'light' or 'dark', got {polarity!r}")
    height, width = (size, size) if isinstance(size, int) else size
    radius = brush / 2
    distance = np.full((height, width), np.inf, dtype=np.float32)
    for path in paths:
        points = np.atleast_2d(np.asarray(path, dtype=np.float32))
        segments = pairwise(points) if len(points) > 1 else [(points[0], points[0])]
        for start, end in segments:
            _paint_segment(distance, start, end, radius)
    coverage = np.clip(radius + 0.5 - distance, 0, 1)
    ink = np.rint(coverage * 255).astype(np.uint8)
    if rgba:
        colour = 255 if polarity == "light" else 0
        out = np.zeros((height, width, 4), dtype=np.uint8)
        out[..., :3] = np.where(ink[..., None] > 0, colour, 0)
        out[..., 3] = ink
        return out
    return ink if polarity == "light" else 255 - ink


def _paint_segment(distance: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> None:
    """Lower `distance` to the distance from each pixel centre to segment start-end.

    Only the segment's box grown by the brush radius is touched, which keeps a
    280 x 280 drawing of forty segments at a few milliseconds.
    """
    reach = radius + 1
    top = max(0, int(np.floor(min(start[1], end[1]) - reach)))
    bottom = min(distance.shape[0], int(np.ceil(max(start[1], end[1]) + reach)) + 1)
    left = max(0, int(np.floor(min(start[0], end[0]) - reach)))
    right = min(distance.shape[1], int(np.ceil(max(start[0], end[0]) + reach)) + 1)
    if top >= bottom or left >= right:
        return
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
    direction = end - start
    length2 = float(direction @ direction)
    if length2 > 0:
        t = ((xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]) / length2
        t = np.clip(t, 0, 1)
    else:
        t = np.zeros_like(xs)
    dx = xs - (start[0] + t * direction[0])
    dy = ys - (start[1] + t * direction[1])
    window = distance[top:bottom, left:right]
    np.minimum(window, np.sqrt(dx * dx + dy * dy), out=window)
