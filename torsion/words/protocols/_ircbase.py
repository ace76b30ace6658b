"""What the IRC server-side protocol and IRCClient share: framing and dispatch.

``_IRCReceiver`` cuts the byte stream into lines with the codec's LineFramer, parses
each with ``parseMessage`` and calls ``irc_<COMMAND>(prefix, params)`` (or
``irc_unknown``). It is the one place where lines become calls, so the robustness
rules hold for both sides: empty lines are skipped, malformed lines go to
``badMessage``, overlong ones to ``lineTooLong``, non-UTF-8 text is decoded with the
fallback encoding, and a handler's exception is logged without dropping the
connection.
Tests: tests/words/test_irc_server.py and test_irc_client.py.
"""

from __future__ import annotations

from types import TracebackType

from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.words.protocols._irccodec import (
    MAX_BODY_LENGTH,
    MAX_TAGS_LENGTH,
    IRCBadMessage,
    IRCLineTooLong,
    IRCMessage,
    LineFramer,
    decodeLine,
    parseMessage,
)

_log = Logger()


class _IRCReceiver(Protocol):
    """Lines in, ``irc_*`` calls out (see the module docstring).

    Attributes:
        encoding: how text is encoded on the way out and decoded on the way in
            (None means UTF-8); lines that do not decode use ``fallbackEncoding``.
        maxBodyLength, maxTagsLength: the limits of one line, in bytes, without and
            of its tag section.
        currentMessage: the message being handled (for its IRCv3 tags), else None.
    """

    encoding: str | None = None
    fallbackEncoding = "latin-1"
    # What ends lines on the way in (a CR before it is dropped); lines go out with CRLF.
    delimiter = b"\n"
    maxBodyLength = MAX_BODY_LENGTH
    maxTagsLength = MAX_TAGS_LENGTH
    currentMessage: IRCMessage | None = None
    _framer: LineFramer | None = None

    @property
    def MAX_LENGTH(self) -> int:
        """The longest line accepted, in bytes without its CRLF: tags plus body."""
        return self.maxBodyLength + self.maxTagsLength

    def dataReceived(self, data: bytes) -> None:
        """Frame ``data`` into lines and handle each one in order."""
        framer = self._framer
        if framer is None:
            framer = self._framer = LineFramer(self.MAX_LENGTH)
        transport = self.transport
        for line in framer.feed(data):
            if transport is not None and transport.disconnecting:
                return
            if line is None:
                self.lineTooLong(None)
            else:
                self.lineReceived(line)

    def lineReceived(self, line: bytes | str) -> None:
        """Parse one line (without CRLF) and dispatch it; empty lines are ignored."""
        if not line or line.isspace():
            return
        try:
            message = parseMessage(
                line,
                self.maxBodyLength,
                self.maxTagsLength,
                self.encoding or "utf-8",
                self.fallbackEncoding,
            )
        except IRCLineTooLong:
            self.lineTooLong(line if isinstance(line, bytes) else line.encode("utf-8"))
            return
        except IRCBadMessage as e:
            text = line if isinstance(line, str) else decodeLine(line)
            self.badMessage(text, IRCBadMessage, e, e.__traceback__)
            return
        self.currentMessage = message
        try:
            self._received(message)
        finally:
            self.currentMessage = None

    def _received(self, message: IRCMessage) -> None:
        """Dispatch one parsed message (IRCClient renames numerics here first)."""
        self.handleCommand(message.command, message.prefix, message.params)

    def handleCommand(self, command: str, prefix: str, params: list[str]) -> None:
        """Call ``irc_<command>(prefix, params)``, or ``irc_unknown``; log what it raises."""
        method = getattr(self, "irc_" + command, None)
        try:
            if method is not None:
                method(prefix, params)
            else:
                self.irc_unknown(prefix, command, params)
        except Exception:
            _log.failure(
                "{protocol} failed handling {command} from {peer}; the connection stays up",
                protocol=type(self).__name__,
                command=command,
                peer=self._peer(),
            )

    def _peer(self) -> object:
        transport = self.transport
        return transport.getPeer() if transport is not None else None

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        """A command without an ``irc_`` method: ignored here."""

    def lineTooLong(self, line: bytes | None) -> None:
        """A line over the limits arrived and was dropped: log it.

        ``line`` is the line if it was whole in the buffer, None if it was dropped
        on the way (it was longer than the whole buffer limit).
        """
        _log.info(
            "{protocol} dropped a line over the length limits from {peer}",
            protocol=type(self).__name__,
            peer=self._peer(),
        )

    def badMessage(
        self,
        line: str,
        excType: type[BaseException],
        excValue: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """A line that is not an IRC message arrived: log it and go on."""
        _log.debug(
            "{protocol} ignored a malformed line from {peer}: {error}",
            protocol=type(self).__name__,
            peer=self._peer(),
            error=str(excValue),
        )
