"""A web guestbook: torsion.web pages, torsion.web.template HTML, adbapi storage.

Run it and open http://127.0.0.1:8080/ in a browser:

    python examples/web/guestbook.py [--port N] [--db guestbook.db]
    python examples/web/guestbook.py --db postgresql://user:secret@127.0.0.1/guestbook

The entries live in a sqlite3 file (guestbook.db in the current directory by default)
or, with a postgresql:// URL, in PostgreSQL through psycopg (pip install psycopg). The
page's handlers are coroutines that await the pool's Deferreds; the queries run in
the pool's threads, so the reactor keeps serving while the database works. Every
entry is text in the page: the template escapes it, so "<script>" shows as typed.
After a post the browser is redirected back to the page (Post/Redirect/Get). Try it
from the shell too:

    curl -d name=Ann -d message=Hello http://127.0.0.1:8080/

Tests: tests/examples/test_guestbook.py.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from torsion.enterprise.adbapi import ConnectionPool, Transaction
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import flattenString, tags

MAX_NAME = 80
MAX_MESSAGE = 2000
SHOWN = 50


class Guestbook:
    """The entries table, over a ConnectionPool to sqlite3 or PostgreSQL."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.postgres = pool.dbapiName == "psycopg"
        # The drivers' paramstyles differ: qmark for sqlite3, format for psycopg.
        self.mark = "%s" if self.postgres else "?"

    def create(self) -> Any:
        """Create the table if it is not there (a Deferred)."""
        key = "BIGINT GENERATED ALWAYS AS IDENTITY" if self.postgres else "INTEGER"
        return self.pool.runOperation(
            f"CREATE TABLE IF NOT EXISTS entries "
            f"(id {key} PRIMARY KEY, name TEXT NOT NULL, message TEXT NOT NULL)"
        )

    def add(self, name: str, message: str) -> Any:
        """Store an entry (a Deferred)."""
        return self.pool.runOperation(
            f"INSERT INTO entries (name, message) VALUES ({self.mark}, {self.mark})",
            (name, message),
        )

    def latest(self) -> Any:
        """The newest entries, newest first (a Deferred of (name, message) rows)."""

        def read(txn: Transaction) -> list[tuple[str, str]]:
            txn.execute(f"SELECT name, message FROM entries ORDER BY id DESC LIMIT {SHOWN}")
            return [(name, message) for name, message in txn.fetchall()]

        return self.pool.runInteraction(read)


class Page(Resource):
    """/: the entries and the form; a POST adds an entry and redirects back."""

    isLeaf = True

    def __init__(self, book: Guestbook) -> None:
        super().__init__()
        self.book = book

    async def render_GET(self, request: Any) -> bytes:
        entries = await self.book.latest()
        return await self.page(request, entries, "")

    async def render_POST(self, request: Any) -> bytes:
        name = field(request, "name").strip()
        message = field(request, "message").strip()
        problem = ""
        if not name or not message:
            problem = "Please give a name and a message."
        elif len(name) > MAX_NAME or len(message) > MAX_MESSAGE:
            problem = f"Names have at most {MAX_NAME} characters, messages {MAX_MESSAGE}."
        if problem:
            request.setResponseCode(400)
            return await self.page(request, await self.book.latest(), problem)
        await self.book.add(name, message)
        request.setResponseCode(303)
        request.setHeader(b"location", b"/")
        return b""

    async def page(self, request: Any, entries: list[tuple[str, str]], problem: str) -> bytes:
        document = tags.html(lang="en")(
            tags.head(tags.meta(charset="utf-8"), tags.title("Guestbook")),
            tags.body(
                tags.h1("Guestbook"),
                tags.p(class_="problem")(problem) if problem else "",
                tags.form(method="post", action="/")(
                    tags.p(tags.label("Name ", tags.input(name="name", maxlength=str(MAX_NAME)))),
                    tags.p(tags.label("Message ", tags.textarea(name="message"))),
                    tags.p(tags.button(type="submit")("Sign the guestbook")),
                ),
                tags.ul(class_="entries")(
                    [tags.li(tags.b(name), ": ", message) for name, message in entries]
                ),
            ),
        )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        body: bytes = await flattenString(request, document)
        return b"<!DOCTYPE html>\n" + body


def field(request: Any, name: str) -> str:
    values = request.args.get(name.encode(), [b""])
    return bytes(values[0]).decode("utf-8", "replace")


def openPool(db: str, reactor: Any = None) -> ConnectionPool:
    """A pool for ``db``: a postgresql:// URL (psycopg) or a sqlite3 file name."""
    if db.startswith(("postgresql://", "postgres://")):
        return ConnectionPool("psycopg", db, cp_reconnect=True, cp_reactor=reactor)
    return ConnectionPool("sqlite3", db.removeprefix("sqlite:///"), cp_reactor=reactor)


def makeSite(book: Guestbook, reactor: Any = None) -> Site:
    root = Resource()
    root.putChild(b"", Page(book))
    return Site(root, reactor=reactor)


def main() -> None:
    from torsion.internet import reactor

    parser = argparse.ArgumentParser(description="serve a guestbook kept in a database")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--db",
        default="guestbook.db",
        help="a sqlite3 file (default guestbook.db) or a postgresql://... URL",
    )
    options = parser.parse_args()
    book = Guestbook(openPool(options.db))

    def started(port: Any) -> None:
        print(f"guestbook on http://127.0.0.1:{port.getHost().port}/ storing in {options.db}")

    problems: list[str] = []

    def failed(failure: Any) -> None:
        problems.append(f"cannot start the guestbook on {options.db}: {failure.value}")
        reactor.stop()  # type: ignore[attr-defined]

    def start() -> None:
        d = book.create()
        d.addCallback(
            lambda _: reactor.listenTCP(  # type: ignore[attr-defined]
                options.port, makeSite(book), interface="127.0.0.1"
            )
        )
        d.addCallbacks(started, failed)

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    main()
