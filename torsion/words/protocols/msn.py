"""MSNP, the MSN Messenger protocol's wire format (a legacy format: the network closed
in 2013), for reading archives and writing gateways (torsion.words.protocols.msn).

MSNP is lines of ``CMD TrID params...\\r\\n``: a three-letter command, a transaction
ID the answer repeats, and parameters; errors are three-digit numbers in the
command's place. Some commands carry a payload whose length in bytes is their last
parameter (MSG, NOT, UBX, UUX, GCF, ADL, RML, FQY, UUN, UBN, IPG, QRY, PAG and
friends). `MSNPParser` turns bytes cut anywhere into `MSNCommand` events (with
``payload`` for those commands), holding at most ``maxLineLength`` bytes of a line
and ``maxPayload`` of a payload; `MSNCommand.toBytes` writes them. `MSNMessage` is
the MIME-style message a MSG carries (headers, a blank line, the body).

Only the wire formats are here: there is no server left to log in to.
Tests: tests/words/test_msn.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "MESSAGE_ACK",
    "MESSAGE_ACK_NONE",
    "MESSAGE_NACK",
    "PAYLOAD_COMMANDS",
    "MSNCommand",
    "MSNMessage",
    "MSNPParseError",
    "MSNPParser",
    "errorCodes",
]

# The commands whose last parameter is the length of a payload that follows the line.
PAYLOAD_COMMANDS = frozenset(
    b"MSG NOT UBX UUX GCF ADL RML FQY UUN UBN IPG QRY PAG SDG NFY PUT DEL".split()
)
# The acknowledgement a sender of MSG asks for (its second parameter).
MESSAGE_ACK = b"A"
MESSAGE_NACK = b"N"
MESSAGE_ACK_NONE = b"U"
_MAX_PARAMS = 32

# Some of the server's error numbers, with what they meant.
errorCodes = {
    200: "syntax error",
    201: "invalid parameter",
    205: "invalid user",
    206: "domain name missing",
    207: "already logged in",
    208: "invalid username",
    209: "invalid screen name",
    215: "user already on list",
    216: "user not on list",
    217: "user not online",
    218: "already in mode",
    219: "user is in the opposite list",
    280: "switchboard failed",
    281: "transfer to switchboard failed",
    300: "required field missing",
    302: "not logged in",
    500: "internal server error",
    600: "server is busy",
    601: "server is unavailable",
    710: "bad CVR parameters sent",
    711: "write is blocking",
    800: "changing too rapidly",
    910: "server too busy",
    911: "authentication failed",
    913: "not allowed when offline",
    920: "not accepting new users",
    924: "passport account not yet verified",
}


class MSNPParseError(ValueError):
    """The bytes are not MSNP (a malformed line, or over a limit)."""


@dataclass
class MSNCommand:
    """One MSNP command: ``command`` (b"MSG", or an error number as b"911"), its
    transaction ID (None for the commands that have none), its parameters, and its
    payload for the payload commands."""

    command: bytes
    transactionID: int | None
    params: list[bytes] = field(default_factory=list)
    payload: bytes | None = None

    @property
    def isError(self) -> bool:
        return self.command.isdigit()

    def toBytes(self) -> bytes:
        """The command as sent; a payload's length is appended as the last parameter."""
        parts = [self.command]
        if self.transactionID is not None:
            parts.append(b"%d" % self.transactionID)
        parts += self.params
        for part in parts:
            if not part or any(c in part for c in b" \r\n"):
                raise ValueError(f"an MSNP parameter cannot be empty or hold spaces: {part!r}")
        if self.payload is not None:
            parts.append(b"%d" % len(self.payload))
            return b" ".join(parts) + b"\r\n" + self.payload
        return b" ".join(parts) + b"\r\n"


# Commands the server pushes without a transaction ID, though a number may come first
# (RNG's session ID). Elsewhere a first parameter of digits is the transaction ID (a
# client's "MSG 4 N 133" has one; the server's "MSG alice@host Alice 133" does not).
_NO_TRANSACTION = frozenset(b"NOT UBX IPG UBN RNG NLN FLN".split())


