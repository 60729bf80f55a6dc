"""The dashboard under `streamlit.testing.v1.AppTest`: its pages, and a seeded store."""

from __future__ import annotations

from dataclasses import dataclass

from db import repository
from db.engine import session_scope
from testing_support.feedback import bar_image, make_submission, register

# The first run of a process imports torch and loads the model: allow for it.
RUN_TIMEOUT_S = 60
PAGES = {
    "draw": "app_pages/draw.py",
    "statistics": "app_pages/statistics.py",
    "history": "app_pages/history.py",
    "model": "app_pages/model.py",
}


@dataclass(frozen=True)
class SeedRow:
    model: str
    predicted: int
    label: int | None
    confidence: float
    unsure: bool = False


# A small data set whose statistics are worked out by hand in the tests:
# all 6 predictions, 5 labelled, 3 right (rows 1, 3, 5) -> 60.0 %;
# model "alpha" alone: 4 predictions, 3 labelled, 2 right -> 66.7 %;
# wrong ones: rows 2 and 6. Answered unsure: rows 1 (right), 2 (wrong), 4 (unlabelled):
# 2 of 5 labelled flagged, 1 of 3 right ones, 1 of 2 errors; sure: 2 of 3 right.
SEED = [
    SeedRow("alpha", 3, 3, 0.90, unsure=True),
    SeedRow("alpha", 3, 5, 0.80, unsure=True),
    SeedRow("alpha", 7, 7, 0.95),
    SeedRow("alpha", 1, None, 0.60, unsure=True),
    SeedRow("beta", 0, 0, 0.99),
    SeedRow("beta", 4, 9, 0.55),
]


@dataclass(frozen=True)
class Seeded:
    url: str
    versions: dict[str, int]
    ids: list[int]


def seed(url: str) -> Seeded:
    """SEED stored through the repository, as the app would have stored it."""
    with session_scope(url) as session:
        versions = {name: register(session, name) for name in ("alpha", "beta")}
        ids = [
            repository.store(
                session,
                make_submission(
                    f"seed-{n}",
                    label=row.label,
                    model_name=row.model,
                    predicted_digit=row.predicted,
                    confidence=row.confidence,
                    unsure=row.unsure,
                    image=bar_image(4 + 2 * row.predicted),  # a distinct picture per row
                    latency_ms=None,
                    session_id=None,
                ),
            )
            for n, row in enumerate(SEED)
        ]
    return Seeded(url, versions, ids)
