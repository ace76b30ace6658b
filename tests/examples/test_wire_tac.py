"""examples/wire.tac, loaded as torsiond loads it (torsion.persisted.sob.loadValueFromFile)
and started on a real reactor: all seven RFC 862-868 services answer over TCP and UDP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntilFired
from tests.tap.test_wire import checkWireServices, portsOf
from torsion.application import internet, service

reactor = reactormixins.reactor

TAC = Path(__file__).resolve().parents[2] / "examples" / "wire.tac"


def load(monkeypatch: pytest.MonkeyPatch, base: str | None) -> Any:
    from torsion.persisted import sob

    if base is None:
        monkeypatch.delenv("WIRE_BASE_PORT", raising=False)
    else:
        monkeypatch.setenv("WIRE_BASE_PORT", base)
    return sob.loadValueFromFile(str(TAC), "application")


def test_wireTacListensOnHighPortsByDefault(monkeypatch: pytest.MonkeyPatch) -> None:
    top = service.IService(load(monkeypatch, None))
    assert top.name == "wire"
    ports = {child.name: child.args[0] for child in top}
    assert ports["echo tcp"] == ports["echo udp"] == 8007
    assert ports["time tcp"] == 8037 and ports["who udp"] == 8011
    assert all(child.kwargs == {"interface": "127.0.0.1"} for child in top)
    assert sum(isinstance(child, internet.UDPServer) for child in top) == 7


def test_wireTacServesAllSevenServices(reactor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    top = service.IService(load(monkeypatch, "any"))
    with installedAsGlobal(reactor):
        top.privilegedStartService()
        top.startService()
        try:
            checkWireServices(reactor, *portsOf(top))
        finally:
            runUntilFired(reactor, top.stopService())
