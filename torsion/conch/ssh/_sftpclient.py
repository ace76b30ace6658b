"""SFTP version 3, the client side: FileTransferClient and the files and
directories it opens (torsion.conch.ssh._sftpclient, exported by filetransfer).

`FileTransferClient` is a protocol: connect it to anything that carries the SFTP
byte stream, an SSH session channel that asked for the "sftp" subsystem
(`openSFTP(connection)` does that) or the stdio of an ``sftp-server`` process.
Each request method returns a Deferred of its answer; a refusal fails it with
SFTPError(code, message), the end of a file or directory with EOFError, and a lost
connection fails every request still waiting. Requests may be sent without waiting
for earlier answers (that is how a transfer stays fast); ``whenReady()`` fires with
the server's version. What the server sends is bounded: a packet over
MAX_REPLY_PACKET ends the connection rather than being buffered.
Tests: tests/conch/test_sftp_client.py.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import Any

from zope.interface import implementer

from torsion.conch.error import ConchError
from torsion.conch.interfaces import ISFTPFile
from torsion.conch.ssh import _sftpcodec as codec
from torsion.conch.ssh._sftpcodec import packAttrs, parseAttrs
from torsion.conch.ssh._sftproot import SFTPError
from torsion.conch.ssh.channel import SSHChannel
from torsion.conch.ssh.common import NS
from torsion.internet import defer, error, protocol
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["MAX_READ_REQUEST", "ClientDirectory", "ClientFile", "FileTransferClient", "openSFTP"]

_log = Logger()

#: The most one readChunk asks for; a server may answer with less (OpenSSH's
#: sftp-server gives at most 256 KiB), and a caller reads on from where it ended.
MAX_READ_REQUEST = 256 * 1024
#: The largest packet accepted from a server: a full read plus its framing.
MAX_REPLY_PACKET = MAX_READ_REQUEST + 1024

Entry = tuple[bytes, bytes, dict[str, Any]]


class FileTransferClient(protocol.Protocol):
    """Twisted's FileTransferClient: sends INIT on connection, then requests."""

    def __init__(self, extData: dict[bytes, bytes] | None = None) -> None:
        self.extData = dict(extData or {})
        self.reader = codec.PacketReader(MAX_REPLY_PACKET)
        self.waiting: dict[int, defer.Deferred[Any]] = {}
        self.nextRequest = 0
        self.version: int | None = None
        self.serverExtensions: dict[bytes, bytes] = {}
        self._ready: list[defer.Deferred[int]] = []
        self._lost: Failure | None = None

    # -- the stream ----------------------------------------------------------------------

    def connectionMade(self) -> None:
        fields = [struct.pack("!L", codec.VERSION)]
        fields += [codec.string(k) + codec.string(v) for k, v in self.extData.items()]
        self.transport.write(codec.packet(codec.FXP_INIT, *fields))

    def dataReceived(self, data: bytes) -> None:
        try:
            for kind, body in self.reader.feed(data):
                self._dispatch(kind, codec.Reader(body))
        except codec.SFTPCodecError as e:
            _log.info("SFTP client: the server sent {error}; closing", error=e)
            self._failAll(Failure(e))
            self.transport.loseConnection()

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        why = getattr(reason, "value", reason)
        self._failAll(Failure(error.ConnectionLost(f"the SFTP connection ended: {why}")))

    def _failAll(self, reason: Failure) -> None:
        self._lost = reason
        waiting, self.waiting = self.waiting, {}
        ready, self._ready = self._ready, []
        for waiter in [*waiting.values(), *ready]:
            waiter.errback(reason)

    def _dispatch(self, kind: int, reader: codec.Reader) -> None:
        if kind == codec.FXP_VERSION:
            self.version = reader.uint32()
            while reader.offset < len(reader.data):
                name = reader.string()
                self.serverExtensions[name] = reader.string()
            self.gotServerVersion(self.version, dict(self.serverExtensions))
            ready, self._ready = self._ready, []
            for waiter in ready:
                waiter.callback(self.version)
            return
        requestId = reader.uint32()
        d = self.waiting.pop(requestId, None)
        if d is None:
            raise codec.SFTPCodecError(f"an answer to request {requestId}, which was not asked")
        if kind == codec.FXP_STATUS:
            code = reader.uint32()
            message = (
                reader.string().decode("utf-8", "replace") if reader.data[reader.offset :] else ""
            )
            if code == codec.FX_OK:
                d.callback(None)
            elif code == codec.FX_EOF:
                d.errback(EOFError(message or "end of file"))
            else:
                d.errback(SFTPError(code, message))
        elif kind == codec.FXP_HANDLE or kind == codec.FXP_DATA:
            d.callback(reader.string())
        elif kind == codec.FXP_NAME:
            count = reader.uint32()
            if count > 100_000:
                raise codec.SFTPCodecError(f"a NAME reply of {count} entries")
            d.callback(
                [(reader.string(), reader.string(), parseAttrs(reader)) for _ in range(count)]
            )
        elif kind == codec.FXP_ATTRS:
            d.callback(parseAttrs(reader))
        elif kind == codec.FXP_EXTENDED_REPLY:
            d.callback(reader.rest())
        else:
            d.errback(SFTPError(codec.FX_BAD_MESSAGE, f"an unknown reply type {kind}"))

    def gotServerVersion(self, serverVersion: int, extData: dict[bytes, bytes]) -> None:
        """The server answered INIT (override to look at its extensions)."""

    def whenReady(self) -> defer.Deferred[int]:
        """A Deferred of the server's SFTP version, once it has answered INIT."""
        if self._lost is not None:
            return defer.fail(self._lost)
        if self.version is not None:
            return defer.succeed(self.version)
        d: defer.Deferred[int] = defer.Deferred()
        self._ready.append(d)
        return d

    def _request(self, kind: int, *fields: bytes) -> defer.Deferred[Any]:
        if self._lost is not None:
            return defer.fail(self._lost)
        self.nextRequest = (self.nextRequest + 1) & 0xFFFFFFFF
        requestId = self.nextRequest
        d: defer.Deferred[Any] = defer.Deferred()
        self.waiting[requestId] = d
        self.transport.write(codec.packet(kind, struct.pack("!L", requestId), *fields))
        return d

    @staticmethod
    def _one(names: list[Entry]) -> bytes:
        if len(names) != 1:
            raise SFTPError(codec.FX_BAD_MESSAGE, f"{len(names)} names where one was expected")
        return names[0][0]

    # -- requests (Twisted's names) ------------------------------------------------------

    def openFile(self, filename: bytes, flags: int, attrs: dict[str, Any]) -> defer.Deferred[Any]:
        """Open a file with FXF_* flags; a Deferred of a ClientFile."""
        d = self._request(
            codec.FXP_OPEN, codec.string(filename), struct.pack("!L", flags), packAttrs(attrs)
        )
        return d.addCallback(lambda handle: ClientFile(self, handle))

    def openDirectory(self, path: bytes) -> defer.Deferred[Any]:
        """Open a directory; a Deferred of a ClientDirectory."""
        d = self._request(codec.FXP_OPENDIR, codec.string(path))
        return d.addCallback(lambda handle: ClientDirectory(self, handle))

    def removeFile(self, filename: bytes) -> defer.Deferred[None]:
        return self._request(codec.FXP_REMOVE, codec.string(filename))

    def renameFile(self, oldpath: bytes, newpath: bytes) -> defer.Deferred[None]:
        return self._request(codec.FXP_RENAME, codec.string(oldpath), codec.string(newpath))

    def makeDirectory(self, path: bytes, attrs: dict[str, Any]) -> defer.Deferred[None]:
        return self._request(codec.FXP_MKDIR, codec.string(path), packAttrs(attrs))

    def removeDirectory(self, path: bytes) -> defer.Deferred[None]:
        return self._request(codec.FXP_RMDIR, codec.string(path))

    def getAttrs(self, path: bytes, followLinks: bool = False) -> defer.Deferred[dict[str, Any]]:
        """STAT (following links) or LSTAT of ``path``."""
        kind = codec.FXP_STAT if followLinks else codec.FXP_LSTAT
        return self._request(kind, codec.string(path))

    def setAttrs(self, path: bytes, attrs: dict[str, Any]) -> defer.Deferred[None]:
        return self._request(codec.FXP_SETSTAT, codec.string(path), packAttrs(attrs))

    def realPath(self, path: bytes) -> defer.Deferred[bytes]:
        """The server's absolute form of ``path``."""
        return self._request(codec.FXP_REALPATH, codec.string(path)).addCallback(self._one)

    def readLink(self, path: bytes) -> defer.Deferred[bytes]:
        return self._request(codec.FXP_READLINK, codec.string(path)).addCallback(self._one)

    def makeLink(self, linkPath: bytes, targetPath: bytes) -> defer.Deferred[None]:
        """Make ``linkPath`` a symbolic link to ``targetPath``. The argument order on
        the wire is OpenSSH's (target first), which every common server expects,
        although the draft says the opposite."""
        return self._request(codec.FXP_SYMLINK, codec.string(targetPath), codec.string(linkPath))

    def extendedRequest(self, request: bytes, data: bytes) -> defer.Deferred[bytes | None]:
        """A vendor extension (``request`` like b"statvfs@openssh.com"): its reply
        bytes, or None where the server answers with a plain success."""
        return self._request(codec.FXP_EXTENDED, codec.string(request), data)


