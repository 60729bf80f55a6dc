"""Canvas, upload or photo -> a 28 x 28 digit in MNIST's own form.

A model only knows what it was trained on, and MNIST digits were made one way: the
ink cropped to its box, the longer side scaled to 20 px (anti-aliased), pasted into
28 x 28 with its centre of mass at the centre, light ink on black. Resizing a whole
canvas to 28 px instead gives a small, off-centre, hairline or blotchy digit, which
is why naive demos fail on real drawings. `canvas_to_mnist` redoes that recipe on
whatever it is given, after what a drawing or a photo needs first:

1. read the picture (ink in the alpha channel when the background is transparent,
   else luminance) and shrink large ones;
2. tell ink from background by the picture's edges, subtract a smooth background
   (uneven light on paper) and threshold between background and ink, above the noise;
3. drop specks and stray dots that would stretch the box; `None` when nothing
   digit-sized is left;
4. bring the stroke width into MNIST's interquartile range, not onto its median, so
   that MNIST's own digits pass unchanged; then scale, anti-alias and centre.

Clean canvas drawings (flat background, one ink colour) skip the background fit and
the blob search. MNIST's measured form, which the constants below come from, and how
little MNIST digits change on the way through: README "Honest predictions"
(`benchmarks/mnist_form.py`).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.morphology import skeletonize

MNIST_SIZE = 28
MNIST_BOX = 20
# Centre-of-mass target in pixel-index coordinates, measured on MNIST (benchmarks/mnist_form.py).
MNIST_CENTRE = 14.0
# Median and interquartile range of MNIST's training stroke widths at 28 x 28 (`stroke_width`).
MNIST_STROKE_WIDTH = 2.69
STROKE_WIDTH_RANGE = (2.27, 3.19)

# Resolution at which stroke width is measured and changed: the longer side of the
# digit's box, 3x MNIST's 20 px (finer measures the same widths at a higher cost).
WORK_SIDE = 60
# A width this close to the range (in px at MNIST scale) needs no refit, and a refit
# stops there, after at most FIT_ROUNDS measured tries: each costs a skeleton, and a
# closer fit read no better (README, the models section).
FIT_TOLERANCE = 0.2
FIT_ROUNDS = 2
# Widths the refit leaves as they are.
UNCHANGED_WIDTHS = (STROKE_WIDTH_RANGE[0] - FIT_TOLERANCE, STROKE_WIDTH_RANGE[1] + FIT_TOLERANCE)
# Larger pictures are averaged down to this longer side before anything else: a
# digit filling a reasonable part of a photo keeps plenty of detail and the work
# stays fast.
ANALYSIS_MAX_SIDE = 320
# Ink must differ from the background by this much (on a 0..1 scale), and by this
# many noise standard deviations, to count.
MIN_CONTRAST = 0.15
NOISE_SIGMAS = 5.0
# A connected blob smaller than this share of the largest one is a speck.
SPECK_SHARE = 0.01
# Blobs smaller than this share of the largest are kept only near the main strokes.
STRAY_SHARE = 0.08
STRAY_MARGIN = 0.15
# Nothing to predict: ink smaller than MIN_EXTENT_SHARE of the picture's longer
# side, or a dot: ink no longer than MIN_LENGTH_IN_WIDTHS stroke widths that also
# stays under DOT_EXTENT_SHARE of the picture (a fat digit filling the field, as some
# MNIST digits are, is not a dot).
MIN_EXTENT_SHARE = 0.02
MIN_LENGTH_IN_WIDTHS = 1.75
DOT_EXTENT_SHARE = 0.2

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L"
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def canvas_to_mnist(
    image: np.ndarray | Image.Image, *, fast_path: bool = True
) -> np.ndarray | None:
    """Return the digit in `image` as MNIST would have it: 28 x 28 uint8, light on black.

    `image` is a NumPy array (H x W, H x W x 1/2/3/4; uint8, other integers in 0..255,
    bool, or float in [0, 1]) or a PIL image, of any size and aspect ratio, either
    polarity, opaque or with a transparent background. Returns None when there is
    nothing to predict (blank canvas, a dot, faint noise). Raises ValueError, with a
    message saying what is wrong, for anything it cannot read as a picture.

    A clean drawing (flat background, one ink) skips the background fit and the noise
    estimate, which would find nothing (`_lifted_clean_drawing`); `fast_path=False`
    takes the full path anyway, for comparisons.
    """
    grey = _read_grey(image)
    if grey is None:
        return None
    ink = _clean_ink(grey, fast_path)
    if ink is None:
        return None
    if max(ink.shape) < DOT_EXTENT_SHARE * max(grey.shape) and _is_a_dot(ink):
        return None
    return _place_by_centre_of_mass(_fit_stroke_width(ink))


def stroke_width(image: np.ndarray) -> float:
    """Stroke width in pixels at MNIST scale (20 px box) of a light-on-dark digit.

    Works on any size (a 28 x 28 MNIST digit, a canvas): the ink's box is resampled
    to WORK_SIDE px, thresholded at half its maximum, and ink area / skeleton length
    is scaled back to a 20 px box. Returns 0.0 for a blank image.
    """
    ink = np.asarray(image, dtype=np.float32)
    peak = float(ink.max(initial=0.0))
    if peak <= 0:
        return 0.0
    return _measured_width(_crop_to(ink / peak, ink > 0.5 * peak))


# --- 1. reading --------------------------------------------------------------------


def _read_grey(image: np.ndarray | Image.Image) -> np.ndarray | None:
    """Validate `image` and return H x W uint8, or float32 in [0, 1] (either polarity).

    A transparent background puts the ink in the alpha channel; otherwise the
    luminance is used. None means a fully transparent picture: nothing drawn.
    """
    array = _pil_to_array(image) if isinstance(image, Image.Image) else _as_array(image)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"unsupported pixel type {array.dtype}: expected uint8, integers in 0..255, "
            "bool, or float in [0, 1]"
        )
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise ValueError(
            f"expected an H x W, H x W x 3 or H x W x 4 image, got shape {np.shape(image)}"
        )
    if array.size == 0:
        raise ValueError(f"the image is empty (shape {np.shape(image)})")
    if array.dtype != np.uint8:
        array = _to_unit_float(array)
    full = 255 if array.dtype == np.uint8 else 1.0
    channels = array.shape[2]
    if channels in (2, 4):
        alpha = np.ascontiguousarray(array[..., -1])  # one strided read, then fast ones
        highest, lowest = alpha.max(), alpha.min()
        if highest < 0.05 * full:
            return None
        if highest - lowest > 0.1 * full:
            return _shrink(alpha)
    if channels <= 2:
        return _shrink(array[..., 0])
    if array.dtype == np.uint8:  # PIL's own conversion: the same weights, in C
        return _shrink(np.asarray(Image.fromarray(np.ascontiguousarray(array)).convert("L")))
    return _shrink(array[..., :3] @ _LUMA)


def _as_array(image: object) -> np.ndarray:
    try:
        return np.asarray(image)
    except (ValueError, TypeError) as error:
        raise ValueError(f"cannot read the input as an image array: {error}") from None


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """PIL image -> array in a form `_read_grey` knows, upright (EXIF rotation applied)."""
    try:
        image = ImageOps.exif_transpose(image) or image
        if image.mode.startswith("I;16"):
            return np.asarray(image, dtype=np.float32) / 65535.0
        if image.mode in ("I", "F"):
            values = np.asarray(image, dtype=np.float32)
            return values / 65535.0 if image.mode == "I" and values.max() > 255 else values
        if "A" in image.mode or "transparency" in image.info:
            return np.asarray(image.convert("RGBA"))
        return np.asarray(image.convert("L"))
    except OSError as error:
        raise ValueError(f"cannot read the image data: {error}") from None


def _to_unit_float(array: np.ndarray) -> np.ndarray:
    """Pixels as float32 in [0, 1], refusing values that have no clear meaning."""
    if array.dtype.kind == "b":
        return array.astype(np.float32)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError("the image contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < -1e-3 or high > 1 + 1e-3:
            raise ValueError(
                f"float pixels must lie in [0, 1], got {low:g} .. {high:g} "
                "(divide 0-255 data by 255)"
            )
        return np.clip(array, 0, 1).astype(np.float32)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 255:
        raise ValueError(
            f"integer pixels must lie in 0..255, got {low} .. {high} "
            "(scale 16-bit data to float in [0, 1])"
        )
    return array.astype(np.float32) / 255.0


def _shrink(grey: np.ndarray) -> np.ndarray:
    """`grey` averaged down by an integer factor to ANALYSIS_MAX_SIDE or less.

    uint8 stays uint8 (`_clean_ink` crops a drawing on black before it becomes float);
    anything else becomes float32.
    """
    factor = math.ceil(max(grey.shape) / ANALYSIS_MAX_SIDE)
    if factor > 1:
        grey = np.asarray(Image.fromarray(np.ascontiguousarray(grey)).reduce(factor))
    return grey if grey.dtype == np.uint8 else grey.astype(np.float32, copy=False)


def _as_float32(grey: np.ndarray) -> np.ndarray:
    """`_shrink`'s output as float32 in [0, 1]: uint8 in one pass, the same float32
    division as astype then / 255; float32 as it is."""
    if grey.dtype == np.uint8:
        return np.divide(grey, np.float32(255), dtype=np.float32)
    return grey


# --- 2. and 3. finding the ink -----------------------------------------------------


def _clean_ink(grey: np.ndarray, fast_path: bool = True) -> np.ndarray | None:
    """Ink strength in [0, 1] (light on black) cropped to the digit, or None if none.

    The crop keeps only the connected strokes that make up the digit (found at half
    the typical ink level), with their anti-aliased rim above the noise.
    """
    lifted, noise = _lifted_ink(grey, fast_path)
    floor = _ink_floor(noise)
    strong = lifted[lifted > floor]
    if strong.size == 0:
        return None
    ink_level = _upper_quartile(strong)  # the typical fully inked pixel
    if ink_level < MIN_CONTRAST:
        return None
    keep = _digit_components(lifted > max(0.5 * ink_level, floor))
    if keep is None:
        return None
    rows, cols = _box(keep)
    if max(rows.stop - rows.start, cols.stop - cols.start) < MIN_EXTENT_SHARE * max(grey.shape):
        return None
    # Keep the anti-aliased rim just outside the threshold (it belongs to the box, as
    # in MNIST), but not the background nor the noise around the strokes.
    rim = 2
    window = (
        slice(max(0, rows.start - rim), rows.stop + rim),
        slice(max(0, cols.start - rim), cols.stop + rim),
    )
    near = _grown(keep[window], rim)
    strength = np.clip(lifted[window] / ink_level, 0, 1) * near
    if noise > 0:  # nothing at or below 0 is left to clear otherwise
        strength[strength <= NOISE_SIGMAS * noise / ink_level] = 0
    return _crop_to(strength, strength > 0)


def _upper_quartile(values: np.ndarray) -> float:
    """`np.percentile(values, 75)` (linear interpolation), by partitioning only
    around the two values it reads: a third of the general call's time."""
    position = 0.75 * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    around = np.partition(values, (low, high))
    below, above = float(around[low]), float(around[high])
    return below + (above - below) * (position - low)


