"""People's handwriting: digits drawn on the app's canvas in the world's writing styles.

MNIST holds American forms; people elsewhere cross their sevens, give their ones a
long entry flag, draw fours open in one stroke and nines with a small loop and a
long tail. This module stands in for those people. A `Person` is a seeded set of
style habits: which variant of each digit they write, how large its loops are, how
long its flags and tails, their slant, aspect, size and place on the canvas, their
brush, how shaky their mouse or finger is, how fast they write and how often their
device records the pen: a slow recorder keeps a few points of a tiny loop.
`draw_digit` paints one digit as the app's canvas holds it (the canvas's curves
through the recorded points, a white round brush on a transparent 280 x 280
canvas); `style_digits` draws many people's digits through
`canvas_to_mnist`, in parallel and cached on disk.

Training people and held-out people come from separate seed streams (`GROUPS`):
no draw of a held-out person's habits is shared with any training person, so a
model trained on one group and measured on the other meets strangers. Held-out
people still write the training vocabulary of variants; "held-out-styles" people
also write variants no training person can draw (`NOVEL_VARIANT_WEIGHTS`),
digits narrower or wider than any training person's, and on devices that record the
pen more slowly: they stand in for real users, who draw styles nobody thought of.

Template coordinates are (x, y) in a unit box, y pointing down, as in `model.strokes`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import astuple, dataclass, replace
from multiprocessing import get_context
from os import cpu_count
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from model.card import atomic_file
from model.preprocess import canvas_to_mnist
from model.strokes import CANVAS_SIDE, Stroke, arc, canvas_path, join, line, render_strokes
from settings import get_settings

# Seed streams of the two groups of people; a person's habits come from (group, index).
GROUPS = {"train": 7001, "held-out": 9002, "held-out-styles": 9103}


@dataclass(frozen=True)
class Shape:
    """A person's shape habits, in shares of the digit's height or width."""

    loop: float  # loop height of a 6 or 9 (small loops are continental)
    tail_hook: float  # how far a 9's tail curls back to the left (0: straight)
    flag: float  # length of a 1's entry flag
    crossbar: float  # width of a 7's crossbar
    arm_gap: float  # how far an open 4's arm stays from its stem
    retrace: float  # gap between up and down strokes retraced in one go
    curl: float = 0.0  # how much a 7's top bows up, as a 2's would
    stem_top: float = 0.0  # how far down a low-stem 4's stem starts


# --- the styles: digit -> variant -> strokes for a Shape --------------------------


def _zero(s: Shape) -> dict[str, list[Stroke]]:
    oval = arc(0.5, 0.5, 0.45, 0.5, -100, 280)
    return {
        "oval": [oval],
        "clockwise": [oval[::-1]],
        "slashed": [oval, line((0.2, 0.95), (0.8, 0.05))],
        "overshoot": [join(arc(0.5, 0.5, 0.45, 0.5, -60, 300), line((0.75, 0.1)))],
        "square": [line((0.12, 0.04), (0.88, 0.04), (0.9, 0.96), (0.1, 0.96), (0.12, 0.02))],
    }


def _one(s: Shape) -> dict[str, list[Stroke]]:
    entry = (0.55 - 0.8 * s.flag, 0.7 * s.flag)
    return {
        "bar": [line((0.5, 0.0), (0.5, 1.0))],
        "flag": [line(entry, (0.6, 0.0), (0.55, 1.0))],
        "flag-base": [line(entry, (0.6, 0.0), (0.55, 1.0)), line((0.2, 1.0), (0.9, 1.0))],
        "serif-foot": [line((0.5, 0.0), (0.5, 1.0)), line((0.25, 1.0), (0.75, 1.0))],
        # A flag reaching half-way down: the one that real users' sevens are made of.
        "steep-flag": [line((0.05, 0.35 + 0.3 * s.flag), (0.62, 0.0), (0.58, 1.0))],
    }


def _two(s: Shape) -> dict[str, list[Stroke]]:
    top = arc(0.5, 0.28, 0.42, 0.28, 190, 400)
    loop = 0.08 + 0.15 * s.loop
    return {
        "curved": [join(top, line((0.05, 1.0), (0.95, 1.0)))],
        "looped": [
            join(
                top,
                line((0.15, 0.95 - loop)),
                arc(0.2, 1.0 - loop, loop, loop, -90, 270),
                line((0.95, 0.98)),
            )
        ],
        "angular": [
            line((0.1, 0.25), (0.4, 0.02), (0.8, 0.1), (0.85, 0.3), (0.1, 1.0), (0.95, 0.98))
        ],
        "z-shape": [line((0.08, 0.04), (0.92, 0.04), (0.08, 0.98), (0.95, 0.98))],
    }


def _three(s: Shape) -> dict[str, list[Stroke]]:
    return {
        "round": [join(arc(0.5, 0.25, 0.42, 0.25, 200, 450), arc(0.5, 0.74, 0.45, 0.26, -90, 160))],
        "flat-top": [
            join(line((0.1, 0.02), (0.9, 0.02), (0.4, 0.42)), arc(0.5, 0.7, 0.45, 0.3, -100, 160))
        ],
        "pointed": [
            join(
                arc(0.45, 0.24, 0.45, 0.24, 200, 420),
                line((0.35, 0.5)),
                arc(0.45, 0.74, 0.5, 0.26, -110, 160),
            )
        ],
        # Two bowls, each its own stroke, not touching: a 3 of two mirrored c's.
        "open-bowls": [
            arc(0.45, 0.22, 0.38, 0.22, 210, 440),
            arc(0.45, 0.72, 0.45, 0.27, -80, 160),
        ],
        "small-top": [
            join(arc(0.55, 0.15, 0.28, 0.15, 200, 450), arc(0.5, 0.62, 0.45, 0.37, -90, 160))
        ],
    }


def _four(s: Shape) -> dict[str, list[Stroke]]:
    """Open fours keep their arm `arm_gap` away from the stem's top; closed ones meet it."""
    t = np.linspace(0, 1, 12)[:, None]
    stem_x, bar_y = 0.7, 0.62
    arm_top = (0.28 - 0.5 * s.arm_gap, 0.0)
    down_across = [arm_top, (0.1 + 0.2 * s.arm_gap, bar_y), (stem_x, bar_y)]
    return {
        "closed": [line((stem_x, 1.0), (stem_x, 0.0), (0.02, bar_y), (0.98, bar_y))],
        "closed-two-stroke": [
            line((stem_x, 0.0), (0.02, bar_y), (0.98, bar_y)),
            line((stem_x, 0.0), (stem_x, 1.0)),
        ],
        "open": [line(*down_across, (0.98, bar_y)), line((stem_x, 0.05), (stem_x, 1.0))],
        "open-one-stroke": [
            join(
                line(*down_across[:2]),
                arc(stem_x - 0.15, bar_y - 0.15, 0.15, 0.15, 90, 0),
                line((stem_x + s.retrace, 0.02), (stem_x - 0.2 * s.retrace, 1.0)),
            )
        ],
        # One stroke: down, across, up the stem and back down beside it (a narrow loop),
        # its foot curling left.
        "looped-stem": [
            join(
                line(*down_across[:2], (stem_x, bar_y), (stem_x + 0.1 + s.retrace, 0.02)),
                line((stem_x - 0.02, 0.1), (stem_x - 0.05, 0.85)),
                arc(stem_x - 0.2, 0.85, 0.15, 0.15, 0, 150),
            )
        ],
        # An upright arm down to a low crossbar, and a short slanted stem begun well below
        # the arm's top, close to it: a small closed corner that reads as a 6's loop.
        # Common in real people's writing (README "Models"); MNIST's fours rarely do it.
        "low-stem": [
            line((0.05 + 0.3 * s.arm_gap, 0.0), (0.08, 0.72), (0.75, 0.72)),
            line((0.6, s.stem_top), (0.45, 1.0)),
        ],
        # The arm bowed like a 6's back into a low bar, the short stem begun below its top.
        "curved-arm": [
            join(_bezier(t, (0.5, 0.0), (-0.05, 0.45), (0.2, 0.72)), line((0.92, 0.7))),
            line((0.66, s.stem_top), (0.58, 1.0)),
        ],
        # Arm and stem apart, then a horizontal drawn last crossing both.
        "crossed-bar": [
            line(arm_top, (0.12 + 0.2 * s.arm_gap, bar_y - 0.08)),
            line((stem_x, 0.0), (stem_x - 0.05, 1.0)),
            line((0.0, bar_y), (1.0, bar_y - 0.04)),
        ],
    }


