"""Tests for torsion.conch._telnetcodec: Telnet's stream parsed without sockets.

Every example is also fed cut at every possible place and byte by byte: the events
must not depend on how the stream was cut (hypothesis checks random streams too).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.conch._telnetcodec import (
    Command,
    Negotiation,
    Subnegotiation,
    SubnegotiationTooLong,
    TelnetEvent,
    TelnetParser,
    quoteData,
    quoteSubnegotiation,
)

IAC, DONT, DO, WONT, WILL, SB, SE, NOP, GA, AYT = 255, 254, 253, 252, 251, 250, 240, 241, 249, 246


def merged(events: list[TelnetEvent]) -> list[TelnetEvent]:
    """Adjacent data joined: how data is split into events is not part of the contract."""
    out: list[TelnetEvent] = []
    for event in events:
        if isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        elif event != b"":
            out.append(event)
    return out


def parseWhole(data: bytes, **kw: int) -> list[TelnetEvent]:
    return merged(TelnetParser(**kw).feed(data))


def parseInPieces(data: bytes, cuts: list[int], **kw: int) -> list[TelnetEvent]:
    parser = TelnetParser(**kw)
    events: list[TelnetEvent] = []
    last = 0
    for cut in [*sorted(cuts), len(data)]:
        events += parser.feed(data[last:cut])
        last = cut
    return merged(events)


EXAMPLES: list[tuple[bytes, list[TelnetEvent]]] = [
    (b"hello", [b"hello"]),
    (b"line one\r\nline two\r\n", [b"line one\r\nline two\r\n"]),
    (b"bare\r\0cr", [b"bare\rcr"]),
    (b"a\xff\xffb", [b"a\xffb"]),
    (bytes((IAC, WILL, 1)), [Negotiation(WILL, 1)]),
    (b"x" + bytes((IAC, DO, 31)) + b"y", [b"x", Negotiation(DO, 31), b"y"]),
    (bytes((IAC, WONT, 3, IAC, DONT, 34)), [Negotiation(WONT, 3), Negotiation(DONT, 34)]),
    (bytes((IAC, NOP, IAC, GA)), [Command(NOP), Command(GA)]),
    (b"are you" + bytes((IAC, AYT)), [b"are you", Command(AYT)]),
    (bytes((IAC, SB, 31, 0, 80, 0, 24, IAC, SE)), [Subnegotiation(31, b"\0\x50\0\x18")]),
    (bytes((IAC, SB, 31, 0, IAC, IAC, 0, 24, IAC, SE)), [Subnegotiation(31, b"\0\xff\0\x18")]),
    (bytes((IAC, SB, 24, IAC, SE)), [Subnegotiation(24, b"")]),
    # A subnegotiation broken by a command: dropped, and the command still counts.
    (bytes((IAC, SB, 24, 1, 2, IAC, NOP)) + b"z", [Command(NOP), b"z"]),
    (bytes((IAC, SE)) + b"stray SE", [b"stray SE"]),
    (b"cr then iac\r" + bytes((IAC, NOP)), [b"cr then iac\r", Command(NOP)]),
    (b"cr cr\r\r\n", [b"cr cr\r\r\n"]),
    (b"lone\rx", [b"lone\rx"]),
]


@pytest.mark.parametrize(("data", "events"), EXAMPLES)
def test_examples(data: bytes, events: list[TelnetEvent]) -> None:
    assert parseWhole(data) == events
    for cut in range(len(data) + 1):
        assert parseInPieces(data, [cut]) == events, cut
    assert parseInPieces(data, list(range(len(data)))) == events


def test_subnegotiationOverTheLimitIsDroppedAndParsingGoesOn() -> None:
    data = bytes((IAC, SB, 24)) + b"A" * 100 + bytes((IAC, SE)) + b"after"
    assert parseWhole(data, maxSubnegotiation=50) == [SubnegotiationTooLong(24), b"after"]
    assert parseInPieces(data, list(range(0, len(data), 7)), maxSubnegotiation=50) == [
        SubnegotiationTooLong(24),
        b"after",
    ]
    # Just at the limit is fine.
    exact = bytes((IAC, SB, 24)) + b"A" * 50 + bytes((IAC, SE))
    assert parseWhole(exact, maxSubnegotiation=50) == [Subnegotiation(24, b"A" * 50)]


def test_parserHoldsAtMostTheLimitWhileASubnegotiationNeverEnds() -> None:
    parser = TelnetParser(maxSubnegotiation=1000)
    parser.feed(bytes((IAC, SB, 24)))
    for _ in range(100):
        assert parser.feed(b"B" * 1000) == []
    assert len(parser._sub) <= 1000


def test_quoting() -> None:
    assert quoteData(b"a\xffb") == b"a\xff\xffb"
    assert quoteSubnegotiation(31, b"\0\xff") == bytes((IAC, SB, 31, 0, IAC, IAC, IAC, SE))
    sub = quoteSubnegotiation(31, b"\xff\xff\0")
    assert parseWhole(sub) == [Subnegotiation(31, b"\xff\xff\0")]


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_cutsNeverChangeTheEvents(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    assert parseInPieces(data, cuts) == parseWhole(data)


@given(st.binary(max_size=300))
def test_quotedDataComesBackIntact(payload: bytes) -> None:
    # NVT line ends aside (CR is special on the wire), quoted data parses to itself.
    payload = payload.replace(b"\r", b"")
    assert parseWhole(quoteData(payload)) == ([payload] if payload else [])
