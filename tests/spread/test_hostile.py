"""Hostile input over a real socket: a torsion PB server refuses it, logs, and serves others.

One torsion PB server runs in a child process (tests/spread/_peer.py, logging to its
standard error) for the whole module, with a well-behaved client (another child)
connected to it throughout. Each test opens raw sockets and writes what no honest
peer would: random bytes after the handshake, strings and lists over Banana's limits,
an over-long prefix, nesting too deep, a dialect nobody offered, and well-formed PB
calls whose arguments are jelly naming os.system, subprocess.Popen, a module, a
function or a class that nobody registered. After each, the server must have dropped
that connection (or refused that call) and logged why with the peer's port, the
well-behaved client must still be answered, and a canary module on the server's path
must never have been imported or run (it writes a marker file if it is).

The raw client has its own small Banana encoder and decoder (from the wire format),
so the test does not trust the codec it is testing.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.spread.peers import JSONPeer, peerArgv, torsionPython

pytest.importorskip("torsion.spread.pb", reason="torsion.spread.pb is not here yet (branch pb)")

# -- a Banana encoder and decoder of our own ------------------------------------------

LIST, INT, STRING, NEG, FLOAT, LONGINT, LONGNEG, VOCAB = range(0x80, 0x88)
SIZE_LIMIT = 640 * 1024
# The pb dialect's words: Twisted's numbers for them (from its Banana documentation).
PB_VOCABULARY = dict(
    enumerate(
        b"None class dereference reference dictionary function instance list module "
        b"persistent tuple unpersistable copy cache cached remote local lcache version "
        b"login password challenge logged_in not_logged_in cachemessage message answer "
        b"error decref decache uncache".split(),
        start=1,
    )
)


def prefix(number: int) -> bytes:
    """``number`` in base 128, least significant digit first, as Banana's headers are."""
    digits = bytearray()
    while True:
        digits.append(number & 0x7F)
        number >>= 7
        if not number:
            return bytes(digits)


def encode(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bool):
        raise TypeError("Banana has no booleans")
    if isinstance(value, int):
        if value >= 0:
            return prefix(value) + bytes([INT if value < 2**31 else LONGINT])
        return prefix(-value) + bytes([NEG if value >= -(2**31) else LONGNEG])
    if isinstance(value, float):
        return bytes([FLOAT]) + struct.pack("!d", value)
    if isinstance(value, bytes):
        return prefix(len(value)) + bytes([STRING]) + value
    if isinstance(value, list | tuple):
        return prefix(len(value)) + bytes([LIST]) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {value!r}")


def decodeAll(data: bytes) -> tuple[list[Any], bytes]:
    """The whole expressions at the start of ``data``, and the bytes left over."""
    found: list[Any] = []
    position = 0
    while True:
        try:
            value, position = _decodeOne(data, position)
        except IndexError:
            return found, data[position:]
        found.append(value)


def _decodeOne(data: bytes, position: int) -> tuple[Any, int]:
    start = position
    while data[position] < 0x80:
        position += 1
    digits = data[start:position]
    number = sum(d << (7 * i) for i, d in enumerate(digits))
    kind = data[position]
    position += 1
    if kind == LIST:
        items = []
        for _ in range(number):
            item, position = _decodeOne(data, position)
            items.append(item)
        return items, position
    if kind in (INT, LONGINT):
        return number, position
    if kind in (NEG, LONGNEG):
        return -number, position
    if kind == STRING:
        if position + number > len(data):
            raise IndexError("incomplete")
        return data[position : position + number], position + number
    if kind == FLOAT:
        if position + 8 > len(data):
            raise IndexError("incomplete")
        return struct.unpack("!d", data[position : position + 8])[0], position + 8
    if kind == VOCAB:
        return PB_VOCABULARY[number], position
    raise ValueError(f"type byte {kind:#x}")


# -- the server, the canary and the well-behaved client --------------------------------

CANARY = """\
from pathlib import Path
HERE = Path({here!r})
(HERE / "imported").write_text("canarymod was imported")

def boom(*args, **kwargs):
    (HERE / "ran").write_text("canarymod.boom ran")

class Boom:
    def __init__(self, *args, **kwargs):
        boom()
    def __setstate__(self, state):
        boom()
"""