@implementer(ISFTPFile)
class ClientFile:
    """A file open on the server (an ISFTPFile whose methods return Deferreds)."""

    def __init__(self, client: FileTransferClient, handle: bytes) -> None:
        self.client = client
        self.handle = handle

    def readChunk(self, offset: int, length: int) -> defer.Deferred[bytes]:
        """Up to ``length`` bytes at ``offset`` (at most MAX_READ_REQUEST are asked
        for); fails with EOFError at the end."""
        length = min(length, MAX_READ_REQUEST)
        return self.client._request(
            codec.FXP_READ, codec.string(self.handle), struct.pack("!QL", offset, length)
        )

    def writeChunk(self, offset: int, data: bytes) -> defer.Deferred[None]:
        return self.client._request(
            codec.FXP_WRITE,
            codec.string(self.handle),
            struct.pack("!Q", offset),
            codec.string(data),
        )

    def getAttrs(self) -> defer.Deferred[dict[str, Any]]:
        return self.client._request(codec.FXP_FSTAT, codec.string(self.handle))

    def setAttrs(self, attrs: dict[str, Any]) -> defer.Deferred[None]:
        return self.client._request(codec.FXP_FSETSTAT, codec.string(self.handle), packAttrs(attrs))

    def close(self) -> defer.Deferred[None]:
        return self.client._request(codec.FXP_CLOSE, codec.string(self.handle))


