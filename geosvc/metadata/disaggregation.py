"""How consistently the portfolio collects and disaggregates demographic dimensions.

Each record declares the dimensions it carries (``disaggregation``: race/ethnicity, sex/gender, age...)
with the category scheme used. Layers that break one dimension down by different schemes cannot be
compared or combined without a crosswalk, so a dimension with more than one scheme is flagged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from geosvc.records.models import LayerRecord


@dataclass(frozen=True)
class DimensionUse:
    """Which layers carry one dimension, by scheme."""

    dimension: str
    schemes: dict[str, list[str]]  # scheme -> layer ids

    @property
    def layers(self) -> list[str]:
        return sorted(layer for ids in self.schemes.values() for layer in ids)

    @property
    def consistent(self) -> bool:
        """One scheme across every layer that carries the dimension."""
        return len(self.schemes) <= 1


@dataclass(frozen=True)
class DisaggregationSummary:
    """Portfolio view: share of layers declaring any dimension, and per dimension the schemes in use."""

    layers: int
    declaring: list[str]
    dimensions: list[DimensionUse]

    @property
    def share_declaring(self) -> float | None:
        return len(self.declaring) / self.layers if self.layers else None

    @property
    def inconsistent(self) -> list[str]:
        return [use.dimension for use in self.dimensions if not use.consistent]

    def as_dict(self) -> dict[str, Any]:
        share = self.share_declaring
        return {
            "layers_declaring": self.declaring,
            "share_declaring": None if share is None else round(share, 3),
            "dimensions": {use.dimension: {"layers": use.layers, "schemes": use.schemes, "consistent": use.consistent}
                           for use in self.dimensions},
            "inconsistent_dimensions": self.inconsistent,
        }


def summarize(records: list[LayerRecord]) -> DisaggregationSummary:
    """Disaggregation consistency over ``records``.

    >>> from geosvc.records.models import LayerRecord
    >>> base = dict(theme="t", update_cadence="static", source={"path": "x.shp"})
    >>> a = LayerRecord(id="aa", title="A", disaggregation=[
    ...     {"dimension": "race_ethnicity", "scheme": "OMB 1997", "categories": ["Asian"]}], **base)
    >>> b = LayerRecord(id="bb", title="B", disaggregation=[
    ...     {"dimension": "race_ethnicity", "scheme": "OMB 2024", "categories": ["Asian"]}], **base)
    >>> summarize([a, b, LayerRecord(id="cc", title="C", **base)]).inconsistent
    ['race_ethnicity']
    """
    by_dimension: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    declaring = []
    for record in sorted(records, key=lambda r: r.id):
        if record.disaggregation:
            declaring.append(record.id)
        for entry in record.disaggregation:
            by_dimension[entry.dimension][entry.scheme].append(record.id)
    dimensions = [DimensionUse(dimension, {scheme: ids for scheme, ids in sorted(schemes.items())})
                  for dimension, schemes in sorted(by_dimension.items())]
    return DisaggregationSummary(layers=len(records), declaring=declaring, dimensions=dimensions)
