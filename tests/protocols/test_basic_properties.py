"""Hypothesis properties of torsion.protocols.basic's line framing: the same lines come
out however the stream is cut into chunks, and the buffer bound holds throughout."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from torsion.internet.testing import StringTransport
from torsion.protocols.basic import LineOnlyReceiver, LineReceiver, LineSplitter, LineTooLong

# Delimiters of one and several bytes, some overlapping themselves ("aa", "aba").
delimiters = st.sampled_from([b"\r\n", b"\n", b"\x00", b"aa", b"aba", b"\r\n\r\n"])
# Streams rich in delimiter bytes, so lines are short and delimiters get cut in two.
streams = st.lists(
    st.sampled_from([b"a", b"b", b"\r", b"\n", b"\x00", b"xyz", b"\r\n"]), max_size=60
).map(b"".join)
limits = st.integers(min_value=0, max_value=12)


def reference(stream: bytes, delimiter: bytes, maxLength: int) -> tuple[list[bytes], bool]:
    """The lines a receiver must deliver from ``stream``, and whether it must find one
    too long: an independent model built on bytes.split."""
    pieces = stream.split(delimiter)
    tail = pieces.pop()
    lines: list[bytes] = []
    for piece in pieces:
        if len(piece) > maxLength:
            return lines, True
        lines.append(piece)
    return lines, len(tail) >= maxLength + len(delimiter)


@st.composite
def chunkings(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    """``stream`` cut at random places (sometimes into single bytes, sometimes whole)."""
    how = draw(st.sampled_from(["whole", "bytes", "random"]))
    if how == "whole":
        return [stream]
    if how == "bytes":
        return [stream[i : i + 1] for i in range(len(stream))]
    cuts = sorted(draw(st.sets(st.integers(0, len(stream)), max_size=10)))
    edges = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in pairwise(edges)]


@given(st.data(), streams, delimiters, limits)
def test_splitterMatchesTheReferenceAndKeepsItsBound(
    data: st.DataObject, stream: bytes, delimiter: bytes, maxLength: int
) -> None:
    splitter = LineSplitter()
    lines: list[bytes] = []
    exceeded = False
    for chunk in data.draw(chunkings(stream)):
        splitter.feed(chunk)
        try:
            while (line := splitter.nextLine(delimiter, maxLength)) is not None:
                lines.append(line)
        except LineTooLong:
            exceeded = True
            break
        assert len(splitter) <= maxLength + len(delimiter) - 1
    assert (lines, exceeded) == reference(stream, delimiter, maxLength)


@given(st.data(), streams, delimiters, limits)
def test_splitAllMatchesTheReference(
    data: st.DataObject, stream: bytes, delimiter: bytes, maxLength: int
) -> None:
    splitter = LineSplitter()
    lines: list[bytes] = []
    exceeded = False
    for chunk in data.draw(chunkings(stream)):
        more, overlong = splitter.splitAll(chunk, delimiter, maxLength)
        lines += more
        if overlong is not None:
            exceeded = True
            break
        assert len(splitter) <= maxLength + len(delimiter) - 1
    assert (lines, exceeded) == reference(stream, delimiter, maxLength)


def makeReceiver(base: type[Any], delimiter: bytes, maxLength: int) -> Any:
    class Receiver(base):  # type: ignore[misc,valid-type]
        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)

    Receiver.delimiter = delimiter
    Receiver.MAX_LENGTH = maxLength
    receiver = Receiver()
    receiver.lines = []
    return receiver


@given(st.data(), streams, delimiters, limits, st.sampled_from([LineReceiver, LineOnlyReceiver]))
def test_receiversDeliverTheSameLinesWhateverTheChunks(
    data: st.DataObject, stream: bytes, delimiter: bytes, maxLength: int, base: type[Any]
) -> None:
    receiver = makeReceiver(base, delimiter, maxLength)
    transport = StringTransport()
    receiver.makeConnection(transport)
    for chunk in data.draw(chunkings(stream)):
        receiver.dataReceived(chunk)
        if not transport.disconnecting:
            assert len(receiver._lineSplitter) <= maxLength + len(delimiter) - 1
    assert (receiver.lines, transport.disconnecting) == reference(stream, delimiter, maxLength)


# Messages of a mixed protocol: a line, or "LEN n" followed by n raw bytes.
messages = st.lists(
    st.one_of(
        st.binary(max_size=8).filter(lambda b: b"\r\n" not in b and not b.startswith(b"LEN")),
        st.binary(max_size=20).map(lambda body: b"LEN %d\r\n" % len(body) + body),
    ),
    max_size=12,
)


class Mixed(LineReceiver):
    """Records lines, and raw bodies announced by "LEN n" (adjacent raw events merged)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.remaining = 0

    def lineReceived(self, line: bytes) -> None:
        self.events.append(("line", line))
        if line.startswith(b"LEN "):
            self.remaining = int(line[4:])
            if self.remaining:
                self.setRawMode()

    def rawDataReceived(self, data: bytes) -> None:
        body, rest = data[: self.remaining], data[self.remaining :]
        self.remaining -= len(body)
        if self.events[-1][0] == "raw":
            self.events[-1] = ("raw", self.events[-1][1] + body)
        else:
            self.events.append(("raw", body))
        if not self.remaining:
            self.setLineMode(rest)


