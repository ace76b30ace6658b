"""HTTP header collections: `Headers`, as torsion.web's requests and responses carry them.

Names are case-insensitive and kept lowercased; values keep their order. Both may be
given as bytes or str; str names are ASCII and str values ISO-8859-1 (the only text
encoding HTTP/1.1 header values have on the wire), and a lookup answers in the type
it was asked in. Values are checked when set: a CR, LF or NUL in a value, or a name
that is not a token, raises ValueError, so no caller can split a response in two
(header injection) by passing user input to setHeader.

Tests: tests/web/test_http_headers.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import AnyStr, TypeVar, overload

__all__ = ["Headers", "canonicalName"]

_T = TypeVar("_T")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_UNSAFE_VALUE = re.compile(rb"[\x00\r\n]")

_CANONICAL_SPECIAL = {
    b"etag": b"ETag",
    b"te": b"TE",
    b"www-authenticate": b"WWW-Authenticate",
    b"x-xss-protection": b"X-XSS-Protection",
    b"content-md5": b"Content-MD5",
    b"dnt": b"DNT",
}
_canonicalCache: dict[bytes, bytes] = {}


def canonicalName(name: bytes) -> bytes:
    """The conventional capitalisation of a lowercased header name (Content-Type)."""
    cached = _canonicalCache.get(name)
    if cached is not None:
        return cached
    result = _CANONICAL_SPECIAL.get(name) or b"-".join(
        part.capitalize() for part in name.split(b"-")
    )
    if len(_canonicalCache) < 1024:
        _canonicalCache[name] = result
    return result


def _nameBytes(name: bytes | str) -> bytes:
    if isinstance(name, str):
        try:
            name = name.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"header name {name!r} is not ASCII") from None
    return name.lower()


def _checkedName(name: bytes | str) -> bytes:
    raw = _nameBytes(name)
    if not _TOKEN.fullmatch(raw):
        raise ValueError(f"header name {name!r} is not an HTTP token")
    return raw


def _valueBytes(value: bytes | str) -> bytes:
    if isinstance(value, str):
        try:
            raw = value.encode("iso-8859-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"header value {value!r} has characters outside ISO-8859-1; "
                "encode it (for instance as RFC 8187 or percent-encoding) first"
            ) from None
    elif isinstance(value, bytes):
        raw = value
    else:
        raise TypeError(f"header values are bytes or str, not {type(value).__name__}")
    if _UNSAFE_VALUE.search(raw) is not None:
        raise ValueError(f"header value {value!r} contains CR, LF or NUL")
    return raw


class Headers:
    """A case-insensitive multimap of HTTP header names to their values."""

    __slots__ = ("_raw",)

    def __init__(
        self, rawHeaders: Mapping[bytes | str, Sequence[bytes | str]] | None = None
    ) -> None:
        self._raw: dict[bytes, list[bytes]] = {}
        if rawHeaders:
            for name, values in rawHeaders.items():
                self.setRawHeaders(name, values)

    @classmethod
    def _fromParsed(cls, parsed: dict[bytes, list[bytes]]) -> Headers:
        """Wrap a parser's lowercased, already-validated dict without copying it."""
        headers = cls.__new__(cls)
        headers._raw = parsed
        return headers

    def __repr__(self) -> str:
        return f"Headers({ {canonicalName(k): v for k, v in self._raw.items()}!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._raw == other._raw
        return NotImplemented

    def __hash__(self) -> int:
        raise TypeError("Headers objects are mutable and cannot be hashed")

    def copy(self) -> Headers:
        return Headers._fromParsed({name: list(values) for name, values in self._raw.items()})

    def hasHeader(self, name: bytes | str) -> bool:
        return _nameBytes(name) in self._raw

    def removeHeader(self, name: bytes | str) -> None:
        self._raw.pop(_nameBytes(name), None)

    def setRawHeaders(self, name: bytes | str, values: Sequence[bytes | str]) -> None:
        """Replace every value of `name` with `values` (a list, not a single string)."""
        if isinstance(values, (bytes, str)):
            raise TypeError(
                f"setRawHeaders takes a list of values, not one {type(values).__name__}; "
                f"write [{values!r}]"
            )
        self._raw[_checkedName(name)] = [_valueBytes(value) for value in values]

    def addRawHeader(self, name: bytes | str, value: bytes | str) -> None:
        raw = _checkedName(name)
        checked = _valueBytes(value)
        values = self._raw.get(raw)
        if values is None:
            self._raw[raw] = [checked]
        else:
            values.append(checked)

    @overload
    def getRawHeaders(self, name: AnyStr) -> list[AnyStr] | None: ...

    @overload
    def getRawHeaders(self, name: AnyStr, default: _T) -> list[AnyStr] | _T: ...

    def getRawHeaders(self, name: bytes | str, default: object = None) -> object:
        """Every value of `name`, in the type of `name`, or `default` if it has none."""
        values = self._raw.get(_nameBytes(name))
        if values is None:
            return default
        if isinstance(name, str):
            return [value.decode("iso-8859-1") for value in values]
        return list(values)

    def getAllRawHeaders(self) -> Iterator[tuple[bytes, list[bytes]]]:
        """(canonically capitalised name, values) pairs, as bytes."""
        for name, values in self._raw.items():
            yield canonicalName(name), list(values)

    def items(self) -> Iterable[tuple[bytes, list[bytes]]]:
        return self.getAllRawHeaders()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)
