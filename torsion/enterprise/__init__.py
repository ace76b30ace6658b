"""Database access for torsion programs (Twisted's ``twisted.enterprise``).

``torsion.enterprise.adbapi`` runs DB-API 2 drivers in a pool of threads and hands
their results back as Deferreds. Tests: tests/enterprise/.
"""
