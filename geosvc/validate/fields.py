"""Rules on the fields a record refers to: equity dimensions, disaggregation and the time field."""

from __future__ import annotations

import pandas as pd

from geosvc.records.models import EquityDimensions, LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.features import example_ids
from geosvc.validate.findings import Finding


def equity_fields(equity: EquityDimensions) -> list[str]:
    """Every field named by ``equity`` (totals, groups, margins of error), in order, once."""
    named = [equity.total_field, equity.total_moe_field]
    for group in equity.groups:
        named += [group.field, group.moe_field]
    return [f for f in dict.fromkeys(named) if f]


def _check_equity(frame: pd.DataFrame, record: LayerRecord) -> list[Finding]:
    equity, layer = record.equity, record.id
    named = equity_fields(equity)
    absent = [f for f in named if f not in frame.columns]
    findings = []
    if absent:
        findings.append(
            make_finding(
                layer, "equity.field_missing", f"equity fields not in the data: {', '.join(absent)}",
                count=len(absent), examples=absent,
            )
        )
    present = [f for f in named if f in frame.columns]
    text = [f for f in present if not pd.api.types.is_numeric_dtype(frame[f])]
    if text:
        findings.append(
            make_finding(
                layer, "equity.field_not_numeric",
                f"equity fields that are not numbers: {', '.join(f'{f} ({frame[f].dtype})' for f in text)}",
                count=len(text), examples=text,
            )
        )
    percents = [g.field for g in equity.groups if g.kind == "percent" and g.field in present and g.field not in text]
    if percents:
        values = frame[percents]
        bad = ((values < 0) | (values > 100)).any(axis=1).to_numpy()
        if bad.any():
            findings.append(
                make_finding(
                    layer, "equity.percent_out_of_range",
                    f"{int(bad.sum())} features have a group percentage outside 0-100 ({', '.join(percents)})",
                    count=int(bad.sum()), examples=example_ids(frame, bad, record.id_field),
                )
            )
    return findings


def _check_disaggregation(frame: pd.DataFrame, record: LayerRecord) -> list[Finding]:
    named = dict.fromkeys(f for entry in record.disaggregation for f in entry.fields)
    absent = [f for f in named if f not in frame.columns]
    if not absent:
        return []
    return [make_finding(record.id, "metadata.disaggregation_field_missing",
                         f"disaggregation fields not in the data: {', '.join(absent)}",
                         count=len(absent), examples=absent)]


def _check_time(frame: pd.DataFrame, record: LayerRecord) -> list[Finding]:
    field = record.time_field
    if field not in frame.columns:
        return [make_finding(record.id, "time.field_missing", f"time_field '{field}' is not a field of the data")]
    values = frame[field]
    if pd.api.types.is_datetime64_any_dtype(values):
        return []
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    bad = (values.notna() & parsed.isna()).to_numpy()
    if not bad.any():
        return []
    return [
        make_finding(
            record.id, "time.unparsable",
            f"{int(bad.sum())} '{field}' values are not ISO 8601 dates/times (e.g. {values[bad].iloc[0]!r})",
            count=int(bad.sum()), examples=example_ids(frame, bad, record.id_field),
        )
    ]


def check_fields(frame: pd.DataFrame, record: LayerRecord) -> list[Finding]:
    """Findings for equity fields (absent, not numeric, out of range), disaggregation fields (absent) and the
    time field (absent, unparsable)."""
    findings = _check_equity(frame, record) if record.equity is not None else []
    findings += _check_disaggregation(frame, record)
    if record.time_field:
        findings += _check_time(frame, record)
    return findings
