"""The auth-param parser and challenge writer (torsion/web/_auth/headers.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._auth.headers import (
    MAX_PARAMS,
    MAX_VALUE,
    AuthHeaderError,
    formatChallenge,
    parseAuthParams,
)


def test_tokensAndQuotedStringsAreRead() -> None:
    params = parseAuthParams(b'username="Mufasa", nc=00000001 ,qop=auth,  realm="a \\"b\\" c"')
    assert params == {
        "username": b"Mufasa",
        "nc": b"00000001",
        "qop": b"auth",
        "realm": b'a "b" c',
    }


def test_namesAreCaseInsensitiveAndEmptyElementsSkipped() -> None:
    assert parseAuthParams(b",, UserName = x ,,") == {"username": b"x"}
    assert parseAuthParams(b"") == {}


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        (b'realm="open', "not closed"),
        (b'realm="ends with\\', "not closed"),
        (b"realm", "no '='"),
        (b"realm=", "empty value"),
        (b"=x", "parameter name"),
        (b"a=1, a=2", "twice"),
        (b"a=1 b=2", "expected ','"),
        (b'a="x\x00y"', "control character"),
        (b'a="x\ny"', "control character"),
        (b"a=" + b"x" * (MAX_VALUE + 1), "over"),
        (b'a="' + b"x" * (MAX_VALUE + 1) + b'"', "over"),
        (b", ".join(b"p%d=1" % i for i in range(MAX_PARAMS + 1)), "more than"),
    ],
)
def test_malformedListsAreRefusedWithAReason(header: bytes, complaint: str) -> None:
    with pytest.raises(AuthHeaderError, match=complaint):
        parseAuthParams(header)


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_anyBytesParseOrRaiseAuthHeaderError(data: bytes) -> None:
    try:
        params = parseAuthParams(data)
    except AuthHeaderError:
        return
    assert all(isinstance(v, bytes) for v in params.values())


@settings(deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        st.binary(max_size=50).filter(lambda b: all(c == 9 or 32 <= c != 127 for c in b)),
        max_size=10,
    )
)
def test_formattedChallengesParseBackToTheirParameters(params: dict[str, bytes]) -> None:
    challenge = formatChallenge(b"digest", params)
    scheme, _, rest = challenge.partition(b" ")
    assert scheme == b"Digest"
    assert parseAuthParams(rest) == params


def test_algorithmStaleAndCharsetAreSentAsTokens() -> None:
    challenge = formatChallenge(
        b"digest", {"realm": b"r", "algorithm": b"SHA-256", "stale": b"true", "charset": b"UTF-8"}
    )
    assert challenge == b'Digest realm="r", algorithm=SHA-256, stale=true, charset=UTF-8'


def test_aChallengeWithAControlCharacterIsABug() -> None:
    with pytest.raises(ValueError, match="control character"):
        formatChallenge(b"basic", {"realm": b"a\r\nSet-Cookie: x=1"})
    with pytest.raises(ValueError, match="token"):
        formatChallenge(b"ba sic", {})
