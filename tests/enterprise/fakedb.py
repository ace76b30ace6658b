"""A fake DB-API 2 module whose "server" can be restarted, for adbapi's reconnect tests.

``server`` stands for the database server: ``restart()`` makes every connection opened
before it fail with OperationalError (as a driver does when the server went away),
``down`` makes new connections fail too. It records what the pool did, so tests can
check which statements ran and which connections were closed.
"""

from __future__ import annotations

import threading
from typing import Any

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"


class Error(Exception):
    pass


class OperationalError(Error):
    pass


class InterfaceError(Error):
    pass


class FakeServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.down = False
        self.connections: list[FakeConnection] = []
        self.statements: list[str] = []
        self.failGoodSQL = False
        self.closedCursorFails = False

    def restart(self) -> None:
        with self.lock:
            self.generation += 1


server = FakeServer()


def reset() -> FakeServer:
    global server
    server = FakeServer()
    return server


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.connection.check()
        if server.failGoodSQL and sql == "probe":
            raise OperationalError("the probe failed")
        server.statements.append(sql)
        self.rows = [(sql, *params)]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, *args: Any, **kw: Any) -> None:
        self.args = args
        self.kw = kw
        self.generation = server.generation
        self.closed = False
        self.thread = threading.current_thread()
        self.commits = 0
        self.rollbacks = 0

    def check(self) -> None:
        if self.closed:
            raise InterfaceError("connection already closed")
        if self.generation != server.generation:
            raise OperationalError("server closed the connection unexpectedly")

    def cursor(self) -> FakeCursor:
        if server.closedCursorFails:
            self.check()
        return FakeCursor(self)

    def commit(self) -> None:
        self.check()
        self.commits += 1

    def rollback(self) -> None:
        self.check()
        self.rollbacks += 1

    def close(self) -> None:
        self.closed = True


def connect(*args: Any, **kw: Any) -> FakeConnection:
    if server.down:
        raise OperationalError("could not connect to server: Connection refused")
    connection = FakeConnection(*args, **kw)
    server.connections.append(connection)
    return connection
