"""canvas_to_mnist: MNIST's recipe on drawings, photos and whatever else comes in."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from scipy import ndimage

from model import preprocess
from model.preprocess import (
    MNIST_STROKE_WIDTH,
    STROKE_WIDTH_RANGE,
    UNCHANGED_WIDTHS,
    canvas_to_mnist,
    stroke_width,
)
from model.strokes import digit_paths, digit_styles, render_strokes
from model.synthetic import canvas_test_set, photo_of, shifted_correlation


def drawn(digit: int, seed: int = 0, *, brush: float = 18, size: int = 280, **where) -> np.ndarray:
    """A digit drawn with a round brush on a black canvas (light ink)."""
    return render_strokes(
        digit_paths(digit, np.random.default_rng(seed), size=size, **where), size, brush
    )


def ink_box(image28: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image28.any(axis=1))
    cols = np.flatnonzero(image28.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# --- MNIST's form ------------------------------------------------------------------


@pytest.mark.parametrize("digit", range(10))
def test_a_drawn_digit_comes_out_in_mnist_form(digit: int) -> None:
    out = canvas_to_mnist(drawn(digit, seed=digit))
    assert out is not None and out.shape == (28, 28) and out.dtype == np.uint8
    assert max(ink_box(out)) == 20, "longer side of the ink's box is 20 px"
    assert out.max() == 255 and out[0].max() == out[-1].max() == 0, "light ink on black"
    com = ndimage.center_of_mass(out.astype(float))
    assert np.allclose(com, (14.0, 14.0), atol=1.0), f"centre of mass {com}"


@pytest.mark.parametrize(
    ("height", "centre"),
    [(0.3, (0.2, 0.25)), (0.9, (0.5, 0.5)), (0.5, (0.8, 0.75)), (0.2, (0.9, 0.1))],
)
def test_size_and_position_on_the_canvas_do_not_matter(height, centre) -> None:
    reference = canvas_to_mnist(drawn(4, seed=1, brush=12, height=0.6, centre=(0.5, 0.5)))
    moved = canvas_to_mnist(drawn(4, seed=1, brush=12 * height / 0.6, height=height, centre=centre))
    assert shifted_correlation(reference, moved) > 0.9


def test_aspect_ratio_is_kept() -> None:
    one = canvas_to_mnist(render_strokes([np.array([(140, 40), (140, 240)])], 280, 16))
    height, width = ink_box(one)
    assert height == 20 and width <= 5, "a bar stays a bar, not a square"


def test_any_canvas_size_and_aspect_ratio() -> None:
    wide = drawn(7, brush=8, size=120)
    canvas = np.zeros((120, 900), dtype=np.uint8)
    canvas[:, 600:720] = wide
    out = canvas_to_mnist(canvas)
    assert shifted_correlation(out, canvas_to_mnist(wide)) > 0.9  # analysed at 1/3 scale


# --- polarity and transparency -----------------------------------------------------


@pytest.mark.parametrize("digit", [0, 3, 7])
def test_both_polarities_give_the_same_digit(digit: int) -> None:
    light = drawn(digit, seed=digit)
    assert np.abs(canvas_to_mnist(light).astype(int) - canvas_to_mnist(255 - light)).max() <= 1


@pytest.mark.parametrize("polarity", ["light", "dark"])
def test_transparent_background_reads_the_ink_from_alpha(polarity: str) -> None:
    paths = digit_paths(5, np.random.default_rng(2))
    rgba = render_strokes(paths, 280, 18, polarity=polarity, rgba=True)
    assert rgba.shape == (280, 280, 4) and rgba[0, 0, 3] == 0
    expected = canvas_to_mnist(render_strokes(paths, 280, 18))
    assert np.abs(canvas_to_mnist(rgba).astype(int) - expected).max() <= 1


def test_opaque_rgb_and_rgba_canvases_use_the_colour() -> None:
    grey = drawn(2, seed=3)
    expected = canvas_to_mnist(grey)
    rgb = np.repeat(255 - grey[..., None], 3, axis=2)  # black ink on white, RGB
    rgba = np.dstack([rgb, np.full(grey.shape, 255, np.uint8)])
    assert np.abs(canvas_to_mnist(rgb).astype(int) - expected).max() <= 1
    assert np.abs(canvas_to_mnist(rgba).astype(int) - expected).max() <= 1


def test_coloured_ink_on_coloured_paper() -> None:
    grey = drawn(6, seed=4).astype(np.float32) / 255
    paper, pen = np.array([0.9, 0.85, 0.6]), np.array([0.8, 0.1, 0.1])  # red on yellow
    rgb = paper + grey[..., None] * (pen - paper)
    assert shifted_correlation(canvas_to_mnist(rgb), canvas_to_mnist(grey)) > 0.95


def test_pil_images_and_float_arrays_give_the_same_result() -> None:
    rgba = render_strokes(digit_paths(8, np.random.default_rng(5)), 280, 18, rgba=True)
    expected = canvas_to_mnist(rgba)
    assert np.array_equal(canvas_to_mnist(Image.fromarray(rgba)), expected)
    assert np.array_equal(canvas_to_mnist(Image.fromarray(rgba[..., 3])), expected)
    assert np.array_equal(canvas_to_mnist(rgba[..., 3].astype(np.float64) / 255), expected)
    palette = Image.fromarray(rgba[..., 3]).convert("P")
    assert np.abs(canvas_to_mnist(palette).astype(int) - expected).max() <= 1


def test_a_png_file_and_a_16_bit_png_read_like_the_array(tmp_path) -> None:
    grey = drawn(9, seed=6)
    Image.fromarray(grey).save(tmp_path / "digit.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "digit16.png")
    expected = canvas_to_mnist(grey)
    assert np.array_equal(canvas_to_mnist(Image.open(tmp_path / "digit.png")), expected)
    deep = Image.open(tmp_path / "digit16.png")
    assert np.abs(canvas_to_mnist(deep).astype(int) - expected).max() <= 1


# --- stroke width ------------------------------------------------------------------


def test_mnist_stroke_width_constants_match_mnist(mnist_test_digits) -> None:
    images, _ = mnist_test_digits
    widths = [stroke_width(image) for image in images[::10]]  # both writer populations
    assert np.median(widths) == pytest.approx(MNIST_STROKE_WIDTH, abs=0.1)
    assert np.percentile(widths, [25, 75]) == pytest.approx(STROKE_WIDTH_RANGE, abs=0.1)


@pytest.mark.parametrize("digit", [0, 2, 4, 8])
def test_thin_and_thick_brushes_come_out_with_similar_strokes(digit: int) -> None:
    paths = digit_paths(digit, np.random.default_rng(digit), height=0.7)
    brushes = (3, 8, 18, 30, 45)
    raw = [stroke_width(render_strokes(paths, 280, b)) for b in brushes]
    outs = [canvas_to_mnist(render_strokes(paths, 280, b)) for b in brushes]
    widths = [stroke_width(out) for out in outs]
    assert raw[-1] / raw[0] > 8, "the drawings themselves differ a lot"
    assert_widths_left_by_the_refit(widths)
    # An independent check: the same path at similar width has similar ink mass.
    masses = [int(out.sum()) for out in outs]
    assert max(masses) / min(masses) < 1.6, masses


def test_large_and_small_drawings_with_one_brush_come_out_alike() -> None:
    widths = [
        stroke_width(canvas_to_mnist(drawn(3, seed=3, brush=18, height=h, centre=(0.5, 0.5))))
        for h in (0.3, 0.6, 0.95)
    ]
    assert_widths_left_by_the_refit(widths)


def assert_widths_left_by_the_refit(widths: list[float]) -> None:
    """Every width within the band the refit leaves alone, measured again on the
    rounded 28 x 28 (0.05 px of slack)."""
    low, high = UNCHANGED_WIDTHS
    assert all(low - 0.05 <= w <= high + 0.05 for w in widths), widths


# --- MNIST digits pass through unchanged -------------------------------------------


def test_an_mnist_digit_stays_what_it_was(mnist_test_digits) -> None:
    """MNIST is already in MNIST's form: only stroke widths outside MNIST's interquartile
    range (and the fit's tolerance) change, and then not much (every 10th test digit)."""
    images, _ = mnist_test_digits
    low, high = UNCHANGED_WIDTHS
    diffs, correlations, inside = [], [], []
    for image in images[::10]:
        out = canvas_to_mnist(image)
        assert out is not None
        diffs.append(np.abs(out.astype(float) - image).mean())
        correlations.append(shifted_correlation(image, out))
        inside.append(low <= stroke_width(image) <= high)
    diffs, inside = np.array(diffs), np.array(inside)
    assert diffs.mean() < 5.5
    assert diffs[inside].mean() < 1.0
    assert np.mean(correlations) > 0.96
    assert np.percentile(correlations, 1) > 0.8


def test_fat_mnist_digits_are_not_mistaken_for_dots(mnist_test_digits) -> None:
    images, _ = mnist_test_digits
    for index in (7845, 7925):  # an 8 and a 6 written as blobs
        assert canvas_to_mnist(images[index]) is not None


# --- small, at the edge, stray dots ------------------------------------------------


def test_a_tiny_drawing_is_scaled_up_like_a_large_one() -> None:
    tiny = canvas_to_mnist(drawn(2, seed=7, brush=2.5, height=0.1, centre=(0.3, 0.3)))
    large = canvas_to_mnist(drawn(2, seed=7, brush=18, height=0.75, centre=(0.5, 0.5)))
    assert max(ink_box(tiny)) == 20
    assert shifted_correlation(tiny, large) > 0.85


@pytest.mark.parametrize("corner", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_a_drawing_touching_the_edge_is_centred(corner) -> None:
    paths = digit_paths(7, np.random.default_rng(8), height=0.6, centre=(0.5, 0.5))
    centred = render_strokes(paths, 280, 18)
    ys, xs = np.nonzero(centred)
    shift = (
        corner[1] * (279 - ys.max()) - (1 - corner[1]) * ys.min(),
        corner[0] * (279 - xs.max()) - (1 - corner[0]) * xs.min(),
    )
    at_edge = np.roll(centred, shift, axis=(0, 1))
    assert (
        at_edge[0 if corner[1] == 0 else -1].any() and at_edge[:, 0 if corner[0] == 0 else -1].any()
    )
    assert np.array_equal(canvas_to_mnist(at_edge), canvas_to_mnist(centred))


def test_stray_dots_far_from_the_digit_are_ignored() -> None:
    paths = digit_paths(1, np.random.default_rng(9), height=0.6, centre=(0.5, 0.5))
    clean = canvas_to_mnist(render_strokes(paths, 280, 16))
    dots = [np.array([(12.0, 15.0)]), np.array([(265.0, 250.0)]), np.array([(30.0, 260.0)])]
    dotted = canvas_to_mnist(render_strokes([*paths, *dots], 280, 16))
    assert np.array_equal(dotted, clean)


def test_a_separate_stroke_of_the_digit_is_kept() -> None:
    """A 5's top bar or a 4's second stroke is its own blob and must stay."""
    five = digit_paths(5, np.random.default_rng(10), style="two-stroke", height=0.7)
    whole = canvas_to_mnist(render_strokes(five, 280, 18))
    no_bar = canvas_to_mnist(render_strokes(five[:1], 280, 18))
    assert not np.array_equal(whole, no_bar)
    assert ink_box(whole)[0] == 20 and whole[:8].sum() > no_bar[:8].sum()


# --- photos of paper ---------------------------------------------------------------


@pytest.mark.parametrize("digit", [3, 5, 8])
def test_a_photo_of_a_digit_on_paper_comes_out_clean(digit: int) -> None:
    clean_canvas = drawn(digit, seed=11 + digit, brush=16)
    photo = photo_of(clean_canvas, np.random.default_rng(digit), size=600, noise=0.05)
    grey = photo.mean(axis=2)
    assert grey.max() - grey.min() > 150 and np.ptp(grey[grey > 100]) > 80, "uneven, noisy"
    clean, out = canvas_to_mnist(clean_canvas), canvas_to_mnist(photo)
    assert shifted_correlation(clean, out) > 0.9
    # No specks or background left: nothing bright away from the clean digit's ink.
    near_ink = ndimage.binary_dilation(clean > 0, iterations=2)
    assert out[~near_ink].max(initial=0) < 40


def test_a_photo_with_faint_pencil_and_strong_noise_still_reads() -> None:
    clean_canvas = drawn(4, seed=12, brush=10)
    photo = photo_of(clean_canvas // 2, np.random.default_rng(12), size=500, noise=0.06)
    assert shifted_correlation(canvas_to_mnist(clean_canvas), canvas_to_mnist(photo)) > 0.85


# --- nothing to predict ------------------------------------------------------------


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((280, 280), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.full((280, 280, 3), 128, np.uint8),
        np.zeros((280, 280, 4), np.uint8),  # fully transparent canvas
        np.dstack([np.full((50, 50, 3), 200, np.uint8), np.zeros((50, 50), np.uint8)]),
        np.zeros((1, 1)),
        np.ones((3, 7), bool),
    ],
    ids=["black", "white", "grey-rgb", "transparent", "transparent-coloured", "1x1", "all-ink"],
)
def test_blank_pictures_give_none(blank) -> None:
    assert canvas_to_mnist(blank) is None


def test_faint_noise_gives_none() -> None:
    noise = np.random.default_rng(13).normal(0.6, 0.02, (300, 300)).clip(0, 1)
    assert canvas_to_mnist(noise) is None


@pytest.mark.parametrize("brush", [6, 18, 40])
def test_a_single_dot_or_tap_gives_none(brush: float) -> None:
    dot = render_strokes([np.array([(100.0, 180.0)])], 280, brush)
    tap = render_strokes([np.array([(100.0, 180.0), (102.0, 182.0)])], 280, brush)
    assert canvas_to_mnist(dot) is None and canvas_to_mnist(tap) is None


def test_a_speck_of_a_few_pixels_gives_none() -> None:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[100:102, 50:53] = 255
    assert canvas_to_mnist(canvas) is None


def test_a_short_bar_is_still_a_drawing() -> None:
    bar = render_strokes([np.array([(140.0, 100.0), (140.0, 160.0)])], 280, 18)
    assert canvas_to_mnist(bar) is not None


# --- what cannot be read -----------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(10), r"expected an H x W, H x W x 3 or H x W x 4 image, got shape \(10,\)"),
        (np.zeros((2, 3, 4, 5)), r"got shape \(2, 3, 4, 5\)"),
        (np.zeros((8, 8, 5)), r"got shape \(8, 8, 5\)"),
        (np.float64(0.5), r"got shape \(\)"),
        (np.zeros((0, 10)), r"the image is empty \(shape \(0, 10\)\)"),
        (np.zeros((10, 0, 3), np.uint8), r"the image is empty"),
        (np.full((4, 4), np.nan), "NaN or infinite"),
        (np.array([[0.0, np.inf]]), "NaN or infinite"),
        (np.array([[0.0, 2.0]]), r"float pixels must lie in \[0, 1\], got 0 \.\. 2"),
        (np.array([[-0.5, 1.0]], np.float32), r"float pixels must lie in \[0, 1\]"),
        (np.array([[0, 300]], np.uint16), r"integer pixels must lie in 0\.\.255, got 0 \.\. 300"),
        (np.array([[-1, 5]], np.int8), "integer pixels must lie in 0..255"),
        (np.zeros((4, 4), np.complex64), "unsupported pixel type complex64"),
        (np.zeros((4, 4), object), "unsupported pixel type object"),
        (np.array([["a", "b"]]), "unsupported pixel type"),
        (np.zeros((4, 4), "datetime64[s]"), "unsupported pixel type datetime64"),
        ([[0, 1], [1]], "cannot read the input as an image array"),
        ("digit.png", "unsupported pixel type"),
    ],
)
def test_unreadable_input_raises_a_clear_value_error(bad, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canvas_to_mnist(bad)


def test_a_truncated_image_file_raises_value_error(tmp_path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(drawn(1)).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:300])
    with pytest.raises(ValueError, match="cannot read the image data"):
        canvas_to_mnist(Image.open(tmp_path / "cut.png"))


