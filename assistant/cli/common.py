"""What every command group shares: progress bars and plain-text tables on the terminal."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def progress_bar(description: str):
    """A tqdm bar fed by the engine's progress(done, total) callbacks."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="item", file=sys.stderr, disable=None)
    try:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        yield update
    finally:
        bar.close()


def print_table(rows: list[list[str]], header: list[str], out=None) -> None:
    out = out or sys.stdout  # looked up per call, so redirected or captured stdout is honoured
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip(), file=out)
