"""CDC/ATSDR Social Vulnerability Index ranking, 2020/2022 structure (methods §5), and the ``svi`` operation.

From the ``EP_*`` estimates of a set of units (the domain, e.g. the tracts or counties of a state):
``EPL_*`` percentile ranks, theme sums ``SPL_THEME1..4`` and ranks ``RPL_THEME1..4``, the overall
``SPL_THEMES`` / ``RPL_THEMES``, and flags ``F_*`` (EPL ≥ 0.90), ``F_THEME1..4`` and ``F_TOTAL``.

Ranks are Excel's PERCENTRANK.INC as CDC computes it: (rank − 1) / (N − 1) with ties taking the
lowest rank, rounded to 4 decimals; theme sums add the rounded ranks. Units with zero population or a
missing value (NaN or CDC's −999) are left out of a ranking and get missing (NaN) results for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geosvc.equity.report import Report
from geosvc.equity.requests import SviRequest
from geosvc.equity.suppression import apply_disclosure_control, resolve_k
from geosvc.errors import InvalidParameter

THEMES: dict[str, tuple[str, ...]] = {
    "THEME1": ("POV150", "UNEMP", "HBURD", "NOHSDP", "UNINSUR"),
    "THEME2": ("AGE65", "AGE17", "DISABL", "SNGPNT", "LIMENG"),
    "THEME3": ("MINRTY",),
    "THEME4": ("MUNIT", "MOBILE", "CROWD", "NOVEH", "GROUPQ"),
}
"""Variables of each theme (SVI 2020 and 2022); inputs are ``EP_<variable>`` columns."""

VARIABLES: tuple[str, ...] = tuple(v for members in THEMES.values() for v in members)
INPUT_COLUMNS: tuple[str, ...] = tuple(f"EP_{v}" for v in VARIABLES)
MISSING = -999
FLAG_THRESHOLD = 0.90
DECIMALS = 4


class SviInputError(InvalidParameter, ValueError):
    """The units given for an SVI ranking lack variables or hold unusable values (HTTP 400)."""


def percent_rank(values: pd.Series | np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """PERCENTRANK.INC of each value among the valid ones: (rank_min − 1) / (N − 1), 4 decimals.

    Invalid or NaN entries get NaN and are not counted in N.

    Examples
    --------
    >>> percent_rank([10.0, 20.0, 20.0, 30.0, float("nan")]).tolist()
    [0.0, 0.3333, 0.3333, 1.0, nan]
    """
    x = np.asarray(values, dtype=float)
    ok = ~np.isnan(x) if valid is None else np.asarray(valid, dtype=bool) & ~np.isnan(x)
    out = np.full(x.shape, np.nan)
    n = int(ok.sum())
    if n > 1:
        ranks = pd.Series(x[ok]).rank(method="min").to_numpy()
        out[ok] = np.round((ranks - 1) / (n - 1), DECIMALS)
    return out


def validate_svi_input(units: pd.DataFrame, *, id_column: str, population: str | None = None) -> None:
    """Check that ``units`` can be ranked; raise :class:`SviInputError` naming what is wrong.

    Examples
    --------
    >>> units = pd.DataFrame({"id": [1, 2], **{c: [1.0, 2.0] for c in INPUT_COLUMNS}})
    >>> validate_svi_input(units.drop(columns=["EP_CROWD", "EP_NOVEH"]), id_column="id")
    Traceback (most recent call last):
    ...
    geosvc.equity.svi.SviInputError: parameter 'units': missing SVI variables: EP_CROWD, EP_NOVEH
    """
    wanted = [id_column, *([population] if population else [])]
    absent = [c for c in wanted if c not in units.columns]
    if absent:
        raise SviInputError(f"missing column(s): {', '.join(absent)}", param="units")
    missing = [c for c in INPUT_COLUMNS if c not in units.columns]
    if missing:
        raise SviInputError(f"missing SVI variables: {', '.join(missing)}", param="units")
    not_numeric = [c for c in [*INPUT_COLUMNS, *([population] if population else [])]
                   if not pd.api.types.is_numeric_dtype(units[c])]
    if not_numeric:
        raise SviInputError(f"non-numeric values in: {', '.join(not_numeric)}", param="units")
    if units[id_column].isna().any() or units[id_column].duplicated().any():
        raise SviInputError(f"'{id_column}' must be unique and present for every unit", param="units")
    values = units[list(INPUT_COLUMNS)]
    bad = [c for c in INPUT_COLUMNS if ((values[c] < 0) & (values[c] != MISSING)).any()]
    if bad:
        raise SviInputError(f"negative values (other than {MISSING}) in: {', '.join(bad)}", param="units")
    numbers = [*INPUT_COLUMNS, *([population] if population else [])]
    infinite = [c for c in numbers if np.isinf(units[c].to_numpy(dtype=float)).any()]
    if infinite:
        raise SviInputError(f"infinite values in: {', '.join(infinite)}", param="units")
    if population and (units[population].to_numpy(dtype=float) < 0).any():
        raise SviInputError(f"negative values in: {population}", param="units")
    if len(units) < 2:
        raise SviInputError("a ranking needs at least two units", param="units")


def rank_svi(units: pd.DataFrame, *, id_column: str, population: str | None = None) -> pd.DataFrame:
    """Rank units by the CDC/ATSDR SVI (2020/2022 variables).

    Parameters
    ----------
    units : DataFrame
        One row per unit: ``id_column``, the 16 ``EP_*`` columns (percent estimates; NaN or −999
        for missing) and optionally a total population column.
    id_column : str
        Unique unit identifier.
    population : str, optional
        Total population column; units with 0 population are left out of every ranking.

    Returns
    -------
    DataFrame
        ``id_column``, the ``EP_*`` inputs, ``EPL_*``, ``SPL_THEME1..4``, ``RPL_THEME1..4``,
        ``SPL_THEMES``, ``RPL_THEMES``, ``F_*``, ``F_THEME1..4``, ``F_TOTAL``, in CDC's order per
        theme; missing results are NaN.

    Raises
    ------
    SviInputError
        See :func:`validate_svi_input`.

    Examples
    --------
    >>> ep = {c: [1.0, 2.0, 3.0] for c in INPUT_COLUMNS}
    >>> out = rank_svi(pd.DataFrame({"id": ["a", "b", "c"], **ep}), id_column="id")
    >>> out[["id", "EPL_POV150", "SPL_THEME1", "RPL_THEMES", "F_TOTAL"]]
      id  EPL_POV150  SPL_THEME1  RPL_THEMES  F_TOTAL
    0  a         0.0         0.0         0.0      0.0
    1  b         0.5         2.5         0.5      0.0
    2  c         1.0         5.0         1.0     16.0
    """
    validate_svi_input(units, id_column=id_column, population=population)
    in_domain = np.ones(len(units), dtype=bool)
    if population is not None:
        in_domain = units[population].to_numpy(dtype=float) > 0
    values = units[list(INPUT_COLUMNS)].astype(float).replace(MISSING, np.nan)

    cols: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    for theme, members in THEMES.items():
        epl = {v: percent_rank(values[f"EP_{v}"], in_domain) for v in members}
        cols.update({f"EPL_{v}": r for v, r in epl.items()})
        spl = np.round(np.sum(list(epl.values()), axis=0), DECIMALS)  # NaN if any member is missing
        cols[f"SPL_{theme}"] = spl
        cols[f"RPL_{theme}"] = percent_rank(spl, in_domain)
        member_flags = {v: np.where(np.isnan(r), np.nan, (r >= FLAG_THRESHOLD).astype(float))
                        for v, r in epl.items()}
        flags.update({f"F_{v}": f for v, f in member_flags.items()})
        flags[f"F_{theme}"] = np.sum(list(member_flags.values()), axis=0)
    spl_all = np.round(np.sum([cols[f"SPL_{t}"] for t in THEMES], axis=0), DECIMALS)
    cols["SPL_THEMES"] = spl_all
    cols["RPL_THEMES"] = percent_rank(spl_all, in_domain)
    flags["F_TOTAL"] = np.sum([flags[f"F_{t}"] for t in THEMES], axis=0)

    out = units[[id_column]].copy()
    out[list(INPUT_COLUMNS)] = values
    return pd.concat([out, pd.DataFrame({**cols, **flags}, index=units.index)], axis=1)


def svi_report(request: SviRequest, k_floor: int) -> Report:
    """The ``svi`` operation: SVI ranking of the given units (their population counts under disclosure control)."""
    k = resolve_k(None, k_floor)
    units = pd.DataFrame(list(request.units))
    population = "E_TOTPOP" if "E_TOTPOP" in units.columns else None
    if request.id_field not in units.columns:
        raise InvalidParameter(f"no unit has the id field '{request.id_field}'", param="id_field")
    ranked = rank_svi(units, id_column=request.id_field, population=population)
    counts = [population] if population else []
    if population:
        ranked.insert(1, population, pd.to_numeric(units[population], errors="coerce"))
    rows, protections = apply_disclosure_control(ranked, count_columns=counts, k=k, k_floor=k_floor) if counts \
        else (ranked, None)
    method = {
        "name": "CDC/ATSDR Social Vulnerability Index (2020/2022 structure)",
        "ranking": "EPL = (rank_min − 1)/(N − 1) over units with population > 0 and no missing value (−999), "
                   "4 decimals; SPL = Σ EPL per theme; RPL = percent rank of SPL; flags F = EPL ≥ 0.90",
        "domain": f"the {len(units)} units given",
    }
    protections = protections.to_dict() if protections is not None else {
        "applied": [], "note": "no counts of people in the answer (only percentages and ranks)"}
    return Report(operation="svi", rows=rows, count_columns=counts, k=k if counts else None, method=method,
                  protections=protections, parameters=request.model_dump(mode="json", exclude_none=True), crs={})
