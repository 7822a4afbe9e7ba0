"""Shared by the benchmark scripts: each owns one section of ``RESULTS.md`` between two markers."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str) -> None:
    """Replace (or append) the section between the two ``<!-- name -->`` markers, keeping the others.

    ``text`` is the section's body (heading included), without the markers.
    """
    mark = f"<!-- {name} -->"
    section = f"{mark}\n{text.strip()}\n{mark}"
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(mark)
    end = current.find(mark, start + len(mark)) if start >= 0 else -1
    if end >= 0:
        current = current[:start] + section + current[end + len(mark):]
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(current, encoding="utf-8")
