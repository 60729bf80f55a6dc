"""The handwriting generator: each style draws what defines it, people are seeded and apart."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from model import handwriting as hw
from model.strokes import CANVAS_SIDE, canvas_path, render_strokes

SHAPES = [
    hw.Shape(loop=0.0, tail_hook=0.0, flag=0.25, crossbar=0.5, arm_gap=0.05, retrace=0.02),
    hw.Shape(loop=1.0, tail_hook=1.0, flag=0.6, crossbar=1.0, arm_gap=0.4, retrace=0.08),
]


def _segments(stroke: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(pairwise(stroke))


def _cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether segments ab and cd cross."""

    def side(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    return side(a, b, c) != side(a, b, d) and side(c, d, a) != side(c, d, b)


def _crosses(one: np.ndarray, other: np.ndarray) -> bool:
    return any(_cross(a, b, c, d) for a, b in _segments(one) for c, d in _segments(other))


@pytest.mark.parametrize("shape", SHAPES)
def test_a_crossed_seven_has_a_stroke_crossing_its_stem(shape: hw.Shape) -> None:
    for variant in ("crossbar", "hooked-crossbar"):
        stem, bar = hw.digit_strokes(7, variant, shape)
        assert _crosses(bar, stem), variant
    assert len(hw.digit_strokes(7, "plain", shape)) == 1  # nothing to cross with


@pytest.mark.parametrize("shape", SHAPES)
def test_an_open_four_never_closes_its_triangle(shape: hw.Shape) -> None:
    """The arm from the top-left never reaches the stem above the crossbar; a closed one does."""
    for variant in ("open", "open-one-stroke"):
        strokes = hw.digit_strokes(4, variant, shape)
        points = np.concatenate(strokes)
        stem_x = points[points[:, 1].argmax(), 0]  # the stem ends lowest
        first = strokes[0]
        arm = first[: np.argmax(first[:, 1] >= 0.55)]  # drawn down to the crossbar
        assert np.abs(arm[:, 0] - stem_x).min() > 0.3, variant
    (closed,) = hw.digit_strokes(4, "closed", shape)
    assert np.allclose(closed[1], (0.7, 0.0))  # the diagonal starts at the stem's top
    assert len(hw.digit_strokes(4, "open-one-stroke", shape)) == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_a_continental_one_has_a_long_entry_flag(shape: hw.Shape) -> None:
    for variant in ("flag", "flag-base"):
        stroke = hw.digit_strokes(1, variant, shape)[0]
        entry, top = stroke[0], stroke[1]
        assert np.hypot(*(top - entry)) >= 0.25 and entry[0] < top[0] - 0.15
    assert len(hw.digit_strokes(1, "flag-base", shape)) == 2  # the base is its own stroke


def test_a_low_stem_four_begins_its_stem_well_below_its_arm_and_crosses_the_bar() -> None:
    """The form real writers use (README "Models"): an upright arm, a low crossbar, a stem
    begun a third of the way down or more, close enough to make a small closed corner."""
    for index in range(20):
        shape = hw.person("train", index).shape
        arm_and_bar, stem = hw.digit_strokes(4, "low-stem", shape)
        arm_top, bar_y = arm_and_bar[0], arm_and_bar[-1, 1]
        assert stem[0, 1] - arm_top[1] >= 0.3 and stem[0, 1] < bar_y - 0.2
        assert abs(arm_and_bar[1, 0] - arm_top[0]) < 0.2  # upright, not a diagonal
        assert _crosses(stem, arm_and_bar)  # the bar runs through the stem
        assert bar_y >= 0.7  # low: what is left of the stem below it is short


def test_a_small_loop_nine_has_a_long_tail_in_one_stroke() -> None:
    small = hw.Shape(loop=0.0, tail_hook=0.8, flag=0.3, crossbar=0.6, arm_gap=0.1, retrace=0.03)
    for variant in ("straight-tail", "hooked-tail"):
        (stroke,) = hw.digit_strokes(9, variant, small)
        loop = stroke[stroke[:, 1] < 0.45]
        assert loop[:, 1].min() <= 0.01 and np.ptp(loop[:, 0]) >= 0.3  # a loop at the top
        assert stroke[:, 1].max() >= 0.9  # the tail reaches the bottom: twice the loop
    (hooked,) = hw.digit_strokes(9, "hooked-tail", small)
    lowest = hooked[:, 1].argmax()
    assert hooked[-1, 0] < hooked[lowest, 0] - 0.1  # curls back to the left


@pytest.mark.parametrize("shape", SHAPES)
def test_a_flat_foot_nine_has_a_tiny_loop_and_a_foot_reaching_back_under_it(shape) -> None:
    (stroke,) = hw.digit_strokes(9, "flat-foot", shape)
    loop = stroke[stroke[:, 1] < 0.35]
    assert np.ptp(loop[:, 0]) <= 0.5 and np.ptp(loop[:, 1]) <= 0.35  # tiny, at the top
    (start_x, start_y), (end_x, end_y) = stroke[-2:]  # the foot: its last line
    assert start_y == end_y >= 0.95 and start_x - end_x >= 0.25  # flat, at the bottom, long
    assert end_x <= loop[:, 0].mean()  # back left under the loop


@pytest.mark.parametrize("shape", SHAPES)
def test_a_curved_arm_four_bows_left_into_a_low_bar_its_stem_begun_below(shape) -> None:
    arm_and_bar, stem = hw.digit_strokes(4, "curved-arm", shape)
    arm = arm_and_bar[:-1]
    chord_x = np.interp(arm[:, 1], [arm[0, 1], arm[-1, 1]], [arm[0, 0], arm[-1, 0]])
    assert (chord_x - arm[:, 0]).max() > 0.1  # bowed left of its chord, as a 6's back
    assert arm_and_bar[-1, 1] >= 0.65 and _crosses(stem, arm_and_bar)  # a low bar, crossed
    assert stem[0, 1] == shape.stem_top


def test_candidate_variants_are_drawn_and_written_by_nobody() -> None:
    rng = np.random.default_rng(0)
    for digit, candidates in hw.CANDIDATE_VARIANTS.items():
        for name in candidates:
            assert hw.digit_strokes(digit, name, SHAPES[0])  # drawable
            for group in hw.GROUPS:
                assert name not in hw.variants(digit, group)
                assert all(hw.drawn_variant(w, digit, rng) != name for w in hw.people(group, 50))


def test_a_tiny_loop_six_keeps_its_loop_low_and_small() -> None:
    tiny = hw.Shape(loop=0.0, tail_hook=0.0, flag=0.3, crossbar=0.6, arm_gap=0.1, retrace=0.03)
    (stroke,) = hw.digit_strokes(6, "tiny-loop", tiny)
    closing = stroke[-40:]  # the loop is the end of the stroke
    assert np.ptp(closing[:, 1]) <= 0.2 and closing[:, 1].min() >= 0.75


def test_a_slashed_zero_is_crossed_and_a_plain_one_is_not() -> None:
    oval, slash = hw.digit_strokes(0, "slashed", SHAPES[0])
    assert _crosses(slash, oval)
    assert len(hw.digit_strokes(0, "oval", SHAPES[0])) == 1


def test_every_variant_draws_inside_the_canvas_at_the_persons_size() -> None:
    rng = np.random.default_rng(0)
    for index in range(20):
        who = hw.person("train", index)
        for digit in range(10):
            canvas = hw.draw_digit(who, digit, rng)
            assert canvas.shape == (280, 280, 4)
            ink = canvas[..., 3] > 0
            rows = np.flatnonzero(ink.any(1))
            assert not ink[0].any() and not ink[-1].any() and not ink[:, 0].any()
            assert 0.3 * 280 <= rows[-1] - rows[0] <= 0.98 * 280


def test_a_slow_recorder_keeps_few_points_and_a_slowing_pen_crowds_them_in_curves() -> None:
    """A 10 Hz tablet keeps a handful of points where a 120 Hz pointer keeps dozens; the
    pen slows in curves, so a nine's loop is sampled closer than its straight tail."""
    who = replace(hw.person("train", 0), wobble=0.0, tremor=0.0)
    who = replace(who, variants=(*who.variants[:9], "straight-tail"))

    def points(sample_ms: float) -> int:
        rng = np.random.default_rng(3)
        paths = [hw.pen_paths(replace(who, sample_ms=sample_ms), d, rng) for d in range(10)]
        return sum(len(stroke) for strokes in paths for stroke in strokes)

    assert points(110.0) * 5 < points(8.0)
    for seed in range(4):
        (nine,) = hw.pen_paths(replace(who, sample_ms=20.0), 9, np.random.default_rng(seed))
        gaps = np.linalg.norm(np.diff(nine, axis=0), axis=1)
        loop, tail = gaps[: len(gaps) // 2], gaps[-6:-1]
        assert np.median(loop) < 0.95 * np.median(tail), seed


def test_a_pen_that_never_moves_records_one_point_a_dot() -> None:
    who = hw.person("train", 0)
    dot = np.array([[40.0, 50.0], [40.0, 50.0], [40.0, 50.0]])
    recorded = hw._sampled(dot, who, speed=300.0, height=150.0, rng=np.random.default_rng(0))
    assert recorded.tolist() == [[40.0, 50.0]]
    moved = dot + np.array([[0, 0], [0, 0], [0.5, 0]])
    tiny = hw._sampled(moved, who, speed=300.0, height=150.0, rng=np.random.default_rng(0))
    assert len(tiny) >= 2  # moved half a pixel: recorded, with the hand's shake


def test_only_held_out_style_people_record_slower_than_training_people() -> None:
    slowest = max(hw.TRAINING_SAMPLE_MS)
    for group in ("train", "held-out"):
        assert all(p.sample_ms <= slowest for p in hw.people(group, 300))
    rates = np.array([p.sample_ms for p in hw.people("held-out-styles", 300)])
    assert 0.3 < (rates > slowest).mean() < 0.7 and rates.max() <= max(hw.HELD_OUT_STYLES_SAMPLE_MS)


def test_people_are_deterministic_and_held_out_people_share_no_habit() -> None:
    assert hw.person("held-out", 3) == hw.person("held-out", 3)
    training = {v for p in hw.people("train", 300) for v in p.style_values()}
    held_out = {v for p in hw.people("held-out", 300) for v in p.style_values()}
    assert len(training) == 300 * len(hw.person("train", 0).style_values())  # all distinct draws
    assert not training & held_out
    with pytest.raises(ValueError, match="group must be one of"):
        hw.person("test", 0)


def test_drawings_are_deterministic_by_seed() -> None:
    who = hw.person("train", 5)
    first = hw.draw_digit(who, 7, np.random.default_rng(11))
    assert np.array_equal(first, hw.draw_digit(who, 7, np.random.default_rng(11)))
    assert not np.array_equal(first, hw.draw_digit(who, 7, np.random.default_rng(12)))


def test_a_set_recorded_at_one_rate_is_every_person_at_that_rate(tmp_path) -> None:
    own = hw.style_digits("held-out", 2, 1, cache_dir=tmp_path)
    tablet = hw.style_digits("held-out", 2, 1, cache_dir=tmp_path, sample_ms=100.0)
    assert not np.array_equal(own.images, tablet.images)
    images, _ = hw.person_digits(replace(hw.person("held-out", 1), sample_ms=100.0), 1)
    assert np.array_equal(tablet.images[tablet.person == 1], images)
    again = hw.style_digits("held-out", 2, 1, cache_dir=tmp_path, sample_ms=100.0)
    assert np.array_equal(again.images, tablet.images)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # cached apart


def test_a_drawing_is_painted_as_the_canvas_paints_what_the_device_recorded() -> None:
    """The canvas's curves through the recorded points (tests/e2e/test_canvas.py checks
    them against the browser's), not a polygon through them."""
    who = replace(hw.person("held-out-styles", 4), sample_ms=100.0)
    rng = np.random.default_rng(5)
    brush = who.brush * rng.uniform(0.95, 1.05)
    recorded = hw.pen_paths(who, 6, rng)
    painted = hw.draw_digit(who, 6, np.random.default_rng(5))
    curves = render_strokes([canvas_path(p) for p in recorded], CANVAS_SIDE, brush, rgba=True)
    assert np.array_equal(painted, curves)
    assert not np.array_equal(painted, render_strokes(recorded, CANVAS_SIDE, brush, rgba=True))


def test_many_people_in_parallel_match_one_process_and_the_cache(tmp_path) -> None:
    serial = hw.style_digits("held-out", 3, 1, workers=1)
    parallel = hw.style_digits("held-out", 3, 1, workers=2, cache_dir=tmp_path)
    cached = hw.style_digits("held-out", 3, 1, cache_dir=tmp_path)
    for other in (parallel, cached):
        assert np.array_equal(serial.images, other.images)
        assert np.array_equal(serial.labels, other.labels)
        assert np.array_equal(serial.person, other.person)
    assert serial.images.shape == (30, 28, 28) and set(serial.person) == {0, 1, 2}
    (cache_file,) = tmp_path.iterdir()  # written whole, no temporary file left beside it
    assert cache_file.suffix == ".npz" and oct(cache_file.stat().st_mode & 0o777) == "0o644"


def test_a_set_cached_by_other_drawing_code_is_not_reused(tmp_path) -> None:
    drawn = hw.style_digits("held-out", 2, 1, cache_dir=tmp_path)
    (written,) = tmp_path.glob("*.npz")
    assert hw.drawing_code_digest() in written.name
    # The same set as an older generator or preprocessing would have cached it.
    stale = tmp_path / written.name.replace(hw.drawing_code_digest(), "0" * 12)
    np.savez(stale, images=np.zeros_like(drawn.images), labels=drawn.labels, person=drawn.person)
    written.unlink()
    again = hw.style_digits("held-out", 2, 1, cache_dir=tmp_path)
    assert np.array_equal(again.images, drawn.images)


def test_a_set_cached_while_people_wrote_other_variants_is_not_reused(tmp_path) -> None:
    as_today = hw.style_digits("train", 4, 1, cache_dir=tmp_path)
    hw.VARIANT_WEIGHTS[9]["flat-foot"] = 100.0  # a candidate, as benchmarks/style_ab adds it
    try:
        with_candidate = hw.style_digits("train", 4, 1, cache_dir=tmp_path)
    finally:
        del hw.VARIANT_WEIGHTS[9]["flat-foot"]
    assert len(list(tmp_path.glob("*.npz"))) == 2  # each vocabulary its own file
    nines = as_today.labels == 9
    assert not np.array_equal(with_candidate.images[nines], as_today.images[nines])
    again = hw.style_digits("train", 4, 1, cache_dir=tmp_path)
    assert np.array_equal(again.images, as_today.images)


def test_training_people_never_draw_a_held_out_style() -> None:
    novel = {(d, v) for d, named in hw.NOVEL_VARIANT_WEIGHTS.items() for v in named}
    assert not novel & {(d, v) for d in range(10) for v in hw.variants(d, "train")}
    rng = np.random.default_rng(0)
    for group in ("train", "held-out"):
        for who in hw.people(group, 300):
            assert hw.TRAINING_ASPECT[0] <= who.aspect <= hw.TRAINING_ASPECT[1]
            drawn = {(d, hw.drawn_variant(who, d, rng)) for d in range(10) for _ in range(20)}
            assert not drawn & novel, (group, who.index)
    strangers = hw.people("held-out-styles", 100)
    written = {(d, who.variants[d]) for who in strangers for d in range(10)}
    assert written >= novel  # every held-out style is written by someone
    assert sum(who.aspect > hw.TRAINING_ASPECT[1] for who in strangers) >= 20


def test_held_out_style_people_are_deterministic_and_share_no_habit() -> None:
    assert hw.person("held-out-styles", 7) == hw.person("held-out-styles", 7)
    training = {v for p in hw.people("train", 300) for v in p.style_values()}
    assert not training & {v for p in hw.people("held-out-styles", 300) for v in p.style_values()}
    who = hw.person("held-out-styles", 2)
    first = hw.draw_digit(who, 9, np.random.default_rng(3))
    assert np.array_equal(first, hw.draw_digit(who, 9, np.random.default_rng(3)))


@pytest.mark.parametrize("shape", SHAPES)
def test_held_out_styles_have_the_property_that_defines_them(shape: hw.Shape) -> None:
    arm, stem, bar = hw.digit_strokes(4, "crossed-bar", shape)
    assert _crosses(bar, stem) and not _crosses(arm, stem)
    assert arm[:, 1].max() < bar[:, 1].min()  # the arm stops short of the horizontal
    stem, bar = hw.digit_strokes(7, "curved-stem-crossed", shape)
    assert _crosses(bar, stem) and stem[len(stem) // 2 :, 0].min() < 0.45  # bowed left
    circle, stick = hw.digit_strokes(9, "circle-stick", shape)
    assert np.hypot(*(circle[0] - circle[-1])) < 0.01 and stick[:, 1].max() >= 0.95
    flag, body = hw.digit_strokes(5, "flag-first", shape)
    assert np.hypot(*(flag[0] - body[0])) > 0.1  # the flag stays detached
    stem, _foot = hw.digit_strokes(1, "serif-foot", shape)
    assert stem[0, 1] == 0.0 and np.ptp(stem[:, 0]) == 0  # no entry flag
    (z,) = hw.digit_strokes(2, "z-shape", shape)
    assert np.allclose(z[0, 1], z[1, 1]) and np.allclose(z[2, 1], z[3, 1])  # straight top, base
    first, second = hw.digit_strokes(8, "two-halves", shape)
    assert np.allclose(first[-1], second[0]) and np.allclose(first[0], second[-1], atol=1e-6)