def _lifted_ink(grey: np.ndarray, fast_path: bool) -> tuple[np.ndarray, float]:
    """Ink above the background, light on black, and the noise level left in it.

    A uint8 picture on black (a canvas's alpha, a dark canvas) stays uint8 until the
    clean-drawing check has cropped it: only the digit's box becomes float, and the
    work stays in the cache the network then reads.
    """
    edge = _edge_level(grey)
    if grey.dtype == np.uint8 and not (fast_path and edge == 0):
        grey = _as_float32(grey)
        edge = _edge_level(grey)
    light = _ink_is_light(grey, edge)
    ink, edge = (grey, edge) if light else (1.0 - grey, 1.0 - edge)
    lifted = _lifted_clean_drawing(ink, edge) if fast_path else None
    if lifted is not None:  # the fast path: no background fit, no noise to estimate
        return _as_float32(lifted), 0.0
    ink = _as_float32(ink)
    lifted = ink - _background(ink, edge)
    return lifted, _background_noise(lifted)


def _background_noise(lifted: np.ndarray) -> float:
    """The noise's standard deviation: the spread of the picture, which is mostly
    background, or, when ink covers half of it or more (a fat digit filling the
    canvas), the spread below the background, where ink never goes: the first would
    then measure the ink and call it all noise."""
    sample = lifted[::2, ::2] if lifted.size > 4096 else lifted
    spread = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))
    below = sample[sample <= 0]
    under = 1.4826 * float(np.median(-below)) if below.size else 0.0
    inked = np.count_nonzero(sample > _ink_floor(under))
    return under if 2 * inked >= sample.size else spread


