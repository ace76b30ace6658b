"""Reading and writing the parameters of HTTP authentication headers (RFC 9110 11.2-11.6).

``parseAuthParams`` reads the ``name=value, name="quoted value"`` list that follows
a scheme in ``Authorization: Digest ...``; ``formatChallenge`` writes one
``WWW-Authenticate`` challenge. Both are strict and bounded: a header that is not of
that grammar, has too many or repeated parameters, or overlong values raises
AuthHeaderError, which the factories turn into a refusal (a 401), never a crash.
Tests: tests/web/guard/test_headers.py.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["AuthHeaderError", "formatChallenge", "parseAuthParams"]

MAX_PARAMS = 32
MAX_VALUE = 4096

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = frozenset(b" \t")
# qdtext and the characters a quoted-pair may escape: HTAB, SP, VCHAR, obs-text.
_QUOTABLE = frozenset([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])

# Parameters RFC 7616 section 3.3 says are sent as tokens, never quoted.
_TOKEN_PARAMS = frozenset(("algorithm", "stale", "charset"))


class AuthHeaderError(ValueError):
    """An authentication header does not follow the grammar; the message says where."""


def _isToken(value: bytes) -> bool:
    return bool(value) and all(c in _TCHAR for c in value)


def parseAuthParams(data: bytes) -> dict[str, bytes]:
    """The ``auth-param`` list ``data`` as a dict of lower-case names to unquoted values.

    Raises:
        AuthHeaderError: not an auth-param list, a parameter given twice, more than
            MAX_PARAMS of them, or a value longer than MAX_VALUE bytes.
    """
    params: dict[str, bytes] = {}
    pos, end = 0, len(data)
    while True:
        while pos < end and (data[pos] in _OWS or data[pos] == 0x2C):
            pos += 1
        if pos >= end:
            return params
        start = pos
        while pos < end and data[pos] in _TCHAR:
            pos += 1
        if pos == start:
            raise AuthHeaderError(f"expected a parameter name at byte {pos}")
        name = data[start:pos].decode("ascii").lower()
        while pos < end and data[pos] in _OWS:
            pos += 1
        if pos >= end or data[pos] != 0x3D:
            raise AuthHeaderError(f"parameter {name!r} has no '=' and value")
        pos += 1
        while pos < end and data[pos] in _OWS:
            pos += 1
        if pos < end and data[pos] == 0x22:
            value = bytearray()
            pos += 1
            while True:
                if pos >= end:
                    raise AuthHeaderError(f"the quoted value of {name!r} is not closed")
                c = data[pos]
                if c == 0x22:
                    pos += 1
                    break
                if c == 0x5C:
                    pos += 1
                    if pos >= end:
                        raise AuthHeaderError(f"the quoted value of {name!r} is not closed")
                    c = data[pos]
                if c not in _QUOTABLE:
                    raise AuthHeaderError(f"the value of {name!r} has a control character")
                value.append(c)
                pos += 1
                if len(value) > MAX_VALUE:
                    raise AuthHeaderError(f"the value of {name!r} is over {MAX_VALUE} bytes")
            found = bytes(value)
        else:
            start = pos
            while pos < end and data[pos] in _TCHAR:
                pos += 1
            if pos == start:
                raise AuthHeaderError(f"parameter {name!r} has an empty value")
            found = data[start:pos]
            if len(found) > MAX_VALUE:
                raise AuthHeaderError(f"the value of {name!r} is over {MAX_VALUE} bytes")
        if name in params:
            raise AuthHeaderError(f"parameter {name!r} is given twice")
        if len(params) >= MAX_PARAMS:
            raise AuthHeaderError(f"more than {MAX_PARAMS} parameters")
        params[name] = found
        while pos < end and data[pos] in _OWS:
            pos += 1
        if pos < end and data[pos] != 0x2C:
            raise AuthHeaderError(f"expected ',' after the value of {name!r}")


def _text(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def formatChallenge(scheme: bytes | str, params: Mapping[bytes | str, bytes | str]) -> bytes:
    """One ``WWW-Authenticate`` value: ``Scheme name="value", ...``.

    Values are quoted (with ``\\`` before ``"`` and ``\\``) except ``algorithm``,
    ``stale`` and ``charset``, which RFC 7616 wants as bare tokens.

    Raises:
        ValueError: a name that is not a token, or a value with a control character
            (a bug in a credential factory, not a client's doing).
    """
    name = _text(scheme)
    if not _isToken(name):
        raise ValueError(f"an authentication scheme is a token, not {name!r}")
    parts = []
    for key, raw in params.items():
        keyBytes = _text(key)
        if not _isToken(keyBytes):
            raise ValueError(f"a challenge parameter name is a token, not {keyBytes!r}")
        value = _text(raw)
        if any(c not in _QUOTABLE for c in value):
            raise ValueError(f"the challenge parameter {keyBytes!r} has a control character")
        if keyBytes.lower().decode("ascii") in _TOKEN_PARAMS and _isToken(value):
            parts.append(keyBytes + b"=" + value)
        else:
            quoted = value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            parts.append(keyBytes + b'="' + quoted + b'"')
    head = name[:1].upper() + name[1:].lower()
    return head + b" " + b", ".join(parts) if parts else head
