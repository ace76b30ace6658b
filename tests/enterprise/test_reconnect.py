"""Tests for adbapi's cp_reconnect: a server that goes away (the fake DB-API module in
tests/enterprise/fakedb.py raises its OperationalError), the ConnectionLost errback, the
broken connection dropped and replaced, cp_good_sql, and what happens without
cp_reconnect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.enterprise import fakedb
from tests.internet.reactormixins import closeReactor, runUntilFired
from torsion.enterprise.adbapi import ConnectionLost, ConnectionPool
from torsion.internet.selectreactor import SelectReactor

FAKE = "tests.enterprise.fakedb"


@pytest.fixture
def sreactor() -> Iterator[Any]:
    made = SelectReactor()
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def server() -> fakedb.FakeServer:
    return fakedb.reset()


def makePool(reactor: Any, **kw: Any) -> ConnectionPool:
    pool = ConnectionPool(FAKE, "dsn", cp_reactor=reactor, cp_min=1, cp_max=1, **kw)
    pool.start()
    return pool


def test_lostServerFailsTheCallWithConnectionLostThenReconnects(
    sreactor: Any, server: fakedb.FakeServer
) -> None:
    pool = makePool(sreactor, cp_reconnect=True, cp_good_sql="probe")
    try:
        assert runUntilFired(sreactor, pool.runQuery("q1")) == [("q1",)]
        first = server.connections[0]
        server.restart()
        with pytest.raises(ConnectionLost, match="may be retried") as info:
            runUntilFired(sreactor, pool.runQuery("q2"))
        assert isinstance(info.value.__cause__, fakedb.OperationalError)
        assert first.closed
        assert pool.connections == {}
        # The next call opens a new connection and works.
        assert runUntilFired(sreactor, pool.runQuery("q3")) == [("q3",)]
        assert len(server.connections) == 2
        assert not server.connections[1].closed
        assert server.connections[1].args == ("dsn",)
    finally:
        pool.close()


def test_goodSQLFailingAfterRollbackMeansConnectionLost(
    sreactor: Any, server: fakedb.FakeServer
) -> None:
    pool = makePool(sreactor, cp_reconnect=True, cp_good_sql="probe")

    def interaction(txn: Any) -> None:
        txn.execute("work")
        server.failGoodSQL = True
        raise ValueError("the interaction failed")

    try:
        with pytest.raises(ConnectionLost) as info:
            runUntilFired(sreactor, pool.runInteraction(interaction))
        assert isinstance(info.value.__cause__, ValueError)
        assert server.connections[0].closed
    finally:
        pool.close()


def test_workingConnectionIsProbedAndKeptAfterAFailedCall(
    sreactor: Any, server: fakedb.FakeServer
) -> None:
    pool = makePool(sreactor, cp_reconnect=True, cp_good_sql="probe")

    def interaction(txn: Any) -> None:
        raise ValueError("only the interaction failed")

    try:
        with pytest.raises(ValueError):
            runUntilFired(sreactor, pool.runInteraction(interaction))
        connection = server.connections[0]
        assert not connection.closed
        assert connection.rollbacks == 1
        assert "probe" in server.statements
        assert runUntilFired(sreactor, pool.runQuery("again")) == [("again",)]
        assert len(server.connections) == 1
    finally:
        pool.close()


def test_cursorFailureOnDeadConnectionReconnectsTransparently(
    sreactor: Any, server: fakedb.FakeServer
) -> None:
    server.closedCursorFails = True
    pool = makePool(sreactor, cp_reconnect=True)
    try:
        runUntilFired(sreactor, pool.runQuery("q1"))
        server.restart()
        assert runUntilFired(sreactor, pool.runQuery("q2")) == [("q2",)]
        assert server.connections[0].closed
        assert len(server.connections) == 2
    finally:
        pool.close()


def test_serverStillDownFailsWithTheDriversError(sreactor: Any, server: fakedb.FakeServer) -> None:
    pool = makePool(sreactor, cp_reconnect=True)
    try:
        runUntilFired(sreactor, pool.runQuery("q1"))
        server.restart()
        with pytest.raises(ConnectionLost):
            runUntilFired(sreactor, pool.runQuery("q2"))
        server.down = True
        with pytest.raises(fakedb.OperationalError, match="could not connect"):
            runUntilFired(sreactor, pool.runQuery("q3"))
        server.down = False
        assert runUntilFired(sreactor, pool.runQuery("q4")) == [("q4",)]
    finally:
        pool.close()


def test_withoutReconnectTheDriversErrorComesThroughAndTheConnectionStays(
    sreactor: Any, server: fakedb.FakeServer
) -> None:
    pool = makePool(sreactor)
    try:
        runUntilFired(sreactor, pool.runQuery("q1"))
        server.restart()
        with pytest.raises(fakedb.OperationalError):
            runUntilFired(sreactor, pool.runQuery("q2"))
        assert not server.connections[0].closed
        assert len(pool.connections) == 1
    finally:
        pool.close()
