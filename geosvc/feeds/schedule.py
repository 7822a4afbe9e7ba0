"""When each layer is due, and ``geosvc sync --watch``'s loop that syncs due layers until told to stop.

A layer is due ``sync.every`` after its last recorded attempt (any outcome, in any process), plus a
jitter of up to ``settings.sync.jitter`` of the interval so that layers synced together drift apart.
The jitter is derived from the layer id and that attempt's time, so every watcher computes the same due
time. Without ``sync.every`` the interval is a thirtieth of ``update_cadence`` kept within an hour and a
day; ``static`` layers are synced only when asked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable

from geosvc.feeds.status import sync_status
from geosvc.feeds.sync import Syncer, SyncResult
from geosvc.records.models import LayerRecord
from geosvc.validate.freshness import parse_cadence

MIN_DERIVED, MAX_DERIVED = dt.timedelta(hours=1), dt.timedelta(days=1)
STOP_GRACE = 3.0  # seconds a running sync may take to finish once a stop is asked


def _span(duration: str) -> dt.timedelta:
    start = dt.datetime(2000, 1, 1)
    return (start + parse_cadence(duration)) - start


def interval(record: LayerRecord) -> dt.timedelta | None:
    """How often the layer is synced (None: not scheduled)."""
    if record.source is None or not record.source.remote:
        return None
    if record.sync is not None:
        return _span(record.sync.every)
    if record.update_cadence == "static":
        return None
    return min(max(_span(record.update_cadence) / 30, MIN_DERIVED), MAX_DERIVED)


def due_at(record: LayerRecord, last_attempt: dt.datetime | None, jitter: float) -> dt.datetime | None:
    """When the layer's next sync is due: now-ish if never attempted, None if not scheduled."""
    every = interval(record)
    if every is None:
        return None
    if last_attempt is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    seed = hashlib.sha256(f"{record.id}@{last_attempt.isoformat()}".encode()).digest()
    fraction = int.from_bytes(seed[:8]) / 2**64
    return last_attempt + every * (1 + jitter * fraction)


def _run(syncer: Syncer, record: LayerRecord, seen: dt.datetime | None, results: list[SyncResult]) -> None:
    """Worker thread body: one sync; a fault outside the layer's own (the catalog) is reported, not raised."""
    try:
        results.append(syncer.sync(record, seen=seen))
    except Exception as exc:  # noqa: BLE001 - the loop goes on with the other layers
        results.append(SyncResult(record.id, "failed", message=f"{type(exc).__name__}: {exc}".splitlines()[0]))


def watch(select: Callable[[], Iterable[LayerRecord]], syncer: Syncer, stop: threading.Event, *,
          tick: float, jitter: float, report: Callable[[SyncResult], None]) -> None:
    """Sync due layers until ``stop`` is set; ``select`` is called every tick so record edits apply.

    Each sync runs in a worker thread that checks ``stop`` between requests; on a stop the loop waits
    up to :data:`STOP_GRACE` seconds for it, then returns (an abandoned fetch publishes nothing).
    """
    while not stop.is_set():
        now = dt.datetime.now(dt.UTC)
        for record in select():
            if stop.is_set():
                return
            last = sync_status(syncer.store.events(record.id, kind="sync")).last_attempt
            due = due_at(record, last, jitter)
            if due is None or due > now:
                continue
            results: list[SyncResult] = []
            worker = threading.Thread(target=_run, args=(syncer, record, last, results), daemon=True,
                                      name=f"sync-{record.id}")
            worker.start()
            while worker.is_alive() and not stop.is_set():
                worker.join(0.2)
            worker.join(STOP_GRACE)
            if results:
                report(results[0])
            elif worker.is_alive():
                report(SyncResult(record.id, "cancelled", message="abandoned on stop"))
                return
        stop.wait(tick)
