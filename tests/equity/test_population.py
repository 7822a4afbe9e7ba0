"""Group counts from a layer's equity dimensions: percent -> count, MOEs, selection, refusals."""

from __future__ import annotations

from support import ct_data
import numpy as np
import pandas as pd
import pytest

from geosvc.equity.population import TOTAL, equity_dimensions, group_counts, select_groups
from geosvc.errors import InvalidParameter
from geosvc.records.loader import load_record
from geosvc.records.models import EquityDimensions, EquityGroup, LayerRecord
from geosvc.settings import load_settings

DIMS = EquityDimensions(
    total_field="pop",
    total_moe_field="pop_moe",
    groups=[
        EquityGroup(id="hisp", label="Hispanic", field="pct_h", kind="percent", moe_field="pct_h_moe"),
        EquityGroup(id="senior", label="65+", field="n65", kind="count", moe_field="n65_moe"),
        EquityGroup(id="poor", label="Poverty", field="pct_p", kind="percent"),
    ],
)
FRAME = pd.DataFrame(
    {
        "pop": [1000, 0, 400, "na"],
        "pop_moe": [50, 5, 30, 10],
        "pct_h": [25, "na", 10, 5],
        "pct_h_moe": [2, "na", 1, 1],
        "n65": [120, 0, "na", 3],
        "n65_moe": [15, 3, 8, 2],
        "pct_p": [10, None, 50, 1],
    },
    index=["a", "b", "c", "d"],
)


def test_percentages_become_counts_and_missing_stays_missing():
    gc = group_counts(FRAME, DIMS)
    assert list(gc.counts.columns) == [TOTAL, "hisp", "senior", "poor"]
    assert gc.counts.loc["a"].tolist() == [1000, 250, 120, 100]
    assert gc.counts.loc["b"].tolist() == [0, 0, 0, 0]  # nobody lives there: no group members either
    assert np.isnan(gc.counts.loc["c", "senior"]) and gc.counts.loc["c", "hisp"] == 40
    assert gc.counts.loc["d", [TOTAL, "hisp", "poor"]].isna().all()  # no total: percentages give nothing
    assert gc.counts.loc["d", "senior"] == 3  # a count does not need the total
    assert gc.groups == ["hisp", "senior", "poor"] and gc.labels["hisp"] == "Hispanic"


def test_moe_of_a_derived_count_follows_the_product_rule():
    gc = group_counts(FRAME, DIMS)
    assert list(gc.moe.columns) == [TOTAL, "hisp", "senior"]  # 'poor' has no MOE field
    # 25% ± 2 of 1000 ± 50: sqrt(0.25² · 50² + 1000² · 0.02²)
    assert gc.moe.loc["a", "hisp"] == pytest.approx(np.sqrt(0.25**2 * 50**2 + 1000**2 * 0.02**2))
    assert gc.moe.loc["a", "senior"] == 15  # a count keeps its own MOE
    assert gc.moe.loc["b", "hisp"] == 5  # empty unit: bounded by the total's MOE


def test_groups_are_selected_in_the_order_asked():
    gc = group_counts(FRAME, DIMS, ["poor", "hisp", "poor"])
    assert list(gc.counts.columns) == [TOTAL, "poor", "hisp"]
    assert [g.id for g in select_groups(DIMS)] == ["hisp", "senior", "poor"]


def test_unknown_group_is_named():
    with pytest.raises(InvalidParameter, match="unknown group 'asian'.*known: hisp, senior, poor") as err:
        group_counts(FRAME, DIMS, ["hisp", "asian"])
    assert err.value.param == "groups"


def test_layer_without_equity_dimensions_is_refused():
    record = LayerRecord(id="ct-towns", title="Towns", theme="boundaries", update_cadence="static",
                         source={"path": "towns/cb_2017_09_cousub_500k.shp"})
    with pytest.raises(InvalidParameter, match="no equity dimensions") as err:
        group_counts(FRAME, record)
    assert err.value.layer == "ct-towns"
    with pytest.raises(InvalidParameter, match="no equity dimensions"):
        equity_dimensions(record)


def test_missing_field_is_refused():
    with pytest.raises(InvalidParameter, match="no field pct_h_moe"):
        group_counts(FRAME.drop(columns="pct_h_moe"), DIMS)


def test_real_tract_record_gives_counts_that_add_up():
    record = load_record(load_settings().layers.dir / "ct-tracts-2010.yaml")
    tracts = ct_data.tracts()
    table = pd.read_csv(ct_data.data_root() / "tracts/pdb2018tr_ct_htc.csv", dtype={"GIDTR": str}, na_values=["na"])
    table = table.sort_values(ct_data.POPULATION).drop_duplicates("GIDTR").set_index("GIDTR").reindex(tracts.index)
    gc = group_counts(table, record, ["hispanic", "nh_white"])
    np.testing.assert_allclose(gc.counts[["hispanic", "nh_white"]], tracts[["hispanic", "nh_white"]])
    assert gc.counts[TOTAL].sum() == tracts["total"].sum() > 3_500_000
    assert (gc.counts["hispanic"] <= gc.counts[TOTAL] + 1e-9).all()
    assert gc.moe.empty  # the Planning Database publishes no MOEs
    units = gc.to_units(tracts.geometry)
    assert units.crs == tracts.crs and list(units.columns[:3]) == [TOTAL, "hispanic", "nh_white"]


@pytest.mark.parametrize("reserved", ["total", "rest"])
def test_record_group_ids_may_not_be_the_reserved_names(reserved):
    """Regression: a record could declare a group 'total' or 'rest', which the equity API reserves."""
    from pydantic import ValidationError

    from geosvc.records.models import EquityGroup

    with pytest.raises(ValidationError, match="reserved"):
        EquityGroup(id=reserved, label="Everyone", field="pop")
    assert EquityGroup(id=f"{reserved}_2", label="A group", field="pop").id == f"{reserved}_2"
