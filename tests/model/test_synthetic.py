"""The synthetic pictures: each does what it says, the same way for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model.preprocess import canvas_to_mnist, stroke_width
from model.strokes import (
    CURVE_TOLERANCE_PX,
    canvas_path,
    digit_paths,
    digit_styles,
    render_strokes,
)
from model.synthetic import (
    SHAPE_KINDS,
    VARIANT_KINDS,
    canvas_test_set,
    mnist_to_canvas,
    naive_resize,
    non_digit_shapes,
    photo_of,
    shifted_correlation,
)


def ink_of(canvas: np.ndarray) -> np.ndarray:
    """Ink coverage 0..255 of a generated canvas, whatever its form."""
    if canvas.ndim == 3:
        return canvas[..., 3]
    return canvas if canvas[0, 0] == 0 else 255 - canvas


def box_of(ink: np.ndarray, level: int = 128) -> tuple[slice, slice]:
    rows, cols = np.nonzero(ink >= level)
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


# --- render_strokes ----------------------------------------------------------------


@pytest.mark.parametrize("brush", [4, 12, 30])
def test_a_line_is_as_wide_as_the_brush(brush: float) -> None:
    canvas = render_strokes([np.array([(40.0, 140.0), (240.0, 140.0)])], 280, brush)
    column = canvas[:, 140]
    assert (column >= 128).sum() == pytest.approx(brush, abs=1)
    assert ((column > 0) & (column < 255)).any(), "edges are anti-aliased"


def test_a_one_point_path_is_a_round_dot() -> None:
    canvas = render_strokes([np.array([(100.0, 100.0)])], 280, 20)
    assert (canvas >= 128).sum() == pytest.approx(np.pi * 10**2, rel=0.05)


def test_polarity_and_transparency() -> None:
    path = [np.array([(50.0, 50.0), (200.0, 220.0)])]
    light = render_strokes(path, 280, 18)
    assert light[0, 0] == 0 and light.max() == 255
    assert np.array_equal(render_strokes(path, 280, 18, polarity="dark"), 255 - light)
    for polarity, colour in (("light", 255), ("dark", 0)):
        rgba = render_strokes(path, 280, 18, polarity=polarity, rgba=True)
        assert rgba.shape == (280, 280, 4) and np.array_equal(rgba[..., 3], light)
        assert (rgba[..., :3][light > 0] == colour).all() and rgba[0, 0].tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="polarity must be 'light' or 'dark'"):
        render_strokes(path, 280, 18, polarity="blue")


def test_rectangular_canvases() -> None:
    canvas = render_strokes([np.array([(10.0, 10.0), (390.0, 90.0)])], (100, 400), 8)
    assert canvas.shape == (100, 400) and canvas[:, 380:].any()


# --- canvas_path ------------------------------------------------------------------


def distance_to(path: np.ndarray, point: tuple[float, float]) -> float:
    """From `point` to the nearest place on the polyline `path`."""
    start, end = path[:-1], path[1:]
    along = end - start
    t = np.clip(((point - start) * along).sum(1) / np.maximum((along**2).sum(1), 1e-12), 0, 1)
    return float(np.linalg.norm(start + t[:, None] * along - point, axis=1).min())


def test_the_canvas_path_rounds_a_corner_through_the_midpoints() -> None:
    """Three recorded points: a line to the first midpoint, a curve bent towards the
    corner to the second, a line to the end (fabric 6 drops the second-to-last
    point, so the corner is recorded twice)."""
    recorded = np.array([(0.0, 0.0), (100.0, 0.0), (100.0, 0.0), (100.0, 100.0)])
    path = canvas_path(recorded)
    assert path[0].tolist() == [0, 0] and path[-1].tolist() == [100, 100]
    assert [50, 0] in path.tolist() and [100, 50] in path.tolist()
    # The curve's middle lies a quarter of the way from the chord to the corner.
    assert distance_to(path, (87.5, 12.5)) <= CURVE_TOLERANCE_PX
    assert distance_to(path, (100.0, 0.0)) > 10, "the corner is cut"


def test_the_canvas_path_keeps_a_dense_stroke_and_drops_what_fabric_drops() -> None:
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([100 + 60 * np.cos(t), 100 + 60 * np.sin(t)], axis=1)
    path = canvas_path(circle)
    radius = np.linalg.norm(path - 100, axis=1)
    assert np.abs(radius - 60).max() < 0.5, "a densely recorded loop keeps its shape"
    assert max(distance_to(path, point) for point in circle[1:-2]) < 0.5
    crowded = np.array([(0.0, 0.0), (0.1, 0.1), (0.2, 0.0), (30.0, 0.0), (60.0, 5.0)])
    kept = canvas_path(crowded)
    assert not np.isclose(kept, (0.1, 0.1)).all(axis=1).any(), "within 0.4 px: dropped"
    assert not np.isclose(kept, (30.0, 0.0)).all(axis=1).any(), "second-to-last: dropped"
    assert kept[-1].tolist() == [60, 5]
    for short in ([[5.0, 5.0]], [[5.0, 5.0], [9.0, 9.0]]):
        assert canvas_path(np.array(short)).tolist() == short


def test_a_sparse_recording_paints_a_loop_not_a_polygon() -> None:
    """A tablet's few points of a loop: the canvas paints it round, inside the polygon."""
    right, bottom, left, top = (140.0, 100.0), (100.0, 140.0), (60.0, 100.0), (100.0, 60.0)
    recorded = np.array([right, bottom, left, top, right, bottom, left])
    polygon = render_strokes([recorded], 200, 6)
    painted = render_strokes([canvas_path(recorded)], 200, 6)
    assert polygon[60, 100] >= 128 and painted[60, 100] == 0, "the top corner is cut"
    assert painted[70, 100] >= 128, "the curve passes inside it"


