"""Tables: CSV files with x/y columns turned into points, and attribute joins by key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geosvc.errors import SourceError
from geosvc.records.models import Join, LayerRecord

EXAMPLES = 5
KEY = "__geosvc_key"


@dataclass(frozen=True)
class JoinStats:
    """What an attribute join matched, missed and found duplicated (keys compared as text)."""

    left_key: str
    right_key: str
    matched: int  # left features that found a table row
    left_unmatched: int  # left features whose key is not in the table (incl. missing keys)
    left_unmatched_examples: tuple[str, ...]
    right_unmatched: int  # distinct table keys that match no feature
    right_unmatched_examples: tuple[str, ...]
    right_duplicated: int  # distinct table keys appearing more than once
    right_duplicated_examples: tuple[str, ...]
    right_rows_dropped: int  # duplicate rows discarded (the fullest row of each key is kept)
    right_conflicting: int = 0  # duplicated keys whose discarded rows hold a value differing from the kept row
    right_conflicting_examples: tuple[str, ...] = ()
    zeros_lost: int = 0  # unmatched left features whose key matches a table key once leading zeros are ignored
    zeros_lost_examples: tuple[str, ...] = ()  # "layer key ~ table key"


@dataclass(frozen=True)
class PointStats:
    """Rows of a CSV that could not become points."""

    blank: int  # x or y empty
    blank_examples: tuple[str, ...]
    unparsable: int  # x or y present but not a number
    unparsable_examples: tuple[str, ...]


def read_table(path: Path, layer_id: str, *, code: str, dtype=None, na_values=None, encoding=None) -> pd.DataFrame:
    """Read a CSV with pandas; a missing file raises ``code``, anything else ``source.unreadable``."""
    if not path.exists():
        raise SourceError(f"table {path} does not exist", code=code, layer=layer_id)
    try:
        return pd.read_csv(
            path, dtype=dtype, na_values=na_values, encoding=encoding or "utf-8-sig", low_memory=False
        )
    except pd.errors.EmptyDataError as exc:
        raise SourceError(f"table {path.name} is empty", code="source.empty", layer=layer_id) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"table {path.name} is not valid {exc.encoding} text ({exc.reason} at byte {exc.start})",
            code="source.encoding", layer=layer_id,
        ) from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"cannot parse table {path.name}: {first}", code="source.unreadable", layer=layer_id) from exc


def _row_labels(frame: pd.DataFrame, mask: np.ndarray, id_field: str | None) -> tuple[str, ...]:
    picked = frame.loc[mask].head(EXAMPLES)
    if id_field and id_field in frame.columns:
        return tuple(str(v) for v in picked[id_field])
    return tuple(f"row {i + 2}" for i in picked.index)  # 1-based, after the header line


def points_from_table(frame: pd.DataFrame, record: LayerRecord) -> tuple[gpd.GeoDataFrame, PointStats]:
    """Build point geometry from ``record.source.csv`` x/y columns; drop and count rows without coordinates."""
    opts = record.source.csv
    missing = [c for c in (opts.x, opts.y) if c not in frame.columns]
    if missing:
        raise SourceError(
            f"CSV has no column {', '.join(repr(c) for c in missing)} (columns: {', '.join(map(str, frame.columns[:12]))})",
            code="source.csv_columns_missing",
            layer=record.id,
        )
    raw_x, raw_y = frame[opts.x], frame[opts.y]
    x = pd.to_numeric(raw_x, errors="coerce").to_numpy(dtype="float64")
    y = pd.to_numeric(raw_y, errors="coerce").to_numpy(dtype="float64")
    blank = (raw_x.isna() | raw_x.astype(str).str.strip().eq("")).to_numpy() | (
        raw_y.isna() | raw_y.astype(str).str.strip().eq("")
    ).to_numpy()
    bad = ~blank & (~np.isfinite(x) | ~np.isfinite(y))
    stats = PointStats(
        blank=int(blank.sum()),
        blank_examples=_row_labels(frame, blank, record.id_field),
        unparsable=int(bad.sum()),
        unparsable_examples=_row_labels(frame, bad, record.id_field),
    )
    keep = ~(blank | bad)
    kept = frame.loc[keep].reset_index(drop=True)
    geometry = gpd.points_from_xy(x[keep], y[keep])
    return gpd.GeoDataFrame(kept, geometry=geometry, crs=None), stats


def as_text(values: pd.Series) -> pd.Series:
    """Key values as text; integral floats lose their '.0' so 1.0 and '1' match."""
    if pd.api.types.is_float_dtype(values) and np.all(np.isnan(values) | (values == np.round(values))):
        values = values.astype("Int64")
    text = values.astype("string")
    return text.str.strip()


def _conflicting_keys(rows: pd.DataFrame) -> list[str]:
    """Keys whose later rows hold a non-missing value that differs from the first (kept) row's."""
    keys = []
    for key, group in rows.groupby(KEY, sort=False):
        kept, others = group.iloc[0], group.iloc[1:]
        differs = others.notna() & others.ne(kept)
        if differs.to_numpy().any():
            keys.append(str(key))
    return keys


