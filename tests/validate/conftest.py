"""Make ``tests/broken_inputs.py`` importable as ``broken_inputs``.

A third-party wheel installs a top-level ``tests`` package into site-packages, which shadows
``tests.broken_inputs``; putting ``tests/`` itself on the path avoids the clash.
"""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
