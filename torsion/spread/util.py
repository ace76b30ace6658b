"""PB utilities: local objects that act remote, and paging large data to a peer.

``LocalAsRemote`` gives a local object the ``callRemote`` interface, for code that
should not care whether its collaborator is across a connection. The pagers send a
large string or file to the peer in pages, as fast as the connection takes them (the
broker is the transport's producer), to a collector the peer passed in:
``getAllPages(ref, "getFile")`` on the caller's side gathers them into a list.

Tests: tests/spread/test_pb_util.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from torsion.internet.defer import Deferred, fail, maybeDeferred
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.spread import pb

__all__ = [
    "CallbackPageCollector",
    "FilePager",
    "LocalAsRemote",
    "LocalMethod",
    "Pager",
    "StringPager",
    "getAllPages",
]

_log = Logger()


class LocalMethod:
    """A bound ``callRemote`` of a LocalAsRemote: ``local.remoteMethod("name")(...)``."""

    def __init__(self, local: LocalAsRemote, name: str) -> None:
        self.local = local
        self.name = name

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self.local.callRemote(self.name, *args, **kw)


class LocalAsRemote:
    """A local object with a RemoteReference's ``callRemote``.

    ``callRemote("name", ...)`` calls ``sync_name(...)`` and returns its result as it
    is, if there is such a method; otherwise it calls ``async_name(...)`` and returns a
    Deferred of its result (which may itself be a Deferred or a coroutine). Failures are
    printed when ``reportAllTracebacks`` is true, as in Twisted.
    """

    reportAllTracebacks = True

    def callRemote(self, name: str, *args: Any, **kw: Any) -> Any:
        """Call ``sync_<name>`` directly, or ``async_<name>`` through a Deferred."""
        sync = getattr(self, "sync_" + name, None)
        if sync is not None:
            return sync(*args, **kw)
        method = getattr(self, "async_" + name, None)
        if method is None:
            return fail(pb.NoSuchMethod(f"No such method: async_{name}"))
        d = maybeDeferred(method, *args, **kw)
        if self.reportAllTracebacks:
            d.addErrback(self._report)
        return d

    def _report(self, failure: Failure) -> Failure:
        failure.printTraceback()
        return failure

    def remoteMethod(self, key: str) -> LocalMethod:
        """Return a callable that calls ``callRemote(key, ...)``."""
        return LocalMethod(self, key)


class Pager:
    """Sends pages to a remote collector as the connection asks for data.

    Subclasses give ``nextPage()`` and ``stillPaging()``. The collector (a remote
    reference to, typically, a CallbackPageCollector) receives ``gotPage(page)`` for
    each page and ``endedPaging()`` at the end; then ``callback(*args, **kw)`` runs here.
    """

    def __init__(
        self, collector: Any, callback: Callable[..., object] | None = None, *args: Any, **kw: Any
    ) -> None:
        self.chunks: list[bytes] = []
        self.collector = collector
        self.callback = callback
        self.callbackArgs = args
        self.callbackKeyword = kw
        self._stillPaging = True
        collector.broker.registerPageProducer(self)

    def stillPaging(self) -> bool:
        """Whether pages are left to send."""
        if not self._stillPaging:
            self.collector.callRemote("endedPaging").addErrback(self._lost)
            if self.callback is not None:
                self.callback(*self.callbackArgs, **self.callbackKeyword)
        return self._stillPaging

    def sendNextPage(self) -> None:
        """Send one page to the collector (the broker calls this)."""
        self.collector.callRemote("gotPage", self.nextPage()).addErrback(self._lost)

    def nextPage(self) -> bytes:
        """Return the next page (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must define nextPage()")

    def stopPaging(self) -> None:
        """Call from ``nextPage`` when that page is the last."""
        self._stillPaging = False

    def _lost(self, failure: Failure) -> None:
        if not failure.check(pb.PBConnectionLost, pb.DeadReferenceError):
            _log.failure("a page could not be delivered", failure)


class StringPager(Pager):
    """Pages through a bytes string, ``chunkSize`` bytes at a time."""

    def __init__(
        self,
        collector: Any,
        st: bytes,
        chunkSize: int = 8192,
        callback: Callable[..., object] | None = None,
        *args: Any,
        **kw: Any,
    ) -> None:
        if chunkSize <= 0:
            raise ValueError(f"chunkSize must be positive, not {chunkSize}")
        self.string = st
        self.pointer = 0
        self.chunkSize = chunkSize
        super().__init__(collector, callback, *args, **kw)

    def nextPage(self) -> bytes:
        """The next ``chunkSize`` bytes."""
        page = self.string[self.pointer : self.pointer + self.chunkSize]
        self.pointer += self.chunkSize
        if self.pointer >= len(self.string):
            self.stopPaging()
        return page


class FilePager(Pager):
    """Pages through an open binary file, ``chunkSize`` bytes at a time."""

    def __init__(
        self,
        collector: Any,
        fd: IO[bytes],
        callback: Callable[..., object] | None = None,
        *args: Any,
        chunkSize: int = 8192,
        **kw: Any,
    ) -> None:
        self.file = fd
        self.chunkSize = chunkSize
        self._next = fd.read(chunkSize)
        super().__init__(collector, callback, *args, **kw)
        if not self._next:
            self.stopPaging()

    def nextPage(self) -> bytes:
        """The next chunk of the file (read one ahead, to know which is the last)."""
        page = self._next
        self._next = self.file.read(self.chunkSize)
        if not self._next:
            self.stopPaging()
        return page


class CallbackPageCollector(pb.Referenceable):
    """Collects the pages a Pager sends and calls ``callback(pages)`` at the end."""

    def __init__(self, callback: Callable[[list[Any]], object]) -> None:
        self.pages: list[Any] = []
        self.callback = callback

    def remote_gotPage(self, page: Any) -> None:
        self.pages.append(page)

    def remote_endedPaging(self) -> None:
        self.callback(self.pages)


def getAllPages(referenceable: Any, methodName: str, *args: Any, **kw: Any) -> Deferred[list[Any]]:
    """Call ``methodName(collector, *args, **kw)`` remotely; fire with all the pages sent.

    The remote method is expected to start a Pager on the collector it is given.
    """
    d: Deferred[list[Any]] = Deferred()
    referenceable.callRemote(methodName, CallbackPageCollector(d.callback), *args, **kw).addErrback(
        d.errback
    )
    return d
