"""The SQLite catalog of the embedded store: published layer versions, validation runs, events and the
privacy ledger (plus the checks both backends apply to a privacy release)."""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from geosvc.errors import InvalidParameter, PrivacyBudgetExhausted

SCHEMA = """
CREATE TABLE IF NOT EXISTS layer_versions (
    layer_id      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    path          TEXT    NOT NULL,  -- relative to the store directory
    checksum      TEXT    NOT NULL,  -- sha256 of the file
    published_at  TEXT    NOT NULL,  -- ISO 8601, UTC
    native_crs    TEXT    NOT NULL,
    bbox          TEXT    NOT NULL,  -- JSON [minx, miny, maxx, maxy], CRS84
    feature_count INTEGER,
    geometry_type TEXT,
    fields        TEXT    NOT NULL,  -- JSON {name: type}
    record        TEXT    NOT NULL,  -- JSON of the layer record at publish time
    notes         TEXT    NOT NULL,  -- JSON list of what publish did
    content_hash  TEXT    NOT NULL DEFAULT '',  -- sha256 of record + source content (idempotent publish)
    PRIMARY KEY (layer_id, version)
);
CREATE TABLE IF NOT EXISTS withdrawn (
    layer_id      TEXT    PRIMARY KEY,
    at            TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_state (
    key           TEXT    PRIMARY KEY,
    value         INTEGER NOT NULL   -- 'generation': bumped by every change to what is served
);
CREATE TABLE IF NOT EXISTS validation_runs (
    run_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    layer_id      TEXT    NOT NULL,
    run_at        TEXT    NOT NULL,
    ok            INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    warnings      INTEGER NOT NULL,
    completeness  REAL    NOT NULL,
    stale         INTEGER NOT NULL,
    findings      TEXT    NOT NULL   -- JSON list of Finding.as_dict()
);
CREATE INDEX IF NOT EXISTS validation_runs_layer ON validation_runs (layer_id, run_id);
CREATE TABLE IF NOT EXISTS layer_events (
    event_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    layer_id      TEXT    NOT NULL,
    at            TEXT    NOT NULL,  -- ISO 8601, UTC
    kind          TEXT    NOT NULL,  -- 'publish', 'sync', 'withdraw', ...
    outcome       TEXT    NOT NULL,  -- 'published', 'unchanged', 'failed', ...
    version       INTEGER,
    message       TEXT    NOT NULL,
    detail        TEXT    NOT NULL   -- JSON object
);
CREATE INDEX IF NOT EXISTS layer_events_layer ON layer_events (layer_id, event_id);
CREATE TABLE IF NOT EXISTS privacy_releases (
    layer_id      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    key           TEXT    NOT NULL,  -- what was released (chosen by the caller)
    epsilon       REAL    NOT NULL,  -- ε charged to the version's budget
    spent_after   REAL    NOT NULL,  -- the version's total ε once this release was charged
    created       TEXT    NOT NULL,  -- ISO 8601, UTC
    payload       BLOB    NOT NULL,  -- the noisy release (see geosvc.equity.privacy.to_bytes)
    PRIMARY KEY (layer_id, version, key)
);
"""
BUDGET_SLACK = 1e-9  # ε by which float sums may pass a budget (0.1 + 0.2 > 0.3 in binary floating point)


def utcnow() -> dt.datetime:
    """Current time in UTC, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def dumps(value) -> str:
    """Compact JSON for catalog columns."""
    return json.dumps(value, separators=(",", ":"), default=str)


@contextmanager
def connect(path: Path, *, init: bool = True) -> Iterator[sqlite3.Connection]:
    """A short-lived connection (WAL, so readers never block on a publish); closed on exit.

    ``init`` creates the folder, switches the database to WAL and creates missing tables.
    """
    if init:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA synchronous=FULL")
        if init:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            columns = {r[1] for r in con.execute("PRAGMA table_info(layer_versions)")}
            if "content_hash" not in columns:  # a catalog written before idempotent publish
                con.execute("ALTER TABLE layer_versions ADD COLUMN content_hash TEXT NOT NULL DEFAULT ''")
        yield con
    finally:
        con.close()


def bump_generation(con: sqlite3.Connection) -> None:
    """Mark a change to what is served (inside the caller's transaction)."""
    con.execute(
        "INSERT INTO catalog_state VALUES ('generation', 1) "
        "ON CONFLICT(key) DO UPDATE SET value = value + 1"
    )


def event_filter(layer_id, kind, since, placeholder: str = "?") -> tuple[str, list]:
    """``WHERE`` clause and arguments selecting layer events by layer, kind and time (any may be None)."""
    clauses, args = [], []
    for column, value in (("layer_id", layer_id), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = {placeholder}")
            args.append(value)
    if since is not None:
        clauses.append(f"at >= {placeholder}")
        args.append(since.astimezone(dt.UTC).isoformat() if since.tzinfo else since.isoformat())
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args


def privacy_arguments(key: str, epsilon: float, budget: float) -> tuple[float, float]:
    """``epsilon`` and ``budget`` as floats, or :class:`InvalidParameter` naming the bad argument."""
    if not isinstance(key, str) or not key:
        raise InvalidParameter("must be a non-empty string", param="key")
    values = []
    for name, value, low in (("epsilon", epsilon, "greater than 0"), ("budget", budget, "at least 0")):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidParameter(f"must be a number, got {value!r}", param=name) from None
        if not math.isfinite(number) or number < 0 or (name == "epsilon" and number == 0):
            raise InvalidParameter(f"must be finite and {low}, got {value!r}", param=name)
        values.append(number)
    return values[0], values[1]


def charge(layer_id: str, version: int, spent: float, epsilon: float, budget: float,
           make: Callable[[], bytes]) -> bytes:
    """The payload of a new release once its ε fits the budget (inside the caller's transaction)."""
    if spent + epsilon > budget + BUDGET_SLACK:
        raise PrivacyBudgetExhausted(layer_id, version, spent, epsilon, budget)
    payload = make()
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"make() must return bytes, not {type(payload).__name__}")
    return bytes(payload)
