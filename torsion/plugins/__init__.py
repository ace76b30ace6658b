"""torsion's own plugins: each module here is searched by ``torsion.plugin.getPlugins``.

A module in this package holds plugin objects at its top level, such as the
``service.ServiceMaker`` that lets ``torsiond echo`` run the echo service
(torsion_echo.py). Other packages do not add modules here: they declare their plugins
as entry points of the ``torsion.plugins`` group (see torsion.plugin), so this stays an
ordinary package, installed and removed with torsion.

Modules here are imported whenever plugins are looked for (``torsiond --help``
imports them all), so they must be cheap to import and must not import the reactor:
a ServiceMaker names the module with the options and the service, imported only when
it is used.
Tests: tests/test_plugin.py.
"""
