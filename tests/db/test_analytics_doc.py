"""Every SQL block in docs/analytics.md runs, as the analyst role, and finds rows."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from db_test_data import SEED_ROWS

from db.engine import dispose_engines, get_engine
from db.roles import ANALYST_ROLE, ensure_roles, role_url

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"
SQL_BLOCKS = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_doc_answers_ten_questions() -> None:
    assert len(SQL_BLOCKS) == 10
    assert len(re.findall(r"^\*\*\d+\. ", DOC.read_text(), flags=re.MULTILINE)) == 10


@pytest.fixture
def analyst_url(seeded: dict) -> str:
    """The seeded set moved to the present (so "last 30 days" finds it), read as the analyst."""
    with get_engine(seeded["url"]).begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE predictions SET created_at = created_at + "
                "(now() - (SELECT MAX(created_at) FROM predictions))"
            )
        )
    password = secrets.token_urlsafe(12)
    ensure_roles(seeded["url"], app_password=secrets.token_urlsafe(12), analyst_password=password)
    return role_url(seeded["url"], ANALYST_ROLE, password)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_every_documented_query_runs_as_the_analyst(analyst_url: str) -> None:
    try:
        with get_engine(analyst_url).connect() as connection:
            answers = [connection.execute(sa.text(sql)).fetchall() for sql in SQL_BLOCKS]
    finally:
        dispose_engines(analyst_url)
    for number, (rows, sql) in enumerate(zip(answers, SQL_BLOCKS, strict=True), start=1):
        assert rows, f"question {number} returned no rows:\n{sql}"
    labelled = [(predicted, label) for _, predicted, label, _, _ in SEED_ROWS if label is not None]
    correct = sum(predicted == label for predicted, label in labelled)
    assert tuple(answers[0][0][:2]) == (len(labelled), correct)
    confusions = Counter((label, predicted) for predicted, label in labelled if predicted != label)
    expected = sorted(confusions.items(), key=lambda cell: (-cell[1], cell[0]))[:5]
    assert [((t, p), n) for t, p, n in answers[2]] == expected
