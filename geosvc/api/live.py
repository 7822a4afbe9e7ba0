"""The live registry: what the service serves now, rebuilt whenever the store's catalog changes.

A :class:`Snapshot` is immutable: the served layer versions, the layers that could not be read and
why, and the pygeoapi app and documents generated for exactly those versions. Each request takes the
current snapshot when it starts (:class:`SnapshotMiddleware`) and finishes on it, so a publish or a
withdrawal never tears an answer; a watcher thread per process polls the store's generation and
swaps in a new snapshot (every worker of every instance does the same, so all switch within about a
poll interval plus a build).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from geosvc.errors import GeosvcError
from geosvc.store.base import PublishedLayer, Store

LOGGER = logging.getLogger("geosvc.live")
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Snapshot:
    """What is served, as of one catalog generation."""

    generation: int
    layers: dict[str, PublishedLayer]  # served layers by id (every kind, every sensitivity)
    broken: dict[str, str]  # layer id -> why its latest version is not served
    ogc: Any  # geosvc.ogc.mount.MountedOgc
    documents: Any  # geosvc.ogc.fastpath.OgcDocuments
    built_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


Builder = Callable[[int, list[PublishedLayer], dict[str, str]], Snapshot]


class LiveRegistry:
    """Holds the current :class:`Snapshot` of one app and replaces it when the store changes."""

    def __init__(self, store: Store, build: Builder, *, poll_seconds: float = POLL_SECONDS):
        self.store = store
        self._build = build
        self._poll = poll_seconds
        self._checked: dict[tuple[str, int], str | None] = {}  # (id, version) -> error, checked once
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._snapshot = self._make()

    def current(self) -> Snapshot:
        """The snapshot being served now."""
        return self._snapshot

    def _readable(self, layers: list[PublishedLayer]) -> tuple[list[PublishedLayer], dict[str, str]]:
        ok, broken = [], {}
        for layer in layers:
            key = (layer.id, layer.version)
            if key not in self._checked:
                try:
                    self.store.check(layer)
                    self._checked[key] = None
                except GeosvcError as exc:
                    self._checked[key] = exc.message
                    LOGGER.error("not serving %s v%s: %s", layer.id, layer.version, exc.message)
            if self._checked[key] is None:
                ok.append(layer)
            else:
                broken[layer.id] = f"v{layer.version} cannot be read; not served ({self._checked[key]})"
        return ok, broken

    def _make(self) -> Snapshot:
        generation = self.store.generation()
        layers, broken = self._readable(self.store.published())
        return self._build(generation, layers, broken)

    def refresh(self, force: bool = False) -> bool:
        """Rebuild if the store's generation moved (or ``force``); True if the snapshot changed."""
        with self._lock:
            try:
                if not force and self.store.generation() == self._snapshot.generation:
                    return False
                self._snapshot = self._make()
                self.last_error = None
                return True
            except Exception as exc:  # keep serving the last good snapshot; /health says why
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                LOGGER.exception("registry refresh failed; still serving generation %s", self._snapshot.generation)
                return False

    def unreadable(self, layer: PublishedLayer, message: str) -> None:
        """A served version failed a read: stop serving it (from the next snapshot on)."""
        with self._lock:
            self._checked[(layer.id, layer.version)] = message
        self.refresh(force=True)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            self.refresh()

    def start(self) -> None:
        """Start the watcher thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="geosvc-registry", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the watcher thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class SnapshotMiddleware:
    """Pins the current snapshot on each request (``scope["state"]["snapshot"]``)."""

    def __init__(self, app: ASGIApp, registry: LiveRegistry):
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["snapshot"] = self.registry.current()
        await self.app(scope, receive, send)


def snapshot_of(scope: Scope) -> Snapshot:
    """The snapshot a request started on."""
    return scope["state"]["snapshot"]
