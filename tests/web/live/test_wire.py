"""The sans-IO live protocol (torsion.web._livewire): messages, sequence numbers,
acknowledgements, resumption and limits, with no sockets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._livewire import (
    CallReceived,
    ErrorReceived,
    LiveChannel,
    LiveLimitError,
    LiveProtocolError,
    LiveQueueFull,
    ResultReceived,
    encodeHello,
    encodeWelcome,
    parseHello,
    parseWelcome,
)


def connected(**kwargs: Any) -> LiveChannel:
    channel = LiveChannel(**kwargs)
    channel.resume(0)
    return channel


def call(seq: int, name: str = "f", args: list[Any] | None = None, ack: int = 0) -> str:
    return json.dumps({"type": "call", "seq": seq, "ack": ack, "name": name, "args": args or []})


def test_callIsSentWithItsSequenceNumberAndAck() -> None:
    channel = connected()
    assert channel.call("show", ["hi", 1]) == 1
    [text] = channel.dataToSend()
    assert json.loads(text) == {
        "type": "call",
        "seq": 1,
        "ack": 0,
        "name": "show",
        "args": ["hi", 1],
    }
    assert channel.dataToSend() == []


def test_receivedCallIsAnEventAndItsResultCarriesTheAck() -> None:
    channel = connected()
    assert channel.receive(call(1, "say", ["hello"])) == [CallReceived(1, "say", ["hello"])]
    assert channel.callsInFlight == 1
    channel.answer(1, {"ok": True})
    [text] = channel.dataToSend()
    assert json.loads(text) == {
        "type": "result",
        "seq": 1,
        "ack": 1,
        "call": 1,
        "value": {"ok": True},
    }
    assert channel.callsInFlight == 0


def test_aloneAcknowledgementWhenNothingElseGoes() -> None:
    channel = connected()
    channel.receive(call(1))
    assert [json.loads(t) for t in channel.dataToSend()] == [{"type": "ack", "ack": 1}]
    assert channel.dataToSend() == []


def test_errorAnswer() -> None:
    channel = connected()
    channel.receive(call(1))
    channel.fail(1, "ValueError", "no " * 3000)
    [text] = channel.dataToSend()
    message = json.loads(text)
    assert message["error"]["type"] == "ValueError"
    assert len(message["error"]["message"]) == 4096


def test_answeringTwiceOrUnknownCallIsAValueError() -> None:
    channel = connected()
    channel.receive(call(1))
    channel.answer(1, None)
    with pytest.raises(ValueError, match="not a call of the peer"):
        channel.answer(1, None)
    with pytest.raises(ValueError, match="not a call of the peer"):
        channel.fail(7, "E", "m")


def test_resultThatIsNotJSONLeavesTheCallOpen() -> None:
    channel = connected()
    channel.receive(call(1))
    with pytest.raises(TypeError, match="JSON values only"):
        channel.answer(1, object())
    with pytest.raises(TypeError, match="JSON values only"):
        channel.answer(1, float("nan"))
    channel.fail(1, "TypeError", "not JSON")
    [text] = channel.dataToSend()
    assert json.loads(text)["seq"] == 1


def test_tooLargeOutgoingMessageIsRefusedBeforeQueueing() -> None:
    channel = connected(maxMessageSize=1000)
    with pytest.raises(LiveLimitError, match="over the limit of 1000"):
        channel.call("f", ["x" * 1000])
    assert channel.lastSent == 0
    assert channel.call("f", ["x" * 100]) == 1


def test_tooLargeErrorIsSentWithoutItsMessage() -> None:
    channel = connected(maxMessageSize=256)
    channel.receive(call(1))
    channel.fail(1, "E", "\x00" * 4000)
    [text] = channel.dataToSend()
    assert json.loads(text)["error"] == {"type": "E", "message": "(too long to send)"}


def test_resultOfOurCall() -> None:
    channel = connected()
    channel.call("f", [])
    channel.call("g", [])
    channel.dataToSend()
    assert channel.awaitingAnswers == {1, 2}
    got = channel.receive(
        json.dumps(
            {"type": "error", "seq": 1, "ack": 2, "call": 2, "error": {"type": "E", "message": "m"}}
        )
    )
    assert got == [ErrorReceived(2, "E", "m")]
    got = channel.receive(
        json.dumps({"type": "result", "seq": 2, "ack": 2, "call": 1, "value": [1]})
    )
    assert got == [ResultReceived(1, [1])]
    assert channel.awaitingAnswers == frozenset()
    assert channel.queuedBytes == 0


def test_acknowledgedMessagesLeaveTheOutbox() -> None:
    channel = connected()
    for _ in range(3):
        channel.call("f", ["abc"])
    channel.dataToSend()
    before = channel.queuedBytes
    channel.receive(json.dumps({"type": "ack", "ack": 2}))
    assert 0 < channel.queuedBytes < before
    channel.receive(json.dumps({"type": "ack", "ack": 1}))  # older: nothing new
    channel.receive(json.dumps({"type": "ack", "ack": 3}))
    assert channel.queuedBytes == 0


def test_queueFullRefusesNewCallsButNotAnswers() -> None:
    channel = connected(maxQueuedBytes=1000)
    channel.receive(call(1))
    while True:
        try:
            channel.call("f", ["x" * 200])
        except LiveQueueFull as e:
            assert "not keeping up" in str(e)
            break
    channel.answer(1, "still goes")
    assert json.loads(channel.dataToSend()[-1])["value"] == "still goes"


def test_nothingIsSentWhileDetachedAndEverythingUnacknowledgedOnResume() -> None:
    channel = connected()
    channel.call("a", [])
    channel.call("b", [])
    channel.dataToSend()
    channel.receive(json.dumps({"type": "ack", "ack": 1}))
    channel.detach()
    channel.call("c", [])
    assert channel.dataToSend() == []
    channel.resume(1)
    assert [json.loads(t)["name"] for t in channel.dataToSend()] == ["b", "c"]


def test_resumeWithTheSameAckReplaysNothingSeen() -> None:
    channel = connected()
    channel.call("a", [])
    channel.dataToSend()
    channel.detach()
    channel.resume(1)
    assert channel.dataToSend() == []


def test_replayedMessagesAreIgnoredOnce() -> None:
    channel = connected()
    assert len(channel.receive(call(1, "a"))) == 1
    assert channel.receive(call(1, "a")) == []
    assert channel.callsInFlight == 1


def test_gapInSequenceIsAProtocolError() -> None:
    channel = connected()
    with pytest.raises(LiveProtocolError, match="message 3 arrived after message 0"):
        channel.receive(call(3))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{}", "text message, not binary"),
        ("nope", "not JSON"),
        ("[1]", "JSON object, not list"),
        ('{"type": "call", "seq": NaN}', "NaN is not JSON"),
        ('{"type": "bogus"}', "unknown type 'bogus'"),
        ('{"type": "hello", "v": 1, "element": "x", "ack": 0}', "unknown type 'hello'"),
        ('{"type": "call", "seq": 1.0, "ack": 0}', "needs 'seq'"),
        ('{"type": "call", "seq": true, "ack": 0}', "needs 'seq'"),
        ('{"type": "call", "seq": -1, "ack": 0}', "needs 'seq'"),
        ('{"type": "call", "seq": 9007199254740992, "ack": 0}', "needs 'seq'"),
        ('{"type": "call", "seq": 0, "ack": 0}', "start at 1"),
        ('{"type": "call", "seq": 1}', "needs 'ack'"),
        ('{"type": "call", "seq": 1, "ack": 0, "args": []}', "needs 'name'"),
        ('{"type": "call", "seq": 1, "ack": 0, "name": "f", "args": {}}', "'args', a JSON array"),
        ('{"type": "result", "seq": 1, "ack": 0, "call": 5, "value": 1}', "which is not open"),
        ('{"type": "ack", "ack": 4}', "only 0 were sent"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ],
)
def test_malformedMessagesAreProtocolErrors(data: str | bytes, match: str) -> None:
    channel = connected(maxMessageSize=1_000_000)
    with pytest.raises(LiveProtocolError, match=match):
        channel.receive(data)


def test_oversizedIncomingMessageIsAProtocolError() -> None:
    channel = connected(maxMessageSize=300)
    with pytest.raises(LiveProtocolError, match="301 characters is over the limit of 300"):
        channel.receive(" " * 301)


def test_nameTooLong() -> None:
    with pytest.raises(LiveProtocolError, match="at most 128"):
        connected().receive(call(1, "f" * 129))


def test_errorWithoutItsFields() -> None:
    channel = connected()
    channel.call("f", [])
    with pytest.raises(LiveProtocolError, match="needs 'error'"):
        channel.receive(json.dumps({"type": "error", "seq": 1, "ack": 1, "call": 1}))
    with pytest.raises(LiveProtocolError, match="needs 'message'"):
        channel.receive(
            json.dumps({"type": "error", "seq": 1, "ack": 1, "call": 1, "error": {"type": "E"}})
        )
    with pytest.raises(LiveProtocolError, match="needs 'value'"):
        channel.receive(json.dumps({"type": "result", "seq": 1, "ack": 1, "call": 1}))


def test_tooManyCallsInFlight() -> None:
    channel = connected(maxCallsInFlight=2)
    channel.receive(call(1))
    channel.receive(call(2))
    with pytest.raises(LiveProtocolError, match="more than 2 calls without waiting"):
        channel.receive(call(3))
    channel.answer(1, None)


def test_answeringMakesRoomForAnotherCall() -> None:
    channel = connected(maxCallsInFlight=1)
    channel.receive(call(1))
    channel.answer(1, None)
    assert channel.receive(call(2)) == [CallReceived(2, "f", [])]


def test_resumeWithImpossibleAcks() -> None:
    channel = connected()
    channel.call("a", [])
    channel.call("b", [])
    channel.receive(json.dumps({"type": "ack", "ack": 1}))
    channel.detach()
    with pytest.raises(LiveProtocolError, match="only 2 were sent"):
        channel.resume(3)
    with pytest.raises(LiveProtocolError, match="lost its state"):
        channel.resume(0)


def test_limitsAreChecked() -> None:
    with pytest.raises(ValueError, match="maxMessageSize must be at least 256"):
        LiveChannel(maxMessageSize=10)
    with pytest.raises(ValueError, match="maxCallsInFlight must be at least 1"):
        LiveChannel(maxCallsInFlight=0)


def test_helloAndWelcome() -> None:
    hello = parseHello(encodeHello("abc", 7), 1000)
    assert (hello.element, hello.ack) == ("abc", 7)
    assert parseWelcome(encodeWelcome(3), 1000) == 3
    with pytest.raises(LiveProtocolError, match="first message on a connection is a hello"):
        parseHello(encodeWelcome(3), 1000)
    with pytest.raises(LiveProtocolError, match="server's first message is a welcome"):
        parseWelcome(encodeHello("abc", 1), 1000)
    with pytest.raises(LiveProtocolError, match="version 2 of the live protocol"):
        parseHello('{"type": "hello", "v": 2, "element": "x", "ack": 0}', 1000)
    with pytest.raises(LiveProtocolError, match="needs 'element'"):
        parseHello('{"type": "hello", "v": 1, "element": 5, "ack": 0}', 1000)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50)))
@settings(max_examples=300, deadline=None)
def test_garbageIsEitherAcceptedOrAProtocolError(data: str | bytes) -> None:
    channel = connected()
    try:
        channel.receive(data)
    except LiveProtocolError:
        pass


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "seq", "ack", "call", "name", "args", "value", "error"]),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["type", "seq", "ack", "call", "name", "args", "value", "error", "message"]
        ),
        _json | st.sampled_from(["call", "result", "error", "ack", 1, 0]),
        max_size=7,
    )
)
@settings(max_examples=500, deadline=None)
def test_structuredGarbageIsEitherAcceptedOrAProtocolError(message: dict[str, Any]) -> None:
    channel = connected()
    channel.call("f", [])
    try:
        channel.receive(json.dumps(message))
    except LiveProtocolError:
        pass


# -- a conversation over a link that drops ------------------------------------------


@dataclass
class Side:
    channel: LiveChannel
    calls: list[CallReceived] = field(default_factory=list)
    answers: list[ResultReceived | ErrorReceived] = field(default_factory=list)
    open: list[int] = field(default_factory=list)
    wire: list[str] = field(default_factory=list)

    def receive(self, text: str) -> None:
        for event in self.channel.receive(text):
            if isinstance(event, CallReceived):
                self.calls.append(event)
                self.open.append(event.callID)
            else:
                self.answers.append(event)


class Link:
    """A server and a page channel, and the messages in flight each way."""

    def __init__(self) -> None:
        self.server = Side(LiveChannel())
        self.page = Side(LiveChannel())
        self.up = True
        self.reconnect()

    def flush(self, side: Side, other: Side) -> None:
        if self.up:
            other.wire.extend(side.channel.dataToSend())

    def flushAll(self) -> None:
        self.flush(self.server, self.page)
        self.flush(self.page, self.server)

    def drop(self) -> None:
        self.up = False
        self.server.wire.clear()
        self.page.wire.clear()
        self.server.channel.detach()
        self.page.channel.detach()

    def reconnect(self) -> None:
        self.drop()
        hello = parseHello(encodeHello("e", self.page.channel.lastReceived), 1000)
        self.server.channel.resume(hello.ack)
        welcome = parseWelcome(encodeWelcome(self.server.channel.lastReceived), 1000)
        self.page.channel.resume(welcome)
        self.up = True
        self.flushAll()

    def deliver(self, side: Side, count: int) -> None:
        for _ in range(min(count, len(side.wire))):
            side.receive(side.wire.pop(0))
        self.flushAll()


@given(
    st.lists(
        st.sampled_from(
            [
                "serverCall",
                "pageCall",
                "serverAnswer",
                "pageAnswer",
                "toServer",
                "toPage",
                "drop",
                "reconnect",
            ]
        ),
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_everyMessageArrivesExactlyOnceInOrderAcrossDrops(steps: list[str]) -> None:
    link = Link()
    serverCalls = pageCalls = 0
    for step in steps:
        if step == "serverCall":
            serverCalls += 1
            link.server.channel.call("s", [serverCalls])
        elif step == "pageCall":
            pageCalls += 1
            link.page.channel.call("p", [pageCalls])
        elif step == "serverAnswer" and link.server.open:
            callID = link.server.open.pop(0)
            link.server.channel.answer(callID, callID)
        elif step == "pageAnswer" and link.page.open:
            callID = link.page.open.pop(0)
            link.page.channel.fail(callID, "E", str(callID))
        elif step == "toServer":
            link.deliver(link.server, 2)
        elif step == "toPage":
            link.deliver(link.page, 2)
        elif step == "drop":
            link.drop()
        elif step == "reconnect":
            link.reconnect()
        link.flushAll()
    # Heal the link, answer everything, and let it all arrive.
    link.reconnect()
    for _ in range(4):
        for side in (link.server, link.page):
            while side.open:
                callID = side.open.pop(0)
                side.channel.answer(callID, callID)
        link.flushAll()
        while link.server.wire or link.page.wire:
            link.deliver(link.server, 100)
            link.deliver(link.page, 100)
    assert [c.args for c in link.page.calls] == [[n] for n in range(1, serverCalls + 1)]
    assert [c.args for c in link.server.calls] == [[n] for n in range(1, pageCalls + 1)]
    assert len({a.callID for a in link.server.answers}) == len(link.server.answers) == serverCalls
    assert len({a.callID for a in link.page.answers}) == len(link.page.answers) == pageCalls
    assert link.server.channel.awaitingAnswers == frozenset()
    assert link.page.channel.awaitingAnswers == frozenset()
    # The last acknowledgements went too: nothing is left in either outbox.
    assert link.server.channel.queuedBytes == 0
    assert link.page.channel.queuedBytes == 0


def test_resumeBelowAnAcknowledgementWithAnEmptyOutbox() -> None:
    channel = connected()
    channel.call("a", [])
    channel.receive(json.dumps({"type": "ack", "ack": 1}))
    channel.detach()
    with pytest.raises(LiveProtocolError, match="lost its state"):
        channel.resume(0)
    channel.resume(1)
