"""Where keys, access requests (and so grants), the audit trail and rate-limit state are kept.

:class:`AccessStore` is the interface; :class:`SqliteAccessStore` keeps everything in one SQLite database
(WAL, one connection per thread, writes in ``BEGIN IMMEDIATE`` transactions) so several server workers and
the CLI can share it. A PostGIS backend can implement the same protocol.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from geosvc.auth.audit import GENESIS, AuditEntry, entry_hash
from geosvc.auth.caller import Grant, iso
from geosvc.auth.keys import ApiKey
from geosvc.auth.requests import AccessRequest
from geosvc.errors import InvalidParameter, NotFound, StoreError


class AccessStore(Protocol):
    """What geosvc.auth needs kept."""

    def add_key(self, key: ApiKey) -> None: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def list_keys(self) -> list[ApiKey]: ...
    def revoke_key(self, key_id: str, at: dt.datetime) -> ApiKey: ...

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Store ``entry`` after the last one: ``seq``, ``prev_hash`` and ``hash`` are set here, atomically."""

    def audit_entries(self, since: dt.datetime | None = None) -> list[AuditEntry]: ...

    def add_request(self, subject: str, layer: str, role: str, purpose: str, at: dt.datetime) -> AccessRequest: ...
    def get_request(self, request_id: int) -> AccessRequest: ...
    def list_requests(self, subject: str | None = None) -> list[AccessRequest]: ...

    def save_decision(self, decided: AccessRequest) -> AccessRequest:
        """Record a decision, unless the request was decided meanwhile (then an error)."""

    def grants_for(self, subject: str, at: dt.datetime) -> frozenset[Grant]:
        """Approved requests of ``subject`` not lapsed at ``at``."""

    def rate_step[R](self, key: str, step: Callable[[str | None], tuple[str | None, R]]) -> R:
        """Run ``step(old state) -> (new state or None to keep, result)`` atomically for ``key``."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, name TEXT NOT NULL, roles TEXT NOT NULL, key_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, revoked_at TEXT);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, subject TEXT NOT NULL, via TEXT NOT NULL, action TEXT NOT NULL,
    route TEXT NOT NULL, layers TEXT NOT NULL, params TEXT NOT NULL, answer_hash TEXT, withheld INTEGER,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS access_requests (
    id INTEGER PRIMARY KEY, subject TEXT NOT NULL, layer TEXT NOT NULL, role TEXT NOT NULL, purpose TEXT NOT NULL,
    status TEXT NOT NULL, requested_at TEXT NOT NULL, decided_at TEXT, decided_by TEXT, expires_at TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS access_requests_subject ON access_requests (subject, status);
CREATE TABLE IF NOT EXISTS rate_state (key TEXT PRIMARY KEY, state TEXT NOT NULL);
"""


def _text(value: dt.datetime | None) -> str | None:
    return None if value is None else iso(value)


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


