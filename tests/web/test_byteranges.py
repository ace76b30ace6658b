"""Tests for torsion.web._byteranges: the Range header against a representation's length."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.web._byteranges import MAX_RANGES, Unsatisfiable, parseRange


def test_aSingleRangeIsInclusiveAtBothEnds() -> None:
    assert parseRange(b"bytes=0-99", 1000) == [(0, 99)]


def test_aRangePastTheEndIsClipped() -> None:
    assert parseRange(b"bytes=900-5000", 1000) == [(900, 999)]


def test_anOpenEndedRangeRunsToTheEnd() -> None:
    assert parseRange(b"bytes=100-", 1000) == [(100, 999)]


def test_aSuffixRangeIsTheLastBytes() -> None:
    assert parseRange(b"bytes=-100", 1000) == [(900, 999)]
    assert parseRange(b"bytes=-5000", 1000) == [(0, 999)]


def test_severalRangesKeepTheirOrderWhenApart() -> None:
    assert parseRange(b"bytes=20-29, 0-9", 100) == [(20, 29), (0, 9)]


def test_overlappingOrAdjacentRangesAreMerged() -> None:
    assert parseRange(b"bytes=0-9,5-19,40-49,20-24", 100) == [(0, 24), (40, 49)]


def test_theUnitAndSpacesAreLenient() -> None:
    assert parseRange(b"Bytes = 1-2 ,, 4-5", 10) == [(1, 2), (4, 5)]


@pytest.mark.parametrize(
    "header",
    [
        b"items=0-1",
        b"bytes",
        b"bytes=",
        b"bytes=,",
        b"bytes=abc",
        b"bytes=5",
        b"bytes=9-3",
        b"bytes=0-9,9-3",
        b"bytes=-",
        b"bytes=1-2-3",
        b"bytes=+1-2",
        b"bytes=0x1-2",
        b"bytes=99999999999999999999-",
        "bytes=\u0661-2".encode(),
    ],
)
def test_aMalformedHeaderIsIgnored(header: bytes) -> None:
    assert parseRange(header, 1000) is None


def test_tooManyRangesAreIgnored() -> None:
    many = b"bytes=" + b",".join(b"%d-%d" % (i * 2, i * 2) for i in range(MAX_RANGES + 1))
    assert parseRange(many, 10_000) is None
    enough = b"bytes=" + b",".join(b"%d-%d" % (i * 2, i * 2) for i in range(MAX_RANGES))
    assert parseRange(enough, 10_000) is not None


@pytest.mark.parametrize("header", [b"bytes=1000-", b"bytes=1000-2000", b"bytes=-0"])
def test_rangesOutsideTheRepresentationAreUnsatisfiable(header: bytes) -> None:
    with pytest.raises(Unsatisfiable):
        parseRange(header, 1000)


def test_unsatisfiableRangesAreDroppedBesideSatisfiableOnes() -> None:
    assert parseRange(b"bytes=2000-3000,0-0", 1000) == [(0, 0)]


def test_anEmptyRepresentationHasNoRanges() -> None:
    assert parseRange(b"bytes=0-10", 0) is None
    assert parseRange(b"bytes=-10", 0) is None


@given(st.binary(max_size=80), st.integers(min_value=0, max_value=10**6))
def test_anyHeaderGivesRangesWithinTheRepresentation(header: bytes, size: int) -> None:
    try:
        ranges = parseRange(b"bytes=" + header, size)
    except Unsatisfiable:
        return
    if ranges is None:
        return
    assert ranges
    assert all(0 <= first <= last < size for first, last in ranges)
    ordered = sorted(ranges)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ordered))


@given(
    st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 2000)).map(sorted), min_size=1, max_size=8
    ),
    st.integers(min_value=1, max_value=1500),
)
def test_theRangesCoverExactlyTheBytesAskedFor(pairs: list[list[int]], size: int) -> None:
    header = b"bytes=" + b",".join(b"%d-%d" % (a, b) for a, b in pairs)
    asked = {i for a, b in pairs for i in range(a, min(b, size - 1) + 1)}
    if not asked:
        with pytest.raises(Unsatisfiable):
            parseRange(header, size)
        return
    ranges = parseRange(header, size)
    assert ranges is not None
    covered = [i for a, b in ranges for i in range(a, b + 1)]
    assert len(covered) == len(set(covered))
    assert set(covered) == asked
