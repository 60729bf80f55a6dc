"""Run every benchmark, one after the other (`make bench`, `make bench ARGS=--quick`).

    python -m benchmarks [--quick] [--only training,database] [--report]

Each script writes results/bench/<name>.json (scripts that predate the JSON files
have their printed tables saved there by this runner). Afterwards the tables are
combined into results/bench/README.md and copied into README.md between its
`<!-- bench:NAME -->` markers (`--report` does only that, from the files as they are).
A script that fails is reported and the others still run; the exit status says so.
"""

from __future__ import annotations

import argparse
import io
import runpy
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import RESULTS_DIR, machine, machine_line, save_result
from benchmarks._report import ORDER, update_reports

HERE = Path(__file__).resolve().parent


class _Tee(io.TextIOBase):
    """Print as usual and keep a copy: the tables of scripts that write no JSON."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def scripts() -> list[str]:
    """ORDER first, then any other script in the folder (a new one runs too)."""
    found = {p.stem for p in HERE.glob("*.py") if not p.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def run_script(name: str, quick: bool) -> bool:
    """Run one script as `python benchmarks/<name>.py [--quick]`; True if it succeeded."""
    path = HERE / f"{name}.py"
    json_file = RESULTS_DIR / f"{name}.json"
    before = json_file.stat().st_mtime if json_file.exists() else None
    saved_argv, saved_stdout = sys.argv, sys.stdout
    sys.argv = [str(path.relative_to(HERE.parent)), *(["--quick"] if quick else [])]
    tee = _Tee(saved_stdout)
    sys.stdout = tee
    started, info = time.perf_counter(), machine()
    try:
        runpy.run_path(str(path), run_name="__main__")
        ok = True
    except Exception:
        traceback.print_exc()
        ok = False
    finally:
        sys.argv, sys.stdout = saved_argv, saved_stdout
    seconds = time.perf_counter() - started
    print(f"\n_{name}: {'done' if ok else 'FAILED'} in {seconds:.0f} s_", flush=True)
    wrote = json_file.exists() and json_file.stat().st_mtime != before
    if ok and not wrote:
        printed = tee.copy.getvalue().strip()
        save_result(name, {"seconds": round(seconds, 1)}, printed, quick=quick, info=info)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--only", help="comma-separated script names (default: all)")
    parser.add_argument("--report", action="store_true", help="only rebuild the Markdown")
    args = parser.parse_args(argv)
    failed = []
    if not args.report:
        names = args.only.split(",") if args.only else scripts()
        unknown = set(names) - set(scripts())
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        print(f"# digitlab benchmarks{' (quick)' if args.quick else ''}", flush=True)
        print(machine_line(machine()), flush=True)
        for name in names:
            print(f"\n## {name}\n", flush=True)
            if not run_script(name, args.quick):
                failed.append(name)
        if failed:
            print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    for path in update_reports():
        print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
