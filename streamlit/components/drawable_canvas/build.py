"""Rebuild frontend/ from streamlit-drawable-canvas 0.13.0's installed bundle plus digitlab's patch.

    python streamlit/components/drawable_canvas/build.py [--check]

Each change is an exact text replacement in the upstream build that must match once, so
a different upstream bundle fails loudly instead of being half-patched. `--check` only
says whether frontend/ is what this script would write (the test suite runs it).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

# Located, not imported: importing it registers upstream's component, which needs a runtime.
_spec = importlib.util.find_spec("streamlit_drawable_canvas")
assert _spec is not None and _spec.origin, "streamlit-drawable-canvas==0.13.0 is not installed"
UPSTREAM = Path(_spec.origin).parent / "frontend" / "build"
HERE = Path(__file__).resolve().parent
FRONTEND = HERE / "frontend"
JS_NAME, CSS_NAME = "index-digitlab.js", "index-style.css"

# 1. The drawing goes to Streamlit on pen-up, not 200 ms later: the debouncer gets a
#    flush() and the mouse-up handler calls it (edits and text keep the 200 ms debounce).
JS_PATCHES = [
    (
        """  return s.cancel = () => {
    r !== null && (clearTimeout(r), r = null), i = null;
  }, s;""",
        """  return s.cancel = () => {
    r !== null && (clearTimeout(r), r = null), i = null;
  }, s.flush = () => {
    if (r === null) return;
    clearTimeout(r), r = null;
    const n = i;
    i = null, e(n.value);
  }, s;""",
    ),
    (
        """    cancel: () => r.cancel()
  };""",
        """    cancel: () => r.cancel(),
    flush: () => r.flush()
  };""",
    ),
    (
        """      const u = Ar(h);
      c && h.sender.now(u), at(h);""",
        """      const u = Ar(h);
      c ? h.sender.now(u) : h.sender.flush(), at(h);""",
    ),
    # 3. A blank `initial_drawing` resets the canvas in place, synchronously, and each
    #    send carries the `nonce` of the initial drawing it was drawn on. The app resets
    #    the same canvas for each new digit instead of mounting a new one under a new
    #    key (a remount blanked the page's layout for a moment, and a stroke begun then
    #    hit the text that slid under the pointer), and ignores a drawing whose nonce is
    #    an older one (so this reset sends nothing back: one rerun less per digit).
    #    Upstream also enabled the pen only after an asynchronous loadFromJSON, so a
    #    stroke begun on a just-mounted canvas drew nothing.
    (
        """  if (o !== e.lastInitialDrawingKey) {
    e.lastInitialDrawingKey = o, e.sender.cancel();""",
        """  if (o !== e.lastInitialDrawingKey && !t.initialDrawing.objects?.length) {
    e.lastInitialDrawingKey = o, e.sender.cancel(), ++e.loadGeneration, e.canvas.clear();
    e.canvas.backgroundColor = t.initialDrawing.background ?? "", e.canvas.renderAll();
    const h = e.canvas.toObject(Ht);
    e.history.reset(h), e.pointEdit = null, e.nonce = t.initialDrawing.nonce ?? null;
    Yr(e, t), e.lastToolKey = zi(t, e.editActive);
  } else if (o !== e.lastInitialDrawingKey) {
    e.lastInitialDrawingKey = o, e.sender.cancel();""",
    ),
    (
        """      const h = e.canvas.toObject(Ht);
      e.history.reset(h), e.pointEdit = null;""",
        """      const h = e.canvas.toObject(Ht);
      e.history.reset(h), e.pointEdit = null, e.nonce = t.initialDrawing.nonce ?? null;""",
    ),
    (
        """  e.latest.setStateValue("drawing", {
    raw: t,
    data: r
  });""",
        """  e.latest.setStateValue("drawing", {
    raw: t,
    data: r,
    nonce: e.nonce ?? null
  });""",
    ),
]

# 2. The hover toolbar (undo, redo, delete) always sits above the canvas, and neither
#    its padding nor its hidden buttons catch the pointer: upstream parked the invisible
#    toolbar over the canvas's top-right 30 px, where a pen-down drew nothing.
CSS_PATCHES = [
    (
        ".dc-toolbar{opacity:0;z-index:20;padding:.5rem 0 .5rem .5rem;transition:none;"
        "display:flex;position:absolute;top:-1rem;right:0}"
        ".dc-root:hover>.dc-toolbar,.dc-toolbar:hover,.dc-toolbar:focus-within{opacity:1;"
        "transition:opacity .15s .1s,top .1s .1s;top:-2.65rem}"
        ".dc-toolbar[data-pinned=true]{opacity:1;top:-2.65rem}",
        ".dc-toolbar{opacity:0;z-index:20;padding:.5rem 0 .5rem .5rem;transition:none;"
        "display:flex;position:absolute;top:-2.65rem;right:0;pointer-events:none}"
        ".dc-root:hover>.dc-toolbar,.dc-toolbar:focus-within{opacity:1;"
        "transition:opacity .15s .1s}"
        ".dc-toolbar[data-pinned=true]{opacity:1}"
        ".dc-root:hover>.dc-toolbar .dc-toolbar-card,.dc-toolbar:focus-within .dc-toolbar-card,"
        ".dc-toolbar[data-pinned=true] .dc-toolbar-card{pointer-events:auto}"
        ".dc-toolbar-card{pointer-events:none}",
    ),
]


def patched(text: str, patches: list[tuple[str, str]], name: str) -> str:
    for old, new in patches:
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"{name}: the upstream text to patch occurs {count} times:\n{old}")
        text = text.replace(old, new)
    return text


def build() -> dict[str, str]:
    """The patched frontend files, by name."""
    (js,) = UPSTREAM.glob("index-*.js")
    css = UPSTREAM / "index-style.css"
    return {
        JS_NAME: patched(js.read_text(), JS_PATCHES, js.name),
        CSS_NAME: patched(css.read_text(), CSS_PATCHES, css.name),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [n for n, text in files.items() if (FRONTEND / n).read_text() != text]
        if stale:
            print(f"out of date: {', '.join(stale)}; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    FRONTEND.mkdir(exist_ok=True)
    for name, text in files.items():
        (FRONTEND / name).write_text(text)
    print(f"wrote {', '.join(files)} to {FRONTEND}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
