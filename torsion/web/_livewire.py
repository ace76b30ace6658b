"""The wire protocol of torsion.web.live, without I/O: JSON messages, sequence numbers,
acknowledgements and limits.

A live page and its element talk over one WebSocket at a time, but the conversation
outlives any one connection: when the connection drops, the page opens a new one and
both sides carry on where they were, each message delivered exactly once. That works
because every message that matters (a call, a result, an error) carries a sequence
number per direction and stays in its sender's outbox until the peer acknowledges it;
on a new connection each side says what it last received and the other replays only
what came after. A receiver ignores a sequence number it has already seen (a replay
overlapping what arrived before the drop) and treats a gap as a protocol error.

The messages are JSON objects in WebSocket text frames:

- ``{"type": "hello", "v": 1, "element": ID, "ack": N}``: the page's first message on
  each connection: which element it is, and the last sequence number it received.
- ``{"type": "welcome", "ack": N}``: the server's answer: the last sequence number
  it received from the page. Both sides then replay what the other has not seen.
- ``{"type": "call", "seq": S, "ack": N, "name": NAME, "args": [...]}``: call the
  peer's function NAME (an ``@expose`` method on the server, a function registered
  with ``torsion.expose`` in the page).
- ``{"type": "result", "seq": S, "ack": N, "call": C, "value": V}`` and
  ``{"type": "error", "seq": S, "ack": N, "call": C, "error": {"type": T,
  "message": M}}``: the outcome of the call whose sequence number is C.
- ``{"type": "ack", "ack": N}``: an acknowledgement on its own, when there is nothing
  else to send it with (it has no sequence number and is never replayed).

``ack`` on a message says that its sender has received every message of the other
direction up to N, so the other side may forget them.

Limits, each with a clear LiveProtocolError when the peer breaks it: the size of one
message, the peer's calls not answered yet (a well-behaved page waits rather than
exceed it: the JavaScript client queues its calls locally), and, for what this side
sends, the bytes waiting for an acknowledgement (new calls are refused with
LiveQueueFull once they are over the limit; results always go out, as the calls they
answer are bounded already).

LiveChannel is one side of a conversation (the server's per element, or a test
client's); torsion.web.live wires it to WebSocket connections, torsion/web/_live.js
is the same protocol in the page.

Tests: tests/web/live/test_wire.py.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "PROTOCOL_VERSION",
    "SUBPROTOCOL",
    "CallReceived",
    "ErrorReceived",
    "Hello",
    "LiveChannel",
    "LiveLimitError",
    "LiveProtocolError",
    "LiveQueueFull",
    "ResultReceived",
    "encodeHello",
    "encodeWelcome",
    "parseHello",
    "parseWelcome",
]

PROTOCOL_VERSION: Final = 1
SUBPROTOCOL: Final = "torsion-live.1"
"""The WebSocket subprotocol that the page asks for and the server agrees to."""

# WebSocket close codes of the live protocol (RFC 6455 leaves 4000-4999 to applications).
CLOSE_PROTOCOL_ERROR: Final = 4400
"""The peer broke the protocol; the page must not reconnect (it would break it again)."""
CLOSE_GONE: Final = 4404
"""The element is unknown or was discarded (pageTimeout); the page must be reloaded."""
CLOSE_REPLACED: Final = 4409
"""Another connection took over the same element (the page reconnected meanwhile)."""

# JavaScript numbers are exact up to 2**53 - 1: counters stay below it.
_MAX_NUMBER: Final = 2**53 - 1
_MAX_NAME: Final = 128
_MAX_ERROR_TYPE: Final = 200
_MAX_ERROR_MESSAGE: Final = 4096
# Room for the '{"ack":N,' prefix added when a queued message is sent.
_ACK_PREFIX_ROOM: Final = 32


class LiveProtocolError(Exception):
    """The peer sent something the live protocol does not allow: the connection ends
    (WebSocket close code 4400) and the message says what was wrong."""


class LiveLimitError(Exception):
    """Something this side wanted to send is over one of the channel's limits."""


class LiveQueueFull(LiveLimitError):
    """Too many bytes wait for the peer's acknowledgement: the page is gone or slow."""


@dataclass(frozen=True, slots=True)
class CallReceived:
    """The peer calls ``name(*args)``; answer with LiveChannel.answer or .fail."""

    callID: int
    name: str
    args: list[Any]


