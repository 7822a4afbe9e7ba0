"""The live registry: what the service serves now, rebuilt whenever the store's catalog changes.

A :class:`Snapshot` holds the readable published layer versions of one catalog generation and the
layers that could not be read. What one request sees is a :class:`View` of it: the layers its caller
may read (public ones, and restricted ones through a role or a grant in force) with the pygeoapi app
and documents generated for exactly those (built once per distinct set, then cached). Each request
takes its view when it starts (:meth:`LiveRegistry.pin`) and finishes on it, so a publish or a
withdrawal never tears an answer; a watcher thread per process polls the store's generation and swaps
in a new snapshot (every worker of every instance does the same, so all switch within about a poll
interval plus a build).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope

from geosvc.auth.caller import ANONYMOUS, Caller
from geosvc.auth.grants import is_restricted, visible
from geosvc.errors import GeosvcError
from geosvc.store.base import PublishedLayer, Store

LOGGER = logging.getLogger("geosvc.live")
VIEWS_KEPT = 32  # distinct visible sets whose pygeoapi apps a snapshot keeps


@dataclass(frozen=True)
class View:
    """What one request is served: the layers its caller may read, and pygeoapi built for them."""

    generation: int
    layers: dict[str, PublishedLayer]  # layers the caller may read, by id
    broken: dict[str, str]  # layers the caller may read whose latest version cannot be: id -> why
    restricted: frozenset[str]  # of ``layers``, those whose reads are restricted (and audited)
    ogc: Any  # geosvc.ogc.mount.MountedOgc
    documents: Any  # geosvc.ogc.fastpath.OgcDocuments
    record_level: dict[str, PublishedLayer] = field(default_factory=dict)  # served record-level layers
    # (anyone may ask for their protected tabulations; reading them is restricted like any layer)
    built_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


ViewBuilder = Callable[[list[PublishedLayer]], tuple[Any, Any]]  # layers -> (ogc, documents)


class Snapshot:
    """The readable layers of one catalog generation, and their views by visible set (built lazily)."""

    def __init__(self, generation: int, layers: list[PublishedLayer],
                 broken: dict[str, tuple[PublishedLayer, str]], build_view: ViewBuilder):
        self.generation = generation
        self.layers = {layer.id: layer for layer in layers}
        self.broken = broken
        self.known = [*layers, *(layer for layer, _ in broken.values())]  # for derived layers' inputs
        self._build_view = build_view
        self._views: dict[frozenset[str], View] = {}
        self._lock = threading.Lock()
        self.public = self.view_for(ANONYMOUS)

    def view_for(self, caller: Caller) -> View:
        """The view of what ``caller`` may read."""
        ids = frozenset(layer.id for layer in visible(caller, list(self.layers.values()), self.known))
        view = self._views.get(ids)
        if view is None:
            with self._lock:
                view = self._views.get(ids)
                if view is None:
                    view = self._new_view(caller, ids)
                    if len(self._views) >= VIEWS_KEPT:
                        self._views.pop(next(iter(self._views)))
                    self._views[ids] = view
        return view

    def _new_view(self, caller: Caller, ids: frozenset[str]) -> View:
        layers = [self.layers[i] for i in sorted(ids)]
        ogc, documents = self._build_view(layers)
        broken_layers = [layer for layer, _ in self.broken.values()]
        readable_broken = {layer.id for layer in visible(caller, broken_layers, self.known)}
        broken = {i: why for i, (_, why) in self.broken.items() if i in readable_broken}
        restricted = frozenset(layer.id for layer in layers if is_restricted(layer, self.known))
        record_level = {i: layer for i, layer in self.layers.items() if layer.record.record_level is not None}
        return View(self.generation, {layer.id: layer for layer in layers}, broken, restricted, ogc, documents,
                    record_level)


SnapshotBuilder = Callable[[int, list[PublishedLayer], dict[str, tuple[PublishedLayer, str]]], Snapshot]


class LiveRegistry:
    """Holds the current :class:`Snapshot` of one app and replaces it when the store changes."""

    def __init__(self, store: Store, build: SnapshotBuilder, *, poll_seconds: float = 0.5):
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

    def _readable(self, layers: list[PublishedLayer]) -> tuple[list[PublishedLayer], dict]:
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
                broken[layer.id] = (layer, f"v{layer.version} cannot be read, not served: {self._checked[key]}")
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

    def pin(self, scope: Scope, caller: Caller) -> None:
        """Pin the current snapshot's view for ``caller`` as ``scope["state"]["snapshot"]`` (the request's view;
        the :class:`~geosvc.auth.middleware.CallerMiddleware` hook, run once the caller is resolved)."""
        snapshot = self._snapshot
        scope["state"]["snapshot"] = snapshot.public if caller.anonymous else snapshot.view_for(caller)

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