def test_the_input_array_is_not_modified() -> None:
    canvas = drawn(0)
    before = canvas.copy()
    canvas_to_mnist(canvas)
    assert np.array_equal(canvas, before)


# --- any array at all --------------------------------------------------------------

ANY_DTYPE = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes())


def assert_mnist_form_or_none(out) -> None:
    assert out is None or (
        isinstance(out, np.ndarray) and out.shape == (28, 28) and out.dtype == np.uint8
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(ANY_DTYPE, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)))
def test_any_array_gives_mnist_form_none_or_value_error(array: np.ndarray) -> None:
    try:
        out = canvas_to_mnist(array)
    except ValueError:
        return
    assert_mnist_form_or_none(out)


IMAGE_SHAPES = st.tuples(st.integers(1, 60), st.integers(1, 60), st.sampled_from([0, 1, 2, 3, 4]))


@settings(max_examples=150, deadline=None)
@given(
    IMAGE_SHAPES.flatmap(
        lambda s: hnp.arrays(
            np.uint8,
            s[:2] if s[2] == 0 else s,
            elements=st.integers(0, 255) | st.sampled_from([0, 255]),
        )
    )
)
def test_any_uint8_picture_gives_mnist_form_or_none(array: np.ndarray) -> None:
    assert_mnist_form_or_none(canvas_to_mnist(array))


