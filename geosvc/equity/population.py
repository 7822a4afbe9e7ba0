"""Population by group, as counts, from a layer whose record declares equity dimensions.

A record's :class:`~geosvc.records.models.EquityDimensions` name a total field (a count) and
groups whose fields are counts or percentages of the total. Percentages become counts
(``percent × total / 100``); when the group carries a 90% MOE, the count's MOE follows the ACS
product rule (the total's MOE counts as 0 when the layer has none). Missing values stay NaN, except
that a unit with a total of 0 has 0 people in every group (a share of nobody is nobody).

Examples
--------
>>> import pandas as pd
>>> from geosvc.records.models import EquityDimensions, EquityGroup
>>> dims = EquityDimensions(total_field="pop", groups=[
...     EquityGroup(id="hisp", label="Hispanic", field="pct_h", kind="percent", moe_field="pct_h_moe")])
>>> frame = pd.DataFrame({"pop": [1000.0, 0.0, None], "pct_h": [25.0, None, 10.0], "pct_h_moe": [2.0, None, 1.0]})
>>> gc = group_counts(frame, dims)
>>> gc.counts.to_dict("list")
{'total': [1000.0, 0.0, nan], 'hisp': [250.0, 0.0, nan]}
>>> gc.moe["hisp"].tolist()
[20.0, 0.0, nan]
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geosvc.equity.constants import TOTAL
from geosvc.equity.moe import moe_product
from geosvc.errors import InvalidParameter
from geosvc.records.models import EquityDimensions, EquityGroup, LayerRecord

@dataclass(frozen=True)
class GroupCounts:
    """Counts by group of a population layer.

    Attributes
    ----------
    counts : DataFrame
        ``total`` then one column per selected group id, indexed like the input frame.
    moe : DataFrame
        90% MOEs of the columns that have one (possibly no columns).
    labels : dict
        Column -> human label (``total`` -> the universe).
    """

    counts: pd.DataFrame
    moe: pd.DataFrame
    labels: dict[str, str]

    @property
    def groups(self) -> list[str]:
        """The selected group ids (without ``total``)."""
        return [c for c in self.counts.columns if c != TOTAL]

    def to_units(self, geometry: gpd.GeoSeries) -> gpd.GeoDataFrame:
        """Counts and ``<column>_moe`` columns on the units' geometry (the input of exposure/access)."""
        columns = {**self.counts, **{f"{c}_moe": self.moe[c] for c in self.moe.columns}}
        return gpd.GeoDataFrame(columns, geometry=geometry.set_axis(self.counts.index), crs=geometry.crs)


def equity_dimensions(record: LayerRecord) -> EquityDimensions:
    """The record's equity dimensions; :class:`InvalidParameter` when it declares none.

    >>> from geosvc.records.models import LayerRecord
    >>> rec = LayerRecord(id="towns", title="Towns", theme="boundaries", update_cadence="static",
    ...                   source={"path": "towns.shp"})
    >>> equity_dimensions(rec)
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: layer 'towns': parameter 'population': declares no equity dimensions (population by group)
    """
    if record.equity is None:
        raise InvalidParameter(
            "declares no equity dimensions (population by group)", layer=record.id, param="population"
        )
    return record.equity


def select_groups(dims: EquityDimensions, groups: list[str] | None = None) -> list[EquityGroup]:
    """The groups with the given ids, in the order asked (all groups when ``groups`` is None).

    >>> from geosvc.records.models import EquityGroup
    >>> dims = EquityDimensions(total_field="pop", groups=[EquityGroup(id="a", label="A", field="fa")])
    >>> [g.id for g in select_groups(dims, ["a"])]
    ['a']
    >>> select_groups(dims, ["b"])
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'groups': unknown group 'b' (known: a)
    """
    by_id = {g.id: g for g in dims.groups}
    if groups is None:
        return list(dims.groups)
    unknown = [g for g in groups if g not in by_id]
    if unknown:
        names = ", ".join(f"'{g}'" for g in unknown)
        raise InvalidParameter(f"unknown group {names} (known: {', '.join(by_id)})", param="groups")
    return [by_id[g] for g in dict.fromkeys(groups)]


def group_counts(
    frame: pd.DataFrame, dims: EquityDimensions | LayerRecord, groups: list[str] | None = None
) -> GroupCounts:
    """Counts (and MOEs) by group from a population frame and its equity dimensions.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        The population layer's features (non-numeric values such as ``'na'`` become NaN).
    dims : EquityDimensions or LayerRecord
        The dimensions, or the record declaring them (:class:`InvalidParameter` if it has none).
    groups : list of str, optional
        Group ids to keep (default: all); an unknown id is an :class:`InvalidParameter`.

    Returns
    -------
    GroupCounts
    """
    if isinstance(dims, LayerRecord):
        dims = equity_dimensions(dims)
    selected = select_groups(dims, groups)
    fields = [dims.total_field, *(g.field for g in selected), *(g.moe_field for g in selected if g.moe_field)]
    if dims.total_moe_field:
        fields.append(dims.total_moe_field)
    missing = [f for f in dict.fromkeys(fields) if f not in frame.columns]
    if missing:
        raise InvalidParameter(f"the population layer has no field {', '.join(missing)}", param="population")

    def number(field: str) -> np.ndarray:
        return pd.to_numeric(frame[field], errors="coerce").to_numpy(float)

    total = number(dims.total_field)
    total_moe = number(dims.total_moe_field) if dims.total_moe_field else np.zeros(len(frame))
    nobody = total == 0
    counts, moes = {TOTAL: total}, {}
    if dims.total_moe_field:
        moes[TOTAL] = total_moe
    for group in selected:
        value = number(group.field)
        if group.kind == "percent":
            count = value * total / 100.0
            moe = moe_product(value / 100.0, total, number(group.moe_field) / 100.0, total_moe) if group.moe_field else None
        else:
            count, moe = value, number(group.moe_field) if group.moe_field else None
        counts[group.id] = np.where(nobody, 0.0, count)
        if moe is not None:
            moes[group.id] = np.where(nobody, np.nan_to_num(total_moe), moe)
    return GroupCounts(
        counts=pd.DataFrame(counts, index=frame.index),
        moe=pd.DataFrame(moes, index=frame.index),
        labels={TOTAL: dims.universe, **{g.id: g.label for g in selected}},
    )
