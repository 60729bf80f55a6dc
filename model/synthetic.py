"""Synthetic pictures for tests, benchmarks and the model card (deterministic by seed).

MNIST test digits are scanned pen strokes, centred and 20 px tall; drawings in the
app are thick mouse strokes anywhere on a 280 px canvas. To measure how a model
fares on drawings without collecting any, this module makes:

- `mnist_to_canvas` / `canvas_test_set`: MNIST test digits redrawn as canvases
  (upscaled, thickened or thinned, small or large, pushed to the edges, either
  polarity, opaque or transparent), each with a description so that a failure can
  be traced to a variant;
- `naive_resize`: what public demos do (grey, resize the whole canvas to 28 x 28),
  the baseline beside `canvas_to_mnist`;
- `render_strokes` and `digit_paths` (from `model.strokes`): digits drawn with a
  round brush from stroke templates;
- `non_digit_shapes`: scribbles, letters and figures that are not digits, to count
  how many a model flags as unsure.

No torch here: these are plain NumPy / PIL pictures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from model.preprocess import stroke_width
from model.strokes import (
    CANVAS_SIDE,
    DIGIT_TEMPLATES,
    LETTER_TEMPLATES,
    arc,
    digit_paths,
    jitter,
    place,
    render_strokes,
)

__all__ = [
    "DIGIT_TEMPLATES",
    "CanvasTestSet",
    "CanvasVariant",
    "canvas_test_set",
    "digit_paths",
    "mnist_to_canvas",
    "naive_resize",
    "non_digit_shapes",
    "photo_of",
    "render_strokes",
    "shifted_correlation",
]


def mnist_to_canvas(
    digit28: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int = CANVAS_SIDE,
    scale: float | None = None,
    shift: tuple[float, float] | None = None,
    thickness: float | None = None,
    polarity: str | None = None,
    rgba: bool | None = None,
) -> np.ndarray:
    """Redraw a 28 x 28 MNIST digit as a `size` x `size` canvas.

    - `scale`: longer side of the digit as a share of the canvas (0.3 - 0.95);
    - `shift`: (x, y) in [-1, 1]; 0 centres the digit, +-1 makes it touch an edge;
    - `thickness`: change of stroke width in pixels at MNIST scale (a 20 px box; MNIST's
      median is `preprocess.MNIST_STROKE_WIDTH`): +1.5 is a heavy marker, -1.0 a fine pen; thinning
      stops at 40 % of the digit's own width so that no stroke disappears;
    - `polarity`: "light" (light ink on black) or "dark" (dark ink on white);
    - `rgba`: H x W x 4 with a transparent background and the ink in alpha.
    Unset options are drawn from `rng`. Edges are anti-aliased like a canvas brush.
    Ink that grows past the canvas (scale near 1 and a large thickness) is cut.
    """
    scale = float(rng.uniform(0.3, 0.95)) if scale is None else scale
    shift = tuple(rng.uniform(-1, 1, 2)) if shift is None else shift
    thickness = float(rng.uniform(-1.0, 1.5)) if thickness is None else thickness
    polarity = str(rng.choice(["light", "dark"])) if polarity is None else polarity
    rgba = bool(rng.integers(2)) if rgba is None else rgba
    digit = np.asarray(digit28, dtype=np.float32) / 255.0
    if digit.ndim != 2 or not digit.any():
        raise ValueError(f"expected a 28 x 28 digit with some ink, got shape {digit.shape}")
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    factor = scale * size / max(crop.shape)
    height, width = (max(1, round(side * factor)) for side in crop.shape)
    big = Image.fromarray(crop).resize((width, height), Image.Resampling.BICUBIC)
    own_width = stroke_width(digit28)
    offset = max(thickness, -0.6 * own_width) * scale * size / 20 / 2
    mask = np.pad(np.asarray(big) > 0.5, 2 + max(0, int(np.ceil(offset))))  # room to grow
    signed = np.where(
        mask,
        0.5 - ndimage.distance_transform_edt(mask),
        ndimage.distance_transform_edt(~mask) - 0.5,
    )
    coverage = np.clip(offset - signed + 0.5, 0, 1)
    if not coverage.any():
        raise ValueError("the digit has no stroke above half intensity to redraw")
    rows, cols = np.flatnonzero(coverage.any(1)), np.flatnonzero(coverage.any(0))
    coverage = coverage[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    canvas = np.zeros((size, size), dtype=np.float32)
    top = round((size - coverage.shape[0]) / 2 * (1 + shift[1]))
    left = round((size - coverage.shape[1]) / 2 * (1 + shift[0]))
    _paste(canvas, coverage, top, left)
    return _finish(canvas, polarity, rgba)


@dataclass(frozen=True)
class CanvasVariant:
    """How one canvas of the synthetic set was made."""

    kind: str
    scale: float
    shift: tuple[float, float]
    thickness: float
    polarity: str
    rgba: bool

    def describe(self) -> str:
        return (
            f"{self.kind}: scale {self.scale:.2f}, shift ({self.shift[0]:+.2f}, "
            f"{self.shift[1]:+.2f}), thickness {self.thickness:+.2f}, {self.polarity} ink"
            f"{', transparent RGBA' if self.rgba else ''}"
        )


# Each kind stresses one thing a canvas does to a digit; "mixed" combines them.
VARIANT_KINDS = (
    "centred",
    "small",
    "large",
    "thick",
    "thin",
    "edge",
    "dark-on-light",
    "transparent",
    "mixed",
)


def _variant(kind: str, rng: np.random.Generator) -> CanvasVariant:
    scale, shift, thickness = float(rng.uniform(0.55, 0.85)), (0.0, 0.0), 0.0
    polarity, rgba = "light", False
    if kind == "small":
        scale, shift = float(rng.uniform(0.3, 0.4)), tuple(rng.uniform(-0.5, 0.5, 2))
    elif kind == "large":
        scale = float(rng.uniform(0.88, 0.95))
    elif kind == "thick":
        thickness = float(rng.uniform(0.7, 1.6))
    elif kind == "thin":
        thickness = float(rng.uniform(-1.2, -0.6))
    elif kind == "edge":
        scale = float(rng.uniform(0.3, 0.6))
        along, side = rng.uniform(-1, 1), float(rng.choice([-1.0, 1.0]))
        shift = (side, along) if rng.integers(2) else (along, side)
    elif kind == "dark-on-light":
        polarity = "dark"
    elif kind == "transparent":
        polarity, rgba = str(rng.choice(["light", "dark"])), True
    elif kind == "mixed":
        scale, shift = float(rng.uniform(0.3, 0.85)), tuple(rng.uniform(-1, 1, 2))
        thickness = float(rng.uniform(-1.0, 1.5))
        polarity, rgba = str(rng.choice(["light", "dark"])), bool(rng.integers(2))
    shift = (float(shift[0]), float(shift[1]))
    return CanvasVariant(kind, scale, shift, thickness, polarity, rgba)


@dataclass(frozen=True)
class CanvasTestSet:
    """MNIST digits as canvases, drawn on demand (10 000 RGBA canvases would be 3 GB).

    `set[i]` is the canvas, `labels[i]` its digit, `variants[i]` how it was made;
    `kinds` groups results per variant kind.
    """

    images28: np.ndarray
    labels: np.ndarray
    variants: list[CanvasVariant]
    size: int = CANVAS_SIDE

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> np.ndarray:
        v = self.variants[index]
        return mnist_to_canvas(
            self.images28[index],
            np.random.default_rng(index),
            size=self.size,
            scale=v.scale,
            shift=v.shift,
            thickness=v.thickness,
            polarity=v.polarity,
            rgba=v.rgba,
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    @property
    def kinds(self) -> np.ndarray:
        return np.array([v.kind for v in self.variants])


def canvas_test_set(
    images28: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, size: int = CANVAS_SIDE
) -> CanvasTestSet:
    """The synthetic canvas set: one variant per digit, kinds taken in turn."""
    if len(images28) != len(labels):
        raise ValueError(f"{len(images28)} images but {len(labels)} labels")
    variants = [_variant(VARIANT_KINDS[i % len(VARIANT_KINDS)], rng) for i in range(len(labels))]
    return CanvasTestSet(np.asarray(images28), np.asarray(labels), variants, size)


def naive_resize(image: np.ndarray | Image.Image) -> np.ndarray:
    """The public-demo baseline: grey, whole canvas resized to 28 x 28, nothing else.

    Charitable where it costs nothing: a transparent canvas is read from its alpha
    channel. No polarity fix, no crop, no centring, no stroke width.
    """
    array = np.asarray(image.convert("RGBA") if isinstance(image, Image.Image) else image)
    if array.ndim == 3 and array.shape[2] == 4 and np.ptp(array[..., 3]) > 0:
        grey = array[..., 3]
    elif array.ndim == 3:
        grey = np.asarray(Image.fromarray(np.ascontiguousarray(array[..., :3])).convert("L"))
    else:
        grey = array
    picture = Image.fromarray(np.asarray(grey, dtype=np.uint8))
    return np.asarray(picture.resize((28, 28), Image.Resampling.BILINEAR))


def photo_of(
    ink: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int = 1000,
    noise: float = 0.04,
    specks: int = 40,
) -> np.ndarray:
    """A phone photo of `ink` (light-on-dark uint8) written on paper: size x size RGB.

    Dark blue-black ink on off-white paper, light falling off across the sheet (the
    far corner about half as bright), slight blur, sensor noise of standard deviation
    `noise` and `specks` small dark dust marks scattered over the sheet.
    """
    coverage = (
        np.asarray(
            Image.fromarray(np.asarray(ink, dtype=np.uint8)).resize(
                (size, size), Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        / 255.0
    )
    coverage = ndimage.gaussian_filter(coverage, 1.0 + size / 1000)
    for _ in range(specks):
        y, x = rng.integers(0, size, 2)
        radius = int(rng.integers(1, max(2, size // 250) + 1))
        coverage[max(0, y - radius) : y + radius, max(0, x - radius) : x + radius] = max(
            0.4, float(rng.uniform(0.4, 0.9))
        )
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) + 0.5  # 0..1 across
    light = 0.95 - 0.4 * ramp - 0.1 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
    paper, pen = np.array([0.97, 0.95, 0.9]), np.array([0.12, 0.13, 0.25])
    reflect = paper + coverage[..., None] * (pen - paper)
    photo = reflect * light[..., None] + rng.normal(0, noise, (size, size, 1))
    return np.rint(np.clip(photo, 0, 1) * 255).astype(np.uint8)


# --- things that are not digits ----------------------------------------------------
# Left out on purpose, because they are digits to any reader: a plain circle or oval
# (0), a tall narrow box (0), a vertical bar (1), a triangle (closed 4), a slashed
# circle (a styled 0), a plus sign (an open 4 without its top), a filled blob, and
# the letters O D Q C U (0), I l T J (1, 7), Z (2), S (5), G b (6), B (8), g q P (9).

SHAPE_KINDS = (
    "scribble",
    "letter",
    "font-letter",
    "box",
    "envelope",
    "cross",
    "circle-cross",
    "hash",
    "star",
    "spiral",
    "zigzag",
    "smiley",
    "arrow",
)
_FONT_LETTERS = "AEFHKMNRWX#&%@"


def _shape_strokes(kind: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Unit-box strokes of one non-digit `kind`."""
    if kind == "scribble":
        knots = rng.uniform(0, 1, (int(rng.integers(8, 15)), 2))
        t = np.linspace(0, len(knots) - 1, 30 * len(knots))
        return [np.stack([np.interp(t, np.arange(len(knots)), knots[:, k]) for k in (0, 1)], 1)]
    if kind == "letter":
        return LETTER_TEMPLATES[str(rng.choice(sorted(LETTER_TEMPLATES)))]
    if kind == "box":
        return [np.array([(0, 0.1), (1, 0.1), (1, 0.9), (0, 0.9), (0, 0.1)], dtype=float)]
    if kind == "envelope":
        box = np.array([(0, 0.1), (1, 0.1), (1, 0.9), (0, 0.9), (0, 0.1)], dtype=float)
        return [box, np.array([(0, 0.1), (1, 0.9)]), np.array([(1, 0.1), (0, 0.9)])]
    if kind == "cross":
        return [np.array([(0.0, 0.0), (1.0, 1.0)]), np.array([(1.0, 0.0), (0.0, 1.0)])]
    if kind == "circle-cross":
        return [
            arc(0.5, 0.5, 0.5, 0.5, 0, 360),
            np.array([(0.5, 0.0), (0.5, 1.0)]),
            np.array([(0.0, 0.5), (1.0, 0.5)]),
        ]
    if kind == "hash":
        return [
            np.array([(0.35, 0.0), (0.3, 1.0)]),
            np.array([(0.7, 0.0), (0.65, 1.0)]),
            np.array([(0.0, 0.33), (1.0, 0.33)]),
            np.array([(0.0, 0.67), (1.0, 0.67)]),
        ]
    if kind == "star":
        angles = np.radians(-90 + 144 * np.arange(6))
        return [np.stack([0.5 + 0.5 * np.cos(angles), 0.5 + 0.5 * np.sin(angles)], 1)]
    if kind == "spiral":
        t = np.linspace(0, 5 * np.pi, 150)
        return [np.stack([0.5 + t / 10 / np.pi * np.cos(t), 0.5 + t / 10 / np.pi * np.sin(t)], 1)]
    if kind == "zigzag":
        peaks = int(rng.integers(4, 7))
        x = np.linspace(0, 1, 2 * peaks + 1)
        return [np.stack([x, 0.3 + 0.4 * (np.arange(len(x)) % 2)], 1)]
    if kind == "smiley":
        return [
            arc(0.5, 0.5, 0.5, 0.5, 0, 360),
            np.array([(0.33, 0.35)]),
            np.array([(0.67, 0.35)]),
            arc(0.5, 0.55, 0.25, 0.2, 20, 160),
        ]
    if kind == "arrow":
        return [
            np.array([(0.0, 0.5), (1.0, 0.5)]),
            np.array([(0.7, 0.25), (1.0, 0.5), (0.7, 0.75)]),
        ]
    raise ValueError(f"unknown shape kind {kind!r}")