@settings(max_examples=150, deadline=None)
@given(
    IMAGE_SHAPES.flatmap(
        lambda s: hnp.arrays(
            np.float32, s[:2] if s[2] == 0 else s, elements=st.floats(0, 1, width=32)
        )
    )
)
def test_any_float_picture_in_range_gives_mnist_form_or_none(array: np.ndarray) -> None:
    assert_mnist_form_or_none(canvas_to_mnist(array))


@st.composite
def drawings(draw) -> np.ndarray:
    """Any digit on a 280 px canvas, brushes from hairline to a quarter of its height."""
    digit, seed = draw(st.integers(0, 9)), draw(st.integers(0, 2**16))
    brush_share, height = draw(st.floats(0.02, 0.25)), draw(st.floats(0.2, 0.95))
    polarity, rgba = draw(st.sampled_from(["light", "dark"])), draw(st.booleans())
    paths = digit_paths(digit, np.random.default_rng(seed), height=height)
    brush = max(2.0, brush_share * height * 280)  # fatter is a blob
    return render_strokes(paths, 280, brush, polarity=polarity, rgba=rgba)


@settings(max_examples=60, deadline=None)
@given(drawings())
def test_any_drawn_digit_is_boxed_and_centred_like_mnist(drawing: np.ndarray) -> None:
    out = canvas_to_mnist(drawing)
    assert out is not None
    assert max(ink_box(out)) == 20
    assert np.allclose(ndimage.center_of_mass(out.astype(float)), (14.0, 14.0), atol=1.0)


