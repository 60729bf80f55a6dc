"""scripts/pg_cluster.py from the command line, as developers and `make run-pg` use it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO_ROOT / "scripts" / "pg_cluster.py")
pg_cluster_script = sys.modules["pg_cluster"]  # loaded by tests/conftest.py
pytestmark = pytest.mark.postgres


@pytest.fixture
def folder() -> Iterator[Path]:
    """A cluster folder the postgres user can reach (pytest's tmp_path is root-only)."""
    parent = Path(tempfile.mkdtemp(prefix="digitlab-pg-test-"))
    parent.chmod(0o755)
    yield parent / "cluster"
    shutil.rmtree(parent, ignore_errors=True)


def test_start_prints_a_working_url_and_stop_removes_everything(folder: Path) -> None:
    started = subprocess.run(
        [sys.executable, SCRIPT, "start", "--dir", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url.startswith("postgresql+psycopg2://postgres:") and url.endswith("/digitlab")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT current_database()")).scalar() == "digitlab"
        engine.dispose()
    finally:
        stopped = subprocess.run(
            [sys.executable, SCRIPT, "stop", str(folder)], capture_output=True, text=True
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not folder.exists()


def test_run_migrates_and_serves_a_command_then_cleans_up(folder: Path) -> None:
    child = (
        f"{sys.executable} -m db.migrate upgrade && "
        f"{sys.executable} -c \"import os; print(os.environ['DATABASE_URL'].split('@')[1])\""
    )
    result = subprocess.run(
        [sys.executable, SCRIPT, "run", "--dir", str(folder), "--", "sh", "-c", child],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "(head)" in result.stdout and "127.0.0.1:" in result.stdout
    assert not folder.exists()


def test_missing_server_binaries_say_how_to_install_them(tmp_path: Path) -> None:
    with pytest.raises(pg_cluster_script.PostgresNotInstalledError) as caught:
        pg_cluster_script.find_bin_dir(str(tmp_path / "nothing" / "*" / "bin"))
    assert "apt-get install postgresql" in str(caught.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the folder to another user")
def test_a_folder_the_server_cannot_reach_is_explained(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    result = subprocess.run(
        [sys.executable, SCRIPT, "start", "--dir", str(tmp_path / "cluster")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "user cannot enter" in result.stderr and "Traceback" not in result.stderr
