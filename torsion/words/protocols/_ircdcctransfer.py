"""DCC transfers: sending and receiving files, and DCC CHAT, over direct TCP connections.

A DCC SEND offer names an address and port; the receiver connects there and the
sender streams the file, while the receiver acknowledges the running total of bytes
received as a 32-bit big-endian number. ``DccSendProtocol``/``DccSendFactory`` are the
sending side (used by ``IRCClient.dccSend``), ``DccFileReceive`` the receiving side,
``DccChat``/``DccChatFactory`` a line-based chat whose lines go to the IRC client's
``privmsg``. Twisted's names; unlike Twisted's, the receiver never writes outside its
directory (the offered name is reduced to a plain file name), refuses files over
``maxSize`` and does not overwrite unless told to, and the sender keeps a window of
unacknowledged bytes in flight instead of waiting for each block's acknowledgement.
Import these names from ``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_dcc.py.
"""

from __future__ import annotations

import os
import struct
from typing import IO, Any

from torsion.internet.defer import Deferred
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.words.protocols._irccodec import LineFramer, decodeLine

__all__ = [
    "DccChat",
    "DccChatFactory",
    "DccFileReceive",
    "DccFileReceiveBasic",
    "DccSendFactory",
    "DccSendProtocol",
    "safeFileName",
]

_log = Logger()
_ACK = struct.Struct("!I")