def test_a_fat_digit_covering_most_of_the_canvas_is_found() -> None:
    """More ink than background (hypothesis found it): the noise is read below the
    background, not from a spread that counts the ink in and calls it all noise."""
    paths = digit_paths(3, np.random.default_rng(228), height=0.9)
    drawing = render_strokes(paths, 280, 64.0)
    assert (drawing > 0).mean() > 0.5
    for fast_path in (True, False):  # too much ink for the fast path: the full one runs
        out = canvas_to_mnist(drawing, fast_path=fast_path)
        assert out is not None and max(ink_box(out)) == 20


# --- the fast path for clean drawings ----------------------------------------------


@pytest.fixture
def fast_path_taken(monkeypatch) -> list[bool]:
    """Records, per call, whether `canvas_to_mnist` found a clean drawing (the real check)."""
    taken: list[bool] = []
    check = preprocess._lifted_clean_drawing

    def recording(ink, edge):
        lifted = check(ink, edge)
        taken.append(lifted is not None)
        return lifted

    monkeypatch.setattr(preprocess, "_lifted_clean_drawing", recording)
    return taken


def assert_same_as_full_path(pictures: list[np.ndarray]) -> np.ndarray:
    """Both paths give the same 28 x 28 (within rounding) for every picture; their stack."""
    fast, full = [], []
    for picture in pictures:
        fast.append(canvas_to_mnist(picture))
        full.append(canvas_to_mnist(picture, fast_path=False))
        assert (fast[-1] is None) == (full[-1] is None)
        if fast[-1] is not None:
            assert np.abs(fast[-1].astype(int) - full[-1]).max() <= 1
    return np.stack([f for f in fast if f is not None]), np.stack(
        [f for f in full if f is not None]
    )


