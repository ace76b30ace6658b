"""torsion: the framework for your Internet.

An event-driven networking framework for Python 3.11+ that keeps Twisted's public
API names under the ``torsion`` package, so a Twisted program ports by renaming
its imports. Tests for the package live in ``tests/``, mirroring this tree.
"""

__version__ = "0.1.0.dev0"