def _zeros_lost(left: pd.Series, right: pd.Series) -> list[str]:
    """``"left ~ right"`` for unmatched keys that match once leading zeros are ignored on both sides.

    >>> _zeros_lost(pd.Series(["9001", "x"]), pd.Series(["09001"]))
    ['9001 ~ 09001']
    """
    stripped = {str(k).lstrip("0"): str(k) for k in right.dropna()}
    return [f"{k} ~ {stripped[str(k).lstrip('0')]}" for k in left.dropna() if str(k).lstrip("0") in stripped]


def join_table(data: gpd.GeoDataFrame, join: Join, record: LayerRecord, data_root: Path) -> tuple[gpd.GeoDataFrame, JoinStats]:
    """Join ``join.path`` to ``data`` on ``left_key``/``right_key`` (as text) and describe the match."""
    path = data_root / join.path
    table = read_table(
        path, record.id, code="join.missing", dtype={join.right_key: str}, na_values=join.na_values or None
    )
    if join.left_key not in data.columns:
        raise SourceError(f"join left_key '{join.left_key}' is not a field of the layer", code="join.key_missing", layer=record.id)
    if join.right_key not in table.columns:
        raise SourceError(f"join right_key '{join.right_key}' is not a column of {path.name}", code="join.key_missing", layer=record.id)
    if join.fields:
        absent = [f for f in join.fields if f not in table.columns]
        if absent:
            raise SourceError(f"join fields {', '.join(absent)} are not columns of {path.name}", code="join.key_missing", layer=record.id)
        table = table[[join.right_key, *[f for f in join.fields if f != join.right_key]]]

    right = table.assign(**{KEY: as_text(table[join.right_key])}).dropna(subset=[KEY])
    dup_mask = right[KEY].duplicated(keep=False)
    dup_keys = right.loc[dup_mask, KEY].unique()
    # Of duplicated keys keep the fullest row (the others are usually placeholder rows of 'na').
    right = right.assign(_filled=right.notna().sum(axis=1)).sort_values("_filled", ascending=False, kind="stable")
    conflicting = _conflicting_keys(right[right[KEY].isin(set(dup_keys))].drop(columns="_filled"))
    right = right.drop_duplicates(KEY).drop(columns="_filled")
    left_keys = as_text(data[join.left_key])
    in_right = left_keys.isin(set(right[KEY])).to_numpy()
    right_unmatched = right.loc[~right[KEY].isin(set(left_keys.dropna())), KEY]

    zeros_lost = _zeros_lost(left_keys[~in_right], right_unmatched)
    right = right.drop(columns=[join.right_key])
    merged = data.assign(**{KEY: left_keys}).merge(right, on=KEY, how=join.how, suffixes=("", "_join"), sort=False)
    merged = gpd.GeoDataFrame(merged.drop(columns=KEY), geometry=data.geometry.name, crs=data.crs)
    stats = JoinStats(
        left_key=join.left_key,
        right_key=join.right_key,
        matched=int(in_right.sum()),
        left_unmatched=int((~in_right).sum()),
        left_unmatched_examples=tuple(str(v) for v in left_keys[~in_right].head(EXAMPLES)),
        right_unmatched=int(len(right_unmatched)),
        right_unmatched_examples=tuple(str(v) for v in right_unmatched.head(EXAMPLES)),
        right_duplicated=int(len(dup_keys)),
        right_duplicated_examples=tuple(str(v) for v in dup_keys[:EXAMPLES]),
        right_rows_dropped=int(dup_mask.sum() - len(dup_keys)),
        right_conflicting=len(conflicting),
        right_conflicting_examples=tuple(conflicting[:EXAMPLES]),
        zeros_lost=len(zeros_lost),
        zeros_lost_examples=tuple(zeros_lost[:EXAMPLES]),
    )
    return merged, stats
