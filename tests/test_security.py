"""Security promises, each checked against the code, the configuration and real output.

Source-tree checks parse every tracked Python file (the `ast`, not a text search, so
a comment or a docstring cannot hide or fake a call).
"""

from __future__ import annotations

import ast
import logging
import re
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest

from db.engine import dispose_engines, redacted, session_scope
from db.errors import DatabaseUnavailableError
from settings import REPO_ROOT, get_settings

UNPICKLERS = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", pattern], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO_ROOT / name for name in listed]


def python_calls() -> list[tuple[Path, ast.Call]]:
    calls = []
    for path in tracked("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        calls += [(path, node) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    return calls


def called_name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def keyword(call: ast.Call, name: str) -> str | None:
    found = [ast.unparse(k.value) for k in call.keywords if k.arg == name]
    return found[0] if found else None


def test_torch_load_is_only_called_with_weights_only_true() -> None:
    loads = [(p, c) for p, c in python_calls() if called_name(c).endswith("torch.load")]
    assert loads, "no torch.load found: the check looks in the wrong place"
    unsafe = [
        f"{path.relative_to(REPO_ROOT)}:{call.lineno}"
        for path, call in loads
        if keyword(call, "weights_only") != "True"
    ]
    assert unsafe == [], "torch.load without weights_only=True"


def test_nothing_unpickles_anything() -> None:
    found = []
    for path in tracked("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            if UNPICKLERS & set(names):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    for path, call in python_calls():
        name = called_name(call)
        if name.endswith("read_pickle") or keyword(call, "allow_pickle") == "True":
            found.append(f"{path.relative_to(REPO_ROOT)}:{call.lineno}")
    assert found == []


def test_no_raw_html_in_the_dashboard() -> None:
    """No `unsafe_allow_html`, `st.html` or HTML components: user text is always escaped."""
    found = []
    for path, call in python_calls():
        if "streamlit" not in path.relative_to(REPO_ROOT).parts[:1]:
            continue
        name = called_name(call)
        if keyword(call, "unsafe_allow_html") not in (None, "False") or name.endswith(
            ("st.html", "components.html", "v1.html")
        ):
            found.append(f"{path.relative_to(REPO_ROOT)}:{call.lineno} {name}")
    assert found == []


def test_xsrf_protection_is_on_and_nothing_turns_it_off() -> None:
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"].get("enableCORS", True) is True
    for path in tracked("*"):
        if path.suffix in {".png", ".pt"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        assert not re.search(r"(?i)xsrf\w*[\s=:\"']+false", text), path


def test_no_password_is_written_into_the_repository() -> None:
    """Every URL with a password uses a placeholder, a variable, or is built in a test."""
    placeholder = re.compile(r"\.\.\.|PW|PASSWORD|\$\{?\w+.*|\{.*\}|\*+")
    found = []
    for path in tracked("*"):
        if path.suffix in {".png", ".pt"} or "tests" in path.relative_to(REPO_ROOT).parts[:1]:
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(r"\w+(?:\+\w+)?://[^\s:/@'\"]+:([^\s@'\"]+)@", text):
            if not placeholder.fullmatch(match.group(1)):
                found.append(f"{path.relative_to(REPO_ROOT)}: {match.group(0)}")
    assert found == []
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
    assert not tracked(".env")


def test_settings_printed_in_a_log_hide_the_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://digitlab_app:app-s3cret@db/x")
    monkeypatch.setenv("DATABASE_OWNER_URL", "postgresql+psycopg2://postgres:owner-s3cret@db/x")
    monkeypatch.setenv("DIGITLAB_APP_DB_PASSWORD", "app-s3cret")
    shown = repr(get_settings())
    assert "s3cret" not in shown
    assert "digitlab_app:***@db" in shown and "postgres:***@db" in shown
    assert redacted(get_settings().database_url) == "postgresql+psycopg2://digitlab_app:***@db/x"


def test_a_failed_connection_logs_and_says_no_password(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg2://digitlab:pa55-word@127.0.0.1:{port}/digitlab"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # pool and engine chatter too
    try:
        with pytest.raises(DatabaseUnavailableError) as caught, session_scope(url) as session:
            session.connection()
    finally:
        dispose_engines(url)
    assert "pa55-word" not in str(caught.value) and "digitlab:***@127.0.0.1" in str(caught.value)
    assert caplog.records, "nothing was logged: the check proves nothing"
    assert all("pa55-word" not in record.getMessage() for record in caplog.records)
