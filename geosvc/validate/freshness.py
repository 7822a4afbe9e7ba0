"""Freshness: is ``last_updated + update_cadence`` before today?"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

from geosvc.records.models import ISO_DURATION, LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.findings import Finding


def parse_cadence(cadence: str) -> relativedelta | None:
    """An ISO 8601 duration as a :class:`relativedelta`; ``None`` for ``static``.

    >>> parse_cadence("P1Y6M")
    relativedelta(years=+1, months=+6)
    >>> parse_cadence("static") is None
    True
    """
    if cadence == "static":
        return None
    match = ISO_DURATION.match(cadence)
    if match is None:
        raise ValueError(f"'{cadence}' is not an ISO 8601 duration")
    groups = [g for i, g in enumerate(match.groups()) if i != 4]  # group 4 is the whole 'T...' time part
    years, months, weeks, days, hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in groups)
    return relativedelta(years=years, months=months, weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def due_date(record: LayerRecord) -> dt.date | None:
    """When the next update is due, or ``None`` (static cadence or unknown last update)."""
    step = parse_cadence(record.update_cadence)
    if step is None or record.last_updated is None:
        return None
    return record.last_updated + step


def is_stale(record: LayerRecord, today: dt.date | None = None) -> bool:
    """True when the layer's next update was due before ``today``."""
    due = due_date(record)
    return due is not None and due < (today or dt.date.today())


def check_freshness(record: LayerRecord, today: dt.date | None = None) -> list[Finding]:
    """``freshness.unknown`` without a last update; ``freshness.future`` after today; ``freshness.stale`` when overdue."""
    today = today or dt.date.today()
    if record.last_updated is None:
        return [make_finding(record.id, "freshness.unknown", "no last_updated in the record")]
    if record.last_updated > today:
        return [
            make_finding(
                record.id, "freshness.future",
                f"last_updated {record.last_updated} is {(record.last_updated - today).days} days after today ({today})",
            )
        ]
    if is_stale(record, today):
        due = due_date(record)
        return [
            make_finding(
                record.id, "freshness.stale",
                f"last updated {record.last_updated}, cadence {record.update_cadence}: due {due}, "
                f"{(today - due).days} days overdue",
            )
        ]
    return []
