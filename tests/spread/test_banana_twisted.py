"""torsion's Banana against Twisted's, byte for byte: Twisted runs as a black box.

A table of values is encoded by Twisted's twisted.spread.banana (in its own
interpreter, run once for the module: $TORSION_TWISTED_PYTHON or
bench/.venv-twisted/bin/python) in the none and pb dialects; torsion's encodings must
be the same bytes, and Twisted must decode torsion's bytes to the same values. The
handshake bytes are compared too. Without a Twisted interpreter the module is
skipped, saying so.
"""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

import pytest

from tests.spread.peers import twistedPython
from torsion.internet.testing import StringTransport
from torsion.spread import banana
from torsion.spread._bananacodec import BananaDecoder, BananaEncoder
from torsion.spread.banana import Banana, BananaError

VALUES: list[Any] = [
    0,
    1,
    127,
    128,
    255,
    1023,
    1024,
    16383,
    16384,
    2**31 - 1,
    2**31,
    2**31 + 1,
    2**32,
    2**63 - 1,
    2**64,
    2**100,
    2**447,
    -1,
    -127,
    -128,
    -1024,
    -(2**31) + 1,
    -(2**31),
    -(2**31) - 1,
    -(2**64),
    -(2**447),
    True,
    False,
    0.0,
    -0.0,
    1.5,
    -1.5,
    1e-310,
    1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
    b"",
    b"x",
    b"\x00\xff\x80",
    b"a" * 127,
    b"b" * 128,
    b"c" * 20000,
    [],
    [[]],
    [1, [b"hello"]],
    (1, (2, (3,))),
    [b"None", b"dictionary", b"uncache", b"message", b"answer", b"Nonesuch"],
    [b"message", 3, b"root", b"add", 1, [b"tuple", 1, 2], [b"dictionary"]],
    list(range(300)),
    [[b"unicode", b"name"], [b"unicode", b"item%d" % 7], 7, 10.5],
    [-(2**70), 2**70, [0.25, [b"deep", [[[]]]]]],
]

REFUSED: list[Any] = ["text", None, {1: 2}, 2**448, -(2**448), b"x" * (640 * 1024 + 1)]

# Runs under Twisted's interpreter: reads a JSON request on stdin, answers in JSON.
TWISTED_SIDE = r"""
import json, sys
from twisted.internet.testing import StringTransport
from twisted.spread import banana

request = json.load(sys.stdin)

class Recorder(banana.Banana):
    def expressionReceived(self, lst):
        self.got.append(lst)

def connected(isClient, dialect):
    protocol = Recorder(isClient=isClient)
    protocol.got = []
    transport = StringTransport()
    protocol.makeConnection(transport)
    if dialect:
        protocol._selectDialect(dialect)
        transport.clear()
    return protocol, transport

def encodings(source):
    value = eval(source, {"inf": float("inf"), "nan": float("nan")})
    try:
        plain = banana.encode(value).hex()
    except banana.BananaError:
        return None
    protocol, transport = connected(1, b"pb")
    protocol.sendEncoded(value)
    return [plain, transport.value().hex()]

def decoded(data, dialect):
    protocol, transport = connected(1, dialect)
    protocol.dataReceived(bytes.fromhex(data))
    return [repr(x) for x in protocol.got]

server, serverTransport = connected(0, None)
offer = serverTransport.value()
client, clientTransport = connected(1, None)
client.dataReceived(bytes.fromhex(request["offer"]))
json.dump({
    "encodings": [encodings(s) for s in request["values"]],
    "decodedPlain": decoded(request["plain"], b"none"),
    "decodedPb": decoded(request["pb"], b"pb"),
    "serverOffer": offer.hex(),
    "clientChoice": clientTransport.value().hex(),
}, sys.stdout)
"""

PB_ENCODER = BananaEncoder(Banana.outgoingVocabulary)


@pytest.fixture(scope="module")
def twisted() -> dict[str, Any]:
    python = twistedPython()
    if python is None:
        pytest.skip(
            "no Python with Twisted: set TORSION_TWISTED_PYTHON or create "
            "bench/.venv-twisted (python -m venv bench/.venv-twisted && "
            "bench/.venv-twisted/bin/pip install twisted)"
        )
    server = Banana(isClient=0)
    transport = StringTransport()
    server.makeConnection(transport)
    request = {
        "values": [repr(v) for v in VALUES + REFUSED],
        "plain": b"".join(banana.encode(v) for v in VALUES).hex(),
        "pb": b"".join(PB_ENCODER.encode(v) for v in VALUES).hex(),
        "offer": transport.value().hex(),
    }
    done = subprocess.run(
        [python, "-c", TWISTED_SIDE],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


@pytest.mark.parametrize("index", range(len(VALUES)), ids=[repr(v)[:30] for v in VALUES])
def test_theSameBytesAsTwisted(twisted: dict[str, Any], index: int) -> None:
    value = VALUES[index]
    expected = twisted["encodings"][index]
    assert expected is not None, f"Twisted refused {value!r}"
    plain, pb = expected
    assert banana.encode(value).hex() == plain
    assert PB_ENCODER.encode(value).hex() == pb


@pytest.mark.parametrize("index", range(len(REFUSED)), ids=[repr(v)[:20] for v in REFUSED])
def test_bothRefuseTheSameValues(twisted: dict[str, Any], index: int) -> None:
    assert twisted["encodings"][len(VALUES) + index] is None
    with pytest.raises(BananaError):
        banana.encode(REFUSED[index])


def test_twistedDecodesOurBytesToTheSameValues(twisted: dict[str, Any]) -> None:
    plain = b"".join(banana.encode(v) for v in VALUES)
    pb = b"".join(PB_ENCODER.encode(v) for v in VALUES)
    ours = [repr(v) for v in BananaDecoder().feed(plain)]
    assert [repr(v) for v in BananaDecoder(Banana.incomingVocabulary).feed(pb)] == ours
    assert twisted["decodedPlain"] == ours
    assert twisted["decodedPb"] == ours


def test_theHandshakeBytesAreTwisteds(twisted: dict[str, Any]) -> None:
    server = Banana(isClient=0)
    transport = StringTransport()
    server.makeConnection(transport)
    assert transport.value().hex() == twisted["serverOffer"]
    assert twisted["clientChoice"] == banana.encode(b"pb").hex()
    client = Banana(isClient=1)
    clientTransport = StringTransport()
    client.makeConnection(clientTransport)
    client.dataReceived(bytes.fromhex(twisted["serverOffer"]))
    assert clientTransport.value().hex() == twisted["clientChoice"]
