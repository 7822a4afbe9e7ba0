"""Per-caller rate limits (the equity routes): pyrate-limiter's token bucket, its state kept in the
:class:`~geosvc.auth.store.AccessStore` so every worker process counts against the same budget.
"""

from __future__ import annotations

import json
import math
import re

from pyrate_limiter import AbstractClock, Duration, Rate, RateItem, StateBucket, StateStore, TokenBucket, WallClock

from geosvc.auth.caller import Caller
from geosvc.auth.store import AccessStore
from geosvc.errors import TooManyRequests

_SPEC = re.compile(r"^(\d+)/(second|minute|hour|day)$")


def parse_rate(spec: str) -> Rate:
    """``"30/minute"`` -> a pyrate-limiter :class:`Rate` (burst = the limit)."""
    match = _SPEC.match(spec.strip())
    if not match or int(match[1]) < 1:
        raise ValueError(f"rate limit '{spec}' is not N/second|minute|hour|day with N >= 1")
    return Rate(int(match[1]), getattr(Duration, match[2].upper()))


class _SharedState(StateStore):
    """One key's token-bucket state, read and written in one store transaction."""

    def __init__(self, store: AccessStore, key: str):
        self.store, self.key = store, key

    def check(self, algorithm, rates, now, weight):
        def step(old: str | None):
            state = algorithm.decode(json.loads(old)) if old else algorithm.initial(rates)
            new, decision = algorithm.step(rates, state, now, weight)
            return (json.dumps([str(v) for v in new]) if decision.allowed else None), decision

        return self.store.rate_step(self.key, step)

    def read(self, algorithm, rates):
        return self.store.rate_step(
            self.key, lambda old: (None, algorithm.decode(json.loads(old)) if old else algorithm.initial(rates)))

    def reset(self) -> None:
        self.store.rate_step(self.key, lambda old: (json.dumps([]), None))


def caller_key(caller: Caller, client_host: str | None) -> str:
    """Whose budget a request spends: the signed-in subject, else the client address."""
    return caller.subject if caller.subject else f"anonymous@{client_host or 'unknown'}"


class RateLimiter:
    """``check(key)`` spends one unit of ``key``'s budget or raises :class:`TooManyRequests` (with Retry-After)."""

    def __init__(self, store: AccessStore, spec: str, scope: str = "equity", clock: AbstractClock | None = None):
        self.store, self.spec, self.scope = store, spec, scope
        self.rate = parse_rate(spec)
        self.clock = clock or WallClock()

    def check(self, key: str) -> None:
        bucket = StateBucket([self.rate], algorithm=TokenBucket(), store=_SharedState(self.store, f"{self.scope}:{key}"),
                             clock=self.clock)
        decision = bucket.put_decision(RateItem(key, bucket.now()))
        if not decision.allowed:
            retry = max(1, math.ceil((decision.retry_after_ms or 1000) / 1000))
            raise TooManyRequests(f"rate limit of {self.spec} for {self.scope} requests reached; retry in {retry} s",
                                  retry_after=retry)
