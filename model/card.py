"""The model card: what a saved model is, how it was made, how good it is.

A card is a JSON file next to the weights (`saved_models/<name>.json`). It is the
contract between training and everything downstream: the predictor reads the
calibration temperature and the unsure threshold from it, checks the weights
against its SHA-256, and the app shows it to users as it is.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

CARD_FORMAT = 1


class CardError(ValueError):
    """A model card is missing, unreadable, or lacks a field the predictor needs."""


REQUIRED_FIELDS = ("name", "architecture", "weights_sha256", "calibration", "unsure_threshold")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_card(path: Path, card: dict) -> None:
    Path(path).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def read_card(path: Path) -> dict:
    """Load and sanity-check a card; errors say which file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CardError(f"model card {path} not found")
    try:
        card = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CardError(f"model card {path} is not valid JSON ({err})") from err
    if not isinstance(card, dict):
        raise CardError(f"model card {path} must hold a JSON object")
    missing = [key for key in REQUIRED_FIELDS if key not in card]
    if missing:
        raise CardError(f"model card {path} lacks {', '.join(missing)}")
    return card


def git_commit(repo: Path) -> str | None:
    """The commit the code was at, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
