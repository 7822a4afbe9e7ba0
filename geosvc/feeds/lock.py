"""One sync per layer at a time across processes: an exclusive ``flock`` on ``store_dir/locks/<id>.sync``.

The kernel drops the lock when the holder exits, however it exits, so a killed sync never wedges a layer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def layer_lock(store_dir: Path, layer_id: str) -> Iterator[bool]:
    """Yield True holding the layer's sync lock, or False at once if another process holds it."""
    folder = store_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{layer_id}.sync", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
