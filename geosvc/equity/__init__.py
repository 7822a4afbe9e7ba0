"""Place-based equity analysis: pure, vectorised computations (numpy/pandas/scipy, no web framework).

Math: :mod:`~geosvc.equity.areal` (areal weights), :mod:`~geosvc.equity.moe` (ACS margins of error),
:mod:`~geosvc.equity.disparity` (RR/RD, inequality indices), :mod:`~geosvc.equity.exposure`,
:mod:`~geosvc.equity.access`, :mod:`~geosvc.equity.svi`, :mod:`~geosvc.equity.suppression` and
:mod:`~geosvc.equity.protection` (disclosure control). The operations are registered in
:mod:`~geosvc.equity.operations` and run by :mod:`~geosvc.equity.service` on published layers.
Methods: ``../shared/docs/equity-methods.md`` (outside the repository).
"""
