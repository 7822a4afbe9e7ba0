"""Identifier rules: the id field exists, is set on every feature and is unique."""

from __future__ import annotations

import pandas as pd

from geosvc.records.models import LayerRecord
from geosvc.validate.codes import MAX_EXAMPLES, make_finding
from geosvc.validate.features import example_ids
from geosvc.validate.findings import Finding


def check_ids(frame: pd.DataFrame, record: LayerRecord) -> list[Finding]:
    """Findings for an undeclared or absent id field, null/blank ids and duplicated ids."""
    layer, field = record.id, record.id_field
    if not field:
        return [make_finding(layer, "id.undeclared", "the record names no id_field; row numbers become item ids")]
    if field not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:10]))
        return [make_finding(layer, "id.field_missing", f"id_field '{field}' is not a field of the data (fields: {shown})")]
    values = frame[field]
    missing = values.isna()
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        missing |= values.astype("string").str.strip().eq("").fillna(False)
    findings: list[Finding] = []
    if missing.any():
        count = int(missing.sum())
        findings.append(
            make_finding(
                layer, "id.missing", f"{count} features have no '{field}' value",
                count=count, examples=example_ids(frame, missing.to_numpy(), None),
            )
        )
    duplicated = values.duplicated(keep=False) & ~missing
    if duplicated.any():
        repeated = values[duplicated].drop_duplicates()
        findings.append(
            make_finding(
                layer, "id.duplicate",
                f"{len(repeated)} '{field}' values are shared by {int(duplicated.sum())} features",
                count=int(duplicated.sum()), examples=repeated.head(MAX_EXAMPLES).tolist(),
            )
        )
    return findings
