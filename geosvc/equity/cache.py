"""The equity service's caches: thread-safe LRUs keyed by typed, explicit keys.

A cache's lock guards its dictionary only, never a computation: a value is built outside the lock
(two requests missing the same key at once may both build it; the second result is dropped), so
a slow request never stalls another.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from geosvc.errors import Preparing

V = TypeVar("V")


@dataclass(frozen=True)
class LayerVersion:
    """One published version of a layer, the unit of every cache key (``str``: ``id@version``)."""

    id: str
    version: int

    def __str__(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class FrameKey:
    """A layer version's features (``kind="frame"``) or a frame derived from them only."""

    kind: str  # "frame", "units", "geometries", "state"
    layer: LayerVersion


@dataclass(frozen=True)
class PlacesKey:
    """Place polygons of a layer version with the labels of ``label`` (``None``: the ids)."""

    layer: LayerVersion
    label: str | None

    def __str__(self) -> str:  # the labels do not change the geometry (nor the overlay weights)
        return str(self.layer)


@dataclass(frozen=True)
class HazardKey:
    """A hazard layer version under a CQL2 filter (``text`` canonical: JSON with sorted keys)."""

    layer: LayerVersion
    lang: str | None = None
    text: str | None = None

    def __str__(self) -> str:
        return str(self.layer) if self.text is None else f"{self.layer}?{self.lang}:{self.text}"


@dataclass(frozen=True)
class ZoneKey:
    """A hazard's union cut to the extent of the units it is used with."""

    hazard: HazardKey
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class TableKey:
    """An unprotected exposure table (independent of k, so reused across thresholds)."""

    units: LayerVersion
    places: PlacesKey | None
    hazard: HazardKey
    groups: tuple[str, ...]
    reference: str


@dataclass(frozen=True)
class AnswerKey:
    """A whole answer: the operation, its canonical request and the versions (+ checksums) it read."""

    operation: str
    request: str
    layers: tuple[tuple[str, int, str], ...]


class Lru(Generic[V]):
    """A least-recently-used cache of at most ``maxsize`` values, safe to share between threads.

    >>> cache = Lru(2)
    >>> [cache.remember(k, lambda: k * 10) for k in (1, 2, 1, 3)]
    [10, 20, 10, 30]
    >>> sorted(cache.keys())
    [1, 3]
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable) -> V | None:
        """The value of ``key`` (now most recently used), or ``None``."""
        with self._lock:
            if key not in self._items:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``, evicting the least recently used values beyond ``maxsize``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def remember(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value of ``key``, built (outside the lock) and stored when missing."""
        found = self.get(key)
        if found is not None:
            return found
        value = build()
        self.put(key, value)
        return value


class Prepared(Generic[V]):
    """Values too costly to build inside one request (e.g. the protection of a record-level cube):
    each is built once per key in a background thread, and callers wait for it only as long as they
    can; a caller out of time gets :class:`~geosvc.errors.Preparing` (503 with Retry-After) while the
    build goes on, and a later request finds the value ready. A failed build is not kept.

    >>> prepared = Prepared(keep=2)
    >>> prepared.get("a", lambda: 42, timeout=5)
    42
    >>> import time
    >>> prepared.get("b", lambda: time.sleep(0.5) or 1, timeout=0.01)
    Traceback (most recent call last):
    ...
    geosvc.errors.Preparing: the answer is being prepared (computed once per published version); retry in about 5 s
    >>> prepared.get("b", lambda: 2, timeout=5)  # the first build goes on and is kept
    1
    """

    def __init__(self, keep: int = 8, workers: int = 2):
        self._keep = keep
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="geosvc-prepare")
        self._futures: OrderedDict[Hashable, Future] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], V], timeout: float | None, retry_after: int = 5) -> V:
        """The value of ``key``, waiting at most ``timeout`` seconds (``None``: as long as it takes)."""
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                future = self._futures[key] = self._executor.submit(build)
                done = [k for k, f in self._futures.items() if f.done()]
                for old in done[:max(0, len(self._futures) - self._keep)]:
                    del self._futures[old]
            self._futures.move_to_end(key)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise Preparing("the answer is being prepared (computed once per published version); "
                            f"retry in about {retry_after} s", retry_after=retry_after) from None
        except BaseException:
            with self._lock:
                if self._futures.get(key) is future:
                    del self._futures[key]
            raise
