"""Hypothesis fuzzing of torsion's Banana codec (torsion.spread._bananacodec).

Any byte string either decodes or raises BananaError (never another exception), the
same way however it is cut into chunks; values round trip through the encoder and a
decoder fed random chunks; and hostile input cannot make the decoder hold much more
memory than the bytes it was given, nor take long over them.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torsion.spread import banana
from torsion.spread._bananacodec import BananaDecoder, BananaEncoder
from torsion.spread.banana import Banana, BananaError

SMALL_LIMITS = {"sizeLimit": 100, "prefixLimit": 8, "depthLimit": 10, "expressionLimit": 300}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that are mostly Banana-shaped: short numbers, then a type byte, then payload.
element = st.one_of(
    st.binary(max_size=3)
    .map(lambda b: bytes(x & 0x7F for x in b))
    .flatmap(lambda p: st.sampled_from(range(0x80, 0x89)).map(lambda t: p + bytes((t,)))),
    st.binary(max_size=12),
)
bananaish = st.lists(element, max_size=40).map(b"".join)
anyBytes = st.one_of(st.binary(max_size=400), bananaish)


def decodeAll(data: bytes, cuts: list[int], **limits: Any) -> tuple[list[Any], bool]:
    """Feed ``data`` cut at ``cuts``; return the expressions and whether it failed."""
    decoder = BananaDecoder(Banana.incomingVocabulary, **limits)
    found: list[Any] = []
    start = 0
    try:
        for cut in [*sorted(cuts), len(data)]:
            found += decoder.feed(data[start:cut])
            start = max(start, cut)
    except BananaError as e:
        return found + e.expressions, True
    return found, False


@FUZZ
@given(data=anyBytes, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_anyBytesDecodeOrFailCleanlyHoweverTheyAreCut(data: bytes, cuts: list[int]) -> None:
    whole = decodeAll(data, [])
    assert decodeAll(data, [c for c in cuts if c <= len(data)]) == whole


@FUZZ
@given(data=anyBytes, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_anyBytesUnderSmallLimits(data: bytes, cuts: list[int]) -> None:
    whole = decodeAll(data, [], **SMALL_LIMITS)
    assert decodeAll(data, [c for c in cuts if c <= len(data)], **SMALL_LIMITS) == whole


@FUZZ
@given(data=anyBytes)
def test_oneByteAtATimeMatchesOneChunk(data: bytes) -> None:
    assert decodeAll(data, list(range(len(data)))) == decodeAll(data, [])


scalars = st.one_of(
    st.integers(min_value=-(2**447) + 1, max_value=2**447 - 1),
    st.integers(min_value=-(2**33), max_value=2**33),
    st.floats(allow_nan=False),
    st.binary(max_size=300),
    st.sampled_from(sorted(Banana.outgoingVocabulary)),
)
expressions = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=8) | st.tuples(inner, inner), max_leaves=60
)


def plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@FUZZ
@given(value=expressions, cuts=st.lists(st.integers(0, 5000), max_size=6))
def test_valuesRoundTripThroughChunkedDecoding(value: Any, cuts: list[int]) -> None:
    for encoder, vocabulary in [
        (BananaEncoder(), None),
        (BananaEncoder(Banana.outgoingVocabulary), Banana.incomingVocabulary),
    ]:
        data = encoder.encode(value)
        decoder = BananaDecoder(vocabulary)
        found: list[Any] = []
        start = 0
        for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
            found += decoder.feed(data[start:cut])
            start = cut
        assert found == [plain(value)] and decoder.buffered == 0


@FUZZ
@given(
    value=st.recursive(
        st.none()
        | st.text()
        | st.integers()
        | st.dictionaries(st.integers(), st.integers())
        | st.binary(),
        lambda inner: st.lists(inner, max_size=4),
        max_leaves=10,
    )
)
def test_theEncoderRaisesOnlyBananaError(value: Any) -> None:
    try:
        banana.encode(value)
    except BananaError:
        pass


def peakMemory(data: bytes) -> int:
    tracemalloc.start()
    try:
        decoder = BananaDecoder()
        try:
            for i in range(0, len(data), 65536):
                decoder.feed(data[i : i + 65536])
        except BananaError:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_hostileShapesHoldMemoryInProportionToTheirBytes() -> None:
    hostile = [
        # Lists announcing the most elements, nested, each element a new list.
        b"\x00\x00\x28\x80" * 400,
        # A list of 640 Ki elements of numbers that are not cached small ints.
        b"\x00\x00\x28\x80" + b"\x7f\x7f\x81" * 100_000,
        # A string announced at the size limit, never sent.
        b"\x00\x00\x28\x82" + b"x" * 1000,
        # Floats, the largest element per byte of payload.
        b"\x00\x00\x28\x80" + (b"\x84" + b"\x3f" * 8) * 20_000,
    ]
    for data in hostile:
        assert peakMemory(data) < 64 * len(data) + 256 * 1024


@settings(max_examples=30, deadline=None)
@given(data=anyBytes.map(lambda d: d * 200))
def test_decodingIsLinearAndQuick(data: bytes) -> None:
    start = time.process_time()
    decodeAll(data, list(range(0, len(data), 977)))
    assert time.process_time() - start < 2.0
