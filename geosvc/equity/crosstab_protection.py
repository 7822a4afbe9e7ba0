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
   counts under a published 0 are known zeros) and moves the cell by at least ½ — found by
   linear programs over every unknown base count of the cube at once (a change may move counts
   between any units, e.g. +v in one town and −v in another to keep a published state cell),
   as the attacker's own test (``tests/support/differencing.py``) would solve them. A cell not
   cleared is treated as pinned (conservative) and gets more complements: a cell its pinning
   proof uses (the published cells with a non-zero dual), finer cells before the state's; 2–3
   repeat until every withheld cell is cleared. Withholding more only widens the changes, so a
   cleared cell stays cleared.

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
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse import csgraph

from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity.crosstab import Cube
from geosvc.equity.suppression import COMPLEMENTARY, PRIMARY, complement

CellKey = tuple[str, Hashable, tuple[str, ...]]
"""``(geography name or "state", unit id or STATE, category-or-TOTAL for every declared dim)``."""

_HIDDEN = "unpublished"  # reason of the unpublished remainders (never a published cell)
_MOVE = 0.5  # a change must move a cell this much: the attacker's range then spans 0.5 (no rounding pins it)
_PROOF_ROWS = 64  # rows the global search tries one by one (their proofs guide the complements)


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
        layout.cover(determined, reason)
    real = np.flatnonzero(~pseudo & pd.notna(reason))
    withheld = {layout.key(i): reason[i] for i in real}
    return Protected(cube, int(k), withheld)


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

    @property
    def coarse(self) -> np.ndarray:
        """Boolean mask of the state's cells (and the remainders)."""
        mask = self.pseudo
        mask[:self.n_ext] = True
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

    def determined(self, reason: np.ndarray) -> np.ndarray:
        """Ids of the hidden cells to protect that no change of the base counts found moves (module doc).

        Hidden cells to protect: withheld real cells and remainders holding ``0 < x < k`` (their
        reason is not :data:`_HIDDEN`). Base counts under a published 0 are known zeros; a withheld
        cell whose base counts all are is left out (it is 0, a publishable value). The changes are
        searched over every other base count at once (:func:`_search`); ``proofs`` keeps, for each
        determined cell it could prove pinned, the groups of published cells the proof uses.
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
        var = np.flatnonzero(~known_zero)
        chk = sparse.csc_array(a[check])[:, var].tocsr()
        alive = np.diff(chk.indptr) > 0
        check, chk = check[alive], chk[alive]
        self.proofs = {}
        if not check.size:
            return check
        pub = sparse.csc_array(a[published])[:, var].tocsr()
        groups = _row_groups(pub)
        at_zero = self.cube.array.reshape(-1)[var] == 0
        moved, used = _search(pub[[g[0] for g in groups]], chk, at_zero)
        self.movable[check[moved]] = True
        self.proofs = {int(check[r]): [published[groups[i]] for i in rows] for r, rows in used.items()}
        return check[~moved]

    def cover(self, determined: np.ndarray, reason: np.ndarray) -> None:
        """Withhold, for each determined cell, published cells that break what pins it.

        With a proof (:attr:`proofs`: the published cells a linear programme combined to pin it,
        in groups of cells equal on the unknown counts), its cheapest group: no state cell, then
        the smallest. Without: the smallest non-zero published cell sharing a line with it, a
        unit's before the state's (a withheld state count costs every table), else of its own
        place, else anywhere. A 0 is picked only where nothing else is (its value is known anyway).
        """
        values, lines, coarse = self.values, self.lines, self.coarse
        by_cell = lines.T.tocsr()
        order = np.lexsort((values, coarse, values == 0))  # non-zero first, then finer, then smaller
        rank = np.empty(values.size, dtype=np.int64)
        rank[order] = np.arange(values.size)
        published = pd.isna(reason)
        for j in determined:
            proof = self.proofs.get(int(j), [])
            groups = [g for g in proof if published[g].all()]
            if len(groups) < len(proof):
                continue  # an earlier pick of this pass broke its proof already
            if groups:
                pick = min(groups, key=lambda g: (coarse[g].any(), values[g[0]], g.size))
            else:
                line_ids = by_cell.indices[by_cell.indptr[j]:by_cell.indptr[j + 1]]
                place = np.arange(self.n_ext) + (j // self.n_ext) * self.n_ext
                for cells in (np.unique(lines[line_ids].indices), place, np.arange(values.size)):
                    cells = cells[published[cells]]
                    if (values[cells] > 0).any():
                        break
                if not cells.size:
                    continue
                pick = cells[[np.argmin(rank[cells])]]
            reason[pick] = COMPLEMENTARY
            published[pick] = False


def _search(pub: sparse.csr_array, chk: sparse.csr_array,
            at_zero: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Which rows of ``chk`` a change ``z`` found by linear programs over every unknown moves.

    ``z`` keeps every published row (``pub @ z = 0``) and the base counts non-negative (``z >= 0``
    where a count is 0; ``|z| <= 1``): a direction the attacker's feasible set contains, so a moved
    row cannot be pinned (a row not moved is treated as pinned: sound, at worst one more
    complement). Each programme maximises a random signed combination of the rows not yet moved,
    until two in a row move nothing; then up to ``_PROOF_ROWS`` rows one by one, both ways (one
    suffices when the row is a combination of published rows). For a row neither way moves, the
    rows of ``pub`` its proof uses (non-zero duals) are returned: publishing less of them is what
    can free it.
    """
    moved = np.zeros(chk.shape[0], dtype=bool)
    bounds = np.where(at_zero[:, None], [0.0, 1.0], [-1.0, 1.0])
    rhs = np.zeros(pub.shape[0])
    rng = np.random.default_rng(0)

    def solve(objective: np.ndarray):
        res = linprog(-objective, A_eq=pub, b_eq=rhs, bounds=bounds, method="highs-ipm")
        if res.status != 0:
            return None
        new = ~moved & (np.abs(chk @ res.x) >= _MOVE)
        moved[new] = True
        return res

    idle = 0
    while idle < 2 and not moved.all():
        rest = np.flatnonzero(~moved)
        weights = rng.choice([-1.0, 1.0], rest.size) * rng.uniform(0.5, 1.5, rest.size)
        before = moved.sum()
        solve(chk[rest].T @ weights)
        idle = 0 if moved.sum() > before else idle + 1
    used: dict[int, np.ndarray] = {}
    for j in np.flatnonzero(~moved)[:_PROOF_ROWS]:
        row = chk[[j]].toarray()[0]
        duals = []
        for sign in (1.0, -1.0):
            res = solve(sign * row)
            if moved[j] or res is None:
                break
            y = res.eqlin.marginals
            duals.append(np.abs(y) > 1e-9)
            if min(np.abs(row - pub.T @ y).max(), np.abs(row + pub.T @ y).max()) < 1e-7:
                break  # row = a combination of published rows: pinned both ways, no need to try the other
        if not moved[j] and duals:
            used[int(j)] = np.flatnonzero(np.any(duals, axis=0))
    return moved, used


def _row_groups(matrix: sparse.csr_array) -> list[np.ndarray]:
    """The non-empty rows of a 0/1 matrix grouped by equal rows (row positions, first seen first)."""
    matrix.sort_indices()
    groups: dict[bytes, list[int]] = {}
    for i in range(matrix.shape[0]):
        cols = matrix.indices[matrix.indptr[i]:matrix.indptr[i + 1]]
        if cols.size:
            groups.setdefault(cols.tobytes(), []).append(i)
    return [np.asarray(g) for g in groups.values()]


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
