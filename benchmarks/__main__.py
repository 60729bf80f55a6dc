"""Run every benchmark script in this folder, one after the other (`make bench`)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> int:
    scripts = sorted(p for p in Path(__file__).parent.glob("*.py") if not p.name.startswith("_"))
    for script in scripts:
        print(f"\n## {script.stem}\n", flush=True)
        runpy.run_path(str(script), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
