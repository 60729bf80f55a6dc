"""What the benchmarks share: the test set and a Markdown table printer."""

from __future__ import annotations

from collections.abc import Sequence

from model.data import Mnist, load_mnist, resolve_data_dir
from settings import REPO_ROOT, get_settings


def load_test_mnist() -> Mnist:
    settings = get_settings()
    shared = REPO_ROOT.parent / "shared" / "datasets" / "mnist"
    folder = settings.mnist_dir or (shared if shared.is_dir() else None)
    return load_mnist(resolve_data_dir(folder, settings.mnist_cache_dir))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so README can quote the output as it is."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def print_breakdown(by_model: dict[str, dict[str, float]], first: str, fmt: str = ".2%") -> None:
    """One row per kind, one column per model: {model: {kind: share}} as a table."""
    names = list(by_model)
    kinds = list(next(iter(by_model.values()), {}))
    print_table([first, *names], [[k, *(f"{by_model[m][k]:{fmt}}" for m in names)] for k in kinds])
