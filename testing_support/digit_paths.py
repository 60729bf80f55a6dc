"""Handwritten-looking digits as stroke paths on a 280x280 canvas, shared by the
AppTest suite (rendered to pixels) and the browser suite (drawn with a pointer).

Why paths, not pictures: the browser tests must move a real pointer, and rendering
the same paths for AppTest keeps both suites drawing the very same digits.
"""

from __future__ import annotations

import math

Point = tuple[float, float]
Stroke = list[Point]


def _line(start: Point, end: Point, steps: int) -> Stroke:
    (x0, y0), (x1, y1) = start, end
    return [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(steps + 1)]


def one_strokes() -> list[Stroke]:
    """A 1: a short lead-in flick, then one slightly slanted downstroke."""
    return [_line((128, 70), (152, 48), 6) + _line((152, 48), (140, 232), 24)[1:]]


def zero_strokes() -> list[Stroke]:
    """A 0: one closed, slightly tilted oval drawn counter-clockwise from the top."""
    centre_x, centre_y, rx, ry, tilt = 140.0, 140.0, 58.0, 92.0, math.radians(8)
    points = []
    for i in range(49):
        angle = -math.pi / 2 - 2 * math.pi * i / 48
        x, y = rx * math.cos(angle), ry * math.sin(angle)
        points.append(
            (
                centre_x + x * math.cos(tilt) - y * math.sin(tilt),
                centre_y + x * math.sin(tilt) + y * math.cos(tilt),
            )
        )
    return [points]


DIGIT_STROKES = {0: zero_strokes, 1: one_strokes}
