"""Attribute text against its declared encoding: undecodable bytes and mojibake must never reach the store.

GDAL hands text over undecoded when the declared encoding is UTF-8, so text written in another
encoding arrives as invalid UTF-8 (Arrow keeps it, and it breaks whoever decodes it later). Text
written as UTF-8 but declared cp1252/latin-1 decodes "cleanly" into mojibake (``MontrÃ©al``).
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord

GUESSES = ("cp1252", "latin-1")  # tried on undecodable text to suggest source.encoding
MOJIBAKE_SOURCES = ("cp1252", "latin-1")  # encodings UTF-8 text is commonly mis-declared as


def decodes(raw: bytes, encoding: str) -> bool:
    """True when ``raw`` is valid text in ``encoding``.

    >>> decodes(b"Montr\\xe9al", "utf-8"), decodes(b"Montr\\xe9al", "cp1252")
    (False, True)
    """
    try:
        raw.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def undecodable(values: pd.Series) -> list[tuple[int, bytes]]:
    """(position, bytes) of the values that are not valid UTF-8 (Arrow-backed text read without decoding)."""
    chunks = getattr(values.array, "_pa_array", None)
    if chunks is None or not (pa.types.is_string(chunks.type) or pa.types.is_large_string(chunks.type)):
        return []
    try:
        chunks.validate(full=True)
        return []
    except pa.ArrowInvalid:
        raw = pc.cast(chunks, pa.large_binary()).to_pylist()
    return [(i, value) for i, value in enumerate(raw) if value is not None and not decodes(value, "utf-8")]


def mojibake(text: str) -> str | None:
    """The UTF-8 reading of ``text`` when it is UTF-8 bytes decoded as cp1252/latin-1, else ``None``.

    >>> mojibake("MontrÃ©al"), mojibake("Montréal"), mojibake("Hartford")
    ('Montréal', None, None)
    """
    if text.isascii():
        return None
    for encoding in MOJIBAKE_SOURCES:
        try:
            fixed = text.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text:
            return fixed
    return None


def _who(frame: gpd.GeoDataFrame, record: LayerRecord, name: str, position: int) -> str:
    field = record.id_field
    if field in frame.columns and field != name:
        return f"{field}={frame[field].iloc[position]}"
    return f"row {position}"


def check_text(frame: gpd.GeoDataFrame, record: LayerRecord, declared: Callable[[], str]) -> None:
    """Raise ``source.encoding`` for the first text field that is undecodable or mojibake.

    ``declared`` says which encoding was used (called only when there is something to report).
    The message names the field, an example feature and the encoding that reads the text right.
    """
    for name in frame.columns.drop(frame.geometry.name):
        values = frame[name]
        bad = undecodable(values)
        if bad:
            position, raw = bad[0]
            guess = next((enc for enc in GUESSES if decodes(raw, enc)), None)
            hint = f"; it reads as {raw.decode(guess)!r} in {guess}: if that is right, set source.encoding: {guess}" if guess else ""
            raise SourceError(
                f"field '{name}' holds text that is not valid in {declared()} in {len(bad)} feature(s) "
                f"(e.g. {_who(frame, record, name, position)}: {raw!r}){hint}",
                code="source.encoding", layer=record.id,
            )
        if not pd.api.types.is_string_dtype(values):
            continue
        text = values[values.str.contains(r"[^\x00-\x7f]", regex=True, na=False).to_numpy(dtype=bool)]
        garbled = {v: fixed for v in text.unique() if (fixed := mojibake(v)) is not None}
        if garbled:
            hits = np.flatnonzero(values.isin(list(garbled)).to_numpy())
            example = values.iloc[hits[0]]
            raise SourceError(
                f"field '{name}' holds UTF-8 text decoded as {declared()} in {len(hits)} feature(s) "
                f"(e.g. {_who(frame, record, name, int(hits[0]))}: {example!r} reads as {garbled[example]!r} in UTF-8); "
                "if that is right, set source.encoding: UTF-8",
                code="source.encoding", layer=record.id,
            )