def _ink_floor(noise: float) -> float:
    """What ink must rise above the background by: clear of the noise, and of faint marks."""
    return max(NOISE_SIGMAS * noise, MIN_CONTRAST / 2)


def _edge_level(grey: np.ndarray) -> float:
    """The median of the picture's outermost rows and columns, on grey's own scale."""
    return float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))


def _lifted_clean_drawing(ink: np.ndarray, edge: float) -> np.ndarray | None:
    """Ink above the background of a clean drawing; None for anything else.

    Clean: the background is flat, exactly the `edge` level, and covers most of the
    picture, and nothing lies on the far side of it (one ink, no shading or noise), as
    on a drawn canvas. The background fit and the noise estimate would then find
    `edge` and 0 (the median pixel is background): both are skipped. Photos, scans
    and compressed pictures have noise and take the full path.
    """
    lifted = ink - np.float32(edge) if edge != 0 else ink  # a black background: as it is
    sample = lifted[::2, ::2] if lifted.size > 4096 else lifted
    if 2 * np.count_nonzero(sample) >= sample.size or float(lifted.min()) < 0:
        return None
    # Cropped to the ink (the background around it is exactly 0 and changes nothing).
    inked = lifted > 0
    return lifted[_box(inked)] if inked.any() else lifted


def _ink_is_light(grey: np.ndarray, background: float) -> bool:
    """True when the ink is lighter than the `background` level.

    The background is read at the picture's edges (the median of its outermost rows
    and columns), where a canvas or a sheet of paper shows even when a large or thick
    digit covers most of the middle; the ink is whichever side deviates furthest
    from it. A 2x2 average first keeps single noisy pixels from deciding. On a black
    background (a transparent canvas's alpha) nothing is darker: no need to look.
    """
    if background <= 0:
        return True
    smooth = grey
    if min(grey.shape) >= 56:
        h, w = (side // 2 * 2 for side in grey.shape)
        smooth = grey[0:h:2, 0:w:2] + grey[1:h:2, 0:w:2] + grey[0:h:2, 1:w:2] + grey[1:h:2, 1:w:2]
        smooth = smooth / 4
    return float(smooth.max()) - background >= background - float(smooth.min())


def _background(ink: np.ndarray, edge: float) -> np.ndarray | float:
    """Smooth estimate of the background under light ink (uneven light on paper).

    Medians of 1/16-side blocks ignore thin strokes. A quadratic surface (light
    falling across a sheet, a vignette) is then fitted to those block medians,
    leaving out blocks that stand above it (inside thick strokes or a filled blob),
    so that ink never becomes background; the fit starts from the `edge` level, so
    even ink covering most of the picture is not taken for paper. A flat result (any
    drawn canvas) is returned as one number.
    """
    cell = max(ink.shape) // 16
    rows, cols = (side // cell if cell else 0 for side in ink.shape)
    if cell < 3 or rows < 3 or cols < 3:
        return edge
    blocks = ink[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell)
    grid = np.median(blocks.transpose(0, 2, 1, 3).reshape(rows, cols, -1), axis=2).ravel()
    y, x = (np.indices((rows, cols)).reshape(2, -1) + 0.5) * cell
    height, width = ink.shape
    scales = np.array([1, width, height, width**2, width * height, height**2], dtype=float)
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1) / scales
    coefficients = np.array([edge, 0, 0, 0, 0, 0], dtype=float)
    for _ in range(3):
        residual = grid - terms @ coefficients
        below = np.abs(residual[residual <= 0])  # the side ink never reaches
        spread = 1.4826 * float(np.median(below)) if below.size else 0.0
        inliers = residual <= max(3 * spread, 0.05)
        if inliers.sum() < 2 * len(scales):
            break
        coefficients = np.linalg.lstsq(terms[inliers], grid[inliers], rcond=None)[0]
    fitted = terms @ coefficients
    if float(fitted.max() - fitted.min()) < 0.02:  # flat: the level most blocks show
        return float(np.median(grid[inliers]))
    c, cx, cy, cxx, cxy, cyy = coefficients / scales
    yy, xx = np.arange(height)[:, None] + 0.5, np.arange(width)[None, :] + 0.5
    return (c + cx * xx + cxx * xx * xx) + (cy * yy + cyy * yy * yy) + cxy * (yy * xx)


def _digit_components(mask: np.ndarray) -> np.ndarray | None:
    """The part of `mask` that is the digit: no specks, no stray dots far away.

    Blobs under SPECK_SHARE of the largest are noise. Blobs under STRAY_SHARE are
    kept only inside the main blobs' box grown by STRAY_MARGIN (a broken stroke),
    not far from it (a stray dot would otherwise stretch the bounding box).
    """
    labels, count = ndimage.label(mask, _EIGHT_CONNECTED)
    if count <= 1:  # one connected drawing (most of them): nothing to drop
        return mask if count else None
    sizes = np.bincount(labels.ravel())[1:]
    largest = sizes.max()
    boxes = ndimage.find_objects(labels)
    main = [i for i in range(count) if sizes[i] >= STRAY_SHARE * largest]
    top = min(boxes[i][0].start for i in main)
    bottom = max(boxes[i][0].stop for i in main)
    left = min(boxes[i][1].start for i in main)
    right = max(boxes[i][1].stop for i in main)
    margin = STRAY_MARGIN * max(bottom - top, right - left)
    keep = np.zeros(count + 1, dtype=bool)
    for i in range(count):
        rows, cols = boxes[i]
        near = (
            rows.start >= top - margin
            and rows.stop <= bottom + margin
            and cols.start >= left - margin
            and cols.stop <= right + margin
        )
        keep[i + 1] = sizes[i] >= STRAY_SHARE * largest or (
            sizes[i] >= SPECK_SHARE * largest and near
        )
    if keep[1:].all():  # nothing dropped (most drawings): the mask itself, no lookup
        return mask
    return keep[labels]


# --- 4. stroke width, scale and centre ---------------------------------------------


def _is_a_dot(ink: np.ndarray) -> bool:
    """True for a tap or a dot: ink no longer than MIN_LENGTH_IN_WIDTHS stroke widths."""
    half_width = float(ndimage.distance_transform_edt(_padded(_work_mask(ink), 1)).max())
    return MIN_LENGTH_IN_WIDTHS * 2 * half_width > WORK_SIDE


def _fit_stroke_width(ink: np.ndarray) -> np.ndarray:
    """The digit scaled to MNIST's 20 px box, its stroke width in MNIST's usual range.

    Width is measured exactly as on MNIST (`stroke_width`) on the 20 px box the model
    will see. Within UNCHANGED_WIDTHS (FIT_TOLERANCE of STROKE_WIDTH_RANGE) the box is
    returned as it is, so MNIST digits pass through unchanged. Otherwise the outline of the ink at
    WORK_SIDE px is moved by a sub-pixel offset along the signed distance to it
    (anti-aliased, so small corrections survive) until the box measures within
    FIT_TOLERANCE of the nearest end of the range; the first guess misses a little at
    stroke ends and joints, so the offset is corrected once from what the box then
    measures. When thinning, the skeleton drawn at a third of the target width is
    kept, so thin parts of an uneven stroke survive.
    """
    box = _resize_longer_side(ink, MNIST_BOX)
    width = _measured_width(box)
    if UNCHANGED_WIDTHS[0] <= width <= UNCHANGED_WIDTHS[1]:
        return box
    low, high = STROKE_WIDTH_RANGE
    target = low if width < low else high
    work_px = WORK_SIDE / MNIST_BOX  # work pixels per box pixel
    padded = _padded(_work_mask(ink), math.ceil(max(0.0, target - width) * work_px) + 2)
    signed = _SignedDistance(padded)
    floor = np.zeros(padded.shape, dtype=np.float32)
    if target < width:
        reach = target * work_px / 3  # the skeleton is drawn this wide
        # The clip below reads no distance beyond reach + 0.5: farther is 0 either way.
        to_skeleton = _distance_within(~skeletonize(padded), reach + 0.5)
        floor = np.clip(reach - to_skeleton + 0.5, 0, 1)
    offset, best, best_error = (target - width) * work_px / 2, box, abs(width - target)
    for _ in range(FIT_ROUNDS):
        drawn = np.maximum(np.clip(offset - signed.at(offset) + 0.5, 0, 1), floor)
        drawn = drawn.astype(np.float32)
        if not (drawn > 0.5).any():
            break  # a sliver with no stroke to speak of: keep the best so far
        box = _resize_longer_side(_crop_to(drawn, drawn > 0.5), MNIST_BOX)
        measured = _measured_width(box)
        if abs(measured - target) < best_error:
            best, best_error = box, abs(measured - target)
        if best_error <= FIT_TOLERANCE:
            break
        offset += (target - measured) * work_px / 2
    return best


class _SignedDistance:
    """Signed distance to a mask's outline (negative inside), each side computed when
    first needed and only as far as the outline moves.

    Moving the outline out by `offset` >= 0 leaves every inside pixel fully inked,
    and moving it in leaves every outside pixel blank, whatever their distances:
    those read as -inf and +inf, which the clip in `_fit_stroke_width` turns into the
    same 1 and 0. On the side it moves into, pixels more than a pixel beyond the moved
    outline saturate the clip too, so distances are exact only up to there
    (`_distance_within`).
    """

    def __init__(self, mask: np.ndarray) -> None:
        self._mask = mask
        self._signed = np.where(mask, -np.inf, np.inf)
        self._exact_to = {True: -1.0, False: -1.0}  # inside?: distances exact up to

    def at(self, offset: float) -> np.ndarray:
        """The signed distances that decide the outline moved by `offset` px."""
        if offset < 0:
            self._fill(inside=True, radius=2 - offset)
        if offset > 0:
            self._fill(inside=False, radius=2 + offset)
        return self._signed

    def _fill(self, inside: bool, radius: float) -> None:
        if self._exact_to[inside] >= radius:
            return
        self._exact_to[inside] = radius
        side = self._mask if inside else ~self._mask
        distance = _distance_within(side, radius)
        moved = np.subtract(0.5, distance, out=distance) if inside else distance - 0.5
        np.copyto(self._signed, moved, where=side)


def _distance_within(mask: np.ndarray, radius: float) -> np.ndarray:
    """Euclidean distance from each True pixel to the nearest False one, exactly as
    `ndimage.distance_transform_edt` gives it up to `radius`; farther ones get some
    value above `radius`.

    Why not the scipy call: the fit needs a few pixels of distance, and a search
    limited to them takes half the time. Each column's distance to its nearest False
    pixel (exact, by running extremes of row indices), then the nearest of the columns
    within reach; squared distances are integers, so the square roots are scipy's.
    The rows are searched as one line, each followed by `reach` columns out of reach,
    so that a shift never carries one row into the next.
    """
    height, width = mask.shape
    far = height + width  # farther than any two pixels of the picture
    reach = min(int(radius) + 1, far)
    rows = np.arange(height, dtype=np.int32)[:, None]
    above = np.maximum.accumulate(np.where(mask, -far, rows), axis=0)
    below = np.minimum.accumulate(np.where(mask, height + far, rows)[::-1], axis=0)[::-1]
    lines = np.full((height, width + reach), reach, dtype=np.int32)
    column = lines[:, :width]
    np.minimum(rows - above, below - rows, out=column)
    np.minimum(column, reach, out=column)
    squared = (lines * lines).ravel()
    nearest = squared.copy()
    shifted = np.empty_like(squared)
    for step in range(1, min(reach, width - 1) + 1):
        np.add(squared[step:], step * step, out=shifted[step:])
        np.minimum(nearest[:-step], shifted[step:], out=nearest[:-step])
        np.add(squared[:-step], step * step, out=shifted[:-step])
        np.minimum(nearest[step:], shifted[:-step], out=nearest[step:])
    return np.sqrt(nearest.reshape(lines.shape)[:, :width], dtype=np.float64)


def _work_mask(ink: np.ndarray) -> np.ndarray:
    """`ink` (cropped, 0..1) resampled to WORK_SIDE on its longer side, thresholded."""
    scale = WORK_SIDE / max(ink.shape)
    shape = tuple(max(1, round(side * scale)) for side in ink.shape)
    return _resize(ink, shape, Image.Resampling.BILINEAR) > 0.5


def _measured_width(ink: np.ndarray) -> float:
    """Stroke width at 20 px box scale of cropped ink in [0, 1]: area / skeleton length."""
    mask = _work_mask(ink)
    length = int(skeletonize(_padded(mask, 1)).sum())
    return float(mask.sum()) / length * MNIST_BOX / WORK_SIDE if length else 0.0


def _resize_longer_side(ink: np.ndarray, side: int) -> np.ndarray:
    """Scale so the longer side is `side` px, aspect kept, area-averaged (anti-aliased)."""
    scale = side / max(ink.shape)
    shape = tuple(min(side, max(1, round(length * scale))) for length in ink.shape)
    return _resize(ink, shape, Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)


def _place_by_centre_of_mass(box: np.ndarray) -> np.ndarray:
    """Paste `box` (at most 20 x 20) into 28 x 28 with its centre of mass at the centre.

    Integer shifts, as MNIST used; clamped so that no ink falls off the field.
    """
    total = float(box.sum())
    rows, cols = np.indices(box.shape)
    com = (
        (float((rows * box).sum()) / total, float((cols * box).sum()) / total)
        if total > 0
        else ((box.shape[0] - 1) / 2, (box.shape[1] - 1) / 2)
    )
    top, left = (
        int(np.clip(math.floor(MNIST_CENTRE - c + 0.5), 0, MNIST_SIZE - length))
        for c, length in zip(com, box.shape, strict=True)
    )
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    field[top : top + box.shape[0], left : left + box.shape[1]] = box
    return np.rint(np.clip(field, 0, 1) * 255).astype(np.uint8)


# --- small tools -------------------------------------------------------------------


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of the bounding box of a non-empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _padded(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` with `pixels` of False around it (np.pad's result, without its overhead)."""
    padded = np.zeros((mask.shape[0] + 2 * pixels, mask.shape[1] + 2 * pixels), dtype=bool)
    padded[pixels : pixels + mask.shape[0], pixels : pixels + mask.shape[1]] = mask
    return padded


def _grown(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` dilated by a (2 * pixels + 1) square, as `pixels` 8-connected dilations."""
    size = 2 * pixels + 1
    padded = _padded(mask, pixels)
    rows = np.logical_or.reduce([padded[i : i + mask.shape[0]] for i in range(size)])
    return np.logical_or.reduce([rows[:, j : j + mask.shape[1]] for j in range(size)])


def _crop_to(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return image[_box(mask)]


def _resize(
    image: np.ndarray,
    shape: tuple[int, int],
    resample: Image.Resampling = Image.Resampling.BOX,
) -> np.ndarray:
    """Resize a float image to (rows, cols) with PIL (anti-aliased when shrinking)."""
    if image.shape == tuple(shape):
        return np.asarray(image, dtype=np.float32)
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32))
    return np.asarray(picture.resize((shape[1], shape[0]), resample), dtype=np.float32)