@pytest.mark.parametrize(("digit", "style"), digit_styles())
def test_every_digit_template_draws_a_digit_inside_the_canvas(digit: int, style: str) -> None:
    canvas = render_strokes(digit_paths(digit, np.random.default_rng(digit), style=style), 280)
    assert canvas.max() == 255
    assert not (canvas[0].any() or canvas[-1].any() or canvas[:, 0].any() or canvas[:, -1].any())
    out = canvas_to_mnist(canvas)
    assert out is not None and out.shape == (28, 28)


def test_every_digit_has_several_styles() -> None:
    styles = digit_styles()
    assert {d for d, _ in styles} == set(range(10))
    assert all(sum(d == digit for d, _ in styles) >= 2 for digit in range(10))


def test_digit_paths_are_jittered_and_reproducible() -> None:
    first = digit_paths(3, np.random.default_rng(1), style="round")
    again = digit_paths(3, np.random.default_rng(1), style="round")
    other = digit_paths(3, np.random.default_rng(2), style="round")
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.allclose(first[0], other[0])


# --- mnist_to_canvas ---------------------------------------------------------------


@pytest.fixture(scope="module")
def digit(mnist_test_digits) -> np.ndarray:
    return mnist_test_digits[0][0]  # a 7


def test_mnist_to_canvas_sizes_and_places_the_digit(digit) -> None:
    canvas = mnist_to_canvas(
        digit,
        np.random.default_rng(0),
        scale=0.5,
        shift=(0.0, 0.0),
        thickness=0.0,
        polarity="light",
        rgba=False,
    )
    assert canvas.shape == (280, 280) and canvas.dtype == np.uint8
    rows, cols = box_of(canvas)
    longer = max(rows.stop - rows.start, cols.stop - cols.start)
    assert longer == pytest.approx(140, abs=6)
    assert (rows.start + rows.stop) / 2 == pytest.approx(140, abs=4)


@pytest.mark.parametrize("shift", [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)])
def test_mnist_to_canvas_shift_one_touches_the_edge(digit, shift) -> None:
    canvas = mnist_to_canvas(
        digit,
        np.random.default_rng(0),
        scale=0.4,
        shift=shift,
        thickness=0.0,
        polarity="light",
        rgba=False,
    )
    rows, cols = box_of(canvas, level=1)
    edges = {
        (1.0, 0.0): cols.stop >= 276,
        (-1.0, 0.0): cols.start <= 3,
        (0.0, 1.0): rows.stop >= 276,
        (0.0, -1.0): rows.start <= 3,
    }
    assert edges[shift]


