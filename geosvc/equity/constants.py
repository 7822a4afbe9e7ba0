"""Names the equity answers reserve: the total and "everyone else" groups, the whole-area place ids."""

from __future__ import annotations

from geosvc.records.models import REST_GROUP as REST
from geosvc.records.models import TOTAL_GROUP as TOTAL

STATE = "state"
"""Place id of the whole-state row when no places are given."""
ALL_PLACES = "_all"
"""Place id of the overall row (all units) appended to a by-place answer."""

__all__ = ["ALL_PLACES", "REST", "STATE", "TOTAL"]
