"""A differencing attacker: what can be recovered by combining published cross-tabs?

:func:`recover` takes published tables (as :meth:`geosvc.equity.crosstab_protection.Protected.table`
returns them, any mix of geographies and dims subsets), the public pieces frame and the dims; the
unknowns are the base counts (piece × category combination, :data:`~geosvc.equity.crosstab.OUTSIDE`
included) ≥ 0; every published count is an equality. For each withheld cell it minimises and
maximises the cell's value with ``scipy.optimize.linprog`` (HiGHS) and returns the cells pinned
to a single integer value (the LP relaxation: what it pins, the integers pin too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity.crosstab import OUTSIDE, Dim


def recover(tables: Sequence[tuple[str, pd.DataFrame]], pieces: pd.DataFrame,
            dims: Sequence[Dim]) -> dict[tuple, int]:
    """Cells withheld in ``tables`` ((geography, table) pairs) whose value the published ones pin.

    Keys are cell keys ``(geography or "state", unit or STATE, categories of every dim)``.
    """
    piece_ids = [*pieces.index, *([] if OUTSIDE in pieces.index else [OUTSIDE])]
    pieces = pieces.reindex(piece_ids)
    combos = pd.MultiIndex.from_product([list(d.categories) for d in dims]).to_frame(index=False).to_numpy()
    n_combos = len(combos)
    rows, values, targets = {}, {}, {}
    for geography, table in tables:
        asked = [d.name for d in dims if d.name in table.columns]
        for rec in table.to_dict("records"):
            cats = tuple(rec[d.name] if d.name in asked else TOTAL for d in dims)
            place = rec["place_id"]
            key = ("state", STATE, cats) if place == STATE else (geography, place, cats)
            if key not in rows:
                in_place = np.ones(len(piece_ids), bool) if place == STATE else \
                    (pieces[geography] == place).fillna(False).to_numpy(bool)
                in_combo = np.all([(combos[:, i] == c) | (c == TOTAL) for i, c in enumerate(cats)], axis=0)
                rows[key] = np.flatnonzero(np.outer(in_place, in_combo).reshape(-1))
            if pd.isna(rec["count"]):
                targets[key] = rows[key]
            else:
                values[key] = float(rec["count"])
    n_vars = len(piece_ids) * n_combos
    eq = list(values)
    a_eq = _matrix([rows[k] for k in eq], n_vars)
    b_eq = np.array([values[k] for k in eq])
    pinned = {}
    for key, cols in targets.items():
        if key in values:  # published in some other table: nothing left to recover
            pinned[key] = int(values[key])
            continue
        c = np.zeros(n_vars)
        c[cols] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        assert low.status == 0 and high.status == 0, (key, low.message, high.message)
        if -high.fun - low.fun < 0.5:
            pinned[key] = int(round(low.fun))
    return pinned


def _matrix(supports: list[np.ndarray], n_vars: int) -> sparse.csr_array:
    indptr = np.cumsum([0, *(s.size for s in supports)])
    indices = np.concatenate(supports) if supports else np.zeros(0, int)
    return sparse.csr_array((np.ones(indices.size), indices, indptr), shape=(len(supports), n_vars))
