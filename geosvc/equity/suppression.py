"""Disclosure control for tables of counts (methods §4).

One call, :func:`apply_disclosure_control`, protects a long table (one row per place × group, plus
total rows) in this order:

1. *rounding* (optional, for caller-drawn polygons): counts are rounded to a base first, so the
   threshold applies to what is published, and derived values can be recomputed from them;
2. *minimum population* (optional, for caller-drawn polygons): rows whose place holds fewer than
   ``min_population`` people are withheld entirely;
3. *primary suppression*: a count ``0 < x < k`` is withheld (0 may be shown);
4. *complementary suppression*: in every additive line (a set of cells whose values add up, e.g. the
   groups of a place plus its total) a line holds no withheld cell or at least two; the smallest
   non-zero published cell of an offending line is withheld, repeated until stable;
5. *derived suppression*: a rate / share / ratio (or MOE, CI bound...) is withheld when a count it is
   computed from is withheld, in its own row or in its comparison (reference) row.

Withheld values become NaN (so no output format can leak them) and each carries a reason code in
``<column>_suppressed``. :class:`Protections` summarises what was applied, for the response.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse

from geosvc.errors import InvalidParameter

PRIMARY = "primary_small_count"
COMPLEMENTARY = "complementary"
DERIVED = "derived_from_suppressed"
MIN_POPULATION = "below_min_population"
REASONS = (MIN_POPULATION, PRIMARY, COMPLEMENTARY, DERIVED)

Cell = tuple[Hashable, str]
"""A cell of the table: ``(row label, count column)``."""


@dataclass(frozen=True)
class Protections:
    """What disclosure control did to one table (for the response's ``protections`` member).

    Attributes
    ----------
    k : int
        Threshold used: counts ``0 < x < k`` were withheld.
    k_floor : int
        Configured minimum threshold (``settings.equity.suppression_k``).
    withheld : dict of str to int
        Number of withheld values per reason code.
    rounding_base : int or None
        Published counts were rounded to a multiple of this.
    min_population : int or None
        Places below this population were withheld.
    """

    k: int
    k_floor: int
    withheld: dict[str, int]
    rounding_base: int | None = None
    min_population: int | None = None

    @property
    def applied(self) -> list[str]:
        """Names of the protections in force."""
        names = ["primary_suppression", "complementary_suppression", "derived_suppression"]
        if self.min_population is not None:
            names.insert(0, "minimum_population")
        if self.rounding_base is not None:
            names.append("rounding")
        return names

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "applied": self.applied,
            "k": self.k,
            "k_floor": self.k_floor,
            "min_population": self.min_population,
            "rounding_base": self.rounding_base,
            "withheld": dict(self.withheld),
            "reason_codes": {
                MIN_POPULATION: "the place's population is below the minimum for a caller-drawn area",
                PRIMARY: f"count between 1 and {self.k - 1}",
                COMPLEMENTARY: "withheld so a suppressed count cannot be recovered by subtraction",
                DERIVED: "computed from a withheld count",
            },
        }


def resolve_k(requested: int | None, floor: int) -> int:
    """Return the suppression threshold: ``requested`` if given, never below ``floor``.

    Raises
    ------
    InvalidParameter
        If ``requested`` is below ``floor`` (callers may raise k, never lower it).

    Examples
    --------
    >>> resolve_k(None, 11), resolve_k(20, 11)
    (11, 20)
    >>> resolve_k(5, 11)
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'k': must be an integer >= 11 (the configured floor), got 5
    """
    if requested is None:
        return int(floor)
    if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)) or requested < floor:
        raise InvalidParameter(
            f"must be an integer >= {floor} (the configured floor), got {requested!r}", param="k"
        )
    return int(requested)


def round_counts(values: ArrayLike, base: int = 5) -> np.ndarray:
    """Round counts to the nearest multiple of ``base`` (halves away from zero); NaN stays NaN.

    Examples
    --------
    >>> round_counts([0, 2, 2.5, 3, 12, 262.5, float("nan")]).tolist()
    [0.0, 0.0, 5.0, 5.0, 10.0, 265.0, nan]
    """
    if base < 1:
        raise InvalidParameter(f"must be >= 1, got {base}", param="rounding_base")
    x = np.asarray(values, dtype=float) / base
    return np.sign(x) * np.floor(np.abs(x) + 0.5) * base


def additive_lines(
    table: pd.DataFrame,
    *,
    place: str,
    group: str,
    total_group: Hashable,
    columns: Sequence[str],
    overall_place: Hashable | None = None,
) -> list[list[Cell]]:
    """Additive lines of a place × group table with margins.

    For every count column: the groups of each place plus its ``total_group`` row; and, if
    ``overall_place`` rows exist, for every group the places plus the ``overall_place`` row.
    Groups are taken to partition the total (treating a non-partition as a line only
    over-protects).

    Parameters
    ----------
    table : DataFrame
        Long table with a unique index and columns ``place`` and ``group``.
    place, group : str
        Names of the place and group columns.
    total_group : hashable
        Group label of the rows holding a place's total.
    columns : sequence of str
        Count columns the lines hold for.
    overall_place : hashable, optional
        Place label of the rows holding the region's (overall) totals.

    Returns
    -------
    list of list of (row label, column)

    Examples
    --------
    >>> t = pd.DataFrame({"place": ["a", "a", "a", "all", "all"],
    ...                   "group": ["x", "y", "total", "x", "y"]})
    >>> additive_lines(t, place="place", group="group", total_group="total",
    ...                columns=["n"], overall_place="all")
    [[(0, 'n'), (1, 'n'), (2, 'n')], [(3, 'n'), (4, 'n')], [(0, 'n'), (3, 'n')], [(1, 'n'), (4, 'n')]]
    """
    lines: list[list[Cell]] = []
    for labels in table.groupby(place, sort=False).groups.values():
        if len(labels) > 1:
            lines += [[(label, col) for label in labels] for col in columns]
    if overall_place is not None and (table[place] == overall_place).any():
        for labels in table.groupby(group, sort=False).groups.values():
            if len(labels) > 1:
                lines += [[(label, col) for label in labels] for col in columns]
    return lines


def apply_disclosure_control(
    table: pd.DataFrame,
    *,
    count_columns: Sequence[str],
    k: int | None = None,
    k_floor: int = 11,
    derived_columns: Mapping[str, Sequence[str]] | None = None,
    lines: Iterable[Iterable[Cell]] = (),
    reference: str | None = None,
    compared_columns: Sequence[str] = (),
    min_population: int | None = None,
    place_population: str | None = None,
    rounding_base: int | None = None,
    recompute: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, Protections]:
    """Withhold small counts, their complements and everything derived from them.

    Parameters
    ----------
    table : DataFrame
        Long table, one row per place × group (and total rows), with a unique index.
    count_columns : sequence of str
        Columns of counts (non-negative; NaN = missing, left as is).
    k : int, optional
        Threshold requested by the caller; default ``k_floor``. Counts ``0 < x < k`` are withheld.
    k_floor : int
        Configured minimum (``settings.equity.suppression_k``); ``k`` below it raises InvalidParameter.
    derived_columns : mapping of str to sequence of str, optional
        Derived column -> the count columns of the same row it is computed from, e.g.
        ``{"rate": ["exposed", "population"]}``. List MOE / CV / CI columns here too.
    lines : iterable of iterable of (row label, column)
        Additive lines (see :func:`additive_lines`); each needs at least two cells.
    reference : str, optional
        Column holding, per row, the index label of the row it is compared with (e.g. the
        reference group of the same place), or NA.
    compared_columns : sequence of str
        Derived columns (e.g. ``rr``, ``rd``) that are also withheld when a source count of the
        same derived column is withheld in the reference row.
    min_population : int, optional
        Minimum population of a caller-drawn area; rows whose ``place_population`` is in
        ``1..min_population-1`` are withheld entirely.
    place_population : str, optional
        Column holding the total population of the row's place (required with ``min_population``).
    rounding_base : int, optional
        Round counts to a multiple of this (e.g. 5) before anything else.
    recompute : callable, optional
        With ``rounding_base``: called with the table of rounded counts, returns it with the
        derived columns recomputed from them (otherwise derived values would reveal the exact
        counts the rounding hides).

    Returns
    -------
    table : DataFrame
        A copy with withheld values set to NaN, a ``<column>_suppressed`` column per count and
        derived column (reason code, or None when the value is published), and a boolean row
        flag ``suppressed``.
    protections : Protections
        Summary of what was applied.

    Raises
    ------
    InvalidParameter
        ``k`` below ``k_floor``, or a bad ``rounding_base``.
    ValueError
        Malformed table, columns or lines (a programming error, not a caller's).

    Examples
    --------
    >>> t = pd.DataFrame({
    ...     "place": ["a", "a", "a"], "group": ["x", "y", "total"],
    ...     "population": [120, 300, 420], "exposed": [4, 60, 64]})
    >>> t["rate"] = 1000 * t["exposed"] / t["population"]
    >>> lines = additive_lines(t, place="place", group="group", total_group="total",
    ...                        columns=["population", "exposed"])
    >>> out, prot = apply_disclosure_control(
    ...     t, k=11, count_columns=["population", "exposed"],
    ...     derived_columns={"rate": ["exposed", "population"]}, lines=lines)
    >>> out[["group", "exposed", "exposed_suppressed", "rate", "rate_suppressed"]]
       group  exposed   exposed_suppressed        rate          rate_suppressed
    0      x      NaN  primary_small_count         NaN  derived_from_suppressed
    1      y      NaN        complementary         NaN  derived_from_suppressed
    2  total     64.0                 None  152.380952                     None
    >>> prot.withheld
    {'below_min_population': 0, 'primary_small_count': 1, 'complementary': 1, 'derived_from_suppressed': 2}
    """
    k = resolve_k(k, k_floor)
    derived = dict(derived_columns or {})
    _check_columns(table, count_columns, derived, reference, compared_columns, place_population)
    if rounding_base is not None:
        table = table.copy()
        table[list(count_columns)] = round_counts(table[list(count_columns)], rounding_base)
        if recompute is not None:
            table = recompute(table)
    elif recompute is not None:
        raise ValueError("recompute is only used with rounding_base")

    n, counts = len(table), list(count_columns)
    values = table[counts].to_numpy(dtype=float).T.ravel()  # cell id = column * n + row
    if np.isinf(values).any() or (values < 0).any():
        raise ValueError("counts must be finite and non-negative (NaN for missing)")
    reason = np.full(values.size, None, dtype=object)

    if min_population is not None:
        if place_population is None:
            raise ValueError("min_population needs place_population (a column name)")
        pop = table[place_population].to_numpy(dtype=float)
        small_place = np.tile((pop > 0) & (pop < min_population), len(counts))
        reason[small_place] = MIN_POPULATION
    reason[pd.isna(reason) & (values > 0) & (values < k)] = PRIMARY
    complement(values, reason, _incidence(table, counts, lines))

    cell_reason = reason.reshape(len(counts), n)
    withheld = {col: pd.notna(cell_reason[j]) for j, col in enumerate(counts)}
    ref_pos = _reference_positions(table, reference) if compared_columns else None
    derived_reason = {}
    for col, sources in derived.items():
        hit = np.logical_or.reduce([withheld[s] for s in sources])
        if col in compared_columns:
            has_ref = ref_pos >= 0
            hit[has_ref] |= np.logical_or.reduce([withheld[s][ref_pos[has_ref]] for s in sources])
        below = (cell_reason[counts.index(sources[0])] == MIN_POPULATION) & hit
        derived_reason[col] = np.where(below, MIN_POPULATION, np.where(hit, DERIVED, None))

    masked = {col: np.where(withheld[col], np.nan, table[col].to_numpy(dtype=float)) for col in counts}
    masked |= {col: np.where(pd.notna(why), np.nan, table[col].to_numpy(dtype=float))
               for col, why in derived_reason.items()}
    reasons = {f"{col}_suppressed": cell_reason[j] for j, col in enumerate(counts)}
    reasons |= {f"{col}_suppressed": why for col, why in derived_reason.items()}
    out = table.drop(columns=[c for c in [*reasons, "suppressed"] if c in table.columns])
    out[list(masked)] = np.column_stack(list(masked.values()))
    flags = pd.DataFrame(reasons, index=table.index, dtype=object)
    flags["suppressed"] = flags.notna().any(axis=1).to_numpy()
    out = pd.concat([out, flags], axis=1)

    all_reasons = np.concatenate([reason, *derived_reason.values()]) if derived_reason else reason
    tally = {code: int((all_reasons == code).sum()) for code in REASONS}
    return out, Protections(k, int(k_floor), tally, rounding_base, min_population)


def _check_columns(table, counts, derived, reference, compared, place_population) -> None:
    if not table.index.is_unique:
        raise ValueError("table index must be unique (cells are addressed by row label)")
    wanted = [*counts, *derived, *([reference] if reference else []),
              *([place_population] if place_population else [])]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise ValueError(f"table has no column(s) {missing}")
    for col, sources in derived.items():
        if not sources or not set(sources) <= set(counts):
            raise ValueError(f"derived column {col!r}: sources {list(sources)} must be count columns")
    if compared and reference is None:
        raise ValueError("compared_columns need a reference column")
    if not set(compared) <= set(derived):
        raise ValueError(f"compared_columns {sorted(set(compared) - set(derived))} are not derived columns")


def _reference_positions(table: pd.DataFrame, reference: str) -> np.ndarray:
    labels = table[reference]
    pos = np.full(len(table), -1)
    present = labels.notna().to_numpy()
    found = table.index.get_indexer(labels[present])
    if (found < 0).any():
        raise ValueError(f"column {reference!r} names rows that are not in the table")
    pos[present] = found
    return pos


def _incidence(table: pd.DataFrame, counts: list[str], lines: Iterable[Iterable[Cell]]) -> sparse.csr_array:
    """Sparse line × cell matrix (cell id = column index * n_rows + row position)."""
    n, col_index = len(table), {c: j for j, c in enumerate(counts)}
    line_of, labels, columns = [], [], []
    for i, line in enumerate(lines):
        cells = list(dict.fromkeys(line))
        if len(cells) < 2:
            raise ValueError(f"additive line {i} has fewer than two cells")
        line_of += [i] * len(cells)
        labels += [label for label, _ in cells]
        columns += [col_index.get(col, -1) for _, col in cells]
    pos = table.index.get_indexer(pd.Index(labels, dtype=object, tupleize_cols=False))
    columns = np.asarray(columns, dtype=int)
    bad = (pos < 0) | (columns < 0)
    if bad.any():
        raise ValueError(f"additive line {line_of[int(np.argmax(bad))]} names cells that are not in the table")
    shape = (max(line_of, default=-1) + 1, n * len(counts))
    return sparse.csr_array((np.ones(len(line_of)), (line_of, columns * n + pos)), shape=shape)


def complement(values: np.ndarray, reason: np.ndarray, lines: sparse.csr_array,
               exposed: np.ndarray | None = None) -> None:
    """Withhold, in place, the smallest published cell of each line holding exactly one hidden cell.

    A cell is hidden when it has a reason code or a NaN value (a missing cell hides a line's
    remainder as well as a suppressed one). ``exposed`` (boolean, default all true) tells which
    hidden cells need hiding: a line whose only hidden cell is not exposed (e.g. an unpublished
    remainder whose value may be shown) needs no complement. Ties go to the lowest cell id.
    """
    exposed = np.ones(values.size, dtype=bool) if exposed is None else exposed
    # Non-zero cells first, smallest first; zeros only if a line has nothing else.
    order_key = np.where(values > 0, values, np.inf)
    while True:
        hidden = pd.notna(reason) | np.isnan(values)
        hidden_f = hidden.astype(float)
        offending = np.flatnonzero((lines @ hidden_f == 1) & (lines @ (hidden_f * exposed) == 1))
        if offending.size == 0:
            return
        for i in offending:
            cells = lines.indices[lines.indptr[i]:lines.indptr[i + 1]]
            if hidden[cells].sum() != 1:  # fixed by an earlier pick in this pass
                continue
            open_cells = cells[~hidden[cells]]
            pick = open_cells[np.argmin(order_key[open_cells])]
            reason[pick] = COMPLEMENTARY
            hidden[pick] = True
