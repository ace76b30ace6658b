"""torsion.plugin.getPlugins: torsion's plugin package, entry points, and broken plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from zope.interface import Interface, implementer

from torsion.application.service import IServiceMaker, ServiceMaker
from torsion.logger import LogLevel
from torsion.plugin import IPlugin, getPlugins


class IGreeter(Interface):
    """What the test plugins provide."""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path, forgotten (with its modules) after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


PLUGIN_MODULE = """
    from zope.interface import implementer
    from tests.test_plugin import IGreeter

    @implementer(IGreeter)
    class Greeter:
        def __init__(self, name):
            self.name = name

    hello = Greeter("hello")
    alias = hello
    notAPlugin = object()
"""


def test_torsionsOwnEchoPluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert "echo" in makers
    echo = makers["echo"]
    assert isinstance(echo, ServiceMaker)
    assert IPlugin.providedBy(echo)
    assert echo.description.startswith("An echo server")


def test_serviceMakerImportsItsModuleOnlyWhenUsed(site: Path) -> None:
    write(
        site / "lazytap.py",
        """
        from torsion.python import usage
        class Options(usage.Options):
            optParameters = [["size", "s", "1", "A size."]]
        def makeService(options):
            return ("made", options["size"])
        """,
    )
    maker = ServiceMaker("lazy", "lazytap", "A lazy plugin.", "lazy")
    assert "lazytap" not in sys.modules
    options = maker.options()
    options.parseOptions(["-s", "3"])
    assert "lazytap" in sys.modules
    assert maker.makeService(options) == ("made", "3")
    assert repr(maker) == "<ServiceMaker 'lazy' (lazytap)>"


def test_aPackagesModulesAreSearched(site: Path, logged: list[dict[str, Any]]) -> None:
    write(site / "greetings" / "__init__.py", "")
    write(site / "greetings" / "good.py", PLUGIN_MODULE)
    write(site / "greetings" / "broken.py", "raise RuntimeError('this plugin is broken')\n")
    write(site / "greetings" / "sub" / "__init__.py", "raise RuntimeError('not searched')\n")
    found = list(getPlugins(IGreeter, "greetings"))
    assert [greeter.name for greeter in found] == ["hello"]  # once, though named twice
    errors = [e for e in logged if e.get("log_level") == LogLevel.error]
    assert len(errors) == 1
    assert errors[0]["module"] == "greetings.broken"
    assert "this plugin is broken" in str(errors[0]["log_failure"].value)


def test_aMissingPackageIsLogged(logged: list[dict[str, Any]]) -> None:
    assert list(getPlugins(IGreeter, "no.such.package.here")) == []
    assert any(e.get("package") == "no.such.package.here" for e in logged)


def test_entryPointsNameModulesOrObjects(site: Path, logged: list[dict[str, Any]]) -> None:
    write(site / "thirdparty_greeters.py", PLUGIN_MODULE)
    write(
        site / "thirdparty_single.py",
        """
        from zope.interface import implementer
        from tests.test_plugin import IGreeter
        from thirdparty_greeters import Greeter
        one = Greeter("one")
        """,
    )
    write(site / "thirdparty-1.0.dist-info" / "METADATA", "Name: thirdparty\nVersion: 1.0\n")
    write(
        site / "thirdparty-1.0.dist-info" / "entry_points.txt",
        """
        [torsion.plugins]
        greeters = thirdparty_greeters
        single = thirdparty_single:one
        broken = no_such_module_anywhere:thing
        """,
    )
    names = sorted(greeter.name for greeter in getPlugins(IGreeter))
    assert names == ["hello", "one"]
    broken = [e for e in logged if e.get("name") == "broken"]
    assert len(broken) == 1 and broken[0]["log_level"] == LogLevel.error


def test_classesThatImplementAreNotPlugins(site: Path) -> None:
    write(site / "classonly" / "__init__.py", "")
    write(
        site / "classonly" / "mod.py",
        """
        from zope.interface import implementer
        from tests.test_plugin import IGreeter

        @implementer(IGreeter)
        class Greeter:
            pass
        """,
    )
    assert list(getPlugins(IGreeter, "classonly")) == []


@implementer(IGreeter)
class _Module:
    """Stands for a module object given directly."""


def test_aPackageMayBeGivenAsAModule(site: Path) -> None:
    write(site / "asmodule" / "__init__.py", "")
    write(site / "asmodule" / "good.py", PLUGIN_MODULE)
    import importlib

    package = importlib.import_module("asmodule")
    assert [g.name for g in getPlugins(IGreeter, package)] == ["hello"]
