"""A pool of DB-API 2 connections driven from the reactor (Twisted's ``enterprise.adbapi``).

DB-API drivers block, so ``ConnectionPool`` runs them in a thread pool of its own
(``cp_max`` threads, torsion.python.threadpool.ThreadPool) and returns Deferreds that
fire in the reactor thread, so ``rows = await pool.runQuery("select ...")`` works in a
coroutine. Each pool thread opens its own connection the first time it needs one and
keeps it, so a connection is only ever used by the thread that opened it (which is
what sqlite3's ``check_same_thread`` asks for).

The pool starts with the reactor (a 'startup' trigger, or at once if the reactor is
already running) and closes in the 'before' phase of its shutdown: calls already
submitted finish and their Deferreds fire while the reactor still runs, then the
connections are closed. A call made on a closed pool fails with ConnectionPoolClosed.

sqlite3 is handled specially (see ``ConnectionPool``): file databases are put in WAL
mode and wait for the single writer lock (the driver's busy timeout); ':memory:' and
'' databases get a pool of one thread, because every sqlite3 connection to them sees a
database of its own.

Where torsion differs from Twisted on purpose: a call whose connection turned out to
be lost (with ``cp_reconnect``) fails with ConnectionLost, chained to the driver's
error, rather than with the driver's error alone, so callers know they may retry; an
interaction that is a coroutine function is refused with TypeError (it would never
run its body in the thread); a closed pool refuses calls instead of queueing them for
ever.

Tests: tests/enterprise/test_adbapi.py, tests/enterprise/test_reconnect.py (a fake driver),
tests/enterprise/test_postgres.py (a real PostgreSQL server).
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from torsion.internet._cooperator import globalReactor
from torsion.internet.defer import Deferred, fail
from torsion.internet.threads import deferToThreadPool
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.python.threadpool import ThreadPool

__all__ = [
    "Connection",
    "ConnectionLost",
    "ConnectionPool",
    "ConnectionPoolClosed",
    "Transaction",
]

_T = TypeVar("_T")

_log = Logger()

# The databases of which each sqlite3 connection gets a private copy.
_SQLITE_PRIVATE = (":memory:", "")


class ConnectionLost(Exception):
    """The connection to the database was lost during a call; the call may be retried.

    Raised (with ``cp_reconnect=True``) when a failed call's rollback shows that the
    connection is dead. The dead connection has been dropped and the next call in that
    thread opens a new one. The driver's own error is the ``__cause__``.
    """


class ConnectionPoolClosed(Exception):
    """A call was made on a ConnectionPool that is closed (or closing).

    A pool closes when ``close`` is called or the reactor shuts down; make a new
    ConnectionPool to talk to the database again.
    """


class Connection:
    """A pool thread's DB-API connection, as given to ``runWithConnection`` functions.

    Attribute access goes to the driver's connection, so ``conn.cursor()`` and
    ``conn.commit()`` are the driver's. ``close`` does nothing: the connection belongs
    to the pool thread and is reused by its next call (the pool closes it itself).
    """

    __slots__ = ("_connection", "_pool")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._connection: Any = None
        self.reconnect()

    def close(self) -> None:
        """Ignored: closing the thread's connection would leave the thread without one."""

    def rollback(self) -> None:
        """Roll back; with ``cp_reconnect``, also check the connection still works.

        Raises:
            ConnectionLost: (``cp_reconnect`` only) the rollback or ``cp_good_sql``
                failed, so the connection was dropped; the next call reconnects.
        """
        if not self._pool.reconnect:
            self._connection.rollback()
            return
        try:
            self._connection.rollback()
            cursor = self._connection.cursor()
            cursor.execute(self._pool.good_sql)
            cursor.close()
            self._connection.commit()
        except Exception as e:
            self._pool.disconnect(self._connection)
            self._connection = None
            if self._pool.noisy:
                _log.info("adbapi: connection lost ({error!r}); dropped it", error=e)
            raise ConnectionLost(
                f"the connection to the database was lost ({e!r}); the pool will open "
                "a new one for the next call, so the call may be retried"
            ) from e

    def reconnect(self) -> None:
        """Drop this thread's connection (if any) and open a new one."""
        if self._connection is not None:
            self._pool.disconnect(self._connection)
        self._connection = self._pool.connect()

    def __getattr__(self, name: str) -> Any:
        if name in Connection.__slots__:  # not set yet (a copy, or a broken __init__)
            raise AttributeError(name)
        return getattr(self._connection, name)


