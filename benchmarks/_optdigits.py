"""Real handwriting that can be published beside the proxy: scikit-learn's optdigits.

1,797 digits written on paper by 13 people (UCI's optdigits test set, Alpaydin and
Kaynak, Bogazici University), kept only as 8 x 8 counts of ink in 4 x 4 blocks of a
32 x 32 bitmap. Drawn large on a canvas they reach the model through `canvas_to_mnist`
like any picture. So coarse a grid costs accuracy of its own: digits brought to the
same 8 x 8 form (`at_optdigits_resolution`) say how much, so that what is left is style.

The file keeps each writer's form in order, so `forms` tells whose digit is whose.
Forms below `LOOKED_AT` may be looked at to design styles; the others are only
measured, so that a style drawn from the first is checked on writers never seen.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from model.handwriting import CANVAS
from model.preprocess import canvas_to_mnist

GRID, BLOCK = 8, 4  # 8 x 8 cells of 4 x 4 pixels of a 32 x 32 bitmap
DRAWN_SIDE = 200  # px: the 8 x 8 digit drawn this large on the app's canvas
# Every form asks for the ten digits in order three times, then 100 in one fixed
# shuffled order, which begins with these (digits left blank are not in the file).
FORM_OPENING, SHUFFLED_START = 30, "0955650989"
LOOKED_AT = 7  # forms 0-6 may be looked at; 7 and up are only measured


def optdigits() -> tuple[np.ndarray, np.ndarray]:
    """(N x 8 x 8 ink counts 0-16, labels): the 13 writers' digits."""
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    return digits.images, digits.target.astype(np.int64)


def real_writers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """optdigits brought to MNIST's form once: (images, labels, the form of each)."""
    counts, labels = optdigits()
    images, kept = in_mnist_form(counts)
    return images, labels[kept], forms(labels)[kept]


def forms(labels: np.ndarray) -> np.ndarray:
    """The form each digit was written on (0, 1, ...), in the file's order. There are 14
    for UCI's 13 writers: a form is as close to a person as the file tells."""
    written = "".join(map(str, labels))
    form = np.zeros(len(labels), dtype=np.int64)
    for index, shuffled in enumerate(re.finditer(SHUFFLED_START, written)):
        if index:
            form[_opening(labels, shuffled.start()) :] = index
    return form


def _opening(labels: np.ndarray, shuffled_start: int) -> int:
    """Where a form begins: its ordered opening before `shuffled_start`, less any blanks."""
    start = max(0, shuffled_start - FORM_OPENING)
    while any((labels[start + step] - labels[start]) % 10 != step for step in (1, 2)):
        start += 1
    return start


def halves(form: np.ndarray) -> dict[str, np.ndarray]:
    """{name: which digits} for the forms that may be looked at and the others."""
    looked = form < LOOKED_AT
    return {
        f"forms 0-{LOOKED_AT - 1} (looked at)": looked,
        f"forms {LOOKED_AT}-{form.max()} (never looked at)": ~looked,
    }


def at_optdigits_resolution(images: np.ndarray) -> np.ndarray:
    """MNIST-form digits (N x 28 x 28 uint8) as optdigits keeps its own: the ink's box
    scaled to 32 px on its longer side, made black and white, ink counted per block."""
    side = GRID * BLOCK
    counts = np.zeros((len(images), GRID, GRID))
    for i, image in enumerate(images):
        rows, cols = np.flatnonzero(image.max(1) > 64), np.flatnonzero(image.max(0) > 64)
        box = Image.fromarray(image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
        scale = side / max(box.size)
        size = (max(1, round(box.width * scale)), max(1, round(box.height * scale)))
        ink = np.asarray(box.resize(size, Image.Resampling.BILINEAR)) > 127
        bitmap = np.zeros((side, side), dtype=bool)
        top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
        bitmap[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
        counts[i] = bitmap.reshape(GRID, BLOCK, GRID, BLOCK).sum(axis=(1, 3))
    return counts


def in_mnist_form(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8 x 8 ink counts drawn large on a canvas (bicubic) and brought to MNIST's form by
    `canvas_to_mnist`: (images, the index of each in `counts`), any found empty left out."""
    start = (CANVAS - DRAWN_SIDE) // 2
    images, kept = [], []
    for index, count in enumerate(counts):
        grey = Image.fromarray(np.clip(count / (BLOCK * BLOCK) * 255, 0, 255).astype(np.uint8))
        canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
        canvas[start : start + DRAWN_SIDE, start : start + DRAWN_SIDE] = grey.resize(
            (DRAWN_SIDE, DRAWN_SIDE), Image.Resampling.BICUBIC
        )
        form = canvas_to_mnist(canvas)
        if form is not None:
            images.append(form)
            kept.append(index)
    return np.stack(images), np.array(kept, dtype=np.int64)
