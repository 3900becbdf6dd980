"""What every command group shares: progress bars, plain-text tables, JSON reports, and a stdout without control codes.

Invariant: while a command runs (``main`` wraps it in ``plain_stdout``), nothing it prints to stdout can
carry a terminal control sequence, whatever a catalog value holds; table cells are flattened to one line.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.atomic import atomic_write_json
from assistant.plaintext import terminal_text


def write_json_report(path: str | Path, report: dict) -> Path:
    """An evaluation's report written whole (atomically) to ``path``, its folder created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, report)
    return path


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


class PlainTextWriter(io.TextIOBase):
    """A text stream that passes everything on to ``stream`` except control characters (newline and tab stay)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(terminal_text(text, keep="\n\t"))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


@contextmanager
def plain_stdout() -> Iterator[None]:
    """sys.stdout strips control characters until the block ends."""
    original = sys.stdout
    sys.stdout = PlainTextWriter(original)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = original


def print_table(rows: list[list[str]], header: list[str], out=None) -> None:
    out = out or sys.stdout  # looked up per call, so redirected or captured stdout is honoured
    rows = [[terminal_text(" ".join(str(x).split())) for x in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip(), file=out)
