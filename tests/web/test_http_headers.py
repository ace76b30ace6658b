"""Headers: case-insensitive names, ordered values, bytes/str symmetry, injection refused."""

from __future__ import annotations

import pytest

from torsion.web.http_headers import Headers, canonicalName


def test_names_are_case_insensitive_and_values_ordered() -> None:
    headers = Headers({b"Content-Type": [b"text/plain"]})
    headers.addRawHeader(b"X-Many", b"1")
    headers.addRawHeader("x-many", "2")
    assert headers.getRawHeaders(b"CONTENT-TYPE") == [b"text/plain"]
    assert headers.getRawHeaders(b"x-many") == [b"1", b"2"]
    assert headers.hasHeader("X-MANY")
    headers.removeHeader(b"x-many")
    assert not headers.hasHeader(b"x-many")
    assert headers.getRawHeaders(b"x-many", [b"default"]) == [b"default"]
    assert headers.getRawHeaders(b"missing") is None


def test_str_in_str_out() -> None:
    headers = Headers()
    headers.setRawHeaders("Title", ["caf\xe9"])
    assert headers.getRawHeaders("title") == ["caf\xe9"]
    assert headers.getRawHeaders(b"title") == [b"caf\xe9"]


def test_all_raw_headers_are_canonically_named() -> None:
    headers = Headers({b"etag": [b'"x"'], b"x-forwarded-for": [b"a"], b"www-authenticate": [b"b"]})
    assert dict(headers.getAllRawHeaders()) == {
        b"ETag": [b'"x"'],
        b"X-Forwarded-For": [b"a"],
        b"WWW-Authenticate": [b"b"],
    }
    assert canonicalName(b"content-md5") == b"Content-MD5"


@pytest.mark.parametrize("value", [b"a\r\nb", b"a\nb", b"a\x00b", "a\rb"])
def test_values_that_would_split_a_message_are_refused(value: bytes | str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Headers().setRawHeaders(b"x", [value])
    with pytest.raises(ValueError):
        Headers().addRawHeader(b"x", value)


@pytest.mark.parametrize("name", [b"bad name", b"a:b", b"", "caf\xe9"])
def test_names_must_be_tokens(name: bytes | str) -> None:
    with pytest.raises(ValueError):
        Headers().setRawHeaders(name, [b"v"])


def test_wrong_types_say_what_to_do() -> None:
    with pytest.raises(TypeError, match="list of values"):
        Headers().setRawHeaders(b"x", b"value")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Headers().addRawHeader(b"x", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO-8859-1"):
        Headers().addRawHeader(b"x", "\u2603")


def test_copy_and_equality() -> None:
    original = Headers({b"a": [b"1"]})
    duplicate = original.copy()
    assert duplicate == original
    duplicate.addRawHeader(b"a", b"2")
    assert original.getRawHeaders(b"a") == [b"1"]
    assert duplicate != original
    with pytest.raises(TypeError):
        hash(original)
