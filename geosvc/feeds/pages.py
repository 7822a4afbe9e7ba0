"""Staging what a paged service returned: one file written at once, with the sha256 of its bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

DEFAULT_PAGE = 1000
MAX_PAGES = 10_000  # a server that never stops paging is an error, not an endless sync


def stage(path: Path, body: bytes) -> str:
    """Write ``body`` to ``path``; return its sha256."""
    path.write_bytes(body)
    return hashlib.sha256(body).hexdigest()


def stage_json(path: Path, value: Any) -> str:
    """Write ``value`` as compact JSON; return its sha256."""
    return stage(path, json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def write_collection(path: Path, features: list[dict[str, Any]]) -> str:
    """Write a GeoJSON FeatureCollection of ``features``; return its sha256."""
    return stage_json(path, {"type": "FeatureCollection", "features": features})