def _parseLine(line: bytes) -> tuple[MSNCommand, int | None]:
    """The command of a line, and the length of the payload that follows it (if any)."""
    fields = line.split(b" ")
    if not fields[0] or len(fields) > _MAX_PARAMS or b"" in fields:
        raise MSNPParseError(f"a malformed MSNP line: {line[:60]!r}")
    command = fields[0]
    if not (command.isdigit() and len(command) == 3) and not (
        len(command) == 3 and command.isalpha() and command.isupper()
    ):
        raise MSNPParseError(f"not an MSNP command: {command[:10]!r}")
    rest = fields[1:]
    payloadLength: int | None = None
    if command in PAYLOAD_COMMANDS:
        if not rest or not rest[-1].isdigit():
            raise MSNPParseError(f"{command.decode()} has no payload length")
        payloadLength = int(rest.pop())
    transactionID: int | None = None
    if rest and rest[0].isdigit() and (command not in _NO_TRANSACTION or command.isdigit()):
        transactionID = int(rest.pop(0))
    return MSNCommand(command, transactionID, rest), payloadLength


class MSNPParser:
    """Bytes of one direction of an MSNP connection in, MSNCommands out."""

    def __init__(self, maxLineLength: int = 8192, maxPayload: int = 1 << 20) -> None:
        self.maxLineLength = maxLineLength
        self.maxPayload = maxPayload
        self._buffer = bytearray()
        self._pending: tuple[MSNCommand, int] | None = None

    def feed(self, data: bytes) -> list[MSNCommand]:
        self._buffer += data
        commands: list[MSNCommand] = []
        while True:
            if self._pending is not None:
                command, length = self._pending
                if len(self._buffer) < length:
                    return commands
                command.payload = bytes(self._buffer[:length])
                del self._buffer[:length]
                self._pending = None
                commands.append(command)
                continue
            end = self._buffer.find(b"\r\n")
            if end < 0:
                if len(self._buffer) > self.maxLineLength:
                    raise MSNPParseError(f"an MSNP line longer than {self.maxLineLength} bytes")
                return commands
            if end > self.maxLineLength:
                raise MSNPParseError(f"an MSNP line longer than {self.maxLineLength} bytes")
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 2]
            parsed, payloadLength = _parseLine(line)
            if payloadLength is None:
                commands.append(parsed)
            elif payloadLength > self.maxPayload:
                raise MSNPParseError(f"an MSNP payload of {payloadLength} bytes is over the limit")
            else:
                self._pending = (parsed, payloadLength)


@dataclass
class MSNMessage:
    """The message a MSG carries: MIME-style headers, a blank line, then the body.

    Twisted's names: ``headers`` (in order), ``message`` (the body),
    ``getHeader``/``setHeader``/``hasHeader``, ``userHandle`` and ``screenName``
    (the sender, from the MSG line), ``ack`` (what the sender asked for).
    """

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    message: bytes = b""
    userHandle: bytes = b""
    screenName: bytes = b""
    ack: bytes = MESSAGE_ACK_NONE

    def getHeader(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def hasHeader(self, name: bytes) -> bool:
        return self.getHeader(name) is not None

    def setHeader(self, name: bytes, value: bytes) -> None:
        if b"\r" in value or b"\n" in value or b":" in name:
            raise ValueError("an MSN message header cannot hold line breaks")
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    def toBytes(self) -> bytes:
        head = b"".join(name + b": " + value + b"\r\n" for name, value in self.headers)
        return head + b"\r\n" + self.message

    @classmethod
    def fromBytes(cls, payload: bytes) -> MSNMessage:
        head, separator, body = payload.partition(b"\r\n\r\n")
        if not separator:
            raise MSNPParseError("an MSN message has no blank line after its headers")
        headers = []
        for line in head.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon or not name:
                raise MSNPParseError(f"a malformed MSN message header: {line[:60]!r}")
            headers.append((name.strip(), value.strip()))
        return cls(headers, body)

    @classmethod
    def fromCommand(cls, command: MSNCommand) -> MSNMessage:
        """The message of a MSG command (its sender from the line's parameters)."""
        if command.command != b"MSG" or command.payload is None:
            raise MSNPParseError("not a MSG command with a payload")
        message = cls.fromBytes(command.payload)
        if len(command.params) >= 2:
            message.userHandle, message.screenName = command.params[0], command.params[1]
        return message
