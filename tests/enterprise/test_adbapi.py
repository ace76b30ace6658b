"""Tests for torsion.enterprise.adbapi on sqlite3: queries, transactions, concurrency,
start-up and shutdown, the closed-pool error, cp_openfun, and the reactor serving a
real socket client while a slow query runs."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import (
    closeReactor,
    runUntil,
    runUntilFired,
    trackDescriptors,
)
from torsion.enterprise import adbapi
from torsion.enterprise.adbapi import ConnectionPool, ConnectionPoolClosed, Transaction
from torsion.internet.defer import Deferred
from torsion.internet.protocol import Factory, Protocol
from torsion.internet.selectreactor import SelectReactor
from torsion.logger import globalLogPublisher

WAIT = 10.0


@pytest.fixture
def sreactor() -> Iterator[Any]:
    made = SelectReactor()
    trackDescriptors(made)
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def loggedEvents() -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


@pytest.fixture
def dbPath(tmp_path: Path) -> str:
    return str(tmp_path / "test.db")


def makePool(reactor: Any, *args: Any, **kw: Any) -> ConnectionPool:
    pool = ConnectionPool("sqlite3", *args, cp_reactor=reactor, **kw)
    pool.start()
    return pool


@pytest.fixture
def pool(sreactor: Any, dbPath: str) -> Iterator[ConnectionPool]:
    made = makePool(sreactor, dbPath, cp_min=1, cp_max=3)
    runUntilFired(sreactor, made.runOperation("CREATE TABLE t (n INTEGER)"))
    try:
        yield made
    finally:
        made.close()


def rowsOf(dbPath: str) -> list[int]:
    """The rows committed to the table, read on a connection of the test's own."""
    with sqlite3.connect(dbPath) as connection:
        return [n for (n,) in connection.execute("SELECT n FROM t ORDER BY n")]


