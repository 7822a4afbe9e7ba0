"""Place-based equity analysis: pure, vectorised functions (numpy/pandas/scipy, no web framework, no I/O).

Modules: :mod:`~geosvc.equity.moe` (ACS margins of error), :mod:`~geosvc.equity.disparity`
(rate ratios/differences, inequality indices), :mod:`~geosvc.equity.svi` (CDC/ATSDR SVI ranking),
:mod:`~geosvc.equity.suppression` (disclosure control). Methods: ``docs/equity-methods.md``.
"""