@pytest.fixture(scope="module")
def default_predictor():
    from model.predictor import Predictor

    return Predictor.load()


def test_redrawn_mnist_canvases_take_the_fast_path_to_the_same_answer(
    fast_path_taken, default_predictor, mnist
) -> None:
    """Every kind of redrawn canvas (small, thick, at the edge, dark on light, RGBA...)."""
    canvases = list(
        canvas_test_set(mnist.test_images[:270], mnist.test_labels[:270], np.random.default_rng(1))
    )
    fast, full = assert_same_as_full_path(canvases)
    assert np.mean(fast_path_taken[::2]) > 0.9  # the calls with the fast path allowed
    one, two = default_predictor.score_batch(fast), default_predictor.score_batch(full)
    np.testing.assert_array_equal(one.probabilities.argmax(1), two.probabilities.argmax(1))
    np.testing.assert_array_equal(one.unsure, two.unsure)


def test_stroke_digits_take_the_fast_path_to_the_same_answer(
    fast_path_taken, default_predictor
) -> None:
    rng = np.random.default_rng(2)
    pictures = []
    for i, (digit, style) in enumerate(digit_styles()):
        paths = digit_paths(digit, rng, style=style)
        brush = float(rng.uniform(6, 40))
        pictures.append(
            render_strokes(paths, 280, brush, polarity=("light", "dark")[i % 2], rgba=i % 3 == 0)
        )
    fast, full = assert_same_as_full_path(pictures)
    assert all(fast_path_taken[::2])
    one, two = default_predictor.score_batch(fast), default_predictor.score_batch(full)
    np.testing.assert_array_equal(one.probabilities.argmax(1), two.probabilities.argmax(1))
    np.testing.assert_array_equal(one.unsure, two.unsure)