def _five(s: Shape) -> dict[str, list[Stroke]]:
    belly = arc(0.5, 0.68, 0.42, 0.3, -150, 150)
    return {
        "two-stroke": [
            join(line((0.25, 0.02), (0.15, 0.45)), belly),
            line((0.25, 0.02), (0.9, 0.02)),
        ],
        "one-stroke": [join(line((0.9, 0.02), (0.25, 0.02), (0.15, 0.45)), belly)],
        # The flag first, detached from the stem.
        "flag-first": [
            line((0.38, 0.0), (0.95, 0.04)),
            join(line((0.22, 0.06), (0.15, 0.45)), belly),
        ],
    }


def _six(s: Shape) -> dict[str, list[Stroke]]:
    loop = 0.15 + 0.45 * s.loop  # height of the loop, of the digit's height
    ry, cy = loop / 2, 1.0 - loop / 2
    rx = 0.15 + 0.3 * s.loop
    return {
        "curved": [
            join(arc(0.85, 0.7, 0.75, 0.68, -100, -180), arc(0.5, 0.72, 0.4, 0.27, 180, -180))
        ],
        "straight": [join(line((0.7, 0.0), (0.15, 0.65)), arc(0.5, 0.72, 0.36, 0.27, 200, -160))],
        "tiny-loop": [
            join(
                arc(0.5 + rx + 0.2, cy, rx + 0.2 + 0.1, cy, -100, -180),
                arc(0.5, cy, rx, ry, 180, -180),
            )
        ],
        # A straight stick down to a tiny loop at its foot.
        "stick-tiny-loop": [
            join(line((0.75, 0.0), (0.5 - rx, cy)), arc(0.5, cy, rx, ry, 180, -180))
        ],
    }


