"""Disclosure control of a whole :class:`~geosvc.equity.crosstab.Cube`, decided once (methods §4).

:func:`protect` decides, for every cell of every table the cube can answer (each geography and the
state × every subset of the dimensions × every margin), whether it is published, once and
deterministically, so a cell is withheld in every answer or in none:

1. *primary*: a count ``0 < x < k`` is withheld (0 is published);
2. *complementary* (:func:`geosvc.equity.suppression.complement`) over every additive line:
   along each dimension (a margin = the sum of its categories) at every place; the state = the
   units of each geography + the records outside it; and across geographies, per connected
   component of overlapping units (towns vs tracts), Σ units of one = Σ units of the other, each
   plus the part of the component the other does not cover. The unpublished parts (outside a
   geography, a component's uncovered part) are hidden unknowns; when one of them holds
   ``0 < x < k`` records it is protected like a withheld cell;
3. *audit*: no withheld cell may be pinned by the published cells through any combination of
   relations and the non-negativity of counts (a bridge between two suppression cycles, or a
   line whose other withheld cells cannot go below 0, is). A cell is cleared by exhibiting a
   change of the base counts that keeps every published cell, keeps counts non-negative (base
   counts under a published 0 are known zeros) and moves the cell — a null-space vector over the
   positive base counts, or a linear program as the attacker's own test
   (``tests/support/differencing.py``) solves — searched within small sets of pieces (each unit,
   each small component of overlapping units; :meth:`_Layout.blocks`). A change found in a
   block is a change of the whole cube, so a cleared cell is safe; a cell not cleared is
   treated as pinned (conservative) and gets one more complement (the smallest non-zero
   published cell sharing a line with it); 2–3 repeat until every withheld cell is cleared.
   Withholding more only widens the changes, so a cleared cell stays cleared.

Ties are broken by canonical cell order: the state, then the geographies by name and their units
sorted; categories in declared order, the margin last.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.optimize import linprog
from scipy.sparse import csgraph

from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity.crosstab import Cube
from geosvc.equity.suppression import COMPLEMENTARY, PRIMARY, complement

CellKey = tuple[str, Hashable, tuple[str, ...]]
"""``(geography name or "state", unit id or STATE, category-or-TOTAL for every declared dim)``."""

_HIDDEN = "unpublished"  # reason of the unpublished remainders (never a published cell)
_LP_ROWS = 3  # rows of a block tried one by one by linear programs (the others by a few at once)
_BLOCK_PIECES = 16  # a component of overlapping units up to this many pieces is audited as one block
_BLOCK_VARS = 600  # blocks with more unknown base counts are skipped (their cells then need smaller ones)


@dataclass(frozen=True)
class Protected:
    """A cube with its disclosure decision: ``withheld`` maps each withheld cell to its reason code."""

    cube: Cube
    k: int
    withheld: Mapping[CellKey, str] = field(repr=False)

    def table(self, geography: str, dims: Sequence[str]) -> pd.DataFrame:
        """``cube.table(geography, dims)`` with ``count`` NaN where withheld and ``count_suppressed``.

        ``count_suppressed`` holds the reason code (:data:`~geosvc.equity.suppression.PRIMARY` or
        :data:`~geosvc.equity.suppression.COMPLEMENTARY`), None when the count is published.
        """
        table = self.cube.table(geography, dims)
        positions = self.cube.dim_positions(dims)
        keys = _table_keys(self.cube, table, geography, positions)
        reasons = np.array([self.withheld.get(key) for key in keys], dtype=object)
        out = table.copy()
        out["count"] = np.where(pd.notna(reasons), np.nan, table["count"].to_numpy(dtype=float))
        out["count_suppressed"] = pd.Series(reasons, index=out.index, dtype=object)
        return out


def protect(cube: Cube, k: int) -> Protected:
    """Decide suppression once for every cell of ``cube`` with threshold ``k`` (see the module doc)."""
    layout = _Layout(cube)
    values = layout.values
    reason = np.full(values.size, None, dtype=object)
    pseudo = layout.pseudo
    exposed = (values > 0) & (values < k)
    reason[exposed] = PRIMARY
    reason[pseudo & ~exposed] = _HIDDEN
    lines = layout.lines
    while True:
        complement(values, reason, lines, exposed | ~pseudo)
        determined = layout.determined(reason)
        if not determined.size:
            break
        _cover(determined, values, reason, lines)
    real = np.flatnonzero(~pseudo & pd.notna(reason))
    withheld = {layout.key(i): reason[i] for i in real}
    return Protected(cube, int(k), withheld)


def _cover(determined: np.ndarray, values: np.ndarray, reason: np.ndarray, lines: sparse.csr_array) -> None:
    """Withhold, for each determined cell, the smallest non-zero published cell sharing a line with it."""
    by_cell = lines.T.tocsr()
    order_key = np.where(values > 0, values, np.inf)
    published = pd.isna(reason)
    for j in determined:
        line_ids = by_cell.indices[by_cell.indptr[j]:by_cell.indptr[j + 1]]
        cells = np.unique(lines[line_ids].indices) if line_ids.size else np.zeros(0, dtype=int)
        cells = cells[published[cells]]
        if not cells.size:  # nothing shares a line: fall back to any published cell
            cells = np.flatnonzero(published)
        pick = cells[np.argmin(order_key[cells])]
        reason[pick] = COMPLEMENTARY
        published[pick] = False


class _Layout:
    """Cells of a cube (real ones, then unpublished remainders), their base vectors and lines.

    A cell is (geo cell, extended category combination); a geo cell is a set of pieces (the state,
    a unit, or a remainder); cell id = geo cell id × n_ext + combination id.
    """

    def __init__(self, cube: Cube):
        self.cube = cube
        cats = [len(d.categories) for d in cube.dims]
        self.ext_shape = tuple(c + 1 for c in cats)
        self.n_ext = int(np.prod(self.ext_shape))
        n_pieces = len(cube.piece_ids)
        # per dim: (c + 1) x c, identity then the margin row; their Kronecker product maps combos.
        per_dim = [sparse.vstack([sparse.identity(c), np.ones((1, c))]) for c in cats]
        self.combo_matrix = _kron_all(per_dim)  # n_ext x n_combos
        geo_keys: list[tuple[str, Hashable]] = [("state", STATE)]
        rows = [np.ones((1, n_pieces))]
        self.members: dict[str, sparse.csr_array] = {}
        for g in cube.geographies:
            m = cube.membership(g)
            self.members[g] = m
            geo_keys += [(g, u) for u in cube.units(g)]
            rows.append(m)
        self.n_real_geo = len(geo_keys)
        offsets = np.cumsum([0, 1, *(self.members[g].shape[0] for g in cube.geographies)])
        self.geo_offset = {g: offsets[i + 1] for i, g in enumerate(cube.geographies)}
        geo_lines: list[list[int]] = []  # lines over geo cells (each then taken for every combination)
        for g in cube.geographies:
            rest = 1.0 - self.members[g].sum(axis=0)
            geo_lines.append([0, *self._unit_ids(g), len(geo_keys)])
            geo_keys.append(("_rest", g))
            rows.append(rest[None, :])
        for g, h in combinations(cube.geographies, 2):
            for comp_g, comp_h in _components(self.members[g], self.members[h]):
                line = [*(self.geo_offset[g] + comp_g), *(self.geo_offset[h] + comp_h)]
                area = (self.members[g][comp_g].sum(axis=0) + self.members[h][comp_h].sum(axis=0)) > 0
                for m in (self.members[g], self.members[h]):
                    part = area & (m.sum(axis=0) == 0)
                    if part.any():
                        line.append(len(geo_keys))
                        geo_keys.append(("_part", len(geo_keys)))
                        rows.append(part[None, :].astype(float))
                geo_lines.append(line)
        self.geo_keys = geo_keys
        self.geo_matrix = sparse.csr_array(sparse.vstack([sparse.csr_array(r) for r in rows]))
        self.geo_lines = geo_lines

    def _unit_ids(self, g: str) -> np.ndarray:
        return self.geo_offset[g] + np.arange(self.members[g].shape[0])

    @cached_property
    def matrix(self) -> sparse.csr_array:
        """Cells × base counts (piece-major, as ``cube.array``): each cell's 0/1 base vector."""
        return sparse.csr_array(sparse.kron(self.geo_matrix, self.combo_matrix, format="csr"))

    @cached_property
    def values(self) -> np.ndarray:
        return (self.matrix @ self.cube.array.reshape(-1).astype(float)).round()

    @property
    def pseudo(self) -> np.ndarray:
        """Boolean mask of the unpublished remainder cells."""
        mask = np.zeros(len(self.geo_keys) * self.n_ext, dtype=bool)
        mask[self.n_real_geo * self.n_ext:] = True
        return mask

    def key(self, cell: int) -> CellKey:
        geo, ext = divmod(int(cell), self.n_ext)
        place, unit = self.geo_keys[geo]
        pos = np.unravel_index(ext, self.ext_shape)
        return place, unit, tuple(d.categories[p] if p < len(d.categories) else TOTAL
                                  for d, p in zip(self.cube.dims, pos, strict=True))

    @cached_property
    def movable(self) -> np.ndarray:
        """Cells the audit has shown cannot be pinned (grows as suppression grows)."""
        return np.zeros(len(self.geo_keys) * self.n_ext, dtype=bool)

    @cached_property
    def lines(self) -> sparse.csr_array:
        """Lines × cells incidence: along each dim at each real geo cell, and every geo line per combination."""
        ext = np.arange(self.n_ext).reshape(self.ext_shape)
        cells = np.arange(self.n_real_geo)[:, None] * self.n_ext + ext.reshape(1, -1)
        cells = cells.reshape((self.n_real_geo, *self.ext_shape))
        groups = [np.moveaxis(cells, d + 1, -1).reshape(-1, size) for d, size in enumerate(self.ext_shape)]
        line_cells = [g.reshape(-1) for g in groups]
        line_len = [np.full(g.shape[0], g.shape[1]) for g in groups]
        for geo_line in self.geo_lines:
            block = np.asarray(geo_line)[None, :] * self.n_ext + np.arange(self.n_ext)[:, None]
            line_cells.append(block.reshape(-1))
            line_len.append(np.full(self.n_ext, len(geo_line)))
        flat = np.concatenate(line_cells)
        lengths = np.concatenate(line_len)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        n_cells = len(self.geo_keys) * self.n_ext
        return sparse.csr_array((np.ones(flat.size), flat, indptr), shape=(lengths.size, n_cells))

    @cached_property
    def blocks(self) -> list[np.ndarray]:
        """Piece sets the audit lets vary together, smallest first, each with the pieces in no unit.

        Every unit of every geography on its own, then each connected component of overlapping
        units (all geographies) of up to ``_BLOCK_PIECES`` pieces. The pieces in no unit (only the
        state holds them) join every set.
        """
        units = sparse.csr_array(sparse.vstack(list(self.members.values())))
        n_units = units.shape[0]
        graph = sparse.bmat([[None, units], [units.T, None]], format="csr")
        _, label = csgraph.connected_components(graph, directed=False)
        piece_label = label[n_units:]
        covered = units.sum(axis=0) > 0
        reservoir = np.flatnonzero(~covered)
        blocks = [units.indices[units.indptr[u]:units.indptr[u + 1]] for u in range(n_units)]
        for lab in np.unique(piece_label[covered]):
            pieces = np.flatnonzero((piece_label == lab) & covered)
            if pieces.size <= _BLOCK_PIECES and not any(np.array_equal(pieces, b) for b in blocks):
                blocks.append(pieces)
        blocks = sorted(blocks, key=len)  # stable: ties keep canonical order
        return [np.union1d(b, reservoir) for b in blocks]

    def determined(self, reason: np.ndarray) -> np.ndarray:
        """Ids of the hidden cells to protect that no change found within a block moves (see the module doc).

        Hidden cells to protect: withheld real cells and remainders holding ``0 < x < k`` (their
        reason is not :data:`_HIDDEN`). Base counts under a published 0 are known zeros; a withheld
        cell whose base counts all are is left out (it is 0, a publishable value). Blocks with
        more than ``_BLOCK_VARS`` unknowns are skipped (conservative: cells only they would clear
        get another complement).
        """
        published = np.flatnonzero(pd.isna(reason))
        # withholding more only widens the changes that keep the published cells: a cell once
        # shown to move stays movable, so only the others are checked again
        check = np.flatnonzero(pd.notna(reason) & (reason != _HIDDEN) & ~self.movable)
        a = self.matrix
        known_zero = np.zeros(a.shape[1], dtype=bool)
        zero_rows = published[self.values[published] == 0]
        if zero_rows.size:
            known_zero[np.unique(a[zero_rows].indices)] = True
        chk = a[check]
        alive = np.diff(chk[:, np.flatnonzero(~known_zero)].indptr) > 0
        check, chk = check[alive], sparse.csc_array(chk[alive])
        pub = sparse.csc_array(a[published])
        n_combos = self.cube.array.reshape(self.cube.array.shape[0], -1).shape[1]
        moved = np.zeros(check.size, dtype=bool)
        for pieces in self.blocks:
            var = (pieces[:, None] * n_combos + np.arange(n_combos)[None, :]).reshape(-1)
            var = var[~known_zero[var]]
            if var.size > _BLOCK_VARS:
                continue
            sub_chk = sparse.csr_array(chk[:, var])
            rows = np.flatnonzero((np.diff(sub_chk.indptr) > 0) & ~moved)
            if not rows.size:
                continue
            sub_pub = sparse.csr_array(pub[:, var])
            sub_pub = sub_pub[np.diff(sub_pub.indptr) > 0]
            at_zero = self.cube.array.reshape(-1)[var] == 0
            moved[rows] |= _movable(sub_pub, sparse.csr_array(sub_chk[rows]), at_zero)
        self.movable[check[moved]] = True
        return check[~moved]


