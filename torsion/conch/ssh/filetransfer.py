"""SFTP version 3: FileTransferServer, the "sftp" subsystem of an SSH session,
serving an ISFTPServer; and the client side, FileTransferClient and openSFTP (from
_sftpclient) (torsion.conch.ssh.filetransfer).

``FileTransferServer(data, avatar=avatar)`` is what ConchUser.lookupSubsystem makes
from ``subsystemLookup = {b"sftp": FileTransferServer}``; it serves
``ISFTPServer(avatar)``, so an avatar provides ISFTPServer, adapts to it, or has a
``__conform__`` returning one (FilesystemSFTPServer(root) serves a directory).
The wire format is _sftpcodec; over stdio without SSH: ``python -m
torsion.conch.ssh.sftpstdio ROOT``. Replies are bounded: a READ returns at most
MAX_READ bytes, a READDIR at most DIR_BATCH names, and a client may hold at most
MAX_HANDLES open files and directories. While the client's window is full (a slow
reader), requests are not answered and the client gets no more window, so what the
server holds is bounded by the windows (plus one batch of answers, REPLY_BATCH).
Tests: tests/conch/test_sftp*.py.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from torsion.conch.interfaces import ISFTPFile, ISFTPServer
from torsion.conch.ssh import _sftpcodec as codec
from torsion.conch.ssh._sftpclient import (
    MAX_READ_REQUEST,
    ClientDirectory,
    ClientFile,
    FileTransferClient,
    openSFTP,
)
from torsion.conch.ssh._sftpcodec import (  # Twisted's names for the flags and statuses
    FX_BAD_MESSAGE,
    FX_CONNECTION_LOST,
    FX_EOF,
    FX_FAILURE,
    FX_NO_CONNECTION,
    FX_NO_SUCH_FILE,
    FX_OK,
    FX_OP_UNSUPPORTED,
    FX_PERMISSION_DENIED,
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
    packAttrs,
    parseAttrs,
)
from torsion.conch.ssh._sftproot import FilesystemSFTPServer, SFTPError, errorCode
from torsion.internet import defer, protocol
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "FXF_APPEND",
    "FXF_CREAT",
    "FXF_EXCL",
    "FXF_READ",
    "FXF_TRUNC",
    "FXF_WRITE",
    "FX_BAD_MESSAGE",
    "FX_CONNECTION_LOST",
    "FX_EOF",
    "FX_FAILURE",
    "FX_NO_CONNECTION",
    "FX_NO_SUCH_FILE",
    "FX_OK",
    "FX_OP_UNSUPPORTED",
    "FX_PERMISSION_DENIED",
    "MAX_HANDLES",
    "MAX_READ",
    "MAX_READ_REQUEST",
    "REPLY_BATCH",
    "ClientDirectory",
    "ClientFile",
    "FileTransferClient",
    "FileTransferServer",
    "FilesystemSFTPServer",
    "ISFTPFile",
    "ISFTPServer",
    "SFTPError",
    "errorCode",
    "openSFTP",
    "packAttrs",
    "parseAttrs",
]

_log = Logger()

#: The most a READ returns; OpenSSH's sftp asks for 32 KiB.
MAX_READ = 64 * 1024
MAX_HANDLES = 256
#: Answers are written to the channel in batches of about this many bytes.
REPLY_BATCH = 128 * 1024
DIR_BATCH = 100

_PATH_REQUESTS = {
    codec.FXP_REMOVE: "removeFile",
    codec.FXP_RMDIR: "removeDirectory",
}


_U32 = struct.Struct("!L")


def _then(result: Any, then: Callable[[Any], Any]) -> Any:
    """``then(result)`` now, or when ``result`` fires if it is a Deferred (an
    ISFTPFile may answer either way)."""
    if isinstance(result, defer.Deferred):
        return result.addCallback(then)
    return then(result)


class FileTransferServer(protocol.Protocol):
    """Serves SFTP v3 requests from the bytes of a session channel (or stdio)."""

    def __init__(self, data: bytes | None = None, avatar: Any = None) -> None:
        self.avatar = avatar
        self.client: Any = ISFTPServer(avatar)
        self.reader = codec.PacketReader()
        self.openFiles: dict[bytes, Any] = {}
        self.openDirs: dict[bytes, Any] = {}
        self.nextHandle = 0
        self.versionSeen = False
        self.paused = False
        self.pending: deque[tuple[int, bytes]] = deque()
        self._batch: list[bytes] | None = None  # answers not written yet (see _serve)
        self._batched = 0

    def dataReceived(self, data: bytes) -> None:
        try:
            self.pending.extend(self.reader.feed(data))
        except codec.SFTPCodecError as e:
            self._broken(e)
            return
        self._serve()

    def _serve(self) -> None:
        """Answer the requests that came, until the client's window is full.

        The answers are written in batches of about REPLY_BATCH bytes rather than
        one by one: the channel cuts what it is given into packets of the client's
        maximum size, and a 32 KiB READ answer written alone would become a full
        packet and a 13-byte one, twice the packets (and their encryption)."""
        if self._batch is not None:
            return  # called back from inside the loop below (a resume while writing)
        self._batch = []
        try:
            while self.pending and not self.paused:
                kind, body = self.pending.popleft()
                self._dispatch(kind, body)
        except codec.SFTPCodecError as e:
            self._broken(e)
        finally:
            self._flush()
            self._batch = None

    def _send(self, *pieces: bytes) -> None:
        """Write one answer, given as the pieces of its bytes."""
        if self.transport is None:
            return
        if self._batch is None:
            self.transport.write(b"".join(pieces))
            return
        self._batch.extend(pieces)
        self._batched += sum(map(len, pieces))
        if self._batched >= REPLY_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            waiting, self._batch = self._batch, []
            self._batched = 0
            if self.transport is not None:
                self.transport.write(b"".join(waiting))

    def _broken(self, error: codec.SFTPCodecError) -> None:
        _log.info("SFTP: {error}; closing", error=error)
        self.pending.clear()
        self.transport.loseConnection()

    # The channel is our consumer: while the client's window is full we answer
    # nothing and grant no window, so requests wait in the client, not here.
    def pauseProducing(self) -> None:
        if not self.paused:
            self.paused = True
            pause = getattr(self.transport, "pauseProducing", None)
            if pause is not None:
                pause()

    def resumeProducing(self) -> None:
        if self.paused:
            self.paused = False
            self._serve()
            resume = getattr(self.transport, "resumeProducing", None)
            if resume is not None and not self.paused:
                resume()

    def _dispatch(self, kind: int, body: bytes) -> None:
        reader = codec.Reader(body)
        if kind == codec.FXP_INIT:
            if self.versionSeen:
                raise codec.SFTPCodecError("a second INIT")
            self.versionSeen = True
            version = reader.uint32()
            ext = self.client.gotVersion(version, {})
            fields = [struct.pack("!L", codec.VERSION)]
            for name, value in ext.items():
                fields.append(codec.string(name) + codec.string(value))
            self._send(codec.packet(codec.FXP_VERSION, *fields))
            return
        if not self.versionSeen:
            raise codec.SFTPCodecError(f"packet type {kind} before INIT")
        requestId = reader.uint32()
        handler = getattr(self, f"_packet_{kind}", None)
        if handler is None:
            self._send(codec.status(requestId, codec.FX_OP_UNSUPPORTED, f"packet type {kind}"))
            return
        # Most answers are ready at once (a file read or written in place): those are
        # sent without a Deferred each; a handler may also return one.
        try:
            result = handler(reader)
        except Exception:
            self._fail(requestId, Failure())
            return
        if isinstance(result, defer.Deferred):
            result.addCallbacks(
                lambda reply: self._reply(requestId, reply),
                lambda failure: self._fail(requestId, failure),
            )
        else:
            self._reply(requestId, result)

    def _reply(self, requestId: int, reply: tuple[Any, ...] | None) -> None:
        """Send an answer: None is FX_OK, else (packet type, encoded fields...)."""
        if self.transport is None:
            return
        if reply is None:
            self._send(codec.status(requestId, codec.FX_OK, "ok"))
        else:
            kind, *fields = reply
            self._send(*codec.packetParts(kind, _U32.pack(requestId), *fields))

    def _fail(self, requestId: int, failure: Failure) -> None:
        if isinstance(failure.value, codec.SFTPCodecError):
            code, message = codec.FX_BAD_MESSAGE, str(failure.value)
        else:
            code, message = errorCode(failure.value)
            if code == codec.FX_FAILURE and not isinstance(failure.value, (OSError, SFTPError)):
                _log.failure("SFTP: a request failed", failure)
        if self.transport is not None:
            self._send(codec.status(requestId, code, message))

    def _newHandle(self, table: dict[bytes, Any], value: Any) -> tuple[int, bytes]:
        if len(self.openFiles) + len(self.openDirs) >= MAX_HANDLES:
            value.close()
            raise SFTPError(codec.FX_FAILURE, f"{MAX_HANDLES} handles open; close some")
        self.nextHandle += 1
        handle = b"%d" % self.nextHandle
        table[handle] = value
        return codec.FXP_HANDLE, codec.string(handle)

    def _file(self, reader: codec.Reader) -> Any:
        handle = reader.string()
        opened = self.openFiles.get(handle)
        if opened is None:
            raise SFTPError(codec.FX_FAILURE, "no such open file")
        return opened

    @staticmethod
    def _name(entries: list[tuple[bytes, bytes, dict[str, Any]]]) -> tuple[int, bytes]:
        fields = [struct.pack("!L", len(entries))]
        for filename, longname, attrs in entries:
            fields.append(codec.string(filename) + codec.string(longname) + packAttrs(attrs))
        return codec.FXP_NAME, b"".join(fields)

    def _packet_3(self, reader: codec.Reader) -> Any:  # OPEN
        filename, flags, attrs = reader.string(), reader.uint32(), reader.attrs()
        d = defer.maybeDeferred(self.client.openFile, filename, flags, attrs)
        return d.addCallback(lambda opened: self._newHandle(self.openFiles, opened))

    def _packet_4(self, reader: codec.Reader) -> Any:  # CLOSE
        handle = reader.string()
        opened = self.openFiles.pop(handle, None) or self.openDirs.pop(handle, None)
        if opened is None:
            raise SFTPError(codec.FX_FAILURE, "no such handle")
        return defer.maybeDeferred(opened.close).addCallback(lambda _: None)

    def _packet_5(self, reader: codec.Reader) -> Any:  # READ
        opened = self._file(reader)
        offset, length = reader.uint64(), reader.uint32()
        # The data as a field of its own: it is copied once, into a batch of answers.
        return _then(
            opened.readChunk(offset, min(length, MAX_READ)),
            lambda data: (codec.FXP_DATA, _U32.pack(len(data)), data),
        )

    def _packet_6(self, reader: codec.Reader) -> Any:  # WRITE
        opened = self._file(reader)
        offset, data = reader.uint64(), reader.string()
        return _then(opened.writeChunk(offset, data), lambda _: None)

    def _stat(self, reader: codec.Reader, followLinks: bool) -> Any:
        d = defer.maybeDeferred(self.client.getAttrs, reader.string(), followLinks)
        return d.addCallback(lambda attrs: (codec.FXP_ATTRS, packAttrs(attrs)))

    def _packet_7(self, reader: codec.Reader) -> Any:  # LSTAT
        return self._stat(reader, False)

    def _packet_17(self, reader: codec.Reader) -> Any:  # STAT
        return self._stat(reader, True)

    def _packet_8(self, reader: codec.Reader) -> Any:  # FSTAT
        d = defer.maybeDeferred(self._file(reader).getAttrs)
        return d.addCallback(lambda attrs: (codec.FXP_ATTRS, packAttrs(attrs)))

    def _packet_9(self, reader: codec.Reader) -> Any:  # SETSTAT
        path, attrs = reader.string(), reader.attrs()
        return defer.maybeDeferred(self.client.setAttrs, path, attrs).addCallback(lambda _: None)

    def _packet_10(self, reader: codec.Reader) -> Any:  # FSETSTAT
        opened = self._file(reader)
        attrs = reader.attrs()
        return defer.maybeDeferred(opened.setAttrs, attrs).addCallback(lambda _: None)

    def _packet_11(self, reader: codec.Reader) -> Any:  # OPENDIR
        d = defer.maybeDeferred(self.client.openDirectory, reader.string())
        return d.addCallback(lambda opened: self._newHandle(self.openDirs, opened))

    def _packet_12(self, reader: codec.Reader) -> Any:  # READDIR
        opened = self.openDirs.get(reader.string())
        if opened is None:
            raise SFTPError(codec.FX_FAILURE, "no such open directory")
        entries = []
        for entry in opened:
            entries.append(entry)
            if len(entries) >= DIR_BATCH:
                break
        if not entries:
            raise EOFError
        return self._name(entries)

    def _packet_13(self, reader: codec.Reader) -> Any:  # REMOVE
        return defer.maybeDeferred(self.client.removeFile, reader.string()).addCallback(
            lambda _: None
        )

    def _packet_14(self, reader: codec.Reader) -> Any:  # MKDIR
        path, attrs = reader.string(), reader.attrs()
        d = defer.maybeDeferred(self.client.makeDirectory, path, attrs)
        return d.addCallback(lambda _: None)

    def _packet_15(self, reader: codec.Reader) -> Any:  # RMDIR
        return defer.maybeDeferred(self.client.removeDirectory, reader.string()).addCallback(
            lambda _: None
        )

    def _packet_16(self, reader: codec.Reader) -> Any:  # REALPATH
        d = defer.maybeDeferred(self.client.realPath, reader.string())
        return d.addCallback(lambda path: self._name([(path, path, {})]))

    def _packet_18(self, reader: codec.Reader) -> Any:  # RENAME
        old, new = reader.string(), reader.string()
        return defer.maybeDeferred(self.client.renameFile, old, new).addCallback(lambda _: None)

    def _packet_19(self, reader: codec.Reader) -> Any:  # READLINK
        d = defer.maybeDeferred(self.client.readLink, reader.string())
        return d.addCallback(lambda target: self._name([(target, target, {})]))

    def _packet_20(self, reader: codec.Reader) -> Any:  # SYMLINK
        # OpenSSH's order (target, then the link), which its clients send; the draft
        # says the reverse, but no common client follows it.
        target, link = reader.string(), reader.string()
        d = defer.maybeDeferred(self.client.makeLink, link, target)
        return d.addCallback(lambda _: None)

    def _packet_200(self, reader: codec.Reader) -> Any:  # EXTENDED
        name = reader.string()
        d = defer.maybeDeferred(self.client.extendedRequest, name, reader.rest())
        # An extension that only succeeds or fails (posix-rename) answers with a STATUS.
        return d.addCallback(
            lambda data: None if data is None else (codec.FXP_EXTENDED_REPLY, data)
        )

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        for table in (self.openFiles, self.openDirs):
            for opened in table.values():
                try:
                    opened.close()
                except Exception:
                    _log.failure("SFTP: closing a handle failed")
            table.clear()
