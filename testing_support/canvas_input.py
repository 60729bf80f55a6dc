"""Feed a drawing into the Draw page's canvas under AppTest: the one place that knows how.

Why isolated: AppTest has no browser, so the canvas component never sends anything;
the only way in is to write the value the component would have sent into session
state under the widget's key. That value's shape belongs to streamlit-drawable-canvas
0.13 as patched in streamlit/components/drawable_canvas (a Streamlit v2 component):
`{"drawing": {"raw": <Fabric JSON>, "data": <PNG data URL>, "nonce": <reset number>},
"backgroundFit": None}`. If a new version changes it, only this module changes.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from model.strokes import CANVAS_SIDE
from testing_support.digit_paths import Stroke

CANVAS_COMPONENT = "digitlab-drawable-canvas.canvas"


def _canvas(at: AppTest) -> Any:
    canvases = [
        element
        for element in at.get("bidi_component")
        if element.proto.component_name == CANVAS_COMPONENT
    ]
    assert len(canvases) == 1, f"expected one canvas on the page, found {len(canvases)}"
    return canvases[0]


def canvas_key(at: AppTest) -> str:
    """The key of the (single) drawing canvas on the page AppTest last ran."""
    return _canvas(at).key


def canvas_reset(at: AppTest) -> int:
    """How many times the page has blanked the canvas (its initial drawing's nonce)."""
    return json.loads(_canvas(at).proto.json)["initialDrawing"]["nonce"]


def put_drawing(at: AppTest, rgba: np.ndarray, strokes: list[Stroke] | None = None) -> AppTest:
    """Make the canvas report `rgba` (H x W x 4 uint8) as the user's drawing; rerun.

    `strokes` (canvas pixels) become the Fabric paths the canvas reports beside it.
    """
    assert rgba.ndim == 3 and rgba.shape[2] == 4 and rgba.dtype == np.uint8
    png = io.BytesIO()
    Image.fromarray(rgba).save(png, format="PNG")
    return put_canvas_data_url(at, png_data_url(png.getvalue()), strokes)


def png_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def fabric_path(stroke: Stroke) -> dict[str, Any]:
    """A freehand stroke as Fabric.js serialises it: move to the first point, lines on."""
    (x0, y0), rest = stroke[0], stroke[1:]
    return {"type": "Path", "path": [["M", x0, y0], *[["L", x, y] for x, y in rest]]}


def put_canvas_data_url(at: AppTest, data_url: str, strokes: list[Stroke] | None = None) -> AppTest:
    """Make the canvas report `data_url` as is (what a hand-made websocket message could send)."""
    # Without strokes, one bare Fabric path stands for "something was drawn".
    objects = [fabric_path(stroke) for stroke in strokes] if strokes else [{"type": "Path"}]
    at.session_state[canvas_key(at)] = {
        # The nonce says which blank canvas it was drawn on: the current one.
        "drawing": {"raw": {"objects": objects}, "data": data_url, "nonce": canvas_reset(at)},
        "backgroundFit": None,
    }
    return at.run()


def stroke_image(strokes: list[Stroke], width: int = 18) -> np.ndarray:
    """Render stroke paths as the canvas does: white round-capped ink on black, RGBA."""
    image = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=(255, 255, 255, 255), width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            r = width / 2
            pen.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(image)
