"""Formal-privacy release of record-level counts: the discrete Laplace (geometric) mechanism of OpenDP.

The unit of release is a *base histogram*: a count for every cell of the full public domain
(every geography piece × every combination of the demographic categories, zeros included), as a
Series with a MultiIndex ``(piece, dim1, ..., dimN)``. Each person is in exactly one base cell, so
adding or removing one person changes the vector by 1 in L1 norm (sensitivity 1). Adding
independent discrete Laplace noise of scale ``1/ε`` to every cell is ε-differentially private
(OpenDP's ``make_laplace`` on integer vectors; its privacy map gives the ε charged). Noise is drawn
with OpenDP's cryptographically secure generator: it cannot be seeded.

Every table answered from a release — any geography built from whole pieces, any subset of the
dimensions, every margin — is a sum of noisy base cells: post-processing, which spends no further
privacy, and asking many tables cannot average the noise away because it was drawn once.

Noisy base cells are kept as drawn (negative values included) so that sums stay unbiased.
:func:`nonnegative` clamps *answered* cells at 0 for display; that biases a cell upwards, by
``α/(1−α²)`` (α = e^{−ε}) at a true count of 0 and by less the larger the true count, so clamp only
the final table, never the base cells before summing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np
import opendp.prelude as dp
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geosvc.errors import InvalidParameter

SENSITIVITY = 1  # L1 distance between neighbouring base histograms (add/remove one person)
COUNT = "count"  # column of the counts in a serialised release


def _epsilon(epsilon: float) -> float:
    """``epsilon`` as a float, or :class:`InvalidParameter` unless it is finite and > 0."""
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise InvalidParameter(f"must be a number, got {epsilon!r}", param="epsilon") from None
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameter(f"must be finite and greater than 0, got {epsilon!r}", param="epsilon")
    return value


def noise_scale(epsilon: float) -> float:
    """Scale of the discrete Laplace noise that makes a sensitivity-1 count vector ε-DP: ``1/ε``."""
    return SENSITIVITY / _epsilon(epsilon)


def mechanism(epsilon: float) -> dp.Measurement:
    """OpenDP's discrete Laplace measurement on integer vectors (L1 metric) calibrated to ``epsilon``."""
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l1_distance(T=dp.i64)
    return dp.m.make_laplace(*space, scale=noise_scale(epsilon))


def spent(epsilon: float) -> float:
    """The ε a release at ``epsilon`` costs, from OpenDP's privacy map at sensitivity 1 (never less)."""
    return float(mechanism(epsilon).map(SENSITIVITY))


def domain(pieces: Sequence, categories: Mapping[str, Sequence], piece: str = "piece") -> pd.MultiIndex:
    """The full public domain: every piece × every combination of the categories (in the given order)."""
    levels = {piece: list(pieces), **{name: list(values) for name, values in categories.items()}}
    for name, values in levels.items():
        if not values:
            raise InvalidParameter("has no values: the domain would be empty", param=name)
        if len(set(values)) != len(values):
            raise InvalidParameter("lists a value twice", param=name)
    return pd.MultiIndex.from_product(list(levels.values()), names=list(levels))


def histogram(records: pd.DataFrame, cells: pd.MultiIndex) -> pd.Series:
    """Count records into every cell of ``cells`` (a :func:`domain`); zeros kept.

    A record whose value is not in the domain is an :class:`InvalidParameter` naming the column:
    dropping it would silently undercount, adding a cell would make the domain depend on the data.
    """
    names = list(cells.names)
    missing = [n for n in names if n not in records.columns]
    if missing:
        raise InvalidParameter(f"not a column of the records (columns: {', '.join(map(str, records.columns))})",
                               param=str(missing[0]))
    for position, name in enumerate(names):
        outside = ~records[name].isin(cells.levels[position])
        if outside.any():
            raise InvalidParameter(f"{int(outside.sum())} record(s) have a value outside the domain, "
                                   f"e.g. {records.loc[outside, name].iloc[0]!r}", param=str(name))
    counts = records.groupby(names, sort=False, observed=True).size()
    return counts.reindex(cells, fill_value=0).astype("int64").rename(COUNT)


def _check_base(base: pd.Series) -> np.ndarray:
    """The counts of a base histogram, after checking it is one (full product domain, integers ≥ 0)."""
    index = base.index
    if not isinstance(index, pd.MultiIndex) or not index.is_unique:
        raise InvalidParameter("must be a Series with a unique MultiIndex (piece, dim1, ...)", param="base")
    if len(base) != math.prod(len(level) for level in index.remove_unused_levels().levels):
        raise InvalidParameter("must cover the full domain (every piece × every category combination, "
                               "zeros included)", param="base")
    if not pd.api.types.is_integer_dtype(base.dtype) or (base < 0).any():
        raise InvalidParameter("counts must be integers >= 0", param="base")
    return base.to_numpy(dtype=np.int64, copy=True)  # OpenDP needs a writable array


def release(base: pd.Series, epsilon: float) -> pd.Series:
    """Noisy integer counts for the same cells (ε-DP for add/remove-one neighbours; unclamped)."""
    counts = _check_base(base)
    noisy = np.asarray(mechanism(epsilon)(counts), dtype=np.int64)
    return pd.Series(noisy, index=base.index, name=COUNT)


def nonnegative(cells: pd.Series) -> pd.Series:
    """Answered cells clamped at 0 for display (post-processing; biases low counts upwards, see above)."""
    return cells.clip(lower=0)


def variance(epsilon: float) -> float:
    """Variance of one noisy base cell: ``2α/(1−α)²`` with α = e^{−ε} (discrete Laplace of scale 1/ε)."""
    alpha = math.exp(-1.0 / noise_scale(epsilon))
    return 2 * alpha / (1 - alpha) ** 2


def half_width(epsilon: float, cells: int = 1, confidence: float = 0.90) -> float:
    """± half-width of a ``confidence`` interval for a table cell that sums ``cells`` noisy base cells.

    One cell: exact — the smallest integer h with P(|noise| > h) ≤ 1 − confidence (OpenDP's
    ``discrete_laplacian_scale_to_accuracy``, floored). A sum of n > 1 cells: the normal
    approximation ``z · sqrt(n · variance)``. Its tails are lighter than the sum's for small n, so for
    a few cells the interval covers slightly less than ``confidence``; it is close from a few dozen
    cells on. Noise only: clamping (:func:`nonnegative`) and the data's own errors are not included.
    """
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 1:
        raise InvalidParameter(f"must be a whole number >= 1, got {cells!r}", param="cells")
    if not 0 < confidence < 1:
        raise InvalidParameter(f"must be between 0 and 1, got {confidence!r}", param="confidence")
    if cells == 1:
        return float(math.floor(dp.discrete_laplacian_scale_to_accuracy(noise_scale(epsilon), 1 - confidence)))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return z * math.sqrt(int(cells) * variance(epsilon))


def to_bytes(noisy: pd.Series) -> bytes:
    """A release as Parquet (zstd): one column per index level, then ``count`` (int64)."""
    frame = noisy.rename(COUNT).reset_index()
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def from_bytes(payload: bytes) -> pd.Series:
    """The release written by :func:`to_bytes`, same cells in the same order."""
    frame = pq.read_table(pa.BufferReader(payload)).to_pandas()
    levels = [c for c in frame.columns if c != COUNT]
    return frame.set_index(levels)[COUNT]