def safeFileName(name: str) -> str:
    """Reduce a file name offered by a peer to a plain name inside the target directory.

    Directories (``../``, ``/etc/``, ``C:\\``) are dropped, leading dots removed (no
    hidden or relative names), control characters replaced; an empty result
    becomes ``"dcc"``.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join("_" if ord(c) < 32 or c == "\x7f" else c for c in base).lstrip(". ")
    return base[:200] or "dcc"


class DccFileReceiveBasic(Protocol):
    """Counts the bytes received and acknowledges each chunk with the running total."""

    bytesReceived = 0

    def __init__(self, resumeOffset: int = 0) -> None:
        self.bytesReceived = resumeOffset
        self.resume = resumeOffset != 0

    def dataReceived(self, data: bytes) -> None:
        """Count ``data`` and acknowledge (modulo 2**32, as DCC does past 4 GiB)."""
        self.bytesReceived += len(data)
        self.transport.write(_ACK.pack(self.bytesReceived & 0xFFFFFFFF))


class DccFileReceive(DccFileReceiveBasic):
    """Receives one offered file into ``destDir``.

    Attributes:
        maxSize: the largest file accepted, in bytes (an offer announcing more, or
            a transfer going past it, is cut off).
        overwrite: whether an existing file of that name may be replaced.
        done: a Deferred that fires with the number of bytes received when the
            connection closes after the whole announced size arrived, and fails
            otherwise.
    """

    filename = "dcc"
    fileSize = -1
    destDir = "."
    overwrite = 0
    maxSize = 1 << 30
    fromUser: str | None = None
    queryData: Any = None
    file: IO[bytes] | None = None
    _why: str | None = None

    def __init__(
        self,
        filename: str,
        fileSize: int = -1,
        queryData: Any = None,
        destDir: str = ".",
        resumeOffset: int = 0,
    ) -> None:
        super().__init__(resumeOffset)
        self.filename = safeFileName(filename)
        self.destDir = destDir
        self.fileSize = fileSize
        self.resumeOffset = resumeOffset
        self.done: Deferred[int] = Deferred()
        if queryData:
            self.queryData = queryData
            self.fromUser = str(queryData[0]).split("!", 1)[0]

    def set_directory(self, directory: str) -> None:
        """Receive into ``directory`` (which must exist)."""
        if not os.path.isdir(directory):
            raise OSError(f"{directory!r} is not a directory to receive DCC files into")
        self.destDir = directory

    def set_filename(self, filename: str) -> None:
        """Save under ``filename`` (reduced to a plain name) instead of the offered one."""
        self.filename = safeFileName(filename)

    def set_overwrite(self, boolean: bool) -> None:
        """Allow or forbid replacing an existing file."""
        self.overwrite = int(boolean)

    @property
    def path(self) -> str:
        """Where the file is written."""
        return os.path.join(os.path.abspath(self.destDir), self.filename)

    def _refuse(self, why: str) -> None:
        _log.warn(
            "refused the DCC file {name} from {user}: {why}",
            name=self.filename,
            user=self.fromUser,
            why=why,
        )
        self._why = why
        self.transport.loseConnection()

    def connectionMade(self) -> None:
        """Open the file (or refuse: too big, or in the way); then receive."""
        self._why: str | None = None
        if self.fileSize > self.maxSize:
            self._refuse(f"it has {self.fileSize} bytes, more than maxSize ({self.maxSize})")
            return
        target = self.path
        exists = os.path.exists(target)
        try:
            if self.resume and exists:
                self.file = open(target, "rb+")  # noqa: SIM115 - held open for the transfer
                self.file.seek(self.resumeOffset)
                self.file.truncate()
            elif exists and not self.overwrite:
                self._refuse(f"{target} exists; call set_overwrite(True) to replace it")
                return
            else:
                self.file = open(target, "wb")  # noqa: SIM115
        except OSError as e:
            self._refuse(f"cannot write {target}: {e.strerror}")

    def dataReceived(self, data: bytes) -> None:
        """Write ``data``, acknowledge it, and close once the announced size is in."""
        if self.file is None:
            return
        if self.bytesReceived + len(data) > self.maxSize:
            self._refuse(f"it went past maxSize ({self.maxSize} bytes)")
            return
        self.file.write(data)
        super().dataReceived(data)
        if 0 <= self.fileSize <= self.bytesReceived:
            self.transport.loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        """Close the file; fire ``done``."""
        super().connectionLost(reason)
        if self.file is not None:
            self.file.close()
        if self._why is None and (self.fileSize < 0 or self.bytesReceived >= self.fileSize):
            self.done.callback(self.bytesReceived)
        else:
            why = self._why or (
                f"the connection closed after {self.bytesReceived} of {self.fileSize} bytes"
            )
            self.done.errback(Failure(OSError(f"the DCC file {self.filename} failed: {why}")))


class DccSendProtocol(Protocol):
    """Sends one file to the peer that connected, ``window`` bytes ahead of its acks.

    Attributes:
        bytesSent: how much was written so far.
        completed: true once the peer acknowledged the whole file.
    """

    blocksize = 16384
    window = 262144
    bytesSent = 0
    completed = 0
    file: IO[bytes]

    def __init__(self, file: IO[bytes] | str) -> None:
        if isinstance(file, str):
            file = open(file, "rb")  # noqa: SIM115 - closed in connectionLost
        self.file = file
        self._acked = 0
        self._ackBuffer = b""
        self._eof = False

    def connectionMade(self) -> None:
        """Start sending."""
        self.sendBlock()

    def sendBlock(self) -> None:
        """Write blocks while fewer than ``window`` bytes wait for acknowledgement."""
        if self.completed:
            return
        while not self._eof and self.bytesSent - self._acked < self.window:
            block = self.file.read(self.blocksize)
            if not block:
                self._eof = True
                break
            self.transport.write(block)
            self.bytesSent += len(block)
        if self._eof and self._acked >= self.bytesSent:
            self.completed = 1
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """Take the peer's acknowledgements (4 bytes each, maybe cut or coalesced)."""
        buffer = self._ackBuffer + data
        whole = len(buffer) - len(buffer) % 4
        if whole:
            (count,) = _ACK.unpack(buffer[whole - 4 : whole])
            # Acks are the total modulo 2**32: put the high bits back.
            high = self.bytesSent & ~0xFFFFFFFF
            acked = high | count
            if acked > self.bytesSent:
                acked -= 1 << 32
            if acked > self._acked:
                self._acked = acked
        self._ackBuffer = buffer[whole:]
        self.sendBlock()

    def connectionLost(self, reason: object = None) -> None:
        """Close the file and tell the factory how it went."""
        super().connectionLost(reason)
        self.file.close()
        factory = getattr(self, "factory", None)
        if isinstance(factory, DccSendFactory):
            factory._finished(self)


