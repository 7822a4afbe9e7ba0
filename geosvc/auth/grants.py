"""What a caller may read: public layers, restricted layers through a role or a grant in force, and derived
layers only when every input is readable too.

A layer's effective access is a tuple of :class:`Requirement` (its own restriction and, recursively, its
inputs'); a caller must meet each. An empty tuple means public. That makes a derived layer at least as
restricted as its most restricted input, without inventing roles that no record names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from geosvc.auth.caller import Caller, utcnow
from geosvc.records.models import LayerRecord


class HasRecord(Protocol):
    id: str
    record: LayerRecord


@dataclass(frozen=True)
class Requirement:
    """Reading requires one of ``roles`` for ``layer`` (by holding the role, or through a grant on ``layer``)."""

    layer: str
    roles: frozenset[str]


NOBODY = frozenset[str]()


def _record(item: LayerRecord | HasRecord) -> LayerRecord:
    return item if isinstance(item, LayerRecord) else item.record


def own_requirement(record: LayerRecord) -> Requirement | None:
    """The record's own restriction (a restricted record without ``access.roles`` is readable by nobody)."""
    if record.sensitivity != "restricted":
        return None
    return Requirement(record.id, frozenset(record.access.roles) if record.access else NOBODY)


def effective_access(layer: LayerRecord | HasRecord, all_layers: Iterable[LayerRecord | HasRecord]
                     ) -> tuple[Requirement, ...]:
    """Every requirement for reading ``layer``: its own and its inputs' (an unknown input is readable by nobody)."""
    records = {_record(item).id: _record(item) for item in all_layers}
    found: list[Requirement] = []
    seen: set[str] = set()
    record: LayerRecord | None = _record(layer)
    layer_id = record.id
    while record is not None and layer_id not in seen:
        seen.add(layer_id)
        if (own := own_requirement(record)) is not None:
            found.append(own)
        if record.derived is None:
            break
        layer_id = record.derived.input_layer
        record = records.get(layer_id)
        if record is None:
            found.append(Requirement(layer_id, NOBODY))
    return tuple(found)


def meets(caller: Caller, requirement: Requirement, at: dt.datetime | None = None) -> bool:
    """Whether ``caller`` holds one of the roles, or a grant in force on the layer through one of them."""
    if caller.roles & requirement.roles:
        return True
    at = at or utcnow()
    return any(g.layer == requirement.layer and g.role in requirement.roles and g.active(at) for g in caller.grants)


def can_read(caller: Caller, layer: LayerRecord | HasRecord, all_layers: Iterable[LayerRecord | HasRecord],
             at: dt.datetime | None = None) -> bool:
    """Whether ``caller`` may read ``layer`` (``all_layers``: every known layer, restricted ones included)."""
    return all(meets(caller, req, at) for req in effective_access(layer, all_layers))


def visible[L: (LayerRecord | HasRecord)](caller: Caller, layers: Sequence[L],
                                          all_layers: Iterable[LayerRecord | HasRecord] | None = None,
                                          at: dt.datetime | None = None) -> list[L]:
    """The ``layers`` that ``caller`` may read, in order (``all_layers`` defaults to ``layers``)."""
    known = list(layers if all_layers is None else all_layers)
    at = at or utcnow()
    return [layer for layer in layers if can_read(caller, layer, known, at)]


def is_restricted(layer: LayerRecord | HasRecord, all_layers: Iterable[LayerRecord | HasRecord]) -> bool:
    """Whether reading ``layer`` is restricted at all (directly or through an input): such reads are audited."""
    return bool(effective_access(layer, all_layers))

