"""Plain-text tables for benchmark results, readable in a terminal and pasteable into the README."""

from __future__ import annotations

import os
from collections.abc import Sequence


def machine_line() -> str:
    """Cores and load average: on a shared machine, other processes' load explains noisy timings."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {cores} cores, load average {load} (1, 5, 15 min)"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with columns padded to their widest cell; floats keep the caller's formatting."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])