class Transaction:
    """A cursor on a pool thread's connection, as given to ``runInteraction`` functions.

    Attribute access goes to the driver's cursor (``execute``, ``fetchall``,
    ``rowcount``...). The pool commits when the interaction returns and rolls back if
    it raises, so an interaction does not commit or roll back itself.
    """

    __slots__ = ("_connection", "_cursor", "_pool")

    def __init__(self, pool: ConnectionPool, connection: Connection) -> None:
        self._pool = pool
        self._connection = connection
        self._cursor: Any = None
        self.reopen()

    def close(self) -> None:
        """Close the cursor (the connection stays open for the thread's next call)."""
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            cursor.close()

    def reopen(self) -> None:
        """Open a new cursor; with ``cp_reconnect``, reconnect if that fails."""
        if self._cursor is not None:
            self.close()
        try:
            self._cursor = self._connection.cursor()
            return
        except Exception:
            if not self._pool.reconnect:
                raise
            _log.failure("adbapi: cursor creation failed; reconnecting", Failure())
        self.reconnect()
        self._cursor = self._connection.cursor()

    def reconnect(self) -> None:
        """Open a new connection for this thread; call ``reopen`` for a cursor on it."""
        self._connection.reconnect()
        self._cursor = None

    def __getattr__(self, name: str) -> Any:
        if name in Transaction.__slots__:
            raise AttributeError(name)
        return getattr(self._cursor, name)


