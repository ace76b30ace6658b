"""JID parsing and preparation (torsion.words.protocols.jabber.jid), RFC 6122."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.words.protocols.jabber import jid
from torsion.words.protocols.jabber.jid import JID, InvalidFormat


def test_parseSplitsTheThreeParts() -> None:
    assert jid.parse("user@host/resource") == ("user", "host", "resource")
    assert jid.parse("host") == (None, "host", None)
    assert jid.parse("user@host") == ("user", "host", None)
    assert jid.parse("host/resource") == (None, "host", "resource")


def test_resourceMayHoldSlashesAndAts() -> None:
    assert jid.parse("a@b/c/d@e f") == ("a", "b", "c/d@e f")


def test_nodeAndDomainAreCaseFoldedButNotTheResource() -> None:
    assert JID("Alice@Example.COM/Home").full() == "alice@example.com/Home"


def test_unicodeIsNormalised() -> None:
    # B.2 folds the sharp s and NFKC composes; fullwidth letters and dots in the domain.
    assert JID("STRASSE@xn--mnchen-3ya.de").user == "strasse"
    assert JID("Straße@ex.org").user == "strasse"
    assert JID("e\u0301@ex.org").user == "\u00e9"
    assert JID("a@\uff25\uff38\uff0e\uff4f\uff52\uff47").host == "ex.org"
    assert JID("a@ex\u3002org").host == "ex.org"
    # Soft hyphens (B.1) vanish; a trailing dot of the domain too.
    assert JID("al\u00adice@example.com.").full() == "alice@example.com"


def test_resourceKeepsCaseAndSpaces() -> None:
    assert JID("a@b/My Phone ☎").resource == "My Phone ☎"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "domain of a JID is empty"),
        ("@host", "node of a JID is empty"),
        ("user@", "domain of a JID is empty"),
        ("user@host/", "resource of a JID is empty"),
        ("a@b@c", "more than one '@'"),
        ("us er@host", "node of a JID may not contain a space"),
        ("us:er@host", "may not contain ':'"),
        ("us<er@host", "may not contain '<'"),
        ("user@ho st", "domain of a JID may not contain"),
        ("user@\u00e4\uff20b", "domain of a JID may not contain '@'"),  # a fullwidth @
        ("user@host..com", "empty label"),
        ("user@\u00ad.com", "prepares to nothing"),
        ("user@-host.com", "may not start or end with '-'"),
        ("user@host/\x07", "control character"),
        ("user\u200e@host", "may not contain"),  # a left-to-right mark (C.8)
        ("user@host/\ue000", "private use"),
        ("\u0627\u0031@host", "right-to-left"),
        ("\u0627a\u0628@host", "mixes right-to-left and left-to-right"),
        ("a" * 1024 + "@host", "longer than 1023 bytes"),
        ("user@" + "a" * 64 + ".com", "longer than 63"),
        ("user@[::1::2]", "not a valid IPv6 literal"),
        ("\u0221@host", "not assigned in Unicode 3.2"),
    ],
)
def test_invalidJIDsSayWhy(text: str, words: str) -> None:
    with pytest.raises(InvalidFormat, match=words.replace("(", r"\(")):
        JID(text)


def test_ipLiterals() -> None:
    assert JID("user@[::1]").host == "[::1]"
    assert JID("user@[0:0::1]").host == "[::1]"
    assert JID("user@127.0.0.1").host == "127.0.0.1"


def test_tupleConstructorPrepares() -> None:
    assert JID(tuple=("User", "Host", None)) == JID("user@host")
    with pytest.raises(TypeError):
        JID()


def test_bytesAreRefusedWithAHint() -> None:
    with pytest.raises(TypeError, match="decode it first"):
        JID(b"user@host")  # type: ignore[arg-type]


def test_userhostAndUserhostJID() -> None:
    full = JID("user@host/res")
    assert full.userhost() == "user@host"
    assert full.userhostJID() == JID("user@host")
    bare = JID("host")
    assert bare.userhost() == "host"
    assert bare.userhostJID() is bare


def test_equalityAndHashingAreOnPreparedParts() -> None:
    assert JID("USER@HOST/r") == JID("user@host/r")
    assert JID("user@host/R") != JID("user@host/r")
    assert len({JID("A@b"), JID("a@B"), JID("a@b/c")}) == 2
    assert JID("a@b") != "a@b"


def test_internJIDReturnsOneObjectPerString() -> None:
    assert jid.internJID("someone@example.org") is jid.internJID("someone@example.org")


def test_internJIDIsBounded() -> None:
    first = jid.internJID("first@example.org")
    for n in range(jid._INTERN_LIMIT + 1):
        jid.internJID(f"u{n}@example.org")
    assert len(jid._internJIDs) <= jid._INTERN_LIMIT
    assert jid.internJID("first@example.org") == first


def test_strReprAndPickle() -> None:
    j = JID("user@host/res")
    assert str(j) == "user@host/res"
    assert repr(j) == "JID('user@host/res')"
    assert pickle.loads(pickle.dumps(j)) == j


def checkRoundTrip(text: str) -> None:
    try:
        parsed = JID(text)
    except InvalidFormat:
        return
    # Preparing is idempotent: the prepared form parses to itself.
    assert JID(parsed.full()) == parsed
    assert JID(parsed.full()).full() == parsed.full()


@given(st.text(max_size=40))
def test_anyTextIsAJIDOrInvalidFormat(text: str) -> None:
    checkRoundTrip(text)


TRICKY = "aZ9@/.-_ \u00df\u00e4\uff20\uff0f\uff0e\u3002\u00ad\u0627\u05d0\u200d\u2168"


@given(st.text(alphabet=st.sampled_from(list(TRICKY)), max_size=16))
def test_structuredTextIsAJIDOrInvalidFormat(text: str) -> None:
    """Separators, their fullwidth look-alikes, right-to-left letters and mapped characters."""
    checkRoundTrip(text)
