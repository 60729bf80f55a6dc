"""What the benchmarks share: the test set, the machine, timings, tables and result files.

Why one place: every figure README quotes must say on which machine it was measured
and be traceable to a file, and every latency must be summarised the same way
(medians and tail percentiles over repeats, after a warm-up), or two tables that
look comparable would not be.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from model.data import Mnist, load_mnist, resolve_data_dir
from settings import REPO_ROOT, get_settings

RESULTS_DIR = REPO_ROOT / "results" / "bench"
Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")
NO_CUDA = "not measured: no CUDA device"
# Proxy people beyond the card's PROXY_PEOPLE, whose spread says how far its figures hold.
MORE_PEOPLE = 200
# The default model when issues 13 and 14 were filed (a full-width resnet): issue 13's
# real-drawing figures are its, and issue 14's batch rate was measured on its kind.
PREVIOUS_DEFAULT = "29010cb"


def previous_default(folder: Path) -> Path:
    """The previous default's weights, card and detector, written from git into `folder`."""
    for suffix in (".pt", ".json", ".novelty.npz"):
        source = f"{PREVIOUS_DEFAULT}:saved_models/resnet{suffix}"
        shown = subprocess.run(["git", "show", source], cwd=REPO_ROOT, capture_output=True)
        if shown.returncode != 0:
            raise SystemExit(
                f"cannot read {source} from git ({shown.stderr.decode().strip()}): "
                "run this benchmark in a clone with the repository's full history"
            )
        (folder / f"resnet{suffix}").write_bytes(shown.stdout)
    return folder / "resnet.pt"


def load_test_mnist() -> Mnist:
    settings = get_settings()
    shared = REPO_ROOT.parent / "shared" / "datasets" / "mnist"
    folder = settings.mnist_dir or (shared if shared.is_dir() else None)
    return load_mnist(resolve_data_dir(folder, settings.mnist_cache_dir))


def arguments(
    doc: str | None, argv: Sequence[str] | None = None, **extra: Any
) -> argparse.Namespace:
    """The options every benchmark takes (`--quick`), plus `extra` name -> default
    (a bool default makes a switch).

    `python -m benchmarks --quick` passes `--quick` to every script; each one picks
    its own small sizes for it.
    """
    parser = argparse.ArgumentParser(description=(doc or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a short run")
    for name, default in extra.items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(default, bool):  # a switch: --name and --no-name
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    return parser.parse_args(argv)


def in_processes(calls: dict[Key, Callable[[], Value]], jobs: int) -> dict[Key, Value]:
    """What each of `calls` returns, `jobs` of them running at once, started in order.

    One job runs them here. More run in spawned processes, each with its share of the
    usable cores as torch threads, so that trainings side by side do not fight over
    every core (on a GPU machine the cores feed them all). A call must pickle: a
    module-level function or a partial of one. What a call raises is raised here.
    """
    if jobs < 1:
        raise SystemExit(f"error: --jobs {jobs}: run at least one at a time")
    if jobs == 1:
        return {key: call() for key, call in calls.items()}
    threads = max(1, usable_cores() // jobs)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        running = {key: pool.submit(_with_threads, threads, call) for key, call in calls.items()}
        return {key: future.result() for key, future in running.items()}


def _with_threads(threads: int, call: Callable[[], Value]) -> Value:
    import torch

    torch.set_num_threads(threads)
    return call()


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> dict[str, Any]:
    """Cores, CPU, GPU, library versions and the load when the run started.

    The load average is recorded because this machine is shared: a figure measured
    while something else kept both cores busy is not comparable with a quiet one.
    torch is not imported for this (the database benchmark does not need it): its
    version comes from the package metadata, the GPU from torch if loaded, else nvidia-smi.
    """
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cores": usable_cores(),
        "cpu": cpu,
        "gpu": _gpu_name(),
        "torch": importlib.metadata.version("torch"),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def _gpu_name() -> str | None:
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if shutil.which("nvidia-smi") is None:
        return None
    result = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = result.stdout.strip().splitlines()
    return names[0] if result.returncode == 0 and names else None


def machine_line(info: dict[str, Any]) -> str:
    """The machine in one line, for the top of every table."""
    gpu = info["gpu"] or "no GPU"
    load = info.get("load_average")
    return (
        f"{info['cores']} cores of {info['cpu']}, {gpu}, torch {info['torch']}, "
        f"Python {info['python']}" + (f", load average {load[0]} at start" if load else "")
    )


def timings_ms(run: Callable[[], object], repeats: int, warmup: int = 5) -> np.ndarray:
    """Milliseconds per call of `run`, `repeats` times, after `warmup` untimed calls."""
    for _ in range(warmup):
        run()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        run()
        times[i] = time.perf_counter() - start
    return times * 1000


def summary_ms(samples: Sequence[float] | np.ndarray) -> dict[str, float]:
    """n, median, p95, p99, min and max of millisecond samples, rounded for JSON."""
    values = np.asarray(samples, dtype=float)
    return {
        "n": len(values),
        "p50": round(float(np.median(values)), 4),
        "p95": round(float(np.percentile(values, 95)), 4),
        "p99": round(float(np.percentile(values, 99)), 4),
        "min": round(float(values.min()), 4),
        "max": round(float(values.max()), 4),
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ms(value: float | None) -> str:
    """Milliseconds for a table cell: two decimals below 10 ms, one above, "" for None."""
    if value is None:
        return ""
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def goal_verdict(value: float | None, goal: float, lower_is_better: bool = True) -> str:
    """ "met", or how far off, as README states it: "missed by 2.4x (goal <= 45)"."""
    if value is None:
        return "not measured"
    met = value <= goal if lower_is_better else value >= goal
    if met:
        return "met"
    factor = value / goal if lower_is_better else goal / value if value else float("inf")
    sign = "<=" if lower_is_better else ">="
    return f"missed by {factor:.1f}x (goal {sign} {goal:g})"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so README can quote the output as it is."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(markdown_table(headers, rows))


def print_breakdown(by_model: dict[str, dict[str, float]], first: str, fmt: str = ".2%") -> None:
    """One row per kind, one column per model: {model: {kind: share}} as a table."""
    names = list(by_model)
    kinds = list(next(iter(by_model.values()), {}))
    print_table([first, *names], [[k, *(f"{by_model[m][k]:{fmt}}" for m in names)] for k in kinds])


def save_result(
    name: str,
    data: dict[str, Any],
    markdown: str,
    *,
    quick: bool,
    info: dict[str, Any],
    results_dir: Path | None = None,
) -> Path:
    """Print `markdown` under a machine line; write it with `data` to <results>/<name>.json.

    `info` is `machine()` as the run started (the load then is what its figures met).
    The JSON keeps the Markdown too, so README's tables can be regenerated from the
    files alone (`python -m benchmarks --report`).
    """
    text = f"_{machine_line(info)}{'; quick run' if quick else ''}._\n\n{markdown}"
    print(text, flush=True)
    folder = results_dir or RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    record = {
        "name": name,
        "quick": quick,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "command": command_line(),
        "results": data,
        "markdown": text,
    }
    path.write_text(json.dumps(record, indent=2, default=_plain) + "\n")
    return path


def command_line() -> str:
    """How this run was started, as a result file records it."""
    return " ".join([Path(sys.executable).name, *sys.argv])


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, paths: as JSON-friendly Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
