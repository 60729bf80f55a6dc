"""Synthetic "people" for the learning-loop tests and benchmark: each one a writing style.

Not `model.handwriting`'s people: the default model trained on those and reads them
almost perfectly, which would leave a fine-tune nothing to learn. These were written
before it, with their own templates, and the default model still misreads a few
digits in a hundred of them. A person is a seed that fixes, for every digit, a
template (often one of the world's forms MNIST hardly holds: a crossed seven, a
continental one, an open four in one stroke, a nine with a small loop and a long
tail, a six with a tiny loop), a slant, an aspect and a brush. Their drawings come
as `LabelledDrawings`, strokes and canvas size included, rendered as the app's 280 x
280 canvas holds them and passed through `canvas_to_mnist`, so held-out people are
just other seeds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from model.finetune import LabelledDrawings
from model.preprocess import canvas_to_mnist
from model.strokes import (
    CANVAS_SIDE,
    DIGIT_TEMPLATES,
    Stroke,
    arc,
    jitter,
    line,
    place,
    render_strokes,
)

# Forms that real people outside MNIST's writers use, as unit-box strokes (y down).
# fmt: off
WORLD_TEMPLATES: dict[int, list[list[Stroke]]] = {
    1: [[line((0.0, 0.45), (0.62, 0.0), (0.62, 1.0))],  # continental: a long entry flag
        [line((0.0, 0.3), (0.7, 0.0), (0.55, 1.0))]],
    4: [[line((0.45, 0.0), (0.05, 0.6), (1.0, 0.6)), line((0.8, 0.25), (0.8, 1.0))],  # open
        [line((0.35, 0.0), (0.1, 0.55), (0.9, 0.55), (0.75, 0.2), (0.72, 1.0))]],
    6: [[np.concatenate([line((0.8, 0.0), (0.3, 0.75)), arc(0.45, 0.87, 0.15, 0.12, 180, -180)])]],
    7: [[line((0.05, 0.05), (0.95, 0.05), (0.45, 1.0)), line((0.2, 0.52), (0.95, 0.52))],
        [np.concatenate([line((0.05, 0.1), (0.9, 0.05)), arc(-0.3, 0.05, 1.2, 0.95, 0, 90)]),
         line((0.25, 0.5), (0.9, 0.5))]],  # crossed, straight or curved stem
    9: [[np.concatenate([arc(0.55, 0.15, 0.3, 0.15, 0, -360), line((0.85, 0.15), (0.8, 1.0))])],
        [np.concatenate([arc(0.5, 0.14, 0.28, 0.14, 0, -360),
                         line((0.78, 0.15), (0.75, 0.85), (0.5, 1.0), (0.3, 0.9))])]],
}
# fmt: on


def person_style(person: int) -> dict:
    """What one person's hand does: a template per digit, slant, aspect, size, brush."""
    rng = np.random.default_rng([20_261_126, person])
    templates = {}
    for digit, styles in DIGIT_TEMPLATES.items():
        world = WORLD_TEMPLATES.get(digit, [])
        if world and rng.random() < 0.7:
            templates[digit] = world[int(rng.integers(len(world)))]
        else:
            templates[digit] = styles[sorted(styles)[int(rng.integers(len(styles)))]]
    return {
        "templates": templates,
        "slant": float(rng.uniform(-0.3, 0.3)),
        "aspect": float(rng.uniform(0.5, 0.8)),
        "height": float(rng.uniform(0.5, 0.8)),
        "brush": float(rng.uniform(14, 26)),
    }


def person_strokes(style: dict, digit: int, rng: np.random.Generator) -> list[Stroke]:
    """Canvas-pixel strokes of one `digit` in `style`, varied a little per drawing."""
    slant = np.array([[1.0, style["slant"]], [0.0, 1.0]])
    strokes = [(s - 0.5) @ slant.T + 0.5 for s in style["templates"][digit]]
    height = style["height"] * rng.uniform(0.9, 1.1)
    room = max(0.0, 0.85 - height) / 2
    centre = (0.5 + rng.uniform(-room, room), 0.5 + rng.uniform(-room, room))
    return place(
        jitter(strokes, rng, rotation=5, shear=0.05),
        size=CANVAS_SIDE,
        height=height,
        aspect=style["aspect"],
        centre=centre,
    )


def people_drawings(people: range | list[int], per_digit: int, seed: int = 0) -> LabelledDrawings:
    """`per_digit` drawings of every digit by each person, as the app stores them."""
    rng = np.random.default_rng(seed)
    images, labels, who, strokes, created = [], [], [], [], []
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for person in people:
        style = person_style(person)
        for digit in range(10):
            for _ in range(per_digit):
                paths = person_strokes(style, digit, rng)
                canvas = render_strokes(paths, CANVAS_SIDE, style["brush"] * rng.uniform(0.9, 1.1))
                form = canvas_to_mnist(canvas)
                if form is None:
                    continue
                images.append(form)
                labels.append(digit)
                who.append(f"person-{person}")
                strokes.append([np.round(p, 1).tolist() for p in paths])
                created.append(start + timedelta(minutes=len(created)))
    return LabelledDrawings(
        images=np.stack(images),
        labels=np.array(labels, dtype=np.int64),
        people=who,
        strokes=strokes,
        canvas_sizes=[(CANVAS_SIDE, CANVAS_SIDE)] * len(labels),
        created_at=created,
    )
