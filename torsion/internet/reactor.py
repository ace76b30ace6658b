"""The global reactor: importing this module installs the default one if none is.

As in Twisted, after ``from torsion.internet import reactor`` the name is the reactor
object itself: ``installReactor`` replaces this module in ``sys.modules``. To use
another reactor, install it before the first import of this module (an installed
reactor is found in ``sys.modules``, so this code then never runs).
Tests: tests/internet/test_main.py.
"""

from __future__ import annotations

import sys

del sys.modules[__name__]

from torsion.internet import default  # noqa: E402

default.install()