class ClientDirectory:
    """A directory open on the server: ``read()`` gives the next batch of
    (filename, longname, attrs) entries and fails with EOFError after the last;
    ``async for entry in directory`` walks them all."""

    def __init__(self, client: FileTransferClient, handle: bytes) -> None:
        self.client = client
        self.handle = handle

    def read(self) -> defer.Deferred[list[Entry]]:
        return self.client._request(codec.FXP_READDIR, codec.string(self.handle))

    async def __aiter__(self) -> AsyncIterator[Entry]:
        while True:
            try:
                batch = await self.read()
            except EOFError:
                return
            for entry in batch:
                yield entry

    def close(self) -> defer.Deferred[None]:
        return self.client._request(codec.FXP_CLOSE, codec.string(self.handle))


class _SFTPChannel(SSHChannel):
    """A session channel that asks for the "sftp" subsystem and then carries the
    client's byte stream."""

    name = b"session"

    def __init__(
        self,
        client: FileTransferClient,
        ready: defer.Deferred[Any],
        command: bytes | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.client = client
        self.ready: defer.Deferred[Any] | None = ready
        self.command = command

    def channelOpen(self, specificData: bytes) -> None:
        if self.command is None:
            request, data = b"subsystem", NS(b"sftp")
        else:
            request, data = b"exec", NS(self.command)
        d = self.conn.sendRequest(self, request, data, wantReply=True)
        d.addCallbacks(self._started, self._refused)

    def _started(self, _: object) -> None:
        self.client.makeConnection(self)
        ready, self.ready = self.ready, None
        if ready is not None:
            ready.callback(self.client)

    def _refused(self, reason: Failure) -> None:
        self.openFailed(reason.value)
        self.loseConnection()

    def openFailed(self, reason: Any) -> None:
        ready, self.ready = self.ready, None
        if ready is not None:
            ready.errback(ConchError(f"the server refused SFTP: {reason}"))

    def dataReceived(self, data: bytes) -> None:
        self.client.dataReceived(data)

    def eofReceived(self) -> None:
        self.loseConnection()

    def closed(self) -> None:
        self.openFailed("the channel closed")
        if self.client.transport is not None:
            self.client.connectionLost(Failure(error.ConnectionDone("the channel closed")))


def openSFTP(
    connection: Any, client: FileTransferClient | None = None, command: bytes | None = None
) -> defer.Deferred[FileTransferClient]:
    """Open an SFTP session on an SSH connection (an SSHConnection service that
    logged in): a Deferred of the FileTransferClient, fired once the server has
    started the "sftp" subsystem, or, with ``command`` (like ``sftp -s PATH``), run
    that SFTP server program; the client's ``whenReady()`` then gives the version."""
    ready: defer.Deferred[FileTransferClient] = defer.Deferred()
    channel = _SFTPChannel(client or FileTransferClient(), ready, command, conn=connection)
    connection.openChannel(channel)
    return ready