def _movable(pub: sparse.csr_array, chk: sparse.csr_array, at_zero: np.ndarray) -> np.ndarray:
    """Which rows of ``chk`` some small change ``z`` of the base counts can move (``chk @ z != 0``).

    ``z`` keeps every published row (``pub @ z = 0``) and the base counts non-negative
    (``z >= 0`` where a count is 0): a direction the attacker's feasible set contains, so a
    moved row cannot be pinned. Tried: changes of the positive counts only (both ways, a null
    space), then a few linear programs letting zero counts grow. A row not moved is treated as
    determined (sound; at worst it costs one more complement).
    """
    moved = np.zeros(chk.shape[0], dtype=bool)
    positive = np.flatnonzero(~at_zero)
    if positive.size:
        basis = _null_space(pub[:, positive])
        if basis.shape[1]:
            moved |= np.abs(chk[:, positive] @ basis).max(axis=1) > 1e-7
    if moved.all() or not at_zero.any():
        return moved
    bounds = np.where(at_zero[:, None], [0.0, 1.0], [-1.0, 1.0])
    rhs = np.zeros(pub.shape[0])
    pub = pub.toarray()
    rng = np.random.default_rng(0)
    objectives = [chk.T @ rng.standard_normal(chk.shape[0])]  # many rows at once ...
    objectives += [sign * chk[[j]].toarray()[0]  # ... then a few rows one by one, both ways
                   for j in np.flatnonzero(~moved)[:_LP_ROWS] for sign in (1.0, -1.0)]
    for objective in objectives:
        res = linprog(-objective, A_eq=pub, b_eq=rhs, bounds=bounds, method="highs")
        if res.status == 0:
            moved |= np.abs(chk @ res.x) > 1e-7
        if moved.all():
            break
    return moved