class SqliteAccessStore:
    """:class:`AccessStore` in one SQLite file (``settings.access_path``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the access database {self.path}: {exc}") from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=15000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database's write lock up front (no lost updates across processes)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"access database busy: {exc}") from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, args).fetchall()

    # keys

    def add_key(self, key: ApiKey) -> None:
        with self._write() as db:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)",
                       (key.key_id, key.name, json.dumps(list(key.roles)), key.key_hash, _text(key.created_at),
                        _text(key.revoked_at)))

    @staticmethod
    def _key(row: sqlite3.Row) -> ApiKey:
        return ApiKey(row["key_id"], row["name"], tuple(json.loads(row["roles"])), row["key_hash"],
                      _time(row["created_at"]), _time(row["revoked_at"]))

    def get_key(self, key_id: str) -> ApiKey | None:
        rows = self._read("SELECT * FROM api_keys WHERE key_id = ?", (key_id,))
        return self._key(rows[0]) if rows else None

    def list_keys(self) -> list[ApiKey]:
        return [self._key(row) for row in self._read("SELECT * FROM api_keys ORDER BY created_at, key_id")]

    def revoke_key(self, key_id: str, at: dt.datetime) -> ApiKey:
        with self._write() as db:
            rows = db.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchall()
            if not rows:
                raise NotFound(f"no API key '{key_id}'", param="KEY_ID")
            key = self._key(rows[0])
            if key.revoked_at is not None:
                raise InvalidParameter(f"API key '{key_id}' was already revoked at {key.revoked_at.isoformat()}")
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (_text(at), key_id))
        return replace(key, revoked_at=at)

    # audit

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        with self._write() as db:
            last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            entry = replace(entry, seq=(last["seq"] + 1) if last else 1, prev_hash=last["hash"] if last else GENESIS)
            entry = replace(entry, hash=entry_hash(entry))
            db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (entry.seq, entry.at, entry.subject, entry.via, entry.action, entry.route,
                        json.dumps(list(entry.layers)), json.dumps(entry.params, sort_keys=True, default=str),
                        entry.answer_hash, entry.withheld, entry.prev_hash, entry.hash))
        return entry

    def audit_entries(self, since: dt.datetime | None = None) -> list[AuditEntry]:
        sql, args = "SELECT * FROM audit", ()
        if since is not None:
            sql, args = sql + " WHERE at >= ?", (_text(since),)
        return [AuditEntry(row["seq"], row["at"], row["subject"], row["via"], row["action"], row["route"],
                           tuple(json.loads(row["layers"])), json.loads(row["params"]), row["answer_hash"],
                           row["withheld"], row["prev_hash"], row["hash"])
                for row in self._read(sql + " ORDER BY seq", args)]

    # access requests and grants

    @staticmethod
    def _request(row: sqlite3.Row) -> AccessRequest:
        return AccessRequest(row["id"], row["subject"], row["layer"], row["role"], row["purpose"], row["status"],
                             _time(row["requested_at"]), _time(row["decided_at"]), row["decided_by"],
                             _time(row["expires_at"]), row["note"])

    def add_request(self, subject: str, layer: str, role: str, purpose: str, at: dt.datetime) -> AccessRequest:
        with self._write() as db:
            cur = db.execute("INSERT INTO access_requests (subject, layer, role, purpose, status, requested_at) "
                             "VALUES (?, ?, ?, ?, 'requested', ?)", (subject, layer, role, purpose, _text(at)))
        return AccessRequest(cur.lastrowid, subject, layer, role, purpose, "requested", at)

    def get_request(self, request_id: int) -> AccessRequest:
        rows = self._read("SELECT * FROM access_requests WHERE id = ?", (request_id,))
        if not rows:
            raise NotFound(f"no access request {request_id}", param="id")
        return self._request(rows[0])

    def list_requests(self, subject: str | None = None) -> list[AccessRequest]:
        if subject is None:
            return [self._request(row) for row in self._read("SELECT * FROM access_requests ORDER BY id")]
        return [self._request(row) for row in
                self._read("SELECT * FROM access_requests WHERE subject = ? ORDER BY id", (subject,))]

    def save_decision(self, decided: AccessRequest) -> AccessRequest:
        with self._write() as db:
            cur = db.execute("UPDATE access_requests SET status = ?, decided_at = ?, decided_by = ?, expires_at = ?, "
                             "note = ? WHERE id = ? AND status = 'requested'",
                             (decided.status, _text(decided.decided_at), decided.decided_by,
                              _text(decided.expires_at), decided.note, decided.id))
            if cur.rowcount != 1:
                raise InvalidParameter(f"access request {decided.id} was decided meanwhile")
        return decided

    def grants_for(self, subject: str, at: dt.datetime) -> frozenset[Grant]:
        rows = self._read("SELECT * FROM access_requests WHERE subject = ? AND status = 'approved' "
                          "AND (expires_at IS NULL OR expires_at > ?)", (subject, _text(at)))
        return frozenset(self._request(row).grant() for row in rows)

    # rate limits

    def rate_step[R](self, key: str, step: Callable[[str | None], tuple[str | None, R]]) -> R:
        with self._write() as db:
            row = db.execute("SELECT state FROM rate_state WHERE key = ?", (key,)).fetchone()
            new, result = step(row["state"] if row else None)
            if new is not None:
                db.execute("INSERT INTO rate_state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                           (key, new))
        return result


def open_access_store(settings: Any) -> SqliteAccessStore:
    """The access database of ``settings`` (``settings.access_path``)."""
    return SqliteAccessStore(settings.access_path)