def non_digit_shapes(
    n: int, rng: np.random.Generator, size: int = CANVAS_SIDE
) -> tuple[np.ndarray, list[str]]:
    """`n` drawings that are not digits: (n x size x size uint8 light on black, kinds).

    Kinds are taken in turn from SHAPE_KINDS; brush, size, position, slant and wobble
    are drawn from `rng`. Boxes are wider than tall (a tall box reads as 0).
    """
    images = np.zeros((n, size, size), dtype=np.uint8)
    kinds = [SHAPE_KINDS[i % len(SHAPE_KINDS)] for i in range(n)]
    for i, kind in enumerate(kinds):
        wide = kind in ("box", "envelope", "zigzag", "arrow")
        aspect = float(rng.uniform(1.2, 1.8) if wide else rng.uniform(0.8, 1.1))
        height = min(float(rng.uniform(0.45, 0.75)), 0.75 / aspect)
        room = 0.8 - height * max(1.0, aspect)  # what is left once brush and slant fit
        centre = (0.5 + rng.uniform(-0.5, 0.5) * room, 0.5 + rng.uniform(-0.5, 0.5) * room)
        if kind == "font-letter":
            images[i] = _font_letter(str(rng.choice(list(_FONT_LETTERS))), size, height, centre)
            continue
        strokes = jitter(_shape_strokes(kind, rng), rng)
        placed = place(strokes, size=size, height=height, aspect=aspect, centre=centre)
        images[i] = render_strokes(placed, size, float(rng.uniform(10, 28)))
    return images, kinds