class Hostile:
    """The module's server, its canary directory and the client that stays connected."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary
        self.server = JSONPeer(
            peerArgv(torsionPython(), "torsion", "serve", "--log"), "server", path=[str(canary)]
        )
        self.port = int(self.server.message()["port"])
        self.client = JSONPeer(
            peerArgv(torsionPython(), "torsion", "client", str(self.port)), "good client"
        )
        assert self.client.message() == {"connected": True}

    def stop(self) -> None:
        self.client.stop()
        self.server.stop()

    def assertUnharmed(self) -> None:
        """The good client is still served, and nothing of the canary ever ran."""
        word = f"still here {time.monotonic()}"
        assert self.client.result("call", "echo", [word]) == word
        assert self.server.result("imported", "canarymod") is False
        made = sorted(p.name for p in self.canary.iterdir() if p.name != "canarymod.py")
        assert made == [], f"the canary left {made}: hostile input was imported or run"
        assert self.server.process.poll() is None


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    canary = tmp_path_factory.mktemp("canary")
    (canary / "canarymod.py").write_text(CANARY.format(here=str(canary)))
    made = Hostile(canary)
    try:
        yield made
    finally:
        made.stop()


class RawClient:
    """A socket speaking Banana by hand: the handshake, then whatever the test writes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.localPort = self.sock.getsockname()[1]
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def expressions(self, count: int, timeout: float = 10) -> list[Any]:
        """The next ``count`` expressions the server sends."""
        deadline = time.monotonic() + timeout
        while True:
            found, _ = decodeAll(self.buffer)
            if len(found) >= count:
                break
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before {count} expressions came: {found}")
            self.buffer += chunk
        kept = found[:count]
        self.buffer = b"".join(encode(v) for v in found[count:])  # never needed in practice
        return kept

    def handshake(self) -> None:
        """Take the server's dialects, choose pb, and trade PB versions (6) with it."""
        assert self.expressions(1) == [[b"pb", b"none"]]
        self.sock.sendall(encode(b"pb") + encode([b"version", 6]))
        assert self.expressions(1) == [[b"version", 6]]

    def closedByServer(self, timeout: float = 10) -> bool:
        """Whether the server closes this connection within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return False


@pytest.fixture
def raw(hostile: Hostile) -> Iterator[RawClient]:
    made = RawClient(hostile.port)
    try:
        yield made
    finally:
        made.close()
    hostile.assertUnharmed()


def logSince(hostile: Hostile, mark: int) -> str:
    return hostile.server.stderr()[mark:]


def waitForLog(hostile: Hostile, mark: int, words: list[str], timeout: float = 10) -> str:
    """The server's log since ``mark`` once it has every one of ``words`` (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        text = logSince(hostile, mark)
        if all(word in text for word in words):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not log {words} within {timeout} s:\n{text}")
        time.sleep(0.05)


def message(requestId: int, method: bytes, *args: Any) -> list[Any]:
    """A PB call of ``method`` on the root, with ``args`` as jelly expressions."""
    return [b"message", requestId, b"root", method, 1, [b"tuple", *args], [b"dictionary"]]


# -- the tests ------------------------------------------------------------------------------


