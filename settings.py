"""Every environment variable digitlab reads, in one place.

Why one module: a reader can see the whole configuration surface at a glance, tests
can change a variable and call `get_settings()` again, and nothing else in the code
base touches `os.environ`. Values are read on each call (it is cheap) rather than
cached at import, so that no module grabs configuration -- or a connection -- just by
being imported.

| variable | meaning | default |
| --- | --- | --- |
| `DIGITLAB_HOME` | where local state lives (data caches, SQLite file, outbox) | `<repo>/.data` |
| `DIGITLAB_OUTBOX_DIR` | drawings waiting for the database (`db.outbox`) | `DIGITLAB_HOME`/outbox |
| `MNIST_DIR` | a folder with the four MNIST IDX files (gzip or raw) | download into the cache |
| `DATABASE_URL` | SQLAlchemy URL of the feedback store | SQLite file under `DIGITLAB_HOME` |
| `DATABASE_OWNER_URL` | schema owner's URL: migrations and grants use it | `DATABASE_URL` |
| `DIGITLAB_DB_CONNECT_TIMEOUT` | seconds to wait for a database before a clear error | `5` |
| `DIGITLAB_APP_DB_PASSWORD` | password `python -m db.roles` gives `digitlab_app` | unset |
| `DIGITLAB_ANALYST_DB_PASSWORD` | password `python -m db.roles` gives `digitlab_analyst` | unset |
| `DIGITLAB_MODELS_DIR` | folder of `<name>.pt` + `<name>.json` pairs | `<repo>/saved_models` |
| `DIGITLAB_RESULTS_DIR` | folder for the pictures of a training run | `<repo>/results` |
| `DIGITLAB_DEFAULT_MODEL` | model the app and `predict` use by default | `resnet` |
| `DIGITLAB_DEVICE` | `auto`, `cpu`, `cuda`, `cuda:1`, `mps` | `auto` |
| `DIGITLAB_INFERENCE` | `onnx` (ONNX Runtime), `torchscript` (traced at load) or `eager` | `onnx` |
| `WORLD_SIZE` | processes training together (set by `torchrun`) | `1` |
| `RANK` | this process's place among them, 0 writes the outputs (`torchrun`) | `0` |
| `LOCAL_RANK` | its place on this machine: the GPU it uses (`torchrun`) | `0` |

`torchrun` also sets `MASTER_ADDR` and `MASTER_PORT`; torch.distributed reads those
itself (`init_method="env://"`), so they are not listed here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent

# The architecture the app and the CLI use unless told otherwise; README's model
# table says why it won.
DEFAULT_ARCHITECTURE = "resnet"

# How `model.predictor` runs the network. ONNX Runtime (the verified exported graph,
# `model.runtime`) and TorchScript (traced, frozen, BatchNorm folded into the
# convolutions; deprecated in torch 2.13) give the same probabilities and unsure flags
# as eager PyTorch, faster (benchmarks/inference.py measures all three side by side).
INFERENCE_PATHS = ("onnx", "torchscript", "eager")
DEFAULT_INFERENCE = "onnx"


@dataclass(frozen=True)
class Settings:
    """A snapshot of the environment, with defaults filled in."""

    home: Path
    mnist_dir: Path | None
    database_url: str
    models_dir: Path
    results_dir: Path
    default_model: str
    device: str
    # Defaults keep `Settings(...)` calls written before these fields valid.
    database_owner_url: str = ""
    db_connect_timeout: int = 5
    # repr=False: a settings snapshot printed in a log must not leak passwords.
    app_db_password: str | None = field(default=None, repr=False)
    analyst_db_password: str | None = field(default=None, repr=False)
    # torchrun's view of this process; (1, 0, 0) when started as a plain program.
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    # DIGITLAB_OUTBOX_DIR when set; `outbox_dir` fills in the default under `home`.
    outbox_dir_setting: Path | None = None
    # DIGITLAB_INFERENCE: one of INFERENCE_PATHS.
    inference: str = DEFAULT_INFERENCE

    def __repr__(self) -> str:
        """Every field, URL passwords masked: settings printed in a log leak no secret."""
        shown = (
            f"{item.name}={_masked(getattr(self, item.name))!r}"
            for item in fields(self)
            if item.repr
        )
        return f"Settings({', '.join(shown)})"

    @property
    def migration_url(self) -> str:
        """The URL migrations run with: the schema owner when given, else the app's URL."""
        return self.database_owner_url or self.database_url

    @property
    def mnist_cache_dir(self) -> Path:
        return self.home / "mnist"

    @property
    def sqlite_path(self) -> Path:
        return self.home / "digitlab.sqlite"

    @property
    def outbox_dir(self) -> Path:
        """Where submissions wait while the database is unreachable (one per app replica)."""
        return self.outbox_dir_setting or self.home / "outbox"


def _masked(value: object) -> object:
    """A URL's password as ***; anything else unchanged (stdlib only, like this module)."""
    if isinstance(value, str):
        return re.sub(r"(://[^/@:]*:)[^@]*@", r"\1***@", value)
    return value


def _path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _whole_number(name: str, default: int, minimum: int, unit: str = "") -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ValueError(f"{name} must be a whole number{unit} >= {minimum}, got {value!r}")
    return number


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def get_settings() -> Settings:
    """Read the environment now and return the effective configuration."""
    home = _path("DIGITLAB_HOME") or REPO_ROOT / ".data"
    database_url = os.environ.get("DATABASE_URL", "").strip()
    if not database_url:
        database_url = f"sqlite:///{home / 'digitlab.sqlite'}"
    return Settings(
        home=home,
        mnist_dir=_path("MNIST_DIR"),
        database_url=database_url,
        models_dir=_path("DIGITLAB_MODELS_DIR") or REPO_ROOT / "saved_models",
        results_dir=_path("DIGITLAB_RESULTS_DIR") or REPO_ROOT / "results",
        default_model=os.environ.get("DIGITLAB_DEFAULT_MODEL", "").strip() or DEFAULT_ARCHITECTURE,
        device=os.environ.get("DIGITLAB_DEVICE", "").strip() or "auto",
        database_owner_url=os.environ.get("DATABASE_OWNER_URL", "").strip(),
        db_connect_timeout=_whole_number(
            "DIGITLAB_DB_CONNECT_TIMEOUT", 5, minimum=1, unit=" of seconds"
        ),
        app_db_password=os.environ.get("DIGITLAB_APP_DB_PASSWORD") or None,
        analyst_db_password=os.environ.get("DIGITLAB_ANALYST_DB_PASSWORD") or None,
        world_size=_whole_number("WORLD_SIZE", 1, minimum=1),
        rank=_whole_number("RANK", 0, minimum=0),
        local_rank=_whole_number("LOCAL_RANK", 0, minimum=0),
        outbox_dir_setting=_path("DIGITLAB_OUTBOX_DIR"),
        inference=_choice("DIGITLAB_INFERENCE", INFERENCE_PATHS, DEFAULT_INFERENCE),
    )