def test_a_drawing_with_a_stray_dot_still_has_the_dot_removed(fast_path_taken) -> None:
    canvas = drawn(7, seed=3, brush=14)
    canvas[10:14, 10:14] = 255  # a tap far from the digit
    fast, _ = assert_same_as_full_path([canvas])
    assert fast_path_taken[0] and max(ink_box(fast[0])) == 20
    np.testing.assert_array_equal(fast[0], canvas_to_mnist(drawn(7, seed=3, brush=14)))


def test_photos_scans_and_shaded_pictures_take_the_full_path(fast_path_taken) -> None:
    rng = np.random.default_rng(4)
    canvas = drawn(5, seed=4)
    scanned = np.clip(40 + 0.7 * canvas + rng.normal(0, 6, canvas.shape), 0, 255)  # grey paper
    shaded = np.clip(canvas.astype(int) + np.linspace(0, 40, 280)[None, :], 0, 255)
    pictures = [
        photo_of(render_strokes(digit_paths(5, rng), 280, 14), rng),
        scanned.astype(np.uint8),
        shaded.astype(np.uint8),
    ]
    for picture in pictures:
        assert canvas_to_mnist(picture) is not None
    assert fast_path_taken == [False, False, False]


def test_a_compressed_canvas_gives_the_same_digit_on_either_path() -> None:
    """JPEG keeps a flat black background flat: it may take the fast path, to the same end."""
    buffer = io.BytesIO()
    Image.fromarray(drawn(5, seed=4)).save(buffer, format="JPEG", quality=80)
    assert_same_as_full_path([np.asarray(Image.open(buffer))])


def test_a_digit_whose_width_is_refitted_comes_out_the_same_on_either_path() -> None:
    """Hypothesis found it: the full path took a clean canvas's background for 8e-5
    instead of its 0, and refitting the stroke width turned that into 10 grey levels."""
    paths = digit_paths(3, np.random.default_rng(83), height=0.48684628888691933)
    assert_same_as_full_path([render_strokes(paths, 280, 12.171472323552827)])


@settings(max_examples=30, deadline=None)
@given(drawings())
def test_any_drawn_digit_comes_out_the_same_on_either_path(drawing: np.ndarray) -> None:
    assert_same_as_full_path([drawing])


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(bool, st.tuples(st.integers(3, 24), st.integers(3, 24))),
    st.floats(-4, 4, allow_nan=False),
)
def test_the_outline_moves_as_with_both_distance_transforms(mask, offset: float) -> None:
    """The stroke-width fit computes one side's distances only; the moved outline it
    draws is the one both full distance transforms give, at every offset."""
    assume(mask.any())  # the fit's masks hold ink, and the padding is background
    padded = np.pad(mask, 2)
    full = np.where(
        padded,
        0.5 - ndimage.distance_transform_edt(padded),
        ndimage.distance_transform_edt(~padded) - 0.5,
    )
    lazy = preprocess._SignedDistance(padded)
    for moved in (offset, -offset, 0.0):
        drawn = np.clip(moved - lazy.at(moved) + 0.5, 0, 1)
        assert np.array_equal(drawn, np.clip(moved - full + 0.5, 0, 1))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(bool, st.tuples(st.integers(1, 30), st.integers(1, 30))),
    st.one_of(st.floats(0, 12), st.floats(12, 1e5)),
)
def test_distances_within_a_radius_are_scipys(mask, radius: float) -> None:
    """Exact where the fit reads them, and beyond the radius wherever they are farther."""
    if mask.all():
        mask[0, 0] = False  # at least one pixel to measure to, as the fit always has
    expected = ndimage.distance_transform_edt(mask)
    got = preprocess._distance_within(mask, radius)
    near = expected <= radius
    assert np.array_equal(got[near], expected[near])
    assert (got[~near] > radius).all()