def expectedEvents(parts: list[bytes]) -> list[tuple[str, bytes]]:
    events: list[tuple[str, bytes]] = []
    for part in parts:
        if part.startswith(b"LEN "):
            header, body = part.split(b"\r\n", 1)
            events.append(("line", header))
            if body:
                events.append(("raw", body))
        else:
            events.append(("line", part))
    return events


def encode(parts: list[bytes]) -> bytes:
    return b"".join(part if part.startswith(b"LEN ") else part + b"\r\n" for part in parts)


@given(st.data(), messages)
def test_switchingModesGivesTheSameEventsWhateverTheChunks(
    data: st.DataObject, parts: list[bytes]
) -> None:
    receiver = Mixed()
    receiver.makeConnection(StringTransport())
    for chunk in data.draw(chunkings(encode(parts))):
        receiver.dataReceived(chunk)
    assert receiver.events == expectedEvents(parts)


class PausingRecorder(LineReceiver):
    """Pauses itself after every line "P"; records lines and whether it was paused."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        assert not self.paused
        self.lines.append(line)
        if line == b"P":
            self.pauseProducing()


@given(
    st.data(),
    st.lists(st.sampled_from([b"P", b"x", b"", b"yy"]), max_size=15),
)
def test_pausingHoldsLinesUntilResumedWhateverTheChunks(
    data: st.DataObject, lines: list[bytes]
) -> None:
    receiver = PausingRecorder()
    transport = StringTransport()
    receiver.makeConnection(transport)
    for chunk in data.draw(chunkings(b"".join(line + b"\r\n" for line in lines))):
        receiver.dataReceived(chunk)
        if receiver.paused:
            assert receiver.lines[-1] == b"P"
            assert transport.producerState == "paused"
        while receiver.paused:
            before = len(receiver.lines)
            receiver.resumeProducing()
            assert len(receiver.lines) > before or not receiver.paused
    assert receiver.lines == lines


class Toggler(LineReceiver):
    """Switches its delimiter between CR LF and LF after each line "T"."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"T":
            self.delimiter = b"\n" if self.delimiter == b"\r\n" else b"\r\n"


@given(st.data(), st.lists(st.sampled_from([b"T", b"a", b"\r", b"\n", b"\r\n"]), max_size=40))
def test_changingTheDelimiterGivesTheSameLinesWhateverTheChunks(
    data: st.DataObject, pieces: list[bytes]
) -> None:
    stream = b"".join(pieces)
    whole = Toggler()
    whole.dataReceived(stream)
    chunked = Toggler()
    for chunk in data.draw(chunkings(stream)):
        chunked.dataReceived(chunk)
    oneByOne = Toggler()
    for index in range(len(stream)):
        oneByOne.dataReceived(stream[index : index + 1])
    assert whole.lines == chunked.lines == oneByOne.lines