@dataclass(frozen=True, slots=True)
class ResultReceived:
    """The peer's answer to our call ``callID``."""

    callID: int
    value: Any


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """Our call ``callID`` raised in the peer: its error's type name and message."""

    callID: int
    errorType: str
    message: str


Event = CallReceived | ResultReceived | ErrorReceived


@dataclass(frozen=True, slots=True)
class Hello:
    """The page's first message on a connection."""

    element: str
    ack: int


def _refuseConstant(name: str) -> Any:
    raise LiveProtocolError(f"{name} is not JSON that a live page sends")


def _decode(data: str | bytes, maxMessageSize: int) -> dict[str, Any]:
    if not isinstance(data, str):
        raise LiveProtocolError("a live message is a WebSocket text message, not binary")
    if len(data) > maxMessageSize:
        raise LiveProtocolError(
            f"a message of {len(data)} characters is over the limit of {maxMessageSize}"
        )
    try:
        message = json.loads(data, parse_constant=_refuseConstant)
    except LiveProtocolError:
        raise
    except RecursionError:
        raise LiveProtocolError("the message is JSON nested too deeply") from None
    except ValueError as e:
        raise LiveProtocolError(f"the message is not JSON: {e}") from None
    if not isinstance(message, dict):
        raise LiveProtocolError(f"a message is a JSON object, not {type(message).__name__}")
    return message


