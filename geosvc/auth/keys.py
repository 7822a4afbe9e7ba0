"""API keys for scripts and desktop clients: ``gsk_<key id>_<secret>``, stored only as a SHA-256 hash.

The secret is 256 random bits (:func:`secrets.token_urlsafe`), so an unsalted fast hash is safe; the key id
in clear lets the store find the row, and the hash is compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from geosvc.errors import Unauthorized

PREFIX = "gsk_"
_ID_LEN = 12


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the key itself)."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    key_hash: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def subject(self) -> str:
        return f"key:{self.key_id}"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, key)``."""
    key_id = secrets.token_hex(_ID_LEN // 2)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str:
    """The key id a presented key claims; :class:`Unauthorized` if it is not shaped like a geosvc key."""
    key_id, sep, secret = key.removeprefix(PREFIX).partition("_")
    if not key.startswith(PREFIX) or not sep or len(key_id) != _ID_LEN or not secret:
        raise Unauthorized("malformed API key")
    return key_id


def check_key(key: str, stored: ApiKey | None) -> ApiKey:
    """``stored`` if ``key`` matches it and it is not revoked; :class:`Unauthorized` otherwise."""
    if stored is None or not hmac.compare_digest(key_hash(key), stored.key_hash):
        raise Unauthorized("unknown API key")
    if stored.revoked_at is not None:
        raise Unauthorized(f"API key '{stored.key_id}' was revoked")
    return stored
