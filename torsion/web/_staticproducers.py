"""The producers that stream a file's bytes to a request, for torsion.web.static.

torsion.web.static re-exports them under Twisted's names.
Tests: tests/web/test_static.py (the producer path, with slow clients, on every reactor).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO, Any

from zope.interface import implementer

from torsion.internet.interfaces import IPullProducer
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "MultipleRangeStaticProducer",
    "NoRangeStaticProducer",
    "SingleRangeStaticProducer",
    "StaticProducer",
]


@implementer(IPullProducer)
class StaticProducer:
    """Streams parts of an open file to a request as a pull producer.

    The body is `segments`, each (prefix bytes, file offset, length), then
    `trailer`: one segment for a whole file or a single range, one per range (the
    prefix its multipart header) for several. Each time the transport has sent what
    was written (resumeProducing) it writes the next chunk of at most `bufferSize`
    bytes, so no more than that is held on the server's side, however slow the
    client. A file that ends early, or cannot be read, cuts the response short: the
    connection is closed, as its Content-Length can no longer be kept.
    """

    bufferSize = 2**16

    def __init__(
        self,
        request: Any,
        fileObject: IO[bytes] | None,
        segments: Sequence[tuple[bytes, int, int]] = (),
        trailer: bytes = b"",
    ) -> None:
        self.request: Any = request
        self.fileObject = fileObject
        self.segments = list(segments)
        self.trailer = trailer
        self._index = 0
        self._done = 0  # of the current segment's file bytes
        self._prefixSent = False

    @property
    def length(self) -> int:
        """How many bytes the body has: its Content-Length."""
        return sum(len(p) + size for p, _, size in self.segments) + len(self.trailer)

    def start(self) -> None:
        """Register with the request and send the body."""
        self.request.registerProducer(self, False)

    def resumeProducing(self) -> None:
        request = self.request
        if request is None:
            return
        try:
            chunk = self._nextChunk()
        except (OSError, EOFError) as problem:
            self._cutShort(problem)
            return
        if chunk is not None:
            request.write(chunk)
            return
        if self.trailer:
            request.write(self.trailer)
        request.unregisterProducer()
        request.finish()
        self.stopProducing()

    def _nextChunk(self) -> bytes | None:
        """The next piece of the body before the trailer, or None once all is out."""
        while self._index < len(self.segments):
            prefix, offset, size = self.segments[self._index]
            head = b""
            if not self._prefixSent:
                self._prefixSent = True
                head = prefix
                if size and self.fileObject is not None:
                    self.fileObject.seek(offset)
            left = size - self._done
            if not left:
                self._index += 1
                self._done = 0
                self._prefixSent = False
                if head:
                    return head
                continue
            assert self.fileObject is not None
            data = self.fileObject.read(min(self.bufferSize, left))
            if not data:
                raise EOFError(
                    f"the file ended {left} bytes before the {size} bytes from {offset} on "
                    "(it shrank while being sent)"
                )
            self._done += len(data)
            return head + data if head else data
        return None

    def _readAll(self) -> bytes:
        """The whole body at once (for small bodies, sent in one write)."""
        parts = []
        chunk = self._nextChunk()
        while chunk is not None:
            parts.append(chunk)
            chunk = self._nextChunk()
        parts.append(self.trailer)
        return b"".join(parts)

    def _cutShort(self, problem: BaseException) -> None:
        request = self.request
        log.err(
            Failure(problem), f"Cannot go on sending {getattr(self.fileObject, 'name', 'a file')}"
        )
        self.stopProducing()
        if request.producer is self:
            request.unregisterProducer()
        request.channel.transport.loseConnection()

    def stopProducing(self) -> None:
        """Stop and close the file (the client went away, or all was sent)."""
        self.request = None
        if self.fileObject is not None:
            self.fileObject.close()


class NoRangeStaticProducer(StaticProducer):
    """A whole file."""

    def __init__(self, request: Any, fileObject: IO[bytes], size: int | None = None) -> None:
        if size is None:
            size = os.fstat(fileObject.fileno()).st_size
        super().__init__(request, fileObject, [(b"", 0, size)])


class SingleRangeStaticProducer(StaticProducer):
    """`size` bytes of a file from `offset` on."""

    def __init__(self, request: Any, fileObject: IO[bytes], offset: int, size: int) -> None:
        super().__init__(request, fileObject, [(b"", offset, size)])


class MultipleRangeStaticProducer(StaticProducer):
    """Several parts of a file, each after its separator: (separator, offset, size)."""

    def __init__(
        self,
        request: Any,
        fileObject: IO[bytes],
        rangeInfo: Sequence[tuple[bytes, int, int]],
        trailer: bytes = b"",
    ) -> None:
        super().__init__(request, fileObject, rangeInfo, trailer)
