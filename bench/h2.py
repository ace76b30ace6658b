"""Benchmark: HTTP/2 serving, torsion.web against twisted.web, with h2load.

    .venv/bin/python bench/h2.py --quiet-wait 30
    .venv/bin/python bench/h2.py --quick --sides torsion      # a smoke test

The driver is bench/_h2bench.py (its docstring says what is measured and how); this
file only starts it. Because this file is named like the h2 library and bench/ is on
the path of every script run from here (bench/web.py's servers among them), an
``import h2`` there would find this file: imported under that name, it steps aside
and hands over the real library, so that torsion's HTTP/2 still finds h2.
Tests: tests/bench/test_h2_smoke.py.
"""

import importlib
import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))

if __name__ == "__main__":
    sys.path.insert(0, _HERE)
    from _h2bench import main

    sys.exit(main())
else:
    _saved = sys.path[:]
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or ".") != _HERE]
    del sys.modules[__name__]
    try:
        importlib.import_module(__name__)  # the h2 library, which the importer then gets
    finally:
        sys.path[:] = _saved
