"""The options and services of torsion's torsiond plugins, one module per plugin.

Each module has ``Options`` (a torsion.python.usage.Options) and
``makeService(options)``; the plugin object in torsion/plugins/ names the module.
Tests: tests/tap/.
"""
