"""A throwaway PostgreSQL cluster on a loopback port, for development and tests.

Why: the feedback store must be tested on a real PostgreSQL, and a developer should
be able to run the app against one without installing a service or docker. initdb
takes a second or two; the cluster lives in a temporary folder and is removed on stop.

    python scripts/pg_cluster.py start            # prints the SQLAlchemy URL, leaves it running
    python scripts/pg_cluster.py stop DIR         # stops it and removes DIR
    python scripts/pg_cluster.py run -- CMD ...   # start, run CMD with DATABASE_URL set, stop

From Python (the pytest fixture does this)::

    with running_cluster() as cluster:
        url = cluster.url()          # postgresql+psycopg2://postgres:...@127.0.0.1:PORT/digitlab

Stdlib only, so it runs before the virtualenv exists. PostgreSQL refuses to run as
root: as root, every server command runs as the `postgres` user via runuser. The
superuser gets a random password (scram) rather than `trust`, since the machine is
shared. Durability is switched off (fsync, synchronous_commit): the data is
disposable and tests run several times faster.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

POSTGRES_GLOB = "/usr/lib/postgresql/*/bin"
DATABASE = "digitlab"
SUPERUSER = "postgres"
STATE_FILE = "cluster.json"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
}


class PostgresNotInstalledError(RuntimeError):
    """The PostgreSQL server binaries are missing."""


def find_bin_dir(pattern: str = POSTGRES_GLOB) -> Path:
    """The newest installed PostgreSQL's bin folder (the one holding initdb and pg_ctl)."""
    candidates = [Path(p) for p in sorted(Path("/").glob(pattern.lstrip("/")))]
    candidates = [p for p in candidates if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    if not candidates:
        raise PostgresNotInstalledError(
            f"No PostgreSQL server found ({pattern}/initdb is missing). Install it with "
            "`apt-get install postgresql` (Debian/Ubuntu), then try again."
        )
    return max(candidates, key=lambda p: _version_key(p.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A cluster in `base_dir`: data in `base_dir/data`, socket and log beside it."""

    base_dir: Path
    port: int
    password: str
    bin_dir: Path

    def url(self, database: str = DATABASE, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def libpq_url(self, database: str = DATABASE) -> str:
        """The same URL in the form psql and other libpq tools accept."""
        return self.url(database, driver="postgresql")

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    def start(self) -> None:
        """initdb, start the server, create the `digitlab` database."""
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        _hand_to_server_user(self.base_dir)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        self.start_server()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, DATABASE)
        (self.base_dir / STATE_FILE).write_text(json.dumps(self._state(), indent=2))

    def start_server(self) -> None:
        """Start the server on its data folder and wait until it accepts connections.

        Public for outage tests: `stop_server()` then `start_server()` is a database
        restart with the same port, password and data.
        """
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
        options += f" -p {self.port} -k {self.base_dir}"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip

    def stop_server(self) -> None:
        """Stop the server (fast shutdown: open transactions are rolled back), keep the data."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def stop(self, remove: bool = True) -> None:
        """Stop the server (fast shutdown) and, by default, delete its folder."""
        self.stop_server()
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    @classmethod
    def load(cls, base_dir: Path) -> Cluster:
        """The cluster `start` left in `base_dir` (it wrote cluster.json there)."""
        state = json.loads((Path(base_dir) / STATE_FILE).read_text())
        return cls(
            base_dir=Path(state["base_dir"]),
            port=int(state["port"]),
            password=state["password"],
            bin_dir=Path(state["bin_dir"]),
        )

    def _state(self) -> dict[str, object]:
        return {key: str(value) for key, value in asdict(self).items()} | {"url": self.url()}

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            command = [runuser, "-u", SUPERUSER, "--", *command]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
        env["PGPASSWORD"] = self.password
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{tool} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}{log}"
            )


def _hand_to_server_user(folder: Path) -> None:
    """As root, give the folder to `postgres`: the server refuses to run as root."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresNotInstalledError(
            "Running as root but there is no `postgres` user to run the server as; "
            "`apt-get install postgresql` creates it."
        ) from None
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


def _check_reachable(folder: Path) -> None:
    """As root, the server user must be able to walk down to `folder`; say so early if not."""
    if os.geteuid() != 0:
        return
    server_uid = pwd.getpwnam(SUPERUSER).pw_uid
    for parent in reversed(folder.resolve().parents):
        info = parent.stat()
        if info.st_uid != server_uid and not info.st_mode & 0o001:
            raise ValueError(
                f"the {SUPERUSER} user cannot enter {parent} (mode {oct(info.st_mode & 0o777)}), "
                f"so the server cannot use {folder}; pick a folder under /tmp instead"
            )


def start_cluster(base_dir: Path | None = None, attempts: int = 3) -> Cluster:
    """Start a fresh cluster on a free loopback port; the caller must `stop()` it."""
    bin_dir = find_bin_dir()
    if base_dir is not None:
        _check_reachable(Path(base_dir))
    last_error: Exception | None = None
    for _ in range(attempts):  # another process may grab the port between pick and bind
        folder = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="digitlab-pg-"))
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        cluster = Cluster(folder, free_port(), secrets.token_urlsafe(18), bin_dir)
        try:
            cluster.start()
            return cluster
        except RuntimeError as error:
            last_error = error
            cluster.stop(remove=True)
        except BaseException:
            cluster.stop(remove=True)
            raise
    raise RuntimeError(f"could not start PostgreSQL after {attempts} attempts") from last_error


@contextlib.contextmanager
def running_cluster(base_dir: Path | None = None) -> Iterator[Cluster]:
    """A cluster for the duration of a `with` block, stopped and removed afterwards."""
    cluster = start_cluster(base_dir)
    try:
        yield cluster
    finally:
        cluster.stop(remove=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a cluster and print its URL")
    start.add_argument("--dir", type=Path, help="folder for the cluster (default: a temp dir)")
    stop = commands.add_parser("stop", help="stop the cluster in DIR and remove DIR")
    stop.add_argument("dir", type=Path)
    run = commands.add_parser("run", help="start, run a command with DATABASE_URL set, stop")
    run.add_argument("--dir", type=Path, help="folder for the cluster (default: a temp dir)")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command and its arguments")
    args = parser.parse_args(argv)

    try:
        if args.command == "start":
            cluster = start_cluster(args.dir)
            print(cluster.url())
            print(
                f"psql: psql '{cluster.libpq_url()}'\n"
                f"stop: python {sys.argv[0]} stop {cluster.base_dir}",
                file=sys.stderr,
            )
            return 0
        if args.command == "stop":
            Cluster.load(args.dir).stop(remove=True)
            return 0
        command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        return _run_with_cluster(command, args.dir)
    except (PostgresNotInstalledError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run_with_cluster(command: list[str], base_dir: Path | None) -> int:
    """Run `command` against a fresh cluster; Ctrl-C or SIGTERM end it, then the cluster."""
    if not command:
        print("error: give the command to run after `--`", file=sys.stderr)
        return 2
    with running_cluster(base_dir) as cluster:
        print(f"PostgreSQL running: {cluster.libpq_url()}", file=sys.stderr)
        # The child gets this cluster, never a schema owner set for another database.
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_OWNER_URL"}
        env["DATABASE_URL"] = cluster.url()
        child = subprocess.Popen(command, env=env)

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            code = child.wait()
            return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as shells do
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