def _seven(s: Shape) -> dict[str, list[Stroke]]:
    """The crossbar crosses the stem (a curved line from (0.95, 0.05) to (0.42, 1))."""
    t = np.linspace(0, 1, 12)[:, None]
    stem = _bezier(t, (0.95, 0.05), (0.55, 0.35), (0.42, 1.0))
    top = _bezier(t, (0.05, 0.05 + 0.25 * s.curl), (0.5, -0.15 * s.curl), (0.95, 0.05))
    bar_y = 0.55 + 0.25 * s.arm_gap / 0.4  # people who cross low make it look like a 2's base
    mid = float(np.interp(bar_y, stem[:, 1], stem[:, 0]))
    bar = line((mid - 0.6 * s.crossbar, bar_y + 0.02), (mid + 0.4 * s.crossbar, bar_y - 0.02))
    curved = join(_bezier(t, (0.95, 0.05), (0.25, 0.45), (0.45, 0.92)), line((0.65, 1.0)))
    curved_mid = float(np.interp(bar_y, curved[:, 1], curved[:, 0]))
    curved_bar = line(
        (curved_mid - 0.5 * s.crossbar, bar_y), (curved_mid + 0.5 * s.crossbar, bar_y)
    )
    return {
        "plain": [line((0.05, 0.05), (0.95, 0.05), (0.35, 1.0))],
        "crossbar": [join(top, stem), bar],
        "hooked": [line((0.05, 0.22), (0.1, 0.05), (0.95, 0.05), (0.4, 1.0))],
        "hooked-crossbar": [join(line((0.05, 0.22)), top, stem), bar],
        # A stem bowed like a reversed c with a flick to the right at its foot, crossed;
        # a plain one with a wavy top.
        "curved-stem-crossed": [join(line((0.05, 0.05)), curved), curved_bar],
        "wavy-top": [join(_wave(t), _bezier(t, (0.95, 0.08), (0.45, 0.45), (0.45, 1.0)))],
    }


def _bezier(t: np.ndarray, a: tuple, b: tuple, c: tuple) -> Stroke:
    return (1 - t) ** 2 * np.array(a) + 2 * t * (1 - t) * np.array(b) + t**2 * np.array(c)


def _wave(t: np.ndarray) -> Stroke:
    """A 7's top drawn as a wave from (0.05, 0.1) to (0.95, 0.08)."""
    x = 0.05 + 0.9 * t[:, 0]
    return np.stack([x, 0.09 + 0.06 * np.sin(2 * np.pi * t[:, 0])], axis=1)


def _eight(s: Shape) -> dict[str, list[Stroke]]:
    t = np.linspace(0, 2 * np.pi, 80)
    figure = np.stack([0.5 + 0.42 * np.sin(2 * t) / 1.2, 0.5 - 0.5 * np.cos(t)], axis=1)
    return {
        "crossing": [figure],
        "two-loops": [
            join(arc(0.5, 0.26, 0.32, 0.25, 90, 450), arc(0.5, 0.74, 0.42, 0.26, -90, 270))
        ],
        "stacked": [arc(0.5, 0.25, 0.33, 0.25, 0, 360), arc(0.5, 0.75, 0.42, 0.25, -90, 270)],
        # A small head on a large body, the body first.
        "snowman": [arc(0.5, 0.68, 0.45, 0.32, 90, 450), arc(0.55, 0.18, 0.22, 0.18, 90, 450)],
        "two-halves": [figure[:41], figure[40:]],  # an S, then the stroke back up that closes it
    }


def _nine(s: Shape) -> dict[str, list[Stroke]]:
    """Loop counter-clockwise from its right side, then the tail down, in one stroke."""
    loop = 0.2 + 0.4 * s.loop  # of the height: small loops leave a long tail
    rx, ry = 0.22 + 0.2 * s.loop, loop / 2
    right = 0.5 + rx
    ring = arc(0.5, ry, rx, ry, -10, -300 - 60 * s.loop)  # fast hands leave it open
    hook = s.tail_hook
    tiny_rx, tiny_ry = 0.1 + 0.12 * s.loop, 0.08 + 0.08 * s.loop
    tail = join(
        line((right, ry), (right - 0.02, 0.95 - 0.4 * hook)),
        arc(
            right - 0.3 * hook - 0.1, 0.95 - 0.4 * hook, 0.3 * hook + 0.1, 0.4 * hook + 0.05, 0, 150
        ),
    )
    return {
        "round": [join(arc(0.5, 0.3, 0.4, 0.28, 0, -360), line((0.88, 1.0)))],
        "straight-tail": [join(ring, line((right, ry), (right - 0.1, 1.0)))],
        "hooked-tail": [join(ring, tail)],
        "curved-tail": [join(ring, arc(right - 0.35, ry, 0.35, 1.0 - ry, 0, 110))],
        # The loop begun at its left and never closed: a curl over the top, then the tail.
        "open-loop": [join(arc(0.5, ry, rx, ry, 120, 360), tail)],
        # A closed circle, then a straight stick beside it as a second stroke.
        "circle-stick": [
            arc(0.45, ry, rx, ry, 0, 360),
            line((right - 0.02, 0.02), (right - 0.08, 1.0)),
        ],
        # A tiny loop, the tail straight down its right, then a long flat foot back left.
        "flat-foot": [
            join(
                arc(0.38, tiny_ry, tiny_rx, tiny_ry, -10, -340),
                line((0.38 + tiny_rx, tiny_ry), (0.72, 0.78)),
                arc(0.55, 0.78, 0.17, 0.18, 0, 90),
                line((0.3 - 0.3 * hook, 0.96)),
            )
        ],
        # A small loop left open at its left, its tail sweeping back left under it, as a g's.
        "g-tail": [
            join(
                arc(0.5, ry, rx, ry, 100, 360),
                line((right, 0.7)),
                arc(right - 0.3, 0.7, 0.3, 0.3, 0, 160),
            )
        ],
    }


STYLES: dict[int, Callable[[Shape], dict[str, list[Stroke]]]] = {
    0: _zero, 1: _one, 2: _two, 3: _three, 4: _four,
    5: _five, 6: _six, 7: _seven, 8: _eight, 9: _nine,
}  # fmt: skip

# How often people write each variant (a person keeps to one per digit).
VARIANT_WEIGHTS: dict[int, dict[str, float]] = {
    0: {"oval": 4, "clockwise": 2, "slashed": 1, "overshoot": 2},
    1: {"bar": 4, "flag": 5, "flag-base": 2},
    2: {"curved": 4, "looped": 3, "angular": 2},
    3: {"round": 5, "flat-top": 2, "pointed": 2},
    4: {"closed": 3, "closed-two-stroke": 2, "open": 3, "open-one-stroke": 3, "low-stem": 3},
    5: {"two-stroke": 3, "one-stroke": 2},
    6: {"curved": 3, "straight": 2, "tiny-loop": 4},
    7: {"plain": 3, "crossbar": 4, "hooked": 1, "hooked-crossbar": 2},
    8: {"crossing": 3, "two-loops": 3, "stacked": 1},
    9: {"round": 3, "straight-tail": 3, "hooked-tail": 3, "curved-tail": 2, "open-loop": 1},
}


# Variants that only "held-out-styles" people write: training never sees them.
NOVEL_VARIANT_WEIGHTS: dict[int, dict[str, float]] = {
    0: {"square": 1},
    1: {"serif-foot": 1, "steep-flag": 1},
    2: {"z-shape": 1},
    3: {"open-bowls": 1, "small-top": 1},
    4: {"crossed-bar": 1, "looped-stem": 1},
    5: {"flag-first": 1},
    6: {"stick-tiny-loop": 1},
    7: {"curved-stem-crossed": 2, "wavy-top": 1},
    8: {"snowman": 1, "two-halves": 1},
    9: {"circle-stick": 1, "g-tail": 1},
}
# Variants nobody writes yet: candidates measured against real writers before joining
# a vocabulary (`benchmarks/style_ab.py`), modelled on optdigits' forms looked at.
CANDIDATE_VARIANTS: dict[int, tuple[str, ...]] = {4: ("curved-arm",), 9: ("flat-foot",)}
# Share of digits for which a "held-out-styles" person keeps a novel variant.
NOVEL_SHARE = 0.5
# Width / height of training people's digits; held-out-styles people go beyond it.
TRAINING_ASPECT = (0.35, 0.85)
# Time between recorded points, ms (log-uniform): training people draw with pointers
# (120-40 Hz); held-out-styles people also on slow recorders, down to a 10 Hz tablet.
TRAINING_SAMPLE_MS = (8.0, 25.0)
HELD_OUT_STYLES_SAMPLE_MS = (8.0, 110.0)
# Writing speed along straight parts, digit heights per second.
SPEED = (2.0, 6.0)


def variants(digit: int, group: str = "train") -> list[str]:
    """The variants of `digit` that people of `group` may draw."""
    novel = list(NOVEL_VARIANT_WEIGHTS[digit]) if group == "held-out-styles" else []
    return list(VARIANT_WEIGHTS[digit]) + novel


def digit_strokes(digit: int, variant: str, shape: Shape) -> list[Stroke]:
    """Unit-box strokes of one variant of a digit for a person's shape habits."""
    drawn = STYLES[digit](shape)
    if variant not in drawn:
        raise ValueError(f"digit {digit} has no variant {variant!r}; one of: {', '.join(drawn)}")
    return drawn[variant]


# --- people -----------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A writer: their variant of each digit and their habits (all drawn from one seed)."""

    group: str
    index: int
    variants: tuple[str, ...]  # one per digit 0-9
    shape: Shape
    slant: float  # shear: x moves by slant * (0.5 - y)
    rotation: float  # degrees
    aspect: float  # width / height
    height: float  # digit height, share of the canvas
    brush: float  # px
    finger: bool  # finger (shakier) or mouse
    wobble: float  # slow drift of the hand, px
    tremor: float  # point-to-point noise, px
    sample_ms: float  # time between the points the device records
    speed: float  # digit heights per second along straight parts (slower in curves)

    def style_values(self) -> tuple[float, ...]:
        """Every continuous habit (for checking that two people share none)."""
        return (
            *astuple(self.shape),
            self.slant,
            self.rotation,
            self.aspect,
            self.height,
            self.brush,
            self.wobble,
            self.tremor,
            self.sample_ms,
            self.speed,
        )


def _pick(weights: dict[str, float], rng: np.random.Generator) -> str:
    names, shares = zip(*weights.items(), strict=True)
    return str(rng.choice(names, p=np.array(shares) / sum(shares)))


def _aspect(group: str, rng: np.random.Generator) -> float:
    """Training people's width / height; held-out-styles people, a third of them wider."""
    aspect = float(rng.uniform(*TRAINING_ASPECT))
    if group == "held-out-styles" and rng.random() < 1 / 3:
        aspect = float(rng.uniform(TRAINING_ASPECT[1], 1.05))
    return aspect


def _sample_ms(group: str, rng: np.random.Generator) -> float:
    """Time between the points a person's device records (one draw, whatever the group)."""
    span = HELD_OUT_STYLES_SAMPLE_MS if group == "held-out-styles" else TRAINING_SAMPLE_MS
    return float(np.exp(rng.uniform(*np.log(span))))


def person(group: str, index: int) -> Person:
    """Person `index` of `group` (one of `GROUPS`): the same every time."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    rng = np.random.default_rng([GROUPS[group], index])
    chosen = [_pick(VARIANT_WEIGHTS[digit], rng) for digit in range(10)]
    if group == "held-out-styles":
        novel = rng.random(10) < NOVEL_SHARE
        chosen = [
            _pick(NOVEL_VARIANT_WEIGHTS[d], rng) if novel[d] else chosen[d] for d in range(10)
        ]
    shape = Shape(
        *rng.uniform(0, 1, 2),
        *rng.uniform([0.25, 0.5, 0.05, 0.02], [0.6, 1.0, 0.4, 0.08]),
        curl=float(rng.uniform(0, 1)),
    )
    finger = bool(rng.random() < 0.4)
    who = Person(
        group=group,
        index=index,
        variants=tuple(chosen),
        shape=shape,
        slant=float(rng.normal(0.1, 0.15)),
        rotation=float(rng.normal(0, 5)),
        aspect=_aspect(group, rng),
        height=float(rng.uniform(0.45, 0.85)),
        brush=float(rng.uniform(14, 26)),
        finger=finger,
        wobble=float(rng.uniform(1, 6) * (1.8 if finger else 1)),
        tremor=float(rng.uniform(0.2, 1.5) * (1.5 if finger else 1)),
        sample_ms=_sample_ms(group, rng),
        speed=1.0,
    )
    # Drawn last, so that adding these habits left every earlier one as it was.
    shape = replace(shape, stem_top=float(rng.uniform(0.3, 0.5)))
    return replace(who, shape=shape, speed=float(rng.uniform(*SPEED)))


def people(group: str, count: int, start: int = 0) -> list[Person]:
    return [person(group, i) for i in range(start, start + count)]


# --- drawing ----------------------------------------------------------------------


def _vary(shape: Shape, rng: np.random.Generator) -> Shape:
    """This drawing's shape: the person's habits, give or take a little."""
    values = np.array(astuple(shape))
    return Shape(*np.clip(values * rng.uniform(0.85, 1.15, len(values)), 0, 1))


def drawn_variant(who: Person, digit: int, rng: np.random.Generator) -> str:
    """This drawing's variant: mostly the person's own, now and then another of their group's."""
    if rng.random() < 0.9:
        return who.variants[digit]
    return str(rng.choice(variants(digit, who.group)))


def pen_paths(who: Person, digit: int, rng: np.random.Generator) -> list[Stroke]:
    """Canvas-pixel points of one drawing of `digit` by `who`, as the browser records them."""
    strokes = digit_strokes(digit, drawn_variant(who, digit, rng), _vary(who.shape, rng))
    if len(strokes) > 1 and rng.random() < 0.3:  # another stroke order
        strokes = strokes[::-1]
    height = float(np.clip(who.height * rng.uniform(0.9, 1.1), 0.45, 0.85)) * CANVAS_SIDE
    aspect = who.aspect * rng.uniform(0.9, 1.1)
    angle = np.radians(who.rotation + rng.normal(0, 3))
    slant = who.slant + rng.normal(0, 0.05)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, -slant], [0, 1]]) * height
    placed = [(np.asarray(s) - 0.5) @ matrix.T for s in strokes]
    margin = who.brush / 2 + 3 * (who.wobble + who.tremor) + 2
    low, high = np.min([p.min(0) for p in placed], 0), np.max([p.max(0) for p in placed], 0)
    fits = min(1.0, 0.999 * float((CANVAS_SIDE - 2 * margin) / (high - low).max()))  # too wide
    placed = [p * fits for p in placed]
    centre = rng.uniform(margin - low * fits, CANVAS_SIDE - margin - high * fits)
    speed = who.speed * rng.uniform(0.8, 1.2) * height  # px per second
    return [_sampled(p + centre, who, speed, height, rng) for p in placed]


def _recorded_times(stroke: Stroke, speed: float, height: float) -> tuple[Stroke, np.ndarray]:
    """The stroke every pixel, and when the pen passes each point: `speed` px/s on
    straight parts, slower in curves (speed ~ curvature^-1/3, the two-thirds power law)."""
    steps = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    at = np.append(np.arange(0.0, along[-1], 1.0), along[-1])
    points = np.stack([np.interp(at, along, stroke[:, k]) for k in (0, 1)], axis=1)
    step = np.gradient(points, axis=0)
    turning = np.gradient(np.unwrap(np.arctan2(step[:, 1], step[:, 0])))
    curvature = np.abs(gaussian_filter1d(turning, 4)) + 1e-9  # radians per px
    gentle = 2.0 / height  # a curve no tighter than this is drawn at full speed
    pace = speed * np.minimum(1.0, (gentle / curvature) ** (1 / 3))
    return points, np.concatenate([[0.0], np.cumsum(np.diff(at) / pace[1:])])


def _sampled(
    stroke: Stroke, who: Person, speed: float, height: float, rng: np.random.Generator
) -> Stroke:
    """The points a device recording every `sample_ms` keeps of the stroke (pen-down and
    pen-up included), moved by a drifting, shaking hand."""
    if (stroke == stroke[0]).all():  # the pen never moved: a dot
        return stroke[:1]
    dense, time = _recorded_times(stroke, speed, height)
    every = who.sample_ms / 1000
    ticks = np.concatenate([[0.0], np.arange(rng.uniform(0, every), time[-1], every), time[-1:]])
    points = np.stack([np.interp(ticks, time, dense[:, k]) for k in (0, 1)], axis=1)
    count = len(points)
    drift = gaussian_filter1d(rng.normal(0, 1, (count, 2)), max(1.0, count / 6), axis=0)
    drift *= who.wobble / max(drift.std(), 1e-6)
    return points + drift + rng.normal(0, who.tremor, points.shape)


def draw_digit(who: Person, digit: int, rng: np.random.Generator) -> np.ndarray:
    """One drawing as the app's canvas holds it: 280 x 280 x 4, white ink in alpha."""
    brush = who.brush * rng.uniform(0.95, 1.05)
    painted = [canvas_path(points) for points in pen_paths(who, digit, rng)]
    return render_strokes(painted, CANVAS_SIDE, brush, rgba=True)