class ConnectionPool:
    """Run DB-API 2 calls in a pool of threads, each with its own connection.

    Example::

        pool = ConnectionPool("sqlite3", "app.db")
        rows = await pool.runQuery("SELECT name FROM users WHERE id = ?", (7,))

    Args:
        dbapiName: the import path of a DB-API 2 module ("sqlite3", "psycopg",
            "psycopg2", "pymysql"...).
        *connargs, **connkw: passed to the module's ``connect`` by each thread.
        cp_min: threads started with the pool (default 3).
        cp_max: most threads, so most connections, at once (default 5).
        cp_name: the prefix of the threads' names.
        cp_noisy: log connects, disconnects and reconnects.
        cp_openfun: called with each new connection in its thread (set a schema,
            a time zone, pragmas...); if it raises, the connection is closed and the
            call that needed it fails.
        cp_reconnect: when a call fails, check the connection with ``cp_good_sql``;
            if that fails too, drop it (the next call reconnects) and fail the call
            with ConnectionLost.
        cp_good_sql: the statement that proves a connection works (default
            "select 1").
        cp_reactor: the reactor to deliver results in (default: the global one).

    sqlite3: ``check_same_thread`` defaults to False (each connection is still only
    used by its own thread; the flag lets the pool close it after the thread ended);
    file databases are switched to WAL mode, so readers do not block the writer, and
    writers queue on sqlite3's busy timeout (``timeout``, 5 seconds by default); a
    ':memory:' or '' database is private to one connection, so the pool is given one
    thread and every call sees the same database (use a file for concurrent access).

    Raises:
        ImportError: the module cannot be imported (install the driver).
        TypeError: a ``cp_`` argument is unknown or the module has no ``connect``.
        ValueError: ``cp_min``/``cp_max`` are inconsistent.
    """

    CP_ARGS = ("min", "max", "name", "noisy", "openfun", "reconnect", "good_sql")

    noisy = False
    min = 3
    max = 5
    name: str | None = None
    openfun: Callable[[Any], object] | None = None
    reconnect = False
    good_sql = "select 1"
    running = False
    #: Seconds that closing waits for each busy thread to finish its call.
    closeTimeout = 10.0

    connectionFactory: Callable[[ConnectionPool], Connection] = Connection
    transactionFactory: Callable[[ConnectionPool, Connection], Transaction] = Transaction

    def __init__(self, dbapiName: str, *connargs: Any, **connkw: Any) -> None:
        self.dbapiName = dbapiName
        self.dbapi: ModuleType = _importDBAPI(dbapiName)
        self._reactor: Any = connkw.pop("cp_reactor", None)
        for arg in self.CP_ARGS:
            key = f"cp_{arg}"
            if key in connkw:
                setattr(self, arg, connkw.pop(key))
        unknown = sorted(k for k in connkw if k.startswith("cp_"))
        if unknown:
            raise TypeError(
                f"unknown ConnectionPool argument(s) {', '.join(unknown)}; the pool's own "
                f"arguments are cp_reactor and {', '.join('cp_' + a for a in self.CP_ARGS)}"
            )
        if "min" not in self.__dict__ and self.max < self.min:
            self.min = self.max
        if self.min > self.max:
            raise ValueError(
                f"cp_min={self.min} is above cp_max={self.max}; a pool cannot keep more "
                "threads than it may run"
            )
        self.connargs = connargs
        self.connkw = connkw
        self._sqlitePrivate = False
        if self.dbapi.__name__ in ("sqlite3", "sqlite3.dbapi2"):
            self._configureSqlite()
        self.connections: dict[int, Any] = {}
        self._connectionThreads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._pending: set[Deferred[Any]] = set()
        self.threadpool = ThreadPool(self.min, self.max, self.name or f"adbapi-{dbapiName}")
        self.shutdownID: Any = None
        self.startID: Any = None
        reactor = self._getReactor()
        if reactor.running:
            self._start()
        else:
            self.startID = reactor.addSystemEventTrigger("after", "startup", self._start)

    def _getReactor(self) -> Any:
        if self._reactor is None:
            self._reactor = globalReactor()
        return self._reactor

    def _configureSqlite(self) -> None:
        database = self.connargs[0] if self.connargs else self.connkw.get("database", "")
        self.connkw.setdefault("check_same_thread", False)
        name = str(database)
        isMemoryURI = self.connkw.get("uri") and "mode=memory" in name
        if name in _SQLITE_PRIVATE or isMemoryURI:
            self._sqlitePrivate = True
            self.min, self.max = 1, 1
            return
        userOpenfun = self.openfun
        operationalError = self.dbapi.OperationalError

        def sqliteOpen(connection: Any) -> None:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            except operationalError as e:
                # A read-only file cannot change its journal; it still reads.
                _log.info("adbapi: sqlite3 WAL mode not set on {database}: {e}", database=name, e=e)
            if userOpenfun is not None:
                userOpenfun(connection)

        self.openfun = sqliteOpen

    # -- life cycle ------------------------------------------------------------------

    def _start(self) -> None:
        self.startID = None
        self.start()

    def start(self) -> None:
        """Start the thread pool and arrange to close when the reactor shuts down.

        Called for you when the reactor starts (or at once if it runs already).
        """
        if self.running or self._closed:
            return
        self.threadpool.start()
        self._pending.clear()  # they run now
        self.shutdownID = self._getReactor().addSystemEventTrigger(
            "before", "shutdown", self._closeAtShutdown
        )
        self.running = True

    def close(self) -> None:
        """Close the pool now: wait for the calls under way, then close the connections.

        This blocks the calling thread (up to ``closeTimeout`` seconds per busy pool
        thread); the reactor closes the pool without blocking at shutdown. Later calls
        fail with ConnectionPoolClosed.
        """
        if self._closed:
            return
        reactor = self._getReactor()
        if self.shutdownID is not None:
            reactor.removeSystemEventTrigger(self.shutdownID)
            self.shutdownID = None
        if self.startID is not None:
            reactor.removeSystemEventTrigger(self.startID)
            self.startID = None
        self.finalClose()

    def finalClose(self) -> None:
        """Stop the threads (each finishes its call) and close every connection."""
        wasRunning = self._beginClose()
        if wasRunning:
            self.threadpool.stop(self.closeTimeout)
        self._endClose(wasRunning)

    def _beginClose(self) -> bool:
        self.shutdownID = None
        self._closed = True
        wasRunning = self.running
        self.running = False
        return wasRunning

    def _endClose(self, wasRunning: bool) -> None:
        if not wasRunning:
            # Calls queued before the reactor started never ran and never will.
            self.threadpool.stop(0)
            for d in list(self._pending):
                if not d.called:
                    d.errback(self._closedError())
        self._pending.clear()
        with self._lock:
            items = [(tid, self.connections[tid]) for tid in list(self.connections)]
            threads = dict(self._connectionThreads)
            self.connections.clear()
            self._connectionThreads.clear()
        for tid, connection in items:
            thread = threads.get(tid)
            if thread is not None and thread.is_alive():
                _log.warn(
                    "adbapi: {thread} was still busy {timeout} seconds after the pool "
                    "closed; its connection is left open",
                    thread=thread.name,
                    timeout=self.closeTimeout,
                )
                continue
            self._close(connection)

    def _closeAtShutdown(self) -> Deferred[None]:
        # Stop the threads from a helper thread, so that the reactor keeps delivering
        # the results of the calls under way while they finish.
        self.shutdownID = None
        done: Deferred[None] = Deferred()
        wasRunning = self._beginClose()
        reactor = self._getReactor()

        def stopThreads() -> None:
            try:
                if wasRunning:
                    self.threadpool.stop(self.closeTimeout)
            finally:
                reactor.callFromThread(finish)

        def finish() -> None:
            try:
                self._endClose(wasRunning)
            finally:
                done.callback(None)

        threading.Thread(target=stopThreads, name="adbapi-close", daemon=True).start()
        return done

    def _closedError(self) -> ConnectionPoolClosed:
        return ConnectionPoolClosed(
            f"this ConnectionPool for {self.dbapiName!r} is closed (close() was called or "
            "the reactor shut down); make a new ConnectionPool to use the database again"
        )

    # -- connections (called in pool threads) ----------------------------------------

    def threadID(self) -> int:
        """The key of the calling thread's connection in ``connections``."""
        return threading.get_ident()

    def connect(self) -> Any:
        """Return the calling thread's DB-API connection, opening it if needed.

        Meant for pool threads (runWithConnection and runInteraction call it).
        """
        tid = self.threadID()
        with self._lock:
            connection = self.connections.get(tid)
        if connection is not None:
            return connection
        if self.noisy:
            _log.info("adbapi connecting: {dbapiName}", dbapiName=self.dbapiName)
        connection = self.dbapi.connect(*self.connargs, **self.connkw)
        if self.openfun is not None:
            try:
                self.openfun(connection)
            except BaseException:
                self._close(connection)
                raise
        with self._lock:
            self.connections[tid] = connection
            self._connectionThreads[tid] = threading.current_thread()
        return connection

    def disconnect(self, conn: Any) -> None:
        """Close the calling thread's connection ``conn``; the next call reconnects.

        Raises:
            ValueError: ``conn`` is not the calling thread's connection.
        """
        tid = self.threadID()
        with self._lock:
            if conn is not self.connections.get(tid):
                raise ValueError(
                    "disconnect() was given a connection that is not this thread's; a "
                    "pool thread can only drop its own connection"
                )
            del self.connections[tid]
            self._connectionThreads.pop(tid, None)
        self._close(conn)

    def _close(self, conn: Any) -> None:
        if self.noisy:
            _log.info("adbapi closing: {dbapiName}", dbapiName=self.dbapiName)
        try:
            conn.close()
        except Exception:
            _log.failure("adbapi: closing a connection failed", Failure())

    # -- calls -----------------------------------------------------------------------

    def runWithConnection(self, func: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]:
        """Call ``func(connection, *args, **kw)`` in a pool thread; commit if it returns.

        ``func`` is a plain function (it runs in a thread, so it cannot be a coroutine
        function) given a Connection. If it raises, the connection is rolled back.

        Returns:
            A Deferred firing in the reactor thread with what ``func`` returns, or
            failing with what it raises (ConnectionPoolClosed if the pool is closed,
            ConnectionLost if the connection died and ``cp_reconnect`` is set).

        Raises:
            TypeError: ``func`` is a coroutine function.
        """
        _refuseCoroutineFunction(func, "runWithConnection")
        return self._submit(self._runWithConnection, func, *args, **kw)

    def runInteraction(self, interaction: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]:
        """Call ``interaction(transaction, *args, **kw)`` in a pool thread, as one transaction.

        The Transaction has the cursor's methods (``execute``, ``fetchall``...). If
        ``interaction`` returns, the work is committed; if it raises, it is rolled
        back; both happen in the same thread, on the same connection. ``interaction``
        is a plain function: it runs in a thread, so it cannot be a coroutine function
        (await the Deferred this returns instead).

        Returns:
            A Deferred firing in the reactor thread with what ``interaction`` returns,
            or failing with what it raises (see ``runWithConnection``).

        Raises:
            TypeError: ``interaction`` is a coroutine function.
        """
        _refuseCoroutineFunction(interaction, "runInteraction")
        return self._submit(self._runInteraction, interaction, *args, **kw)

    def runQuery(self, *args: Any, **kw: Any) -> Deferred[list[Any]]:
        """Execute a query in a transaction; the Deferred fires with ``fetchall()``'s rows.

        The arguments are the cursor's ``execute`` arguments: the SQL and its
        parameters, in the driver's paramstyle (``?`` for sqlite3, ``%s`` for psycopg).
        """
        return self.runInteraction(self._runQuery, *args, **kw)

    def runOperation(self, *args: Any, **kw: Any) -> Deferred[None]:
        """Execute a statement in a transaction; the Deferred fires with None."""
        return self.runInteraction(self._runOperation, *args, **kw)

    def _submit(self, f: Callable[..., _T], *args: Any, **kw: Any) -> Deferred[_T]:
        if self._closed:
            return fail(self._closedError())
        d = deferToThreadPool(self._getReactor(), self.threadpool, f, *args, **kw)
        if not self.running:
            # Queued until the pool starts; remembered so that closing the pool before
            # then can fail it instead of leaving it waiting for ever.
            self._pending.add(d)
        return d

    def _runWithConnection(self, func: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        conn = self.connectionFactory(self)
        try:
            result = func(conn, *args, **kw)
            _refuseCoroutine(result, func)
            conn.commit()
            return result
        except BaseException as e:
            _rollbackAfter(conn, e)
            raise

    def _runInteraction(self, interaction: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        conn = self.connectionFactory(self)
        trans = self.transactionFactory(self, conn)
        try:
            result = interaction(trans, *args, **kw)
            _refuseCoroutine(result, interaction)
            trans.close()
            conn.commit()
            return result
        except BaseException as e:
            _rollbackAfter(conn, e)
            raise

    def _runQuery(self, trans: Transaction, *args: Any, **kw: Any) -> list[Any]:
        trans.execute(*args, **kw)
        return list(trans.fetchall())

    def _runOperation(self, trans: Transaction, *args: Any, **kw: Any) -> None:
        trans.execute(*args, **kw)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self.running else "not started"
        return f"<ConnectionPool {self.dbapiName!r} {state} threads={self.min}..{self.max}>"


def _rollbackAfter(conn: Connection, error: BaseException) -> None:
    """Roll back after ``error``; a lost connection turns the error into ConnectionLost."""
    try:
        conn.rollback()
    except ConnectionLost as lost:
        raise lost from error
    except Exception:
        _log.failure("adbapi: rollback failed after {error!r}", Failure(), error=error)


def _importDBAPI(dbapiName: str) -> ModuleType:
    if not isinstance(dbapiName, str):
        raise TypeError(
            f"ConnectionPool wants the import path of a DB-API 2 module as a string "
            f"(like 'sqlite3' or 'psycopg'), not {dbapiName!r}"
        )
    try:
        module = importlib.import_module(dbapiName)
    except ImportError as e:
        raise ImportError(
            f"ConnectionPool cannot import the database module {dbapiName!r} ({e}); "
            f"install its driver (pip install ...) or check the name"
        ) from e
    if not callable(getattr(module, "connect", None)):
        raise TypeError(
            f"{dbapiName!r} has no connect() function, so it is not a DB-API 2 module; "
            "name the driver module itself (like 'psycopg' or 'sqlite3')"
        )
    if getattr(module, "apilevel", None) != "2.0":
        _log.info(
            "adbapi: {dbapiName} does not say it is DB-API 2.0 (apilevel is {level!r})",
            dbapiName=dbapiName,
            level=getattr(module, "apilevel", None),
        )
    return module


def _refuseCoroutineFunction(f: Callable[..., object], method: str) -> None:
    if inspect.iscoroutinefunction(f):
        raise TypeError(
            f"{method}() was given the coroutine function {f!r}, but its function runs "
            "in a pool thread, where nothing would run the coroutine; pass a plain "
            "(blocking) function, and await the Deferred that "
            f"{method}() returns from your coroutine instead"
        )


def _refuseCoroutine(result: object, f: Callable[..., object]) -> None:
    if inspect.iscoroutine(result):
        result.close()
        raise TypeError(
            f"{f!r} returned a coroutine in a pool thread, where nothing would run it; "
            "database interactions must be plain (blocking) functions"
        )
