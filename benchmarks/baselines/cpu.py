"""CPU seconds used by server process trees (``/proc``), to compare services per request on a shared machine.

Wall-clock throughput on a loaded machine depends on the share of the cores each service gets (a service
spread over more processes gets more); CPU time per request does not.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_seconds(roots: list[int]) -> float:
    """User + system CPU of each root and its live descendants, plus what their exited children used."""
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError, IndexError):
            fields = _stat(pid)
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
            todo += _children(pid)
    return total / TICK
