"""The canvas in a real browser: every pen-down draws, and a brisk run of labels stores each once.

Reproduces what users met: strokes begun in the top ~30 px under the (invisible) hover
toolbar drew nothing, and a run of 40 labelled drawings once left 41 rows.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from model import handwriting
from model.strokes import CANVAS_SIDE, canvas_path, render_strokes
from testing_support.canvas_strokes import draw_with_mouse, ink_pixels, painted_ink
from testing_support.digit_paths import DIGIT_STROKES, Point, Stroke
from testing_support.draw_page import (
    ANSWER_TIMEOUT_MS,
    clear_canvas,
    open_draw_page,
    prediction_value,
    press_label,
    stored,
    wait_for_blank_canvas,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

INSET_PX = 4  # how far inside the canvas's edge each stroke begins
BRISK_DRAWINGS = 40


def edge_starts() -> dict[str, Point]:
    """Every corner and the middle of every edge, INSET_PX inside the canvas."""
    near, mid, far = INSET_PX, CANVAS_SIDE / 2, CANVAS_SIDE - INSET_PX
    return {
        "top-left": (near, near),
        "top": (mid, near),
        "top-right": (far, near),
        "right": (far, mid),
        "bottom-right": (far, far),
        "bottom": (mid, far),
        "bottom-left": (near, far),
        "left": (near, mid),
    }


def stroke_inwards(start: Point, length: float = 90, steps: int = 12) -> Stroke:
    """A straight stroke from `start` towards the canvas's centre."""
    (x0, y0), centre = start, CANVAS_SIDE / 2
    dx, dy = centre - x0, centre - y0
    norm = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    return [
        (x0 + dx / norm * length * i / steps, y0 + dy / norm * length * i / steps)
        for i in range(steps + 1)
    ]


def test_a_stroke_begun_at_any_edge_or_corner_draws_and_is_answered(
    desktop_page: Page, app_url: str
):
    """The pointer comes from outside the canvas each time, as a hand does."""
    open_draw_page(desktop_page, app_url)
    lost = []
    for place, start in edge_starts().items():
        desktop_page.mouse.move(5, 5)  # off the canvas: no hover state carried over
        draw_with_mouse(desktop_page, [stroke_inwards(start)])
        try:
            expect(prediction_value(desktop_page)).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
        except AssertionError:
            lost.append(f"{place} {start}: no answer, {ink_pixels(desktop_page)} ink pixels")
        else:
            assert ink_pixels(desktop_page) > 0, f"{place}: answered but nothing drawn"
        clear_canvas(desktop_page)
    assert not lost, "strokes that drew nothing:\n" + "\n".join(lost)


def test_forty_drawings_labelled_briskly_are_each_answered_and_stored_once(
    desktop_page: Page, app_url: str, e2e_database_url: str
):
    """Next stroke as soon as the canvas is back, label as soon as the answer shows.

    Drawings alternate 1 and 0, so each answer can be told from the one before it.
    """
    before = set(stored(e2e_database_url)["id"])
    open_draw_page(desktop_page, app_url)
    labels = [(1, 0)[i % 2] for i in range(BRISK_DRAWINGS)]
    for i, digit in enumerate(labels):
        draw_with_mouse(desktop_page, DIGIT_STROKES[digit]())
        try:
            expect(prediction_value(desktop_page)).to_have_text(
                str(digit), timeout=ANSWER_TIMEOUT_MS
            )
        except AssertionError as error:
            ink = ink_pixels(desktop_page)
            raise AssertionError(
                f"drawing {i} unanswered ({ink} ink pixels on the canvas)"
            ) from error
        press_label(desktop_page, digit)
        wait_for_blank_canvas(desktop_page)
    expect(desktop_page.get_by_test_id("stToast").filter(has_text="Saved").last).to_be_visible()
    desktop_page.wait_for_timeout(1_000)  # a late duplicate would land by now
    rows = stored(e2e_database_url)
    new = rows[~rows["id"].isin(before)].sort_values("id")
    assert len(new) == BRISK_DRAWINGS, f"{len(new)} rows for {BRISK_DRAWINGS} drawings"
    assert list(new["true_label"]) == labels
    assert list(new["predicted_digit"]) == labels


def test_a_cleared_drawing_is_stored_unlabelled_with_the_strokes_drawn(
    desktop_page: Page, app_url: str, e2e_database_url: str
):
    before = set(stored(e2e_database_url)["id"])
    open_draw_page(desktop_page, app_url)
    strokes = DIGIT_STROKES[0]()
    draw_with_mouse(desktop_page, strokes)
    expect(prediction_value(desktop_page)).to_have_text("0", timeout=ANSWER_TIMEOUT_MS)
    assert set(stored(e2e_database_url)["id"]) == before, "stored while only drawing"
    clear_canvas(desktop_page)
    rows = stored(e2e_database_url)
    new = rows[~rows["id"].isin(before)]
    assert len(new) == 1, f"{len(new)} rows for one cleared drawing"
    row = new.iloc[0]
    assert (row.predicted_digit, row.source, row.canvas_width, row.canvas_height) == (
        0,
        "canvas",
        280,
        280,
    )
    assert pd.isna(row.true_label), "a cleared drawing was stored with a label"
    (stroke,) = row.strokes
    drawn, kept = np.asarray(strokes[0]), np.asarray(stroke)
    # The canvas reports the path it smoothed from the pointer: same start, same extent.
    assert np.abs(kept[0] - drawn[0]).max() <= 3
    assert np.abs(kept.min(axis=0) - drawn.min(axis=0)).max() <= 4
    assert np.abs(kept.max(axis=0) - drawn.max(axis=0)).max() <= 4


def best_overlap(painted: np.ndarray, strokes: list[np.ndarray]) -> float:
    """Intersection over union of the ink, at the brush and the alignment (within the
    pixel or so the pointer's way onto the canvas may shift it) that match best."""
    ink = painted >= 128
    overlaps = []
    shifts = [np.array(shift) for shift in itertools.product(np.arange(-1.5, 1.6, 0.5), repeat=2)]
    for brush, shift in itertools.product(range(14, 23), shifts):
        drawn = render_strokes([stroke + shift for stroke in strokes], CANVAS_SIDE, brush)
        overlaps.append(((drawn >= 128) & ink).sum() / ((drawn >= 128) | ink).sum())
    return max(overlaps)


def test_the_canvas_paints_a_slow_recording_as_the_proxy_people_are_painted(
    desktop_page: Page, app_url: str
):
    """A 10 Hz tablet's few points of a nine: the canvas rounds them (`canvas_path`),
    which is how the handwriting proxy paints its people, not as a polygon."""
    who = replace(handwriting.person("held-out-styles", 0), sample_ms=100.0)
    strokes = handwriting.pen_paths(who, 9, np.random.default_rng(0))
    assert max(len(stroke) for stroke in strokes) < 25, "not a slow recording"
    open_draw_page(desktop_page, app_url)
    draw_with_mouse(desktop_page, [stroke.tolist() for stroke in strokes], steps=1)
    expect(prediction_value(desktop_page)).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    painted = painted_ink(desktop_page)
    assert painted.shape == (CANVAS_SIDE, CANVAS_SIDE)
    as_canvas = best_overlap(painted, [canvas_path(stroke) for stroke in strokes])
    as_polygon = best_overlap(painted, strokes)
    assert as_canvas >= 0.97, f"the canvas painted something else: overlap {as_canvas:.3f}"
    assert as_polygon <= as_canvas - 0.1, f"{as_polygon:.3f} as a polygon, {as_canvas:.3f}"