def _font_letter(letter: str, size: int, height: float, centre: tuple[float, float]) -> np.ndarray:
    font = ImageFont.load_default(size=max(8, round(height * size)))
    picture = Image.new("L", (size, size))
    ImageDraw.Draw(picture).text(
        (centre[0] * size, centre[1] * size), letter, fill=255, font=font, anchor="mm"
    )
    return np.asarray(picture)


# --- small tools -------------------------------------------------------------------


def _paste(canvas: np.ndarray, piece: np.ndarray, top: int, left: int) -> None:
    """Add `piece` at (top, left), cutting what falls outside the canvas."""
    rows = slice(max(0, top), min(canvas.shape[0], top + piece.shape[0]))
    cols = slice(max(0, left), min(canvas.shape[1], left + piece.shape[1]))
    canvas[rows, cols] = np.maximum(
        canvas[rows, cols],
        piece[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left],
    )


def _finish(coverage: np.ndarray, polarity: str, rgba: bool) -> np.ndarray:
    """Ink coverage in [0, 1] -> uint8 picture in the requested form."""
    if polarity not in ("light", "dark"):
        raise ValueError(f"polarity must be 'light' or 'dark', got {polarity!r}")
    ink = np.rint(np.clip(coverage, 0, 1) * 255).astype(np.uint8)
    if rgba:
        out = np.zeros((*ink.shape, 4), dtype=np.uint8)
        out[..., :3] = np.where(ink[..., None] > 0, 255 if polarity == "light" else 0, 0)
        out[..., 3] = ink
        return out
    return ink if polarity == "light" else 255 - ink


def shifted_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two 28 x 28 images, forgiving `b` a shift of one pixel.

    Centring by centre of mass can legitimately land a pixel away from where MNIST
    put a digit; comparing without that slack would call identical digits different.
    """
    padded = np.pad(b.astype(float), 1)
    return max(
        float(np.corrcoef(a.ravel(), padded[1 + dy : 29 + dy, 1 + dx : 29 + dx].ravel())[0, 1])
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )
