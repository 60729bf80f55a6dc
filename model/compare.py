"""Champion against challenger on the same images: paired evidence and the promotion gate.

Both models answer the same drawings, so what matters is where they disagree: the
drawings only one of them gets right. The exact McNemar test asks whether those
discordant pairs split unevenly by more than chance (a two-sided binomial test on
them), and a paired bootstrap gives an interval for the accuracy difference. The
gate (`verdict_for`) reads only the stored report, so `promote` can apply it again
later without the images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

HELD_OUT = "held_out_people"
MNIST_TEST = "mnist_test"
# The challenger must beat the champion on held-out people at this significance...
ALPHA = 0.05
# ...and may lose at most this much accuracy on MNIST test (0.1 points).
MNIST_TOLERANCE = 0.001
CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 10_000


def mcnemar_exact(champion_only: int, challenger_only: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(b + c, 1/2) test on the discordant pairs."""
    n, k = champion_only + challenger_only, min(champion_only, challenger_only)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap_interval(
    champion_correct: np.ndarray,
    challenger_correct: np.ndarray,
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of accuracy(challenger) - accuracy(champion), pairs resampled.

    Resampling N pairs with replacement and counting the discordant ones is drawing
    (champion-only, challenger-only, agreeing) counts from a multinomial with the
    observed shares, which is what is done here: exact, and cheap for any N.
    """
    champion_correct, challenger_correct = map(np.asarray, (champion_correct, challenger_correct))
    n = len(champion_correct)
    if n == 0:
        return (0.0, 0.0)
    b = int((champion_correct & ~challenger_correct).sum())
    c = int((challenger_correct & ~champion_correct).sum())
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, [b / n, c / n, 1 - (b + c) / n], size=samples)
    differences = (counts[:, 1] - counts[:, 0]) / n
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return (float(low), float(high))


@dataclass(frozen=True)
class ModelRef:
    name: str
    weights: str  # path of the weights file


@dataclass(frozen=True)
class SetComparison:
    """Both models on one labelled set, pair by pair."""

    n: int
    champion_accuracy: float
    challenger_accuracy: float
    champion_only_correct: int  # discordant pairs the champion wins
    challenger_only_correct: int  # discordant pairs the challenger wins
    p_value: float  # exact McNemar, two-sided
    difference: float  # challenger - champion accuracy
    interval: tuple[float, float]  # bootstrap interval of the difference
    confidence: float
    champion_per_digit: list[float | None]
    challenger_per_digit: list[float | None]

    @classmethod
    def measure(
        cls, labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray, seed: int = 0
    ) -> SetComparison:
        """Compare two models' predicted digits on the same labelled images."""
        labels, champion, challenger = map(np.asarray, (labels, champion, challenger))
        right_a, right_b = champion == labels, challenger == labels
        b, c = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
        return cls(
            n=len(labels),
            champion_accuracy=_share(right_a),
            challenger_accuracy=_share(right_b),
            champion_only_correct=b,
            challenger_only_correct=c,
            p_value=mcnemar_exact(b, c),
            difference=_share(right_b) - _share(right_a),
            interval=bootstrap_interval(right_a, right_b, seed=seed),
            confidence=CONFIDENCE,
            champion_per_digit=_per_digit(labels, right_a),
            challenger_per_digit=_per_digit(labels, right_b),
        )


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _per_digit(labels: np.ndarray, right: np.ndarray) -> list[float | None]:
    return [float(right[labels == d].mean()) if (labels == d).any() else None for d in range(10)]


@dataclass(frozen=True)
class ComparisonReport:
    """The evidence for one challenger and the gate's verdict on it."""

    challenger: ModelRef
    champion: ModelRef
    sets: dict[str, SetComparison]  # HELD_OUT and MNIST_TEST
    verdict: str  # "promote" or "keep"
    reason: str
    extra: dict = field(default_factory=dict)  # e.g. how the challenger was trained

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ComparisonReport:
        """The report back from `to_json`'s dict; a malformed one raises ValueError."""
        try:
            sets = {
                name: SetComparison(**{**s, "interval": tuple(s["interval"])})
                for name, s in data["sets"].items()
            }
            return cls(
                challenger=ModelRef(**data["challenger"]),
                champion=ModelRef(**data["champion"]),
                sets=sets,
                verdict=str(data["verdict"]),
                reason=str(data["reason"]),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not a comparison report ({type(err).__name__}: {err})") from err


def verdict_for(report: ComparisonReport) -> tuple[str, str]:
    """The gate: ("promote" | "keep", why), from the report's evidence alone.

    Promote only when the challenger is right more often than the champion on
    held-out people, significantly (exact McNemar p < ALPHA), and loses at most
    MNIST_TOLERANCE of accuracy on MNIST test.
    """
    missing = [name for name in (HELD_OUT, MNIST_TEST) if name not in report.sets]
    if missing:
        return "keep", f"no evidence on {', '.join(missing)}"
    people, mnist = report.sets[HELD_OUT], report.sets[MNIST_TEST]
    on_people = (
        f"held-out people {people.champion_accuracy:.2%} -> {people.challenger_accuracy:.2%} "
        f"({people.challenger_only_correct} fixed, {people.champion_only_correct} broken, "
        f"p = {people.p_value:.3g})"
    )
    drop = mnist.champion_accuracy - mnist.challenger_accuracy
    on_mnist = f"MNIST test {mnist.champion_accuracy:.2%} -> {mnist.challenger_accuracy:.2%}"
    if people.difference <= 0:
        return "keep", f"not better on {on_people}"
    if people.p_value >= ALPHA:
        return "keep", f"not significantly better (p >= {ALPHA}) on {on_people}"
    if drop > MNIST_TOLERANCE + 1e-12:
        return "keep", f"loses {drop:.2%} on {on_mnist} (at most {MNIST_TOLERANCE:.1%} allowed)"
    return "promote", f"better on {on_people}; {on_mnist}"


def promotion_report(
    champion: ModelRef,
    challenger: ModelRef,
    held_out: tuple[np.ndarray, np.ndarray, np.ndarray],
    mnist_test: tuple[np.ndarray, np.ndarray, np.ndarray],
    extra: dict | None = None,
) -> ComparisonReport:
    """Measure both sets ((labels, champion's digits, challenger's digits) each) and judge."""
    sets = {
        HELD_OUT: SetComparison.measure(*held_out),
        MNIST_TEST: SetComparison.measure(*mnist_test),
    }
    draft = ComparisonReport(challenger, champion, sets, "keep", "", dict(extra or {}))
    verdict, reason = verdict_for(draft)
    return ComparisonReport(challenger, champion, sets, verdict, reason, draft.extra)