def test_anHonestRawCallIsAnswered(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    raw.sock.sendall(encode(message(1, b"echo", 42)))
    assert raw.expressions(1) == [[b"answer", 1, 42]]


def dropped(hostile: Hostile, raw: RawClient, data: bytes, *words: str) -> str:
    """Send ``data``; the server must close this connection and log why, with its port."""
    mark = len(hostile.server.stderr())
    raw.sock.sendall(data)
    assert raw.closedByServer(), "the server kept a connection that sent hostile bytes"
    return waitForLog(hostile, mark, [str(raw.localPort), *words])


def test_aStringOverTheSizeLimitDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    dropped(hostile, raw, prefix(SIZE_LIMIT + 1) + bytes([STRING]) + b"x" * 1000)


def test_aListOverTheSizeLimitDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    dropped(hostile, raw, prefix(SIZE_LIMIT + 1) + bytes([LIST]))


def test_aWholeOverLimitStringSentDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    data = encode(message(1, b"echo", b"x" * (SIZE_LIMIT + 10)))
    mark = len(hostile.server.stderr())
    try:
        raw.sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before all of it is written
    assert raw.closedByServer()
    waitForLog(hostile, mark, [str(raw.localPort)])


def test_anOverLongPrefixDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    dropped(hostile, raw, b"\x01" * 100 + bytes([INT]))


def test_nestingTooDeepDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    dropped(hostile, raw, (b"\x01" + bytes([LIST])) * 100_000)


def test_anUnknownTypeByteDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    dropped(hostile, raw, b"\x01\xff")


def test_aDialectNotOfferedDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    assert raw.expressions(1) == [[b"pb", b"none"]]
    dropped(hostile, raw, encode(b"evil-dialect"))


def test_aListInsteadOfADialectDropsTheConnection(hostile: Hostile, raw: RawClient) -> None:
    assert raw.expressions(1) == [[b"pb", b"none"]]
    dropped(hostile, raw, encode([b"pb", 1]))


@pytest.mark.parametrize("seed", range(40))
def test_fuzzedBananaNeverHarmsTheServer(hostile: Hostile, raw: RawClient, seed: int) -> None:
    """Random bytes after the handshake: dropped or ignored, never a crash or an import.

    Most random strings are not Banana; some decode to expressions that are not PB
    messages. Either way the server must drop the connection or answer it, and keep
    serving the other client (checked by the ``raw`` fixture when the test ends).
    """
    generator = random.Random(seed)
    raw.handshake()
    # Biased toward type bytes and small digits, so that some of it decodes for a while.
    alphabet = [*range(0x80, 0x88), *range(0, 8), 0x7F, 0xFF, 0x88, 0xC0]
    data = bytes(
        generator.choice(alphabet) if generator.random() < 0.7 else generator.randrange(256)
        for _ in range(generator.randrange(1, 400))
    )
    try:
        raw.sock.sendall(data + encode(message(99, b"echo", 1)))
    except (BrokenPipeError, ConnectionResetError):
        return
    raw.closedByServer(timeout=0.5)


# Jelly that names what must never be imported, looked up or run from the wire, and
# references to objects that the server never sent.
FORBIDDEN = {
    "os.system as a function": [b"function", b"os.system"],
    "a canary function": [b"function", b"canarymod.boom"],
    "a module": [b"module", b"canarymod"],
    "the os module": [b"module", b"os"],
    "a class": [b"class", b"canarymod.Boom"],
    "an unregistered instance": [b"canarymod.Boom", [b"dictionary", [b"a", 1]]],
    "an old-style instance": [b"instance", b"canarymod.Boom", [b"dictionary"]],
    "subprocess.Popen with state": [
        b"subprocess.Popen",
        [b"dictionary", [b"args", [b"list", b"touch", b"ran"]]],
    ],
    "os.system as a type tag": [b"os.system", b"touch ran"],
    "a persistent id": [b"persistent", b"canarymod"],
    "an unseen dereference": [b"dereference", 12345],
    "an object the server never sent": [b"local", 999],
    "a cache the server never sent": [b"lcache", 999],
}
REFUSALS = (b"InsecureJelly", b"MalformedJelly", b"ProtocolError")


def failureType(sexp: Any) -> bytes:
    """The remote type name in a jellied CopyableFailure (``[name, [dictionary, ...]]``)."""
    for key, value in sexp[1][1:]:
        if key == [b"unicode", b"type"]:
            return bytes(value)
    raise AssertionError(f"no type in {sexp!r:.300}")


def refusedOrDropped(raw: RawClient, requestId: int) -> bytes | None:
    """The type of the error answering ``requestId``, or None if the server hung up."""
    try:
        answers = raw.expressions(1, timeout=10)
    except (ConnectionError, OSError):
        return None
    (answer,) = answers
    assert answer[:2] == [b"error", requestId], answer
    return failureType(answer[2])


@pytest.mark.parametrize("expression", FORBIDDEN.values(), ids=list(FORBIDDEN))
def test_forbiddenJellyIsRefused(hostile: Hostile, raw: RawClient, expression: Any) -> None:
    """The call fails with the reason (or the connection goes); nothing is imported or run.

    After a refused call the same connection still answers honest calls: only what
    the peer sent was refused, not the peer (the ``raw`` fixture then checks the
    other client and the canary).
    """
    raw.handshake()
    raw.sock.sendall(encode(message(7, b"echo", expression)))
    refusal = refusedOrDropped(raw, 7)
    if refusal is not None:
        assert refusal.endswith(REFUSALS), refusal
        raw.sock.sendall(encode(message(8, b"echo", 5)))
        assert raw.expressions(1) == [[b"answer", 8, 5]]


def test_forbiddenJellyInsideAnHonestValueIsRefused(hostile: Hostile, raw: RawClient) -> None:
    raw.handshake()
    buried = [b"list", 1, [b"dictionary", [b"k", [b"tuple", [b"module", b"canarymod"]]]]]
    raw.sock.sendall(encode(message(3, b"echo", buried)))
    refusal = refusedOrDropped(raw, 3)
    assert refusal is None or refusal.endswith(REFUSALS)


def test_protocolNonsenseIsIgnoredOrRefused(hostile: Hostile, raw: RawClient) -> None:
    """Answers to calls never made, references and caches never given, unknown objects."""
    raw.handshake()
    nonsense = [
        [b"decref", 424242],
        [b"decache", 5],
        [b"uncache", 5],
        [b"answer", 99, 1],
        [b"error", 98, 1],
        [b"message", 3, 77, b"echo", 1, [b"tuple"], [b"dictionary"]],
        [b"cachemessage", 4, 55, b"set", 1, [b"tuple"], [b"dictionary"]],
        [b"noSuchCommand", 1],
    ]
    raw.sock.sendall(b"".join(encode(sexp) for sexp in nonsense))
    raw.sock.sendall(encode(message(9, b"echo", b"after the nonsense")))
    deadline = time.monotonic() + 10
    seen: list[Any] = []
    while [b"answer", 9, b"after the nonsense"] not in seen:
        assert time.monotonic() < deadline, f"no answer after the nonsense; got {seen}"
        seen += raw.expressions(1)
    errors = {sexp[1]: failureType(sexp[2]) for sexp in seen if sexp[0] == b"error"}
    assert set(errors) == {3, 4}, seen
    assert [b"didNotUnderstand", b"noSuchCommand"] in seen


@pytest.mark.parametrize("name", ["os.system as a function", "subprocess.Popen with state"])
def test_forbiddenJellyIsLoggedWithThePeer(hostile: Hostile, raw: RawClient, name: str) -> None:
    raw.handshake()
    mark = len(hostile.server.stderr())
    raw.sock.sendall(encode(message(7, b"echo", FORBIDDEN[name])))
    refusedOrDropped(raw, 7)
    named = FORBIDDEN[name][1] if name.startswith("os.") else FORBIDDEN[name][0]
    waitForLog(hostile, mark, [named.decode(), str(raw.localPort)], timeout=5)
