"""A real dashboard in a real browser: `streamlit run` on a loopback port + Chromium.

Both are started once per test session and stopped afterwards, by `live_app` (which
the browser benchmark uses too), against the suite's own PostgreSQL database, so the
tests see what a user would see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from testing_support.live_app import REPO_ROOT, launch_chromium, running_streamlit

SCREENSHOTS = REPO_ROOT / "results" / "screenshots"


@pytest.fixture(scope="session")
def e2e_database_url(pg_cluster: Any) -> Iterator[str]:
    """A PostgreSQL database of the browser suite's own, at head, dropped afterwards."""
    import sqlalchemy as sa

    from db.engine import dispose_engines
    from db.migrate import upgrade_to_head

    admin = sa.create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("CREATE DATABASE digitlab_e2e")
    url = pg_cluster.url("digitlab_e2e")
    upgrade_to_head(url)
    try:
        yield url
    finally:
        dispose_engines(url)
        with admin.connect() as connection:
            connection.exec_driver_sql("DROP DATABASE IF EXISTS digitlab_e2e WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="session")
def app_url(e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the dashboard once; yield its base URL; stop it (and its children)."""
    home = tmp_path_factory.mktemp("digitlab-home")
    env = {"DATABASE_URL": e2e_database_url, "DIGITLAB_HOME": str(home)}
    with running_streamlit(env, home / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    try:
        browser = launch_chromium(playwright_instance)
    except FileNotFoundError as error:
        pytest.fail(str(error))
    yield browser
    browser.close()


@pytest.fixture
def desktop_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A phone-sized, touch-capable viewport (roughly an iPhone 14)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