def failureOf(reactor: Any, d: Deferred[Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        runUntilFired(reactor, d)
    return info.value


# -- queries and transactions --------------------------------------------------------


def test_runQueryReturnsRowsWithParameters(sreactor: Any, pool: ConnectionPool) -> None:
    runUntilFired(sreactor, pool.runOperation("INSERT INTO t VALUES (?)", (4,)))
    runUntilFired(sreactor, pool.runOperation("INSERT INTO t VALUES (?)", (9,)))
    rows = runUntilFired(sreactor, pool.runQuery("SELECT n FROM t WHERE n > ? ORDER BY n", (1,)))
    assert rows == [(4,), (9,)]


def test_runOperationCommitsAndFiresWithNone(
    sreactor: Any, pool: ConnectionPool, dbPath: str
) -> None:
    assert runUntilFired(sreactor, pool.runOperation("INSERT INTO t VALUES (1)")) is None
    assert rowsOf(dbPath) == [1]


def test_queryErrorFailsTheDeferred(sreactor: Any, pool: ConnectionPool) -> None:
    error = failureOf(sreactor, pool.runQuery("SELECT nonsense FROM nowhere"))
    assert isinstance(error, sqlite3.OperationalError)


def test_interactionCommitsWhenItReturns(sreactor: Any, pool: ConnectionPool, dbPath: str) -> None:
    def interaction(txn: Transaction, a: int, b: int = 0) -> str:
        txn.execute("INSERT INTO t VALUES (?)", (a,))
        txn.execute("INSERT INTO t VALUES (?)", (b,))
        return "done"

    assert runUntilFired(sreactor, pool.runInteraction(interaction, 2, b=3)) == "done"
    assert rowsOf(dbPath) == [2, 3]


def test_interactionRolledBackWhenItRaises(
    sreactor: Any, pool: ConnectionPool, dbPath: str
) -> None:
    threadsSeen: list[threading.Thread] = []

    class Refused(Exception):
        pass

    def interaction(txn: Transaction) -> None:
        threadsSeen.append(threading.current_thread())
        txn.execute("INSERT INTO t VALUES (1)")
        raise Refused("no")

    error = failureOf(sreactor, pool.runInteraction(interaction))
    assert isinstance(error, Refused)
    assert rowsOf(dbPath) == []
    assert threadsSeen[0] is not threading.current_thread()
    # The same thread's connection carries on working after the rollback.
    runUntilFired(sreactor, pool.runOperation("INSERT INTO t VALUES (5)"))
    assert rowsOf(dbPath) == [5]


def test_runWithConnectionCommitsOrRollsBack(
    sreactor: Any, pool: ConnectionPool, dbPath: str
) -> None:
    def good(conn: adbapi.Connection) -> int:
        conn.cursor().execute("INSERT INTO t VALUES (7)")
        conn.close()  # ignored: the thread keeps its connection
        return 7

    def bad(conn: adbapi.Connection) -> None:
        conn.cursor().execute("INSERT INTO t VALUES (8)")
        raise ValueError("bad")

    assert runUntilFired(sreactor, pool.runWithConnection(good)) == 7
    assert isinstance(failureOf(sreactor, pool.runWithConnection(bad)), ValueError)
    assert rowsOf(dbPath) == [7]


def test_awaitingRunQueryInACoroutine(sreactor: Any, pool: ConnectionPool) -> None:
    async def main() -> list[Any]:
        await pool.runOperation("INSERT INTO t VALUES (?)", (11,))
        return await pool.runQuery("SELECT n FROM t")

    assert runUntilFired(sreactor, Deferred.fromCoroutine(main())) == [(11,)]


def test_coroutineFunctionInteractionIsRefused(pool: ConnectionPool) -> None:
    async def interaction(txn: Transaction) -> None:
        pass

    with pytest.raises(TypeError, match=r"coroutine function .* pool thread"):
        pool.runInteraction(interaction)
    with pytest.raises(TypeError, match="await the Deferred"):
        pool.runWithConnection(interaction)


def test_interactionReturningACoroutineFailsAndRollsBack(
    sreactor: Any, pool: ConnectionPool, dbPath: str
) -> None:
    async def later() -> None:
        pass

    def interaction(txn: Transaction) -> Any:
        txn.execute("INSERT INTO t VALUES (1)")
        return later()

    error = failureOf(sreactor, pool.runInteraction(interaction))
    assert isinstance(error, TypeError)
    assert "returned a coroutine" in str(error)
    assert rowsOf(dbPath) == []


def test_concurrentInteractionsDoNotSeeUncommittedData(
    sreactor: Any, pool: ConnectionPool, dbPath: str
) -> None:
    inserted = threading.Event()
    release = threading.Event()

    def writer(txn: Transaction) -> None:
        txn.execute("INSERT INTO t VALUES (1)")
        inserted.set()
        assert release.wait(WAIT)

    def reader(txn: Transaction) -> int:
        assert inserted.wait(WAIT)
        txn.execute("SELECT count(*) FROM t")
        count: int = txn.fetchone()[0]
        return count

    written = pool.runInteraction(writer)
    seen = runUntilFired(sreactor, pool.runInteraction(reader), WAIT)
    release.set()
    runUntilFired(sreactor, written, WAIT)
    assert seen == 0
    assert runUntilFired(sreactor, pool.runQuery("SELECT count(*) FROM t")) == [(1,)]


def test_concurrentWritersWaitForTheWriteLock(
    sreactor: Any, pool: ConnectionPool, dbPath: str
) -> None:
    def write(txn: Transaction, n: int) -> None:
        txn.execute("INSERT INTO t VALUES (?)", (n,))
        time.sleep(0.05)  # hold the write lock while the others queue for it

    calls = [pool.runInteraction(write, n) for n in range(6)]
    for d in calls:
        runUntilFired(sreactor, d, WAIT)
    assert rowsOf(dbPath) == list(range(6))


def test_fileDatabaseUsesWAL(sreactor: Any, pool: ConnectionPool) -> None:
    assert runUntilFired(sreactor, pool.runQuery("PRAGMA journal_mode")) == [("wal",)]


def test_eachThreadKeepsItsOwnConnection(sreactor: Any, pool: ConnectionPool) -> None:
    barrier = threading.Barrier(3, timeout=WAIT)

    def interaction(txn: Transaction) -> tuple[int, int]:
        barrier.wait()
        return threading.get_ident(), id(txn._connection._connection)

    calls = [pool.runInteraction(interaction) for _ in range(3)]
    seen = [runUntilFired(sreactor, d, WAIT) for d in calls]
    assert len({tid for tid, _ in seen}) == 3
    assert len({cid for _, cid in seen}) == 3
    assert len(pool.connections) == 3
    assert pool.threadpool.max == 3


def test_memoryDatabaseIsSharedByEveryCall(sreactor: Any) -> None:
    pool = makePool(sreactor, ":memory:", cp_max=5)
    try:
        assert pool.threadpool.max == 1
        runUntilFired(sreactor, pool.runOperation("CREATE TABLE m (x)"))
        runUntilFired(sreactor, pool.runOperation("INSERT INTO m VALUES (3)"))
        assert runUntilFired(sreactor, pool.runQuery("SELECT x FROM m")) == [(3,)]
    finally:
        pool.close()


# -- cp_openfun and arguments --------------------------------------------------------


def test_openfunRunsOnceForEachNewConnectionInItsThread(sreactor: Any, dbPath: str) -> None:
    opened: list[tuple[Any, threading.Thread]] = []

    def openfun(connection: Any) -> None:
        opened.append((connection, threading.current_thread()))
        connection.execute("CREATE TEMP TABLE IF NOT EXISTS marker (x)")

    pool = makePool(sreactor, dbPath, cp_min=1, cp_max=1, cp_openfun=openfun)
    try:
        runUntilFired(sreactor, pool.runQuery("SELECT * FROM marker"))
        runUntilFired(sreactor, pool.runQuery("SELECT * FROM marker"))
        assert len(opened) == 1
        assert opened[0][1] is not threading.current_thread()
        assert runUntilFired(sreactor, pool.runQuery("PRAGMA journal_mode")) == [("wal",)]
    finally:
        pool.close()


def test_openfunErrorFailsTheCallAndClosesTheConnection(sreactor: Any, dbPath: str) -> None:
    made: list[Any] = []

    def openfun(connection: Any) -> None:
        made.append(connection)
        raise RuntimeError("cannot set up")

    pool = makePool(sreactor, dbPath, cp_max=1, cp_openfun=openfun)
    try:
        error = failureOf(sreactor, pool.runQuery("SELECT 1"))
        assert isinstance(error, RuntimeError)
        assert pool.connections == {}
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            made[0].execute("SELECT 1")
    finally:
        pool.close()


def test_unknownPoolArgumentIsRefused(sreactor: Any) -> None:
    with pytest.raises(TypeError, match=r"cp_maxx.*cp_max"):
        ConnectionPool("sqlite3", ":memory:", cp_reactor=sreactor, cp_maxx=3)


def test_missingDriverSaysToInstallIt(sreactor: Any) -> None:
    with pytest.raises(ImportError, match="install its driver"):
        ConnectionPool("no_such_driver_xyz", cp_reactor=sreactor)


def test_moduleWithoutConnectIsRefused(sreactor: Any) -> None:
    with pytest.raises(TypeError, match="not a DB-API 2 module"):
        ConnectionPool("json", cp_reactor=sreactor)


def test_connectionArgumentsReachTheDriver(sreactor: Any, dbPath: str) -> None:
    pool = makePool(sreactor, database=dbPath, timeout=1.5, cp_max=1)
    try:
        runUntilFired(sreactor, pool.runOperation("CREATE TABLE k (x)"))
        assert pool.connkw == {"database": dbPath, "timeout": 1.5, "check_same_thread": False}
    finally:
        pool.close()
    assert Path(dbPath).exists()


# -- closing -------------------------------------------------------------------------


def test_closedPoolRefusesCallsAndSaysWhatToDo(sreactor: Any, pool: ConnectionPool) -> None:
    pool.close()
    for d in (
        pool.runQuery("SELECT 1"),
        pool.runOperation("SELECT 1"),
        pool.runInteraction(lambda txn: None),
        pool.runWithConnection(lambda conn: None),
    ):
        error = failureOf(sreactor, d)
        assert isinstance(error, ConnectionPoolClosed)
        assert "make a new ConnectionPool" in str(error)
    pool.close()  # a second close is harmless


def test_closeWaitsForTheCallsUnderWayAndClosesConnections(
    sreactor: Any, pool: ConnectionPool
) -> None:
    started = threading.Event()

    def slow(txn: Transaction) -> str:
        started.set()
        time.sleep(0.2)
        txn.execute("SELECT count(*) FROM t")
        return "finished"

    d = pool.runInteraction(slow)
    assert started.wait(WAIT)
    connections = list(pool.connections.values())
    pool.close()
    assert pool.threadpool.threads == []
    assert pool.connections == {}
    assert runUntilFired(sreactor, d) == "finished"
    for connection in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")


def test_callsQueuedBeforeStartFailWhenClosedUnstarted(sreactor: Any, dbPath: str) -> None:
    pool = ConnectionPool("sqlite3", dbPath, cp_reactor=sreactor)
    d = pool.runQuery("SELECT 1")
    pool.close()
    assert isinstance(failureOf(sreactor, d), ConnectionPoolClosed)
    assert pool.startID is None


def test_startsWithTheReactorAndClosesAtShutdown(dbPath: str) -> None:
    reactor = SelectReactor()
    try:
        pool = ConnectionPool("sqlite3", dbPath, cp_reactor=reactor, cp_max=2)
        assert not pool.running and pool.startID is not None
        results: list[Any] = []
        started = threading.Event()

        def slow(txn: Transaction) -> str:
            started.set()
            time.sleep(0.3)
            txn.execute("SELECT 1")
            return "slow done"

        queued = pool.runQuery("SELECT 42")  # before the reactor runs: waits for it
        queued.addBoth(results.append)

        def whenRunning() -> None:
            assert pool.running and pool.startID is None
            pool.runInteraction(slow).addBoth(results.append)
            # Stop while the slow call is under way: it must still deliver.
            threading.Thread(target=stopOnceStarted, daemon=True).start()

        def stopOnceStarted() -> None:
            started.wait(WAIT)
            reactor.callFromThread(reactor.stop)

        reactor.callWhenRunning(whenRunning)
        guard = reactor.callLater(WAIT, reactor.crash)
        reactor.run(installSignalHandlers=False)
        assert guard.active(), "the reactor did not shut down in time"
        guard.cancel()
        assert results == [[(42,)], "slow done"]
        assert not pool.running
        assert pool.connections == {}
        assert isinstance(failureOf(reactor, pool.runQuery("SELECT 1")), ConnectionPoolClosed)
    finally:
        closeReactor(reactor)


# -- the reactor keeps working --------------------------------------------------------


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


def test_reactorServesClientsWhileASlowQueryRuns(reactor: Any, tmp_path: Path) -> None:
    pool = makePool(reactor, str(tmp_path / "slow.db"), cp_max=1)
    release = threading.Event()
    try:
        port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")

        def slow(txn: Transaction) -> str:
            assert release.wait(WAIT)
            txn.execute("SELECT 1")
            return "slow"

        d = pool.runInteraction(slow)
        replies: list[bytes] = []

        def client() -> None:
            with socket.create_connection(("127.0.0.1", port.getHost().port), WAIT) as s:
                s.sendall(b"ping")
                replies.append(s.recv(100))

        threading.Thread(target=client, daemon=True).start()
        runUntil(reactor, lambda: replies, WAIT)
        assert replies == [b"ping"]
        assert not d.called
        release.set()
        assert runUntilFired(reactor, d, WAIT) == "slow"
        port.stopListening()
    finally:
        release.set()
        pool.close()


def test_closeGivesUpOnAStuckCallAfterItsTimeoutAndLeavesItsConnection(
    sreactor: Any, pool: ConnectionPool, loggedEvents: list[dict[str, Any]]
) -> None:
    started = threading.Event()
    release = threading.Event()
    used: list[Any] = []

    def stuck(txn: Transaction) -> str:
        used.append(txn._connection._connection)
        started.set()
        assert release.wait(WAIT)
        return "late"

    try:
        d = pool.runInteraction(stuck)
        assert started.wait(WAIT)
        pool.closeTimeout = 0.1
        began = time.monotonic()
        pool.close()
        assert time.monotonic() - began < WAIT / 2
        assert any("still busy" in str(e.get("log_format", "")) for e in loggedEvents)
        used[0].execute("SELECT 1")  # not closed under the stuck call
    finally:
        release.set()
    assert runUntilFired(sreactor, d, WAIT) == "late"


def test_poolSizes(sreactor: Any, dbPath: str) -> None:
    with pytest.raises(ValueError, match="cp_min=4 is above cp_max=2"):
        ConnectionPool("sqlite3", dbPath, cp_reactor=sreactor, cp_min=4, cp_max=2)
    alone = ConnectionPool("sqlite3", dbPath, cp_reactor=sreactor, cp_max=2)
    assert (alone.threadpool.min, alone.threadpool.max) == (2, 2)
    default = ConnectionPool("sqlite3", dbPath, cp_reactor=sreactor, cp_name="shop")
    assert (default.min, default.max, default.threadpool.name) == (3, 5, "shop")
    for made in (alone, default):
        made.close()


def test_noisyPoolLogsConnectsAndCloses(
    sreactor: Any, dbPath: str, loggedEvents: list[dict[str, Any]]
) -> None:
    pool = makePool(sreactor, dbPath, cp_max=1, cp_noisy=True)
    runUntilFired(sreactor, pool.runQuery("SELECT 1"))
    pool.close()
    formats = [str(e.get("log_format", "")) for e in loggedEvents]
    assert "adbapi connecting: {dbapiName}" in formats
    assert "adbapi closing: {dbapiName}" in formats


def test_readOnlyDatabaseStillReads(sreactor: Any, dbPath: str) -> None:
    with sqlite3.connect(dbPath) as connection:
        connection.execute("CREATE TABLE r (x)")
        connection.execute("INSERT INTO r VALUES (1)")
    connection.close()
    pool = makePool(sreactor, f"file:{dbPath}?mode=ro", uri=True, cp_max=1)
    try:
        assert runUntilFired(sreactor, pool.runQuery("SELECT x FROM r")) == [(1,)]
        error = failureOf(sreactor, pool.runOperation("INSERT INTO r VALUES (2)"))
        assert isinstance(error, sqlite3.OperationalError) and "readonly" in str(error)
    finally:
        pool.close()


def test_wrappersCanBeCopiedWithoutRecursing(sreactor: Any, pool: ConnectionPool) -> None:
    import copy

    def interaction(txn: Transaction) -> tuple[str, str]:
        return type(copy.copy(txn)).__name__, type(copy.copy(txn._connection)).__name__

    assert runUntilFired(sreactor, pool.runInteraction(interaction)) == (
        "Transaction",
        "Connection",
    )
