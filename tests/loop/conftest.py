"""The learning loop's commands run in-process (`run_model.main`) against real databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

import run_model


class Outcome(NamedTuple):
    status: int
    out: str
    err: str


@pytest.fixture
def store(configured_db: str) -> str:
    """Point the commands at a fresh test database, as a user would: DATABASE_URL."""
    return configured_db


@pytest.fixture
def cli(store: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """Run `python run_model.py ARGS...` in this process; its exit status and output."""

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        status = run_model.main([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(status, captured.out, captured.err)

    return run
