"""Cross-tabulations of a record-level layer: counts by published geography × declared dimensions.

A :class:`Cube` holds the counts of a record-level layer (one row per person: a piece of the public
partition and one category per declared :class:`Dim`) over the *full* domain of pieces × category
combinations. The pieces are the overlay of every geography the layer may be tabulated by, so any
table — any geography, any subset of the dimensions, with every margin — is a sum of base counts.
Records located in no piece count in :data:`OUTSIDE`: they are in the state total only.

Disclosure control of these tables is :mod:`~geosvc.equity.crosstab_protection`.

Examples
--------
>>> pieces = pd.DataFrame({"towns": ["a", "a", "b"]}, index=["p1", "p2", "p3"])
>>> records = pd.DataFrame({"piece": ["p1", "p2", "p3", None], "sex": ["f", "m", "f", "f"]})
>>> cube = Cube.from_records(records, pieces, [Dim("sex", ("f", "m"))])
>>> cube.table("towns", ["sex"]).to_dict("list")
{'place_id': ['state', 'state', 'state', 'a', 'a', 'a', 'b', 'b', 'b'], 'sex': ['f', 'm', 'total', 'f', 'm', 'total', 'f', 'm', 'total'], 'count': [3, 1, 4, 1, 1, 2, 1, 0, 1]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import sparse

from geosvc.equity.constants import STATE, TOTAL
from geosvc.errors import InvalidParameter

OUTSIDE = "_outside"
"""Piece id of the records located in no unit of any geography."""


@dataclass(frozen=True)
class Dim:
    """A declared demographic dimension: its name and its category ids (never ``"total"``)."""

    name: str
    categories: tuple[str, ...]

    def __post_init__(self) -> None:
        cats = tuple(self.categories)
        if not cats or len(set(cats)) != len(cats) or TOTAL in cats:
            raise ValueError(f"dimension {self.name!r}: categories must be unique, non-empty and not {TOTAL!r}")
        object.__setattr__(self, "categories", cats)


@dataclass(frozen=True)
class Cube:
    """Counts of a record-level layer over a public partition of pieces × every category combination.

    Attributes
    ----------
    base : Series
        MultiIndex ``(piece, dim1, ..., dimN)`` -> int count over the full domain (zeros included);
        the piece ids are those of ``pieces`` plus :data:`OUTSIDE`.
    pieces : DataFrame
        Index = piece id; one column per geography name holding the piece's unit id (NA where the
        piece lies in no unit of it).
    dims : tuple of Dim
    """

    base: pd.Series
    pieces: pd.DataFrame
    dims: tuple[Dim, ...]

    @classmethod
    def from_records(cls, records: pd.DataFrame, pieces: pd.DataFrame, dims: Sequence[Dim]) -> Cube:
        """Count ``records`` (column ``piece``, NA = outside every geography, and one column per dim).

        Raises
        ------
        InvalidParameter
            A column is missing, a piece id is unknown, or a category value is not declared
            (the parameter named is the column).
        """
        dims = tuple(dims)
        if OUTSIDE not in pieces.index:
            pieces = pd.concat([pieces, pd.DataFrame(index=pd.Index([OUTSIDE]), columns=pieces.columns)])
        piece_ids = list(pieces.index)
        columns = [("piece", piece_ids), *((d.name, list(d.categories)) for d in dims)]
        codes = []
        for name, domain in columns:
            if name not in records.columns:
                raise InvalidParameter("records have no such column", param=name)
            values = records[name]
            if name == "piece":
                values = values.astype(object).where(values.notna(), OUTSIDE)
            code = pd.Index(domain, dtype=object).get_indexer(values.to_numpy(dtype=object))
            if (code < 0).any():
                bad = sorted({str(v) for v in values[code < 0]})[:5]
                what = "unknown piece id(s)" if name == "piece" else f"undeclared categor(y/ies), declared: {domain}"
                raise InvalidParameter(f"{what}: {bad}", param=name)
            codes.append(code)
        shape = tuple(len(domain) for _, domain in columns)
        flat = np.ravel_multi_index(codes, shape) if len(records) else np.zeros(0, dtype=int)
        counts = np.bincount(flat, minlength=int(np.prod(shape))).astype(np.int64)
        index = pd.MultiIndex.from_product([domain for _, domain in columns], names=[n for n, _ in columns])
        return cls(pd.Series(counts, index=index, name="count"), pieces, dims)

    # -- structure -------------------------------------------------------------------------------

    @property
    def geographies(self) -> tuple[str, ...]:
        """Names of the geographies, sorted."""
        return tuple(sorted(self.pieces.columns))

    @cached_property
    def piece_ids(self) -> tuple:
        """Piece ids in base order."""
        return tuple(self.base.index.get_level_values(0).unique())

    @cached_property
    def array(self) -> np.ndarray:
        """Base counts as an array of shape ``(n_pieces, n_cat1, ..., n_catN)``."""
        index = pd.MultiIndex.from_product([list(self.piece_ids), *(list(d.categories) for d in self.dims)])
        values = self.base.reindex(index, fill_value=0).to_numpy(dtype=np.int64)
        return values.reshape((len(self.piece_ids), *(len(d.categories) for d in self.dims)))

    def units(self, geography: str) -> tuple:
        """Unit ids of ``geography``, sorted."""
        if geography not in self.pieces.columns:
            raise InvalidParameter(f"not a geography of this layer (known: {list(self.geographies)})",
                                   param="geography")
        return tuple(sorted(self.pieces[geography].dropna().unique()))

    def membership(self, geography: str) -> sparse.csr_array:
        """Sparse units × pieces 0/1 matrix of ``geography`` (units sorted, pieces in base order)."""
        units = self.units(geography)
        of_piece = self.pieces[geography].reindex(list(self.piece_ids))
        pos = pd.Index(units).get_indexer(of_piece.to_numpy())
        inside = np.flatnonzero(pos >= 0)
        return sparse.csr_array((np.ones(inside.size), (pos[inside], inside)),
                                shape=(len(units), len(self.piece_ids)))

    def extended(self, geography: str) -> np.ndarray:
        """Counts with every margin: shape ``(1 + n_units, n_cat1 + 1, ..., n_catN + 1)``.

        Row 0 is the state (all records, :data:`OUTSIDE` included), then the units in sorted order;
        along each dimension axis the last position is the margin (:data:`TOTAL`).
        """
        flat = self.array.reshape(self.array.shape[0], -1)
        by_unit = (self.membership(geography) @ flat.astype(float)).round().astype(np.int64)
        out = np.concatenate([flat.sum(axis=0, keepdims=True), by_unit]).reshape(
            (-1, *self.array.shape[1:]))
        return add_margins(out)

    def table(self, geography: str, dims: Sequence[str]) -> pd.DataFrame:
        """Long table of ``geography`` × ``dims`` with every margin.

        Columns ``place_id`` (:data:`STATE`, then the unit ids sorted), one column per requested
        dim (category id, or :data:`TOTAL` for the margin), ``count`` (int). Within a place the
        rows run over the requested dims in the given order, each dim's categories in declared
        order followed by its total (the last dim varying fastest).
        """
        positions = self.dim_positions(dims)
        ext = self.extended(geography)
        return self._long(ext, [STATE, *self.units(geography)], positions)

    def dim_positions(self, dims: Sequence[str]) -> list[int]:
        """Positions of the named dims among the declared ones (InvalidParameter if unknown/repeated)."""
        names = [d.name for d in self.dims]
        dims = list(dims)
        unknown = [d for d in dims if d not in names]
        if unknown or len(set(dims)) != len(dims):
            raise InvalidParameter(f"must be distinct declared dimensions {names}, got {dims}", param="dims")
        return [names.index(d) for d in dims]

    def _long(self, ext: np.ndarray, places: list, positions: list[int]) -> pd.DataFrame:
        """Select the requested dims (TOTAL for the others) of an extended array as a long table."""
        index = tuple(slice(None) if i in positions else -1 for i in range(len(self.dims)))
        sub = ext[(slice(None), *index)]
        order = sorted(positions)
        sub = np.moveaxis(sub, [1 + order.index(p) for p in positions], list(range(1, 1 + len(positions))))
        labels = [[*self.dims[p].categories, TOTAL] for p in positions]
        index = pd.MultiIndex.from_product([places, *labels],
                                           names=["place_id", *(self.dims[p].name for p in positions)])
        frame = index.to_frame(index=False)
        frame["count"] = sub.reshape(-1).astype(np.int64)
        return frame


def add_margins(array: np.ndarray) -> np.ndarray:
    """Append, along every axis but the first, the sum over that axis (the margin) as last position.

    >>> add_margins(np.array([[[1, 2], [3, 4]]])).tolist()
    [[[1, 2, 3], [3, 4, 7], [4, 6, 10]]]
    """
    for axis in range(1, array.ndim):
        array = np.concatenate([array, array.sum(axis=axis, keepdims=True)], axis=axis)
    return array
