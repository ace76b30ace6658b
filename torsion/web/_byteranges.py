"""Byte ranges (RFC 9110 section 14): the Range header parsed against a length.

Sans-IO: torsion.web.static asks `parseRange(header, size)` which bytes of a file a
request wants and answers 200, 206 or 416 from what it returns. The rules:

- a header that is not `bytes=...`, or is malformed in any part (a range whose end
  comes before its start, a non-digit, no range at all), is ignored: the whole
  representation is sent (200), as RFC 9110 section 14.2 allows;
- so is a header with more than `MAX_RANGES` ranges (a client asking for thousands of
  tiny or overlapping pieces is trying to make the server work, not reading a file);
- ranges that start past the end are dropped; if none is left the request is
  unsatisfiable (416); an empty file has nothing to range over (200);
- overlapping or adjacent ranges are merged, in ascending order, so a response never
  repeats a byte.

Tests: tests/web/test_byteranges.py.
"""

from __future__ import annotations

__all__ = ["MAX_RANGES", "Unsatisfiable", "parseRange"]

MAX_RANGES = 64
"""More ranges than this in one header and it is ignored."""

_DIGIT_LIMIT = 19
"""Longer numbers than this (past 2**63) are no real file's offsets."""


class Unsatisfiable(Exception):
    """No range of the header overlaps the representation: answer 416."""


def _number(text: bytes) -> int | None:
    text = text.strip()
    if not text or len(text) > _DIGIT_LIMIT or not text.isdigit():
        return None
    return int(text)


def parseRange(header: bytes, size: int) -> list[tuple[int, int]] | None:
    """The byte ranges of `size` bytes that a Range header asks for.

    Returns:
        None if the header is to be ignored (send everything), else a non-empty list
        of (first, last) offsets, both inclusive, within 0..size-1.

    Raises:
        Unsatisfiable: if the header is valid but selects no byte.
    """
    unit, equals, spec = header.partition(b"=")
    if not equals or unit.strip().lower() != b"bytes":
        return None
    pieces = [piece for piece in spec.split(b",") if piece.strip()]
    if not pieces or len(pieces) > MAX_RANGES:
        return None
    wanted: list[tuple[int, int]] = []
    for piece in pieces:
        first, dash, last = piece.partition(b"-")
        if not dash:
            return None
        if not first.strip():
            suffix = _number(last)
            if suffix is None:
                return None
            if suffix and size:
                wanted.append((max(0, size - suffix), size - 1))
            continue
        start = _number(first)
        if start is None:
            return None
        end = size - 1
        if last.strip():
            asked = _number(last)
            if asked is None or asked < start:
                return None
            end = asked
        if start < size:
            wanted.append((start, min(end, size - 1)))
    if not size:
        return None
    if not wanted:
        raise Unsatisfiable(f"no range of {header!r} is within the {size} bytes")
    return _coalesced(wanted)


def _coalesced(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`ranges` as asked if no two overlap or touch; else merged, in ascending order."""
    ordered = sorted(ranges)
    if all(ordered[i][1] + 1 < ordered[i + 1][0] for i in range(len(ordered) - 1)):
        return ranges
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        lastStart, lastEnd = merged[-1]
        if start <= lastEnd + 1:
            merged[-1] = (lastStart, max(lastEnd, end))
        else:
            merged.append((start, end))
    return merged
