"""Fixtures for the database tests (helpers and the seeded rows live in db_test_data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from db_test_data import SEED_ROWS

from db import repository
from db.engine import session_scope
from db.schema import UTCDateTime
from testing_support.feedback import make_submission, register


@pytest.fixture
def model_version_id(db_url: str) -> int:
    with session_scope(db_url) as session:
        return register(session)


@pytest.fixture
def make_prediction(db_url: str, model_version_id: int) -> Callable[..., int]:
    """Store one valid prediction of model "cnn-test" (overrides as keyword arguments)."""

    def make(**overrides: Any) -> int:
        with session_scope(db_url) as session:
            return repository.store(session, make_submission(**overrides))

    return make


@pytest.fixture
def seeded(db_url: str) -> dict[str, Any]:
    """SEED_ROWS in a fresh database, plus model C with no predictions.

    created_at is set by the database; here it is moved to the rows' times with a
    plain UPDATE, the one thing the repository (rightly) cannot do.
    """
    with session_scope(db_url) as session:
        models = {name: register(session, f"model-{name}") for name in ("A", "B", "C")}
        ids = []
        for model, predicted, label, confidence, created_at in SEED_ROWS:
            submission = make_submission(
                label=label,
                model_name=f"model-{model}",
                predicted_digit=predicted,
                confidence=confidence,
            )
            prediction_id = repository.store(session, submission)
            session.execute(
                sa.text("UPDATE predictions SET created_at = :t WHERE id = :id").bindparams(
                    sa.bindparam("t", type_=UTCDateTime())
                ),
                {"t": created_at, "id": prediction_id},
            )
            ids.append(prediction_id)
    return {"url": db_url, "models": models, "ids": ids}
