"""Errors the feedback store raises for situations a person has to fix.

Why a family of our own: the app shows `str(exc)` of any `FeedbackStoreError` as a
message box instead of a traceback, so each message names the database (password
hidden), says what is wrong and what to do about it.
"""

from __future__ import annotations


class FeedbackStoreError(RuntimeError):
    """The database cannot be used as it is; the message says why and what to do."""


class DatabaseUnavailableError(FeedbackStoreError):
    """No connection could be made (server down, wrong host or port, bad password, timeout)."""


class UnknownRevisionError(FeedbackStoreError):
    """The database was migrated by a version of digitlab this code does not know."""


def first_line(error: BaseException) -> str:
    """The sentence to show for an error: its message's first line (or its type)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