def test_mnist_to_canvas_thickness_changes_the_stroke_width(digit) -> None:
    def width(thickness: float) -> float:
        return stroke_width(
            mnist_to_canvas(
                digit,
                np.random.default_rng(0),
                scale=0.7,
                shift=(0, 0),
                thickness=thickness,
                polarity="light",
                rgba=False,
            )
        )

    base = width(0.0)
    assert base == pytest.approx(stroke_width(digit), abs=0.3)
    assert width(1.5) == pytest.approx(base + 1.5, abs=0.4)
    assert width(-1.0) == pytest.approx(base - 1.0, abs=0.4)
    assert width(-5.0) == pytest.approx(0.4 * base, abs=0.4), "never thinner than 40 %"


def test_mnist_to_canvas_polarity_and_rgba(digit) -> None:
    options = dict(scale=0.6, shift=(0.0, 0.0), thickness=0.0)
    light = mnist_to_canvas(
        digit, np.random.default_rng(0), polarity="light", rgba=False, **options
    )
    dark = mnist_to_canvas(digit, np.random.default_rng(0), polarity="dark", rgba=False, **options)
    rgba = mnist_to_canvas(digit, np.random.default_rng(0), polarity="dark", rgba=True, **options)
    assert np.array_equal(dark, 255 - light)
    assert rgba.shape == (280, 280, 4) and np.array_equal(rgba[..., 3], light)
    assert rgba[0, 0, 3] == 0, "transparent background"


def test_mnist_to_canvas_and_back_gives_the_digit_again(mnist_test_digits) -> None:
    images, _ = mnist_test_digits
    rng = np.random.default_rng(3)
    scores = [
        shifted_correlation(canvas_to_mnist(mnist_to_canvas(image, rng, thickness=0.0)), image)
        for image in images[:40]
    ]
    assert np.median(scores) > 0.95 and min(scores) > 0.7


def test_mnist_to_canvas_refuses_a_digit_without_ink() -> None:
    with pytest.raises(ValueError, match="with some ink"):
        mnist_to_canvas(np.zeros((28, 28), np.uint8), np.random.default_rng(0))
    faint = np.zeros((28, 28), np.uint8)
    faint[10:20, 12:15] = 100
    with pytest.raises(ValueError, match="no stroke above half intensity"):
        mnist_to_canvas(faint, np.random.default_rng(0), thickness=0.0)


def test_mnist_to_canvas_draws_unset_options_from_the_generator(digit) -> None:
    first = mnist_to_canvas(digit, np.random.default_rng(5))
    assert np.array_equal(first, mnist_to_canvas(digit, np.random.default_rng(5)))
    others = [mnist_to_canvas(digit, np.random.default_rng(seed)) for seed in range(6, 10)]
    assert any(o.shape != first.shape or not np.array_equal(o, first) for o in others)


# --- canvas_test_set ---------------------------------------------------------------


def test_canvas_test_set_covers_every_variant_kind(mnist_test_digits) -> None:
    images, labels = mnist_test_digits
    dataset = canvas_test_set(images[:45], labels[:45], np.random.default_rng(0))
    assert len(dataset) == 45 and np.array_equal(dataset.labels, labels[:45])
    assert set(dataset.kinds) == set(VARIANT_KINDS)
    for i, variant in enumerate(dataset.variants):
        canvas = dataset[i]
        assert variant.describe().startswith(variant.kind)
        assert canvas.shape == ((280, 280, 4) if variant.rgba else (280, 280))
        rows, cols = box_of(ink_of(canvas))
        longer = max(rows.stop - rows.start, cols.stop - cols.start)
        if variant.kind == "small":
            assert longer <= 0.45 * 280
        if variant.kind == "large":
            assert longer >= 0.85 * 280
        if variant.kind == "edge":
            assert min(rows.start, cols.start) <= 6 or max(rows.stop, cols.stop) >= 274
        if variant.kind == "dark-on-light":
            assert canvas[0, 0] == 255
        if variant.kind == "transparent":
            assert canvas.ndim == 3 and canvas[0, 0, 3] == 0


