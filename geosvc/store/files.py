"""File helpers of the store: content hashes and durable writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path

STAGING_TTL = 24 * 3600  # seconds after which a staging file is a leftover of a killed publish


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_file(root: Path, suffix: str) -> Path:
    """A fresh file name in ``root/staging`` (same file system as the store, so renames are atomic).

    Staging files older than a day (left by a killed publish) are removed on the way.
    """
    folder = root / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STAGING_TTL
    for leftover in folder.iterdir():
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
    fd, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(fd)
    os.remove(name)  # writers create the file themselves
    return Path(name)
