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

import functools
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geosvc.errors import InvalidParameter

if TYPE_CHECKING:  # OpenDP (with SciPy) takes ~1.6 s to import: only on the first release, not at start-up
    import opendp.prelude as dp

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
    import opendp.prelude as dp

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


@functools.lru_cache(maxsize=4096, typed=True)
def half_width(epsilon: float, cells: int = 1, confidence: float = 0.90) -> int:
    """± half-width of a ``confidence`` interval for a table cell that sums ``cells`` noisy base cells:
    the smallest integer h with P(|noise| > h) ≤ 1 − confidence, exactly.

    One cell: OpenDP's ``discrete_laplacian_scale_to_accuracy``, floored. A sum of n cells: from the
    exact distribution of the sum of n independent discrete Laplace variables, its characteristic
    function ``((1−α)² / (1 − 2α·cos t + α²))ⁿ`` inverted by FFT on a support wide enough that the
    mass beyond it is negligible (12 standard deviations + 40/ε). A normal approximation
    ``z·sqrt(n·variance)`` would cover too little for a few cells, as the noise is integer and
    heavy-tailed. Noise only: clamping (:func:`nonnegative`) and the data's own errors are not included.
    """
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 1:
        raise InvalidParameter(f"must be a whole number >= 1, got {cells!r}", param="cells")
    if not 0 < confidence < 1:
        raise InvalidParameter(f"must be between 0 and 1, got {confidence!r}", param="confidence")
    scale = noise_scale(epsilon)
    if cells == 1:
        import opendp.prelude as dp

        return math.floor(dp.discrete_laplacian_scale_to_accuracy(scale, 1 - confidence))
    alpha = math.exp(-1 / scale)
    width = int(12 * math.sqrt(cells * variance(epsilon)) + 40 * scale) + 1
    size = 2 * width + 1
    t = 2 * np.pi * np.arange(size) / size
    pmf = np.fft.ifft(((1 - alpha) ** 2 / (1 - 2 * alpha * np.cos(t) + alpha**2)) ** int(cells)).real
    inside = pmf[0] + 2 * np.cumsum(pmf[1 : width + 1])  # P(|sum| <= h) for h = 1..width (symmetric)
    return int(np.searchsorted(inside, confidence - 1e-12) + 1) if pmf[0] < confidence else 0


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
    return pd.Series(frame[COUNT].to_numpy(), index=pd.MultiIndex.from_frame(frame[levels]), name=COUNT)
