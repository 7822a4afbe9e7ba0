"""The catalog view: one entry per served layer with its badges, filtered and sorted for planners."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from geosvc.records.models import LayerRecord
from geosvc.report import LayerStatus

DUE_WITHIN = dt.timedelta(days=30)
"""A layer is *due* when its next update falls within this window (and it is not yet stale)."""
SORTS = {"title": "Title (A–Z)", "updated": "Recently updated", "theme": "Theme", "attention": "Needs attention first"}


@dataclass(frozen=True)
class Entry:
    """One layer as the catalog shows it."""

    id: str
    title: str
    description: str
    theme: str
    agency: str
    keywords: tuple[str, ...]
    kind: str
    sensitivity: str
    freshness: str  # "stale" | "due" | "current" | "static"
    update_due: dt.date | None
    last_updated: dt.date | None
    validation: str  # "ok" | "failed" | "not validated"
    version: int | None

    def matches(self, q: str, theme: str, agency: str, keyword: str) -> bool:
        """True if the entry passes the free-text search and each facet given (empty = any)."""
        text = " ".join((self.id, self.title, self.description, self.theme, self.agency, *self.keywords)).lower()
        return (all(word in text for word in q.lower().split())
                and (not theme or self.theme == theme)
                and (not agency or self.agency == agency)
                and (not keyword or keyword in self.keywords))

    @property
    def attention(self) -> int:
        """Higher first when sorting by what needs attention: failed validation, stale, due."""
        return (self.validation == "failed") * 4 + (self.freshness == "stale") * 2 + (self.freshness == "due")


def freshness(status: LayerStatus, today: dt.date) -> str:
    if status.update_due is None:
        return "static"
    if status.stale:
        return "stale"
    return "due" if status.update_due - today <= DUE_WITHIN else "current"


def entries(records: list[LayerRecord], statuses: list[LayerStatus], today: dt.date) -> list[Entry]:
    """Catalog entries of ``records`` with the portfolio ``statuses`` of the same layers."""
    by_id = {status.id: status for status in statuses}
    out = []
    for record in records:
        status = by_id[record.id]
        out.append(Entry(
            id=record.id, title=record.title, description=record.description, theme=record.theme,
            agency=record.publisher.agency if record.publisher else "", keywords=tuple(record.keywords),
            kind=record.kind, sensitivity=record.sensitivity, freshness=freshness(status, today),
            update_due=status.update_due, last_updated=status.last_updated, validation=status.validation,
            version=status.published_version,
        ))
    return out


def select(all_entries: list[Entry], q: str = "", theme: str = "", agency: str = "", keyword: str = "",
           sort: str = "title") -> list[Entry]:
    """The entries matching the search and facets, in the order ``sort`` names (a key of :data:`SORTS`)."""
    chosen = [e for e in all_entries if e.matches(q, theme, agency, keyword)]
    chosen.sort(key=lambda e: e.title.lower())
    if sort == "updated":
        chosen.sort(key=lambda e: e.last_updated or dt.date.min, reverse=True)
    elif sort == "theme":
        chosen.sort(key=lambda e: e.theme)
    elif sort == "attention":
        chosen.sort(key=lambda e: e.attention, reverse=True)
    return chosen


def facets(all_entries: list[Entry]) -> dict[str, list[str]]:
    """The values each filter offers: themes, agencies and keywords in use."""
    return {
        "theme": sorted({e.theme for e in all_entries}),
        "agency": sorted({e.agency for e in all_entries if e.agency}),
        "keyword": sorted({k for e in all_entries for k in e.keywords}),
    }
