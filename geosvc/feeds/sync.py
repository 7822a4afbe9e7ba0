"""Sync one layer: fetch its remote source into staging, and when the content changed validate it and
publish it as the next version. On any failure the published version stays; every attempt is recorded
as a ``sync`` event (outcome ``published`` | ``unchanged`` | ``not-modified`` | ``failed``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosvc.errors import GeosvcError, NotPublished
from geosvc.feeds.base import Cancelled, Fetched, FetchJob, NotModified, Previous
from geosvc.feeds.client import Http, credentials
from geosvc.feeds.lock import layer_lock
from geosvc.feeds.registry import FETCHERS
from geosvc.feeds.status import SUCCESS, sync_status

if TYPE_CHECKING:
    from geosvc.records.models import LayerRecord
    from geosvc.settings import Settings
    from geosvc.store.base import Store
    from geosvc.validate.findings import LayerReport

Validate = Callable[["LayerRecord"], "LayerReport"]
CARRIED = ("sha256", "etag", "last_modified", "source_updated")  # what the next conditional sync needs


@dataclass(frozen=True)
class SyncResult:
    """What one sync did; ``busy`` (another process syncs the layer) and ``cancelled`` are not recorded."""

    layer: str
    outcome: str  # published | unchanged | not-modified | failed | busy | cancelled
    version: int | None = None
    message: str = ""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GeosvcError):
        return exc.message
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"unexpected {type(exc).__name__}: {first}"


@dataclass
class Syncer:
    """Syncs layers into ``store``; ``validate`` is the CLI's validate-and-record step."""

    settings: Settings
    store: Store
    validate: Validate
    cancel: threading.Event

    def _current_version(self, layer_id: str) -> int | None:
        try:
            return self.store.get(layer_id).version
        except NotPublished:
            return None

    def _previous(self, record: LayerRecord, version: int | None) -> Previous | None:
        """The last successful sync, if the store still serves what it published and the record is the
        same (a hand publish or a record edit starts afresh: no conditional request, a new version)."""
        if version is None:
            return None
        for event in reversed(self.store.events(record.id, kind="sync")):
            if event.outcome in SUCCESS:
                same = event.version == version and event.detail.get("record") == fingerprint(record)
                return Previous.from_detail(event.version, event.detail) if same else None
        return None

    def _record(self, record: LayerRecord, outcome: str, version: int | None, message: str,
                detail: dict[str, Any]) -> SyncResult:
        detail = {k: v for k, v in detail.items() if v is not None}
        self.store.record_event(record.id, "sync", outcome, version=version, message=message, detail=detail)
        return SyncResult(record.id, outcome, version, message)

    def sync(self, record: LayerRecord, *, seen: dt.datetime | None = None) -> SyncResult:
        """Sync one layer with a remote source (see the module docstring); never raises for the layer's faults.

        ``seen``: the last attempt the caller saw when it found the layer due; if another process made
        a newer attempt meanwhile, nothing is done (``busy``).
        """
        with layer_lock(self.settings.store.dir, record.id) as held:
            if held and seen is not None:
                last = sync_status(self.store.events(record.id, kind="sync")).last_attempt
                held = last is None or last <= seen
            if not held:
                return SyncResult(record.id, "busy", message="another process is syncing this layer")
            return self._sync_locked(record)

    def _sync_locked(self, record: LayerRecord) -> SyncResult:
        source = record.source
        base = {"kind": source.kind, "url": source.url, "record": fingerprint(record)}
        version = self._current_version(record.id)
        previous = self._previous(record, version)
        carried = {k: getattr(previous, k) for k in CARRIED} if previous else {}
        staging_root = self.settings.store.dir / "staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        for leftover in staging_root.glob(f"sync-{record.id}.*"):  # of a sync that was killed or abandoned
            shutil.rmtree(leftover, ignore_errors=True)  # (we hold the layer's lock: no live sync owns it)
        staging = Path(tempfile.mkdtemp(prefix=f"sync-{record.id}.", dir=staging_root))
        http = None
        try:
            headers, userpwd = credentials(source.kind, source.credentials_env, record.id)
            http = Http(timeout=self.settings.sync.timeout, retries=self.settings.sync.retries,
                        backoff=self.settings.sync.backoff, layer_id=record.id, cancel=self.cancel,
                        headers=headers, userpwd=userpwd)
            job = FetchJob(record=record, staging=staging, previous=previous, http=http,
                           cancel=self.cancel)
            fetched = FETCHERS[source.kind](job)
            if previous is not None and fetched.sha256 == previous.sha256:
                detail = {**base, **carried, **_detail(fetched)}
                return self._record(record, "unchanged", version, "content unchanged (same sha256)", detail)
            return self._publish(record, fetched, base)
        except NotModified as done:
            detail = {**base, **carried, **{k: v for k, v in done.detail.items() if v is not None}}
            return self._record(record, "not-modified", version, "source reports no change", detail)
        except Cancelled:
            return SyncResult(record.id, "cancelled", version, "stopped before the fetch finished")
        except Exception as exc:  # noqa: BLE001 - a broken source must not stop the other layers
            return self._record(record, "failed", version, _one_line(exc), base)
        finally:
            if http is not None:
                http.close()
            shutil.rmtree(staging, ignore_errors=True)

    def _publish(self, record: LayerRecord, fetched: Fetched, base: dict[str, Any]) -> SyncResult:
        """Validate the staged file as the record's source and publish it; the record keeps its remote source."""
        from geosvc.store.publish import publish_layer

        detail = {**base, **_detail(fetched)}
        effective = record
        if fetched.source_updated is not None:
            effective = record.model_copy(update={"last_updated": fetched.source_updated.date()})
        local = record.source.model_copy(update={"kind": "file", "path": str(fetched.path), "url": None,
                                                 "layer": fetched.layer})
        report = self.validate(effective.model_copy(update={"source": local}))
        if not report.ok:
            errors = [f for f in report.findings if f.severity == "error"]
            codes = list(dict.fromkeys(f.code for f in errors))
            message = f"validation failed [{', '.join(codes)}]: {errors[0].message}"
            return self._record(record, "failed", self._current_version(record.id), message, {**detail, "codes": codes})
        published = publish_layer(effective, report, self.store, self.settings)
        count = "" if published.feature_count is None else f" ({published.feature_count} features)"
        message = f"published v{published.version}{count}"
        return self._record(record, "published", published.version, message, detail)


def fingerprint(record: LayerRecord) -> str:
    """sha256 of the record as written (``last_updated`` aside, which a sync may set from the source)."""
    return hashlib.sha256(record.model_dump_json(exclude={"last_updated"}).encode()).hexdigest()[:16]


def _detail(fetched: Fetched) -> dict[str, Any]:
    stamp = fetched.source_updated.isoformat() if fetched.source_updated else None
    return {"sha256": fetched.sha256, **fetched.detail, "source_updated": stamp}