class DccSendFactory(Factory):
    """Serves one file to the first peer that connects (see IRCClient.dccSend).

    ``done`` fires with the bytes sent once the peer acknowledged the whole file, and
    fails if the connection closed before.
    """

    protocol = DccSendProtocol

    def __init__(self, file: IO[bytes] | str) -> None:
        self.file = file
        self.done: Deferred[int] = Deferred()
        self.port: Any = None
        self.timeoutCall: Any = None
        self._served = False

    def buildProtocol(self, addr: Any) -> DccSendProtocol | None:
        """Serve the file once; a second connection is refused."""
        if self._served:
            return None
        self._served = True
        if self.timeoutCall is not None and self.timeoutCall.active():
            self.timeoutCall.cancel()
        if self.port is not None:
            self.port.stopListening()
        proto = self.protocol(self.file)
        proto.factory = self
        return proto

    def timedOut(self) -> None:
        """Nobody connected in time: stop offering the file."""
        if self._served:
            return
        self._served = True
        if self.port is not None:
            self.port.stopListening()
        if not isinstance(self.file, str):
            self.file.close()
        self.done.errback(Failure(TimeoutError("nobody accepted the DCC file offer in time")))

    def _finished(self, proto: DccSendProtocol) -> None:
        if self.done.called:
            return
        if proto.completed:
            self.done.callback(proto.bytesSent)
        else:
            self.done.errback(
                Failure(
                    OSError(
                        f"the DCC peer closed after acknowledging {proto._acked} of "
                        f"{proto.bytesSent} bytes sent"
                    )
                )
            )


class DccChat(Protocol):
    """A DCC CHAT connection: each line received goes to ``client.privmsg``.

    Lines end with LF (a CR before it is dropped); a line over ``MAX_LENGTH`` bytes
    is dropped whole, and the chat goes on.
    """

    delimiter = b"\n"
    MAX_LENGTH = 8192
    queryData: Any = None
    remoteParty: str | None = None

    def __init__(self, client: Any, queryData: Any = None) -> None:
        self.client = client
        self._framer = LineFramer(self.MAX_LENGTH)
        if queryData:
            self.queryData = queryData
            self.remoteParty = str(queryData[0])

    def dataReceived(self, data: bytes) -> None:
        """Split ``data`` into lines and hand each to ``lineReceived``."""
        for line in self._framer.feed(data):
            if line is not None:
                self.lineReceived(line)

    def lineReceived(self, line: bytes) -> None:
        """Hand the line to the IRC client as a private message from the peer."""
        self.client.privmsg(self.remoteParty, self.client.nickname, decodeLine(line))

    def sendLine(self, line: bytes) -> None:
        """Send one line (bytes, without its delimiter)."""
        self.transport.write(line + self.delimiter)

    def sendText(self, text: str) -> None:
        """Send one line of text to the peer (newlines inside become spaces)."""
        self.sendLine(text.replace("\r", " ").replace("\n", " ").encode("utf-8"))


class DccChatFactory(ClientFactory):
    """Connects a DccChat for ``client`` (remove it from ``client.dcc_sessions`` when done)."""

    protocol = DccChat
    noisy = False

    def __init__(self, client: Any, queryData: Any) -> None:
        self.client = client
        self.queryData = queryData

    def buildProtocol(self, addr: Any) -> DccChat:
        """Make the chat protocol for ``client``."""
        proto = self.protocol(client=self.client, queryData=self.queryData)
        proto.factory = self
        return proto

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Forget this session."""
        sessions = getattr(self.client, "dcc_sessions", None)
        if sessions and self in sessions:
            sessions.remove(self)

    clientConnectionLost = clientConnectionFailed