def test_canvas_test_set_is_reproducible_and_checks_lengths(mnist_test_digits) -> None:
    images, labels = mnist_test_digits
    one = canvas_test_set(images[:10], labels[:10], np.random.default_rng(7))
    two = canvas_test_set(images[:10], labels[:10], np.random.default_rng(7))
    assert one.variants == two.variants
    assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        canvas_test_set(images[:10], labels[:9], np.random.default_rng(7))


def test_canvas_to_mnist_reads_the_canvas_set_back(mnist_test_digits) -> None:
    """Every variant comes back close to its MNIST digit (thick and thin ones less so)."""
    images, labels = mnist_test_digits
    dataset = canvas_test_set(images[:90], labels[:90], np.random.default_rng(1))
    scores = np.array(
        [shifted_correlation(canvas_to_mnist(c), images[i]) for i, c in enumerate(dataset)]
    )
    assert np.median(scores) > 0.95 and scores.min() > 0.7


# --- naive_resize ------------------------------------------------------------------


def test_naive_resize_squeezes_the_whole_canvas() -> None:
    """A mark in a corner stays in that corner at a tenth of its size: no crop, no centring."""
    canvas = np.zeros((280, 280), np.uint8)
    canvas[20:60, 200:260] = 255
    out = naive_resize(canvas)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    rows, columns = np.nonzero(out > 127)
    assert (rows.min(), rows.max() + 1, columns.min(), columns.max() + 1) == (2, 6, 20, 26)
    inked_rows, inked_columns = np.nonzero(out)
    assert inked_rows.min() >= 1 and inked_rows.max() <= 6
    assert inked_columns.min() >= 19 and inked_columns.max() <= 26


def test_naive_resize_reads_alpha_but_does_not_fix_polarity() -> None:
    paths = digit_paths(2, np.random.default_rng(0))
    light = naive_resize(render_strokes(paths, 280, 18))
    assert np.array_equal(naive_resize(render_strokes(paths, 280, 18, rgba=True)), light)
    assert np.array_equal(naive_resize(Image.fromarray(render_strokes(paths, 280, 18))), light)
    dark = naive_resize(render_strokes(paths, 280, 18, polarity="dark"))
    assert dark[0, 0] == 255, "a white background stays white: the baseline's weakness"


# --- non-digit shapes and photos ---------------------------------------------------


def test_non_digit_shapes_cover_every_kind_inside_the_canvas() -> None:
    images, kinds = non_digit_shapes(2 * len(SHAPE_KINDS), np.random.default_rng(0))
    assert images.shape == (26, 280, 280) and images.dtype == np.uint8
    assert kinds == [*SHAPE_KINDS, *SHAPE_KINDS]
    for image, kind in zip(images, kinds, strict=True):
        assert image.max() == 255, kind
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        assert border.max() < 128, f"{kind} is cut by the canvas edge"
        assert canvas_to_mnist(image) is not None, f"{kind} reads as blank"


def test_non_digit_shapes_are_reproducible_and_varied() -> None:
    one, _ = non_digit_shapes(13, np.random.default_rng(4))
    two, _ = non_digit_shapes(13, np.random.default_rng(4))
    three, _ = non_digit_shapes(13, np.random.default_rng(5))
    assert np.array_equal(one, two) and not np.array_equal(one, three)


def test_photo_of_has_uneven_light_noise_and_dark_ink() -> None:
    ink = render_strokes(digit_paths(6, np.random.default_rng(0)), 280, 18)
    photo = photo_of(ink, np.random.default_rng(0), size=400)
    assert photo.shape == (400, 400, 3) and photo.dtype == np.uint8
    paper = photo.mean(axis=2)[np.asarray(Image.fromarray(ink).resize((400, 400))) == 0]
    assert np.percentile(paper, 99) - np.percentile(paper, 1) > 60, "light falls off"
    assert np.array_equal(photo, photo_of(ink, np.random.default_rng(0), size=400))
    assert photo.mean(axis=2).min() < 80, "dark ink"