def _null_space(matrix: sparse.csr_array) -> np.ndarray:
    """Orthonormal basis (columns) of ``{z: matrix @ z = 0}``, from the Gram matrix's eigenvectors."""
    if not matrix.shape[0]:
        return np.eye(matrix.shape[1])
    dense = np.unique(matrix.toarray(), axis=0)  # repeated rows (a unit's cells seen by another) add nothing
    gram = dense.T @ dense
    threshold = 1e-12 * max(1.0, np.abs(gram).sum(axis=1).max())  # x a bound of the largest eigenvalue
    return linalg.eigh(gram, subset_by_value=(-np.inf, threshold), driver="evr")[1]


def _components(a: sparse.csr_array, b: sparse.csr_array) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connected components of units of two geographies linked by shared pieces: (units of a, of b)."""
    na, nb = a.shape[0], b.shape[0]
    overlap = sparse.csr_array(a @ b.T)  # na x nb, > 0 where units share a piece
    graph = sparse.bmat([[None, overlap], [overlap.T, None]], format="csr")
    _, label = csgraph.connected_components(graph, directed=False)
    out = []
    for lab in np.unique(label):
        members = np.flatnonzero(label == lab)
        out.append((members[members < na], members[members >= na] - na))
    return sorted(out, key=lambda c: (c[0][:1].tolist() or [na], c[1][:1].tolist()))


def _kron_all(mats: list) -> sparse.csr_array:
    out = sparse.csr_array(np.ones((1, 1)))
    for m in mats:
        out = sparse.csr_array(sparse.kron(out, m, format="csr"))
    return out


def _table_keys(cube: Cube, table: pd.DataFrame, geography: str, positions: list[int]) -> list[CellKey]:
    """The cell key of each row of ``cube.table(geography, dims)``."""
    names = [cube.dims[p].name for p in positions]
    cols = [table[n].to_numpy() for n in names]
    keys = []
    for i, place in enumerate(table["place_id"].to_numpy()):
        cats = [TOTAL] * len(cube.dims)
        for p, col in zip(positions, cols, strict=True):
            cats[p] = col[i]
        keys.append(("state", STATE, tuple(cats)) if place == STATE else (geography, place, tuple(cats)))
    return keys


__all__ = ["CellKey", "Protected", "protect"]
