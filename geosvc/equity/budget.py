"""A per-request time budget, checked cooperatively between the steps of an equity operation.

Nothing is interrupted mid-step: each step's work is bounded by the input limits (e.g.
:data:`geosvc.equity.zones.MAX_VERTICES`), and the budget is checked when a step ends, so a request
over budget stops at the next check with :class:`~geosvc.errors.BudgetExceeded` (HTTP 503).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from geosvc.errors import BudgetExceeded


class Budget:
    """``seconds`` of wall time from now (``None``: unlimited).

    >>> Budget(None).check("anything")
    >>> Budget(0.0).check("reading layers")
    Traceback (most recent call last):
    ...
    geosvc.errors.BudgetExceeded: the request used up its time budget of 0 s (at: reading layers); retry with a smaller area or fewer groups
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._deadline = None if seconds is None else clock() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never negative; ``None``: unlimited)."""
        return None if self._deadline is None else max(0.0, self._deadline - self._clock())

    def check(self, step: str) -> None:
        """Raise :class:`BudgetExceeded` naming ``step`` when the time is up."""
        if self._deadline is not None and self._clock() >= self._deadline:
            raise BudgetExceeded(f"the request used up its time budget of {self.seconds:g} s (at: {step}); "
                                 "retry with a smaller area or fewer groups")


UNLIMITED = Budget(None)
