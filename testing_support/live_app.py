"""A real dashboard and a real browser: `streamlit run` on a loopback port, and Chromium.

Why a module of its own: the browser suite (tests/e2e) and the browser benchmark
(benchmarks/app_latency.py) must start the server and the browser the same way, so
that the latency README quotes is that of the app the tests check. The server runs
the way `make run` runs it (headless, XSRF protection on) but with this checkout's
code and the environment the caller gives. Chromium is Debian's (`/usr/bin/chromium`,
installed by `.ci/run`): Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright

from testing_support import APP, REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60.0


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"streamlit not healthy after {SERVER_START_TIMEOUT_S}s:\n{log.read_text()}")


@contextmanager
def running_streamlit(env: Mapping[str, str], log: Path) -> Iterator[str]:
    """Start the dashboard with `env` added to this environment; yield its base URL; stop it.

    Give at least DATABASE_URL and DIGITLAB_HOME. The server's output goes to `log`.
    """
    port = free_loopback_port()
    server_env = {
        **os.environ,
        **env,
        # This checkout's model/ and db/, ahead of any editable install elsewhere.
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.enableXsrfProtection", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("w") as log_file:
        server = subprocess.Popen(
            command, cwd=REPO_ROOT, env=server_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; FileNotFoundError says how to install it when missing."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` (see .ci/run)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
