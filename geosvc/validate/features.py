"""Labels of example features for findings: id-field values, else row numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geosvc.validate.codes import MAX_EXAMPLES


def example_ids(frame: pd.DataFrame, mask: np.ndarray | pd.Series, id_field: str | None) -> tuple[str, ...]:
    """Up to five labels of the rows selected by ``mask``.

    The record's id field value when it exists and is set, else ``row N`` (0-based position).

    Examples
    --------
    >>> frame = pd.DataFrame({"code": ["a", None, "c"]})
    >>> example_ids(frame, np.array([False, True, True]), "code")
    ('row 1', 'c')
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))[:MAX_EXAMPLES]
    if id_field and id_field in frame.columns:
        values = frame[id_field].iloc[positions]
        return tuple(f"row {p}" if pd.isna(v) else str(v) for p, v in zip(positions, values, strict=True))
    return tuple(f"row {p}" for p in positions)