def person_digits(who: Person, per_digit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`per_digit` drawings of each digit by `who` in MNIST's form: (images, labels)."""
    rng = np.random.default_rng([GROUPS[who.group], who.index, seed])
    images, labels = [], []
    for _ in range(per_digit):
        for digit in range(10):
            form = canvas_to_mnist(draw_digit(who, digit, rng))
            if form is not None:
                images.append(form)
                labels.append(digit)
    return np.stack(images), np.array(labels, dtype=np.int64)


# --- many people, in parallel, cached ---------------------------------------------


@functools.cache
def drawing_code_digest() -> str:
    """A short digest of the code that draws style digits and brings them to MNIST's
    form (this module, `model.strokes`, `model.preprocess`): a cached set drawn by
    other code is never reused, with no version number to remember to bump."""
    from model import preprocess, strokes

    digest = hashlib.sha256()
    for source in (__file__, strokes.__file__, preprocess.__file__):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:12]


def vocabulary_digest() -> str:
    """A short digest of who writes which variants and how fast training people's devices
    record, as the module holds them now: a set drawn while `benchmarks/style_ab.py` (or
    a sweep) changes them is never reused for one drawn by default, nor the other way."""
    vocabulary = (VARIANT_WEIGHTS, NOVEL_VARIANT_WEIGHTS, TRAINING_SAMPLE_MS)
    return hashlib.sha256(repr(vocabulary).encode()).hexdigest()[:8]


def default_cache_dir() -> Path:
    """Where drawn sets are kept between runs: under the settings' home."""
    return get_settings().home / "handwriting"


@dataclass(frozen=True)
class StyleDigits:
    """Digits of several people in MNIST's form; `person[i]` says whose image i is."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    person: np.ndarray  # (N,) int64: the person's index in their group


def _one_person(job: tuple[str, int, int, int, float | None]) -> tuple[np.ndarray, np.ndarray]:
    group, index, per_digit, seed, sample_ms = job
    who = person(group, index)
    return person_digits(
        who if sample_ms is None else replace(who, sample_ms=sample_ms), per_digit, seed
    )


def style_digits(
    group: str,
    count: int,
    per_digit: int,
    *,
    seed: int = 0,
    start: int = 0,
    cache_dir: Path | None = None,
    workers: int | None = None,
    sample_ms: float | None = None,
) -> StyleDigits:
    """`count` people of `group` (from index `start`), each drawing every digit `per_digit`
    times; `seed` picks other drawings by the same people, `sample_ms` records every one
    of them that often instead of at their own rate. Cached in `cache_dir`, by the code
    that draws them and the vocabulary they write."""
    code, vocabulary = drawing_code_digest(), vocabulary_digest()
    rate = "" if sample_ms is None else f"-at{sample_ms:g}ms"
    key = f"{group}-{start}-{count}-{per_digit}-{seed}{rate}-{code}-{vocabulary}"
    cached = Path(cache_dir) / f"style-digits-{key}.npz" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        with np.load(cached, allow_pickle=False) as arrays:
            return StyleDigits(arrays["images"], arrays["labels"], arrays["person"])
    jobs = [(group, i, per_digit, seed, sample_ms) for i in range(start, start + count)]
    workers = min(workers or cpu_count() or 1, len(jobs))
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            drawn = list(pool.map(_one_person, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    else:
        drawn = [_one_person(job) for job in jobs]
    digits = StyleDigits(
        np.concatenate([images for images, _ in drawn]),
        np.concatenate([labels for _, labels in drawn]),
        np.concatenate(
            [
                np.full(len(labels), i)
                for (_, labels), i in zip(drawn, range(start, start + count), strict=True)
            ]
        ),
    )
    if cached is not None:
        with atomic_file(cached) as partial, partial.open("wb") as out:
            np.savez(out, images=digits.images, labels=digits.labels, person=digits.person)
    return digits


# Training people draw every digit this many times (more people, fewer drawings each).
TRAINING_PER_DIGIT = 2


def training_digits(count: int, cache_dir: Path | None, seed: int = 0) -> StyleDigits:
    """About `count` digits of training people (`seed` 1 and up: other drawings by them)."""
    people_needed = max(1, -(-count // (10 * TRAINING_PER_DIGIT)))
    digits = style_digits(
        "train", people_needed, TRAINING_PER_DIGIT, seed=seed, cache_dir=cache_dir
    )
    return StyleDigits(digits.images[:count], digits.labels[:count], digits.person[:count])
