"""Join rules, from the reader's join statistics (and, for duplicated keys, the table itself)."""

from __future__ import annotations

import pandas as pd

from geosvc.records.models import Join, LayerRecord
from geosvc.sources import JoinStats
from geosvc.sources.table import read_table
from geosvc.settings import Settings
from geosvc.validate.codes import MAX_EXAMPLES, make_finding
from geosvc.validate.findings import Finding


def lossy_duplicates(table: pd.DataFrame, key: str) -> pd.Index:
    """Duplicated keys whose rows cannot be collapsed to the fullest row without losing data.

    Keeping the fullest row (as the reader does) loses nothing when every other row of the key only
    repeats some of its values, e.g. a placeholder row of ``na``. Rows that disagree on a value, or
    hold a value the fullest row lacks, make the key lossy.

    Examples
    --------
    >>> t = pd.DataFrame({"k": ["a", "a", "b", "b"], "v": [1, None, 2, 3]})
    >>> lossy_duplicates(t, "k").tolist()
    ['b']
    """
    dups = table[table[key].duplicated(keep=False) & table[key].notna()]
    if dups.empty:
        return pd.Index([])
    values = dups.drop(columns=key)
    filled = values.notna()
    groups = dups[key]
    conflicting = (values.groupby(groups).nunique(dropna=True) > 1).any(axis=1)
    spread = filled.groupby(groups).any().sum(axis=1) > filled.sum(axis=1).groupby(groups).max()
    lossy = conflicting | spread
    return lossy.index[lossy.to_numpy()]


def _table(join: Join, record: LayerRecord, settings: Settings) -> pd.DataFrame:
    table = read_table(
        settings.data.root / join.path, record.id, code="join.missing",
        dtype={join.right_key: str}, na_values=join.na_values or None,
    )
    columns = [join.right_key, *[f for f in (join.fields or []) if f != join.right_key]]
    table = table[columns] if join.fields else table
    return table.assign(**{join.right_key: table[join.right_key].astype("string").str.strip()})


def check_join(stats: JoinStats, record: LayerRecord, settings: Settings) -> list[Finding]:
    """Findings for unmatched keys on either side and duplicated table keys."""
    layer, join = record.id, record.join
    findings: list[Finding] = []
    if stats.zeros_lost:
        findings.append(
            make_finding(
                layer, "join.leading_zeros",
                f"{stats.zeros_lost} features' {stats.left_key} match a {stats.right_key} of {join.path} only once leading "
                "zeros are ignored: one side lost them (keys read as numbers?); restore them",
                count=stats.zeros_lost, examples=stats.zeros_lost_examples,
            )
        )
    elif stats.matched == 0 and stats.left_unmatched:
        findings.append(
            make_finding(
                layer, "join.no_match",
                f"none of the {stats.left_unmatched} features' {stats.left_key} matches a {stats.right_key} of {join.path}; "
                "the join would only add empty fields",
                count=stats.left_unmatched, examples=stats.left_unmatched_examples,
            )
        )
    elif stats.left_unmatched:
        findings.append(
            make_finding(
                layer, "join.unmatched_left",
                f"{stats.left_unmatched} features' {stats.left_key} has no {stats.right_key} row in {join.path}; "
                "their joined fields are empty",
                count=stats.left_unmatched, examples=stats.left_unmatched_examples,
            )
        )
    if stats.right_unmatched and not stats.zeros_lost:
        findings.append(
            make_finding(
                layer, "join.unmatched_right",
                f"{stats.right_unmatched} {stats.right_key} keys in {join.path} match no feature's {stats.left_key}",
                count=stats.right_unmatched, examples=stats.right_unmatched_examples,
            )
        )
    if stats.right_duplicated:
        lossy = lossy_duplicates(_table(join, record, settings), join.right_key)
        if len(lossy):
            message = (
                f"{len(lossy)} {stats.right_key} keys appear more than once in {join.path} with conflicting values; "
                "the join would be ambiguous"
            )
            findings.append(
                make_finding(layer, "join.duplicate_key", message, count=len(lossy), examples=lossy[:MAX_EXAMPLES].tolist())
            )
        else:
            message = (
                f"{stats.right_duplicated} {stats.right_key} keys appear more than once in {join.path}; every extra row "
                f"only repeats values of the fullest row (e.g. a placeholder row of na), so the fullest row is kept "
                f"and {stats.right_rows_dropped} rows are dropped"
            )
            findings.append(
                make_finding(
                    layer, "join.duplicate_key", message, count=stats.right_duplicated,
                    examples=stats.right_duplicated_examples, severity="warning",
                )
            )
    return findings
