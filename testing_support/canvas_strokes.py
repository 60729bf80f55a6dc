"""Drawing digits on the dashboard's canvas the way a person does: mouse or finger.

Why a module of its own: the canvas (streamlit-drawable-canvas 0.13, Fabric.js) only
hands pixels back to Streamlit after real pointer input ending in a pointer-up, so a
test cannot inject an image; it has to move a pointer along a path. Paths are given
in canvas pixels (0..280), scaled to the canvas's on-screen box, so they stay right
if the canvas is displayed at another size; the paths themselves are in
`testing_support/digit_paths.py`, shared with the AppTest suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from playwright.sync_api import CDPSession, Locator, Page

from model.strokes import CANVAS_SIDE
from testing_support.digit_paths import Point, Stroke


def drawing_surface(page: Page) -> Locator:
    """The canvas that receives pointer input (Fabric.js's upper canvas)."""
    return page.locator(".dc-canvas.upper-canvas").first


def _to_screen(surface: Locator, stroke: Stroke) -> list[Point]:
    box = surface.bounding_box()
    assert box is not None, "the drawing canvas is not visible"
    sx, sy = box["width"] / CANVAS_SIDE, box["height"] / CANVAS_SIDE
    return [(box["x"] + x * sx, box["y"] + y * sy) for x, y in stroke]


def draw_with_mouse(
    page: Page,
    strokes: Sequence[Stroke],
    before_last_release: Callable[[], object] | None = None,
    *,
    steps: int = 2,
) -> None:
    """Press, drag along each stroke, release: one canvas update per stroke.

    Each move between two points of a stroke takes `steps` pointer events (1: the
    canvas records exactly the stroke's points, as a slow recorder would hand them).
    `before_last_release` runs just before the pointer is lifted at the end of the
    last stroke: the browser benchmark starts its clock there.
    """
    surface = drawing_surface(page)
    for i, stroke in enumerate(strokes):
        points = _to_screen(surface, stroke)
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=steps)
        if before_last_release is not None and i == len(strokes) - 1:
            before_last_release()
        page.mouse.up()


def draw_with_touch(page: Page, cdp: CDPSession, strokes: Sequence[Stroke]) -> None:
    """The same strokes as one finger would make them, through Chromium's touch input.

    Playwright's `touchscreen` only taps; CDP `Input.dispatchTouchEvent` produces the
    touchstart / touchmove / touchend sequence a phone sends (the context needs
    `has_touch=True`).
    """
    surface = drawing_surface(page)
    for stroke in strokes:
        points = _to_screen(surface, stroke)

        def touch(kind: str, point: Point | None) -> None:
            touch_points = (
                [] if point is None else [{"x": point[0], "y": point[1], "id": 1, "force": 1}]
            )
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

        touch("touchStart", points[0])
        for point in points[1:]:
            touch("touchMove", point)
        touch("touchEnd", None)


def painted_ink(page: Page) -> np.ndarray:
    """The white ink of the drawing as the canvas painted it: H x W uint8, 0 for none.

    Read off Fabric's rendered drawing layer (not the separate background layer) inside
    the component's shadow root, as red times alpha, which holds whether the layer is
    transparent or painted black beneath the ink.
    """
    width, height, ink = page.locator(".dc-canvas.lower-canvas").first.evaluate(
        """canvas => {
            const ctx = canvas.getContext('2d');
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            const ink = [];
            for (let i = 0; i < data.length; i += 4) ink.push(data[i] * data[i + 3] / 255);
            return [canvas.width, canvas.height, ink];
        }"""
    )
    return np.rint(np.array(ink)).astype(np.uint8).reshape(height, width)


def ink_pixels(page: Page) -> int:
    """How many pixels of the visible drawing are ink: 0 means the canvas is clear."""
    return int(np.count_nonzero(painted_ink(page)))
