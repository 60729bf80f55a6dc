"""streamlit-drawable-canvas 0.13.0 with digitlab's patch: its frontend, served from this repo.

Why: upstream sends a drawing 200 ms after pen-up, parks its hidden toolbar over the
canvas's top-right corner, and can only be blanked by a remount. The patched build (what
changed, how to rebuild it) is in `components/drawable_canvas/`; this module registers
it as a Streamlit v2 component and draws it the way upstream's `st_canvas` does, for the
one mode the app uses (freedraw).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

PACKAGE = "digitlab-drawable-canvas"
COMPONENT = f"{PACKAGE}.canvas"
ROOT = Path(__file__).resolve().parent / "components" / "drawable_canvas"


@dataclass(frozen=True)
class CanvasDrawing:
    """What the canvas last sent: Fabric's JSON of the drawing and its PNG as a data URL."""

    json_data: dict[str, Any] | None
    image_data_url: str | None

    @property
    def image_bytes(self) -> bytes | None:
        """The PNG; ValueError when the data URL is not base64."""
        if self.image_data_url is None:
            return None
        _, encoded = self.image_data_url.split(";base64,", 1)
        return base64.b64decode(encoded, validate=True)

    @property
    def strokes(self) -> list[list[list[float]]]:
        """Each freehand path as a list of [x, y] in canvas pixels (Fabric's path commands)."""
        objects = (self.json_data or {}).get("objects", [])
        return [points for obj in objects if (points := _path_points(obj))]


def _path_points(obj: Any) -> list[list[float]]:
    """The points a Fabric path passes through: each command's last coordinate pair."""
    if not isinstance(obj, dict) or obj.get("type", "").lower() != "path":
        return []
    points = []
    for command in obj.get("path") or []:
        if isinstance(command, list) and len(command) >= 3:
            x, y = command[-2], command[-1]
            if isinstance(x, int | float) and isinstance(y, int | float):
                points.append([float(x), float(y)])
    return points


def _component() -> Any:
    """Register the vendored build with this runtime's component manager (once per manager)."""
    manager = get_bidi_component_manager()
    if manager.get_component_asset_root(COMPONENT) is None:
        manifest = ComponentManifest(
            name=PACKAGE,
            version="0.13.0+digitlab.1",
            components=[ComponentConfig(name="canvas", asset_dir="frontend")],
        )
        manager.register_from_manifest(manifest, ROOT)
    return st.components.v2.component(
        COMPONENT,
        js="index-*.js",
        css="index-*.css",
        html='<div class="canvas-root"></div>',
        isolate_styles=True,
    )


def st_canvas(
    *, stroke_width: int, stroke_color: str, background_color: str, size: int, key: str, reset: int
) -> CanvasDrawing:
    """A square freehand canvas that sends its PNG and JSON to Streamlit on every pen-up.

    A new `reset` number blanks the canvas in place (no remount: the page does not
    move under the pen). What was drawn before the last reset reads as blank, even
    when the browser sends it after the reset was decided; so does a canvas whose
    toolbar reset or undo left nothing on it.
    """
    blank = {"objects": [], "background": background_color, "nonce": reset}
    data = {
        "fillColor": "#eee",
        "strokeWidth": stroke_width,
        "strokeColor": stroke_color,
        "backgroundColor": background_color,
        "backgroundImageURL": None,
        "realtimeUpdateStreamlit": True,
        "canvasWidth": size,
        "canvasHeight": size,
        "drawingMode": "freedraw",
        "initialDrawing": blank,
        "displayRadius": 3,
        "returnImageData": True,
        "disabled": False,
        "backgroundImageFit": "stretch",
        "maxDisplayHeight": None,
        "fontSize": 20,
        "label": "",
    }
    result = _component()(
        data=data,
        key=key,
        default={"drawing": {"raw": blank, "data": None}, "backgroundFit": None},
        on_drawing_change=lambda: None,
        on_backgroundFit_change=lambda: None,
        width="content",
        height="content",
    )
    drawing = result.get("drawing") or {}
    raw = drawing.get("raw")
    drawn = isinstance(raw, dict) and bool(raw.get("objects"))
    if drawing.get("nonce") != reset or not drawn:  # older than the reset, or blank
        return CanvasDrawing(json_data=None, image_data_url=None)
    return CanvasDrawing(json_data=raw, image_data_url=drawing.get("data"))
