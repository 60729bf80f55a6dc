"""Helpers the tests and the benchmarks share; nothing here is imported by the app."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "streamlit" / "app.py"
