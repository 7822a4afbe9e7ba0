"""The request being answered, as seen by pygeoapi plugins (providers, processors).

pygeoapi builds its plugins from a YAML config and calls them in a worker thread with only parsed
arguments, so they cannot be handed the app or the request. Our mount sets :data:`CURRENT` (the
registry snapshot the request started on, the store, and the items query we already parsed) and
runs pygeoapi's worker threads in a copy of the calling context (:class:`ContextExecutor`), so a
plugin answers from its own app's state and the request's version — no process-wide globals.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from dataclasses import dataclass
from typing import Any

from geosvc.errors import StoreError


@dataclass(frozen=True)
class OgcRequest:
    """What a pygeoapi plugin needs to answer one request."""

    snapshot: Any  # geosvc.api.live.Snapshot (layers, versions)
    store: Any  # geosvc.store.base.Store
    settings: Any  # geosvc.settings.Settings
    items: Any = None  # geosvc.ogc.query.ItemsQuery parsed from the request, for items routes
    deadline: float | None = None  # time.monotonic() value after which store reads stop


CURRENT: contextvars.ContextVar[OgcRequest | None] = contextvars.ContextVar("geosvc_ogc_request", default=None)


def current() -> OgcRequest:
    """The request being answered (a 503 if pygeoapi was called outside the geosvc mount)."""
    request = CURRENT.get()
    if request is None:
        raise StoreError("pygeoapi was called outside the geosvc mount; no request context")
    return request


class ContextExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitting context (``contextvars``)."""

    def submit(self, fn, /, *args, **kwargs):
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


def use_context_executor() -> None:
    """Make the running loop's default executor a :class:`ContextExecutor` (once per loop)."""
    loop = asyncio.get_running_loop()
    if not getattr(loop, "_geosvc_context_executor", False):
        loop.set_default_executor(ContextExecutor(thread_name_prefix="geosvc-ogc"))
        loop._geosvc_context_executor = True
