"""torsion.enterprise.adbapi against a real PostgreSQL server (psycopg 3).

The server is tests/enterprise/postgres.py's: one throwaway cluster on 127.0.0.1 per
pytest process. Each test makes its own pool on a fresh reactor (``cp_reactor``) and
its own table, and closes the pool at the end. Covered here: queries and operations,
interactions that commit or roll back, two interactions at once not seeing each
other's uncommitted rows (READ COMMITTED), the server restarted under a pool (with and
without ``cp_reconnect``), and the pool or the server going away while ``pg_sleep``
queries run. Every wait is bounded (runUntilFired's timeout, Event.wait timeouts).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.enterprise.postgres import PostgresServer, postgres, postgresRunning
from tests.internet.reactormixins import closeReactor, runUntil, runUntilFired
from torsion.enterprise import adbapi
from torsion.internet.defer import Deferred, DeferredList
from torsion.internet.epollreactor import EPollReactor
from torsion.python.failure import Failure

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'"
)


__all__ = ["postgres", "postgresRunning"]  # the fixtures, so pytest finds them here

WAIT = 15.0
PoolMaker = Callable[..., Any]


@pytest.fixture
def reactor() -> Iterator[Any]:
    made = EPollReactor()
    try:
        yield made
    finally:
        closeReactor(made)


@pytest.fixture
def makePool(reactor: Any, postgresRunning: PostgresServer) -> Iterator[PoolMaker]:
    """Make started pools on the test's reactor and server; all closed at the end."""
    pools: list[Any] = []

    def make(**kw: Any) -> Any:
        kw.setdefault("cp_min", 1)
        kw.setdefault("cp_max", 3)
        pool = adbapi.ConnectionPool(
            "psycopg", cp_reactor=reactor, **postgresRunning.connectionKeywords, **kw
        )
        pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture
def table(postgresRunning: PostgresServer) -> Iterator[str]:
    """A fresh table ``(id integer primary key, name text)``, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**postgresRunning.connectionKeywords, autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, name text)")
    yield name
    with psycopg.connect(**postgresRunning.connectionKeywords, autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")


def wait(reactor: Any, d: Deferred[Any]) -> Any:
    return runUntilFired(reactor, d, timeout=WAIT)


def outcome(reactor: Any, d: Deferred[Any]) -> Any:
    """What ``d`` fires with: its result or its Failure (bounded wait)."""
    results: list[Any] = []
    d.addBoth(results.append)
    runUntil(reactor, lambda: results, timeout=WAIT)
    return results[0]


def failureOf(reactor: Any, d: Deferred[Any]) -> Failure:
    result = outcome(reactor, d)
    assert isinstance(result, Failure), f"expected a failure, got {result!r}"
    return result


def rows(server: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    """What a separate, autocommitting connection sees."""
    with psycopg.connect(**server.connectionKeywords, autocommit=True) as c:
        return c.execute(sql).fetchall()


# -- queries and transactions ----------------------------------------------------------


def test_runQueryReturnsTheRowsWithParameters(reactor: Any, makePool: PoolMaker) -> None:
    pool = makePool()
    result = wait(reactor, pool.runQuery("SELECT %s::int + 1, %s::text", (41, "x")))
    assert result == [(42, "x")]


def test_runOperationCommits(
    reactor: Any, makePool: PoolMaker, table: str, postgresRunning: PostgresServer
) -> None:
    pool = makePool()
    assert (
        wait(reactor, pool.runOperation(f"INSERT INTO {table} VALUES (%s, %s)", (1, "a"))) is None
    )
    assert rows(postgresRunning, f"SELECT id, name FROM {table}") == [(1, "a")]


def test_runInteractionCommitsAndReturnsItsValue(
    reactor: Any, makePool: PoolMaker, table: str, postgresRunning: PostgresServer
) -> None:
    pool = makePool()

    def interaction(txn: Any, count: int) -> int:
        for i in range(count):
            txn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, f"n{i}"))
        txn.execute(f"SELECT count(*) FROM {table}")
        return int(txn.fetchone()[0])

    assert wait(reactor, pool.runInteraction(interaction, 5)) == 5
    assert rows(postgresRunning, f"SELECT count(*) FROM {table}") == [(5,)]


def test_runInteractionRollsBackWhenItRaises(
    reactor: Any, makePool: PoolMaker, table: str, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_max=1)

    def interaction(txn: Any) -> None:
        txn.execute(f"INSERT INTO {table} VALUES (1, 'kept?')")
        raise ValueError("changed my mind")

    failure = failureOf(reactor, pool.runInteraction(interaction))
    assert failure.check(ValueError)
    assert rows(postgresRunning, f"SELECT * FROM {table}") == []
    # The same (only) connection is usable again at once.
    assert wait(reactor, pool.runQuery(f"SELECT count(*) FROM {table}")) == [(0,)]


def test_sqlErrorFailsTheCallAndTheConnectionRecovers(
    reactor: Any, makePool: PoolMaker, table: str, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_max=1)

    def interaction(txn: Any) -> None:
        txn.execute(f"INSERT INTO {table} VALUES (1, 'a')")
        txn.execute(f"INSERT INTO {table} VALUES (1, 'duplicate')")

    failure = failureOf(reactor, pool.runInteraction(interaction))
    assert failure.check(psycopg.errors.UniqueViolation)
    assert rows(postgresRunning, f"SELECT * FROM {table}") == []
    failure = failureOf(reactor, pool.runQuery("SELECT * FROM no_such_table"))
    assert failure.check(psycopg.errors.UndefinedTable)
    # Not left in "current transaction is aborted": the pool rolled back.
    assert wait(reactor, pool.runQuery("SELECT 1")) == [(1,)]


def test_runWithConnectionGetsTheDriversConnection(reactor: Any, makePool: PoolMaker) -> None:
    pool = makePool()

    def work(connection: Any) -> tuple[Any, ...]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            return tuple(cursor.fetchone())

    assert wait(reactor, pool.runWithConnection(work)) == ("torsion", "postgres")


def test_openfunConfiguresEveryNewConnection(reactor: Any, makePool: PoolMaker) -> None:
    def openfun(connection: Any) -> None:
        connection.execute("SET application_name = 'torsion-test'")
        connection.commit()

    pool = makePool(cp_openfun=openfun)
    assert wait(reactor, pool.runQuery("SHOW application_name")) == [("torsion-test",)]


def test_concurrentInteractionsDoNotSeeUncommittedRows(
    reactor: Any, makePool: PoolMaker, table: str
) -> None:
    """READ COMMITTED, PostgreSQL's default: B runs while A's insert is uncommitted."""
    pool = makePool(cp_min=2, cp_max=2)
    inserted, read = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def writer(txn: Any) -> None:
        txn.execute(f"INSERT INTO {table} VALUES (1, 'uncommitted')")
        txn.execute(f"SELECT count(*) FROM {table}")
        seen["writer"] = txn.fetchone()[0]
        inserted.set()
        assert read.wait(WAIT), "the reader never read"

    def reader(txn: Any) -> None:
        assert inserted.wait(WAIT), "the writer never inserted"
        txn.execute(f"SELECT count(*) FROM {table}")
        seen["reader"] = txn.fetchone()[0]
        read.set()

    both = DeferredList([pool.runInteraction(writer), pool.runInteraction(reader)])
    results = wait(reactor, both)
    assert [ok for ok, _ in results] == [True, True], results
    assert seen == {"writer": 1, "reader": 0}
    assert wait(reactor, pool.runQuery(f"SELECT name FROM {table}")) == [("uncommitted",)]


def test_concurrentQueriesRunOnSeparateConnections(reactor: Any, makePool: PoolMaker) -> None:
    pool = makePool(cp_min=4, cp_max=4)
    calls = [pool.runQuery("SELECT pg_backend_pid() FROM pg_sleep(0.2)") for _ in range(4)]
    results = wait(reactor, DeferredList(calls, fireOnOneErrback=True))
    assert len({rowsOf[0][0] for _, rowsOf in results}) == 4


# -- the server going away ---------------------------------------------------------------


def test_serverRestartWithReconnectFailsOneCallWithConnectionLost(
    reactor: Any, makePool: PoolMaker, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_min=1, cp_max=1, cp_reconnect=True)
    before = wait(reactor, pool.runQuery("SELECT pg_backend_pid()"))
    postgresRunning.restart()
    failure = failureOf(reactor, pool.runQuery("SELECT 1"))
    assert failure.check(adbapi.ConnectionLost), failure.getTraceback()
    assert isinstance(failure.value.__cause__, psycopg.OperationalError)
    for _ in range(3):
        after = wait(reactor, pool.runQuery("SELECT pg_backend_pid()"))
        assert after != before


def test_serverRestartFailsAtMostOneCallPerConnection(
    reactor: Any, makePool: PoolMaker, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_min=3, cp_max=3, cp_reconnect=True)
    opened = [pool.runQuery("SELECT 1 FROM pg_sleep(0.1)") for _ in range(3)]
    wait(reactor, DeferredList(opened, fireOnOneErrback=True))
    postgresRunning.restart()
    failures = 0
    for _ in range(12):
        result = outcome(reactor, pool.runQuery("SELECT 1"))
        if isinstance(result, Failure):
            assert result.check(adbapi.ConnectionLost), result.getTraceback()
            failures += 1
        else:
            assert result == [(1,)]
    assert 1 <= failures <= 3


def test_serverRestartWithoutReconnectFailsWithTheDriversError(
    reactor: Any, makePool: PoolMaker, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_min=1, cp_max=1)
    wait(reactor, pool.runQuery("SELECT 1"))
    postgresRunning.restart()
    failure = failureOf(reactor, pool.runQuery("SELECT 1"))
    assert failure.check(psycopg.OperationalError), failure.getTraceback()
    assert not failure.check(adbapi.ConnectionLost)


def test_serverStoppedDuringQueriesFailsThemCleanly(
    reactor: Any, makePool: PoolMaker, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_min=3, cp_max=3, cp_reconnect=True)
    wait(reactor, DeferredList([pool.runQuery("SELECT 1") for _ in range(3)]))
    sleeping = [pool.runQuery("SELECT pg_sleep(5)") for _ in range(3)]
    runUntil(reactor, lambda: len(rows(postgresRunning, SLEEPERS)) == 3, timeout=WAIT)
    postgresRunning.stop()
    results = wait(reactor, DeferredList(sleeping, consumeErrors=True))
    for ok, result in results:
        assert not ok
        assert result.check(adbapi.ConnectionLost), result.getTraceback()
    # Nothing to reconnect to: the call fails (it does not hang).
    failure = failureOf(reactor, pool.runQuery("SELECT 1"))
    assert failure.check(psycopg.OperationalError, adbapi.ConnectionLost)


# The other sessions running a pg_sleep query right now, and all other client sessions.
SLEEPERS = (
    "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(%' "
    "AND pid <> pg_backend_pid()"
)
CLIENTS = (
    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND pid <> pg_backend_pid()"
)


# -- the pool going away -----------------------------------------------------------------


def test_closeWhileQueriesRunLetsThemFinish(
    reactor: Any, makePool: PoolMaker, postgresRunning: PostgresServer
) -> None:
    pool = makePool(cp_min=3, cp_max=3)
    sleeping = [pool.runQuery("SELECT 7 FROM pg_sleep(0.5)") for _ in range(3)]
    runUntil(reactor, lambda: len(rows(postgresRunning, SLEEPERS)) == 3, timeout=WAIT)
    pool.close()
    results = wait(reactor, DeferredList(sleeping))
    assert results == [(True, [(7,)])] * 3
    failure = failureOf(reactor, pool.runQuery("SELECT 1"))
    assert failure.check(adbapi.ConnectionPoolClosed)
    # Every connection was closed: the server has no backend of this pool left.
    runUntil(reactor, lambda: rows(postgresRunning, CLIENTS) == [], timeout=WAIT)
    assert pool.connections == {}


def test_reactorShutdownWhileQueriesRunDeliversTheirResults(
    reactor: Any, postgresRunning: PostgresServer
) -> None:
    pool = adbapi.ConnectionPool(
        "psycopg", cp_reactor=reactor, cp_min=2, cp_max=2, **postgresRunning.connectionKeywords
    )
    results: list[Any] = []
    late: list[Any] = []

    def started() -> None:
        for _ in range(2):
            pool.runQuery("SELECT 3 FROM pg_sleep(0.5)").addBoth(results.append)
        reactor.callLater(0.1, reactor.stop)

    def stopped() -> None:
        pool.runQuery("SELECT 1").addBoth(late.append)

    reactor.callWhenRunning(started)
    reactor.addSystemEventTrigger("after", "shutdown", stopped)
    guard = threading.Timer(WAIT, lambda: reactor.callFromThread(reactor.crash))
    guard.start()
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        guard.cancel()
    assert results == [[(3,)], [(3,)]]
    assert len(late) == 1 and isinstance(late[0], Failure)
    assert late[0].check(adbapi.ConnectionPoolClosed)
    assert pool.connections == {}