def _counter(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if type(value) is not int or not 0 <= value <= _MAX_NUMBER:
        raise LiveProtocolError(
            f"a {message.get('type')} message needs {key!r}, a whole number from 0 to "
            f"2**53 - 1, not {value!r}"
        )
    return value


def _text(message: dict[str, Any], key: str, limit: int, where: Any = None) -> str:
    value = (message if where is None else where).get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise LiveProtocolError(
            f"a {message.get('type')} message needs {key!r}, a string of at most {limit} characters"
        )
    return value


def parseHello(data: str | bytes, maxMessageSize: int) -> Hello:
    """The element ID and acknowledgement of a connection's first message.

    Raises:
        LiveProtocolError: the message is not a hello of this protocol's version.
    """
    message = _decode(data, maxMessageSize)
    if message.get("type") != "hello":
        raise LiveProtocolError(
            f"the first message on a connection is a hello, not {message.get('type')!r}"
        )
    if message.get("v") != PROTOCOL_VERSION:
        raise LiveProtocolError(
            f"the page speaks version {message.get('v')!r} of the live protocol; this "
            f"server speaks {PROTOCOL_VERSION} (reload the page)"
        )
    return Hello(_text(message, "element", 200), _counter(message, "ack"))


def parseWelcome(data: str | bytes, maxMessageSize: int) -> int:
    """The acknowledgement in the server's first message on a connection."""
    message = _decode(data, maxMessageSize)
    if message.get("type") != "welcome":
        raise LiveProtocolError(
            f"the server's first message is a welcome, not {message.get('type')!r}"
        )
    return _counter(message, "ack")


def encodeHello(element: str, ack: int) -> str:
    return json.dumps({"type": "hello", "v": PROTOCOL_VERSION, "element": element, "ack": ack})


def encodeWelcome(ack: int) -> str:
    return json.dumps({"type": "welcome", "ack": ack})


class LiveChannel:
    """One side of a live conversation: what it sent and has not seen acknowledged,
    what it received, and the calls open in each direction.

    Feed it the peer's messages with ``receive`` (which returns the events they carry)
    and send what ``dataToSend`` returns whenever there is a connection. When a
    connection ends call ``detach``; when a new one has said hello (or welcome), call
    ``resume`` with the peer's acknowledgement and send ``dataToSend()`` again: it then
    holds every message the peer has not received, in order.

    Args:
        maxMessageSize: the largest message, in characters, either way.
        maxCallsInFlight: how many of the peer's calls may wait for an answer at once.
        maxQueuedBytes: how much this side may have waiting for acknowledgement before
            new calls are refused (LiveQueueFull).
    """

    __slots__ = (
        "_answering",
        "_awaiting",
        "_lastAckSent",
        "_outbox",
        "_queuedBytes",
        "_sentUpTo",
        "connected",
        "lastReceived",
        "lastSent",
        "maxCallsInFlight",
        "maxMessageSize",
        "maxQueuedBytes",
    )

    def __init__(
        self,
        *,
        maxMessageSize: int = 1024 * 1024,
        maxCallsInFlight: int = 32,
        maxQueuedBytes: int = 4 * 1024 * 1024,
    ) -> None:
        if maxMessageSize < 256:
            raise ValueError(f"maxMessageSize must be at least 256, not {maxMessageSize}")
        if maxCallsInFlight < 1:
            raise ValueError(f"maxCallsInFlight must be at least 1, not {maxCallsInFlight}")
        self.maxMessageSize = maxMessageSize
        self.maxCallsInFlight = maxCallsInFlight
        self.maxQueuedBytes = maxQueuedBytes
        self.connected = False
        self.lastSent = 0
        """The sequence number of the last message queued to the peer."""
        self.lastReceived = 0
        """The sequence number of the last message received from the peer."""
        self._lastAckSent = 0
        self._sentUpTo = 0
        # (seq, the message's JSON without its ack) not yet acknowledged, oldest first.
        self._outbox: deque[tuple[int, str]] = deque()
        self._queuedBytes = 0
        self._awaiting: set[int] = set()
        self._answering: set[int] = set()

    @property
    def queuedBytes(self) -> int:
        """How much of what this side sent waits for the peer's acknowledgement."""
        return self._queuedBytes

    @property
    def awaitingAnswers(self) -> frozenset[int]:
        """Our calls the peer has not answered yet."""
        return frozenset(self._awaiting)

    @property
    def callsInFlight(self) -> int:
        """How many of the peer's calls wait for our answer."""
        return len(self._answering)

    # -- sending -------------------------------------------------------------------

    def _queue(self, message: dict[str, Any]) -> int:
        seq = self.lastSent + 1
        message["seq"] = seq
        try:
            text = json.dumps(message, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"a live message holds JSON values only: {e}") from None
        if len(text) + _ACK_PREFIX_ROOM > self.maxMessageSize:
            raise LiveLimitError(
                f"a {message['type']} message of {len(text)} characters is over the "
                f"limit of {self.maxMessageSize}"
            )
        self.lastSent = seq
        self._outbox.append((seq, text))
        self._queuedBytes += len(text)
        return seq

    def call(self, name: str, args: Sequence[Any]) -> int:
        """Queue a call of the peer's ``name(*args)``; return its call ID.

        Raises:
            LiveQueueFull: too much waits for acknowledgement already.
            LiveLimitError: the message would be over maxMessageSize.
            TypeError: an argument is not a JSON value.
        """
        if self._queuedBytes > self.maxQueuedBytes:
            raise LiveQueueFull(
                f"{self._queuedBytes} bytes wait for the page to acknowledge them (the "
                f"limit is {self.maxQueuedBytes}): it is gone or not keeping up"
            )
        seq = self._queue({"type": "call", "name": name, "args": list(args)})
        self._awaiting.add(seq)
        return seq

    def answer(self, callID: int, value: Any) -> None:
        """Queue the result of the peer's call ``callID``.

        Raises:
            ValueError: that call was answered already, or never made.
            TypeError, LiveLimitError: ``value`` is not JSON or is too big; the call
                is still open, so answer it with ``fail`` instead.
        """
        if callID not in self._answering:
            raise ValueError(f"call {callID} is not a call of the peer waiting for an answer")
        self._queue({"type": "result", "call": callID, "value": value})
        self._answering.remove(callID)

    def fail(self, callID: int, errorType: str, message: str) -> None:
        """Queue the failure of the peer's call ``callID``: its error's type and message
        (cut to a few kilobytes, or dropped if even that is over maxMessageSize).

        Raises:
            ValueError: that call was answered already, or never made.
        """
        if callID not in self._answering:
            raise ValueError(f"call {callID} is not a call of the peer waiting for an answer")
        error = {"type": errorType[:_MAX_ERROR_TYPE], "message": message[:_MAX_ERROR_MESSAGE]}
        try:
            self._queue({"type": "error", "call": callID, "error": error})
        except LiveLimitError:
            error = {"type": errorType[:40], "message": "(too long to send)"}
            self._queue({"type": "error", "call": callID, "error": error})
        self._answering.remove(callID)

    def dataToSend(self) -> list[str]:
        """The messages to write to the connection now (none while detached): those
        queued since the last call, each with the current acknowledgement, or that
        acknowledgement on its own if it is new and there is nothing else."""
        if not self.connected:
            return []
        ack = self.lastReceived
        out = [f'{{"ack":{ack},{text[1:]}' for seq, text in self._outbox if seq > self._sentUpTo]
        self._sentUpTo = self.lastSent
        if not out and ack > self._lastAckSent:
            out.append(f'{{"type":"ack","ack":{ack}}}')
        self._lastAckSent = ack
        return out

    # -- connections ---------------------------------------------------------------

    def detach(self) -> None:
        """The connection is gone: hold everything until ``resume``."""
        self.connected = False

    def resume(self, peerAck: int) -> None:
        """A new connection, on which the peer said it has received up to ``peerAck``:
        the next ``dataToSend`` replays what came after.

        Raises:
            LiveProtocolError: ``peerAck`` acknowledges messages never sent, or fewer
                than the peer acknowledged before (it lost its state).
        """
        outbox = self._outbox
        before = outbox[0][0] - 1 if outbox else self.lastSent
        if peerAck < before:
            raise LiveProtocolError(
                f"the peer acknowledges message {peerAck} after acknowledging {before}: "
                "it lost its state (reload the page)"
            )
        self._acknowledged(peerAck)
        self.connected = True
        self._sentUpTo = peerAck
        # The peer learns our position from the hello or welcome itself.
        self._lastAckSent = self.lastReceived

    def _acknowledged(self, ack: int) -> None:
        if ack > self.lastSent:
            raise LiveProtocolError(
                f"the peer acknowledges message {ack}, but only {self.lastSent} were sent"
            )
        outbox = self._outbox
        while outbox and outbox[0][0] <= ack:
            self._queuedBytes -= len(outbox.popleft()[1])

    # -- receiving -----------------------------------------------------------------

    def receive(self, data: str | bytes) -> list[Event]:
        """Take one message from the peer; return the events in it (none for an
        acknowledgement or a message received before, replayed).

        Raises:
            LiveProtocolError: the message is malformed, out of order, answers a call
                that is not open, or is over a limit.
        """
        message = _decode(data, self.maxMessageSize)
        kind = message.get("type")
        if kind == "ack":
            self._acknowledgedIfNewer(_counter(message, "ack"))
            return []
        if kind not in ("call", "result", "error"):
            raise LiveProtocolError(f"a message of unknown type {kind!r}")
        seq = _counter(message, "seq")
        if seq == 0:
            raise LiveProtocolError("sequence numbers start at 1")
        self._acknowledgedIfNewer(_counter(message, "ack"))
        if seq <= self.lastReceived:
            return []
        if seq != self.lastReceived + 1:
            raise LiveProtocolError(
                f"message {seq} arrived after message {self.lastReceived}: some are missing"
            )
        event: Event
        if kind == "call":
            name = _text(message, "name", _MAX_NAME)
            args = message.get("args")
            if not isinstance(args, list):
                raise LiveProtocolError("a call message needs 'args', a JSON array")
            if len(self._answering) >= self.maxCallsInFlight:
                raise LiveProtocolError(
                    f"the page made more than {self.maxCallsInFlight} calls without "
                    "waiting for their answers"
                )
            self._answering.add(seq)
            event = CallReceived(seq, name, args)
        else:
            callID = _counter(message, "call")
            if callID not in self._awaiting:
                raise LiveProtocolError(f"a {kind} for call {callID}, which is not open")
            if kind == "result":
                if "value" not in message:
                    raise LiveProtocolError("a result message needs 'value'")
                event = ResultReceived(callID, message["value"])
            else:
                error = message.get("error")
                if not isinstance(error, dict):
                    raise LiveProtocolError("an error message needs 'error', a JSON object")
                event = ErrorReceived(
                    callID,
                    _text(message, "type", _MAX_ERROR_TYPE, error),
                    _text(message, "message", _MAX_ERROR_MESSAGE, error),
                )
            self._awaiting.discard(callID)
        self.lastReceived = seq
        return [event]

    def _acknowledgedIfNewer(self, ack: int) -> None:
        # An ack lower than one seen before is a replayed message's: nothing new.
        if ack > self.lastSent or (self._outbox and ack >= self._outbox[0][0]):
            self._acknowledged(ack)
