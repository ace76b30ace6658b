"""torsion.cred.hashing: argon2id, scrypt and bcrypt hashes, known answers and bad input."""

from __future__ import annotations

import base64
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cred.helpers import FAST_HASHERS
from torsion.cred import hashing
from torsion.cred.hashing import HashError, hashPassword, identify, isHashed, verifyPassword

SCHEMES = sorted(FAST_HASHERS)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_aHashVerifiesItsPasswordOnly(scheme: str) -> None:
    hashed = hashPassword("correct horse", FAST_HASHERS[scheme])
    assert identify(hashed) == scheme
    assert isHashed(hashed) and isHashed(hashed.encode())
    assert verifyPassword("correct horse", hashed)
    assert verifyPassword(b"correct horse", hashed.encode())
    assert not verifyPassword("correct horsE", hashed)
    assert not verifyPassword("", hashed)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_eachHashHasItsOwnSalt(scheme: str) -> None:
    first, second = (hashPassword("same", FAST_HASHERS[scheme]) for _ in range(2))
    assert first != second
    assert verifyPassword("same", first) and verifyPassword("same", second)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_aTextPasswordIsHashedAsUTF8(scheme: str) -> None:
    hashed = hashPassword("pässwörd", FAST_HASHERS[scheme])
    assert verifyPassword("pässwörd".encode(), hashed)


def test_theDefaultIsArgon2idWithRFC9106Parameters() -> None:
    hashed = hashPassword("x")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hashing.hasherFor().scheme == "argon2id"


def test_argon2idAgreesWithCryptographysOwnEncoding() -> None:
    # cryptography's PHC encoder is an implementation we did not write: each side
    # reads what the other writes.
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    if not hasattr(Argon2id, "derive_phc_encoded"):
        pytest.skip("this cryptography has no PHC-string Argon2id helpers")
    theirs = Argon2id(
        salt=b"0123456789abcdef", length=32, iterations=2, lanes=2, memory_cost=256
    ).derive_phc_encoded(b"secret")
    assert verifyPassword(b"secret", theirs)
    assert not verifyPassword(b"Secret", theirs)
    ours = hashPassword(b"secret", hashing.Argon2idHasher(memoryCost=256, iterations=2, lanes=2))
    Argon2id.verify_phc_encoded(b"secret", ours)


def test_scryptRFC7914Vector() -> None:
    # RFC 7914, section 12: P="pleaseletmein", S="SodiumChloride", N=16384, r=8, p=1.
    digest = bytes.fromhex(
        "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
        "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
    )
    salt = base64.b64encode(b"SodiumChloride").decode().rstrip("=")
    hashed = f"$scrypt$ln=14,r=8,p=1${salt}${base64.b64encode(digest).decode().rstrip('=')}"
    assert verifyPassword("pleaseletmein", hashed)
    assert not verifyPassword("pleaseletmeout", hashed)


def test_bcryptKnownAnswer() -> None:
    # A classic bcrypt test vector (password "U*U", cost 5).
    hashed = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
    assert identify(hashed) == "bcrypt"
    assert verifyPassword("U*U", hashed)
    assert not verifyPassword("U*V", hashed)


def test_bcryptRefusesToHashMoreThan72Bytes() -> None:
    with pytest.raises(HashError, match=r"first 72 bytes.*this one has 73"):
        hashPassword("x" * 73, FAST_HASHERS["bcrypt"])


def test_bcryptVerifiesOnTheFirst72Bytes() -> None:
    hashed = hashPassword("y" * 72, FAST_HASHERS["bcrypt"])
    assert verifyPassword("y" * 72 + "anything", hashed)


def test_bcryptWithoutThePackageSaysWhatToInstall(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = hashPassword("pw", FAST_HASHERS["bcrypt"])
    monkeypatch.setitem(sys.modules, "bcrypt", None)
    with pytest.raises(HashError, match=r"pip install 'torsion\[bcrypt\]'"):
        verifyPassword("pw", hashed)
    with pytest.raises(HashError, match=r"torsion\[bcrypt\]"):
        hashPassword("pw", "bcrypt")


def test_notAHash() -> None:
    assert identify("hunter2") is None
    assert not isHashed("hunter2")
    assert not isHashed(b"\xff\xfe")
    with pytest.raises(HashError, match=r"should start with \$argon2id\$"):
        verifyPassword("hunter2", "hunter2")


def test_unknownScheme() -> None:
    with pytest.raises(HashError, match=r"unknown password hash scheme 'md5'.*argon2id"):
        hashPassword("x", "md5")


@pytest.mark.parametrize(
    ("hashed", "message"),
    [
        ("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ", "looks like"),
        ("$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "only v=19"),
        ("$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaGhhc2g", "expected m=NUMBER|lacks"),
        ("$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2g", "expected m=NUMBER"),
        ("$argon2id$v=19$m=64,t=1,p=x$c2FsdHNhbHQ$aGFzaGhhc2g", "expected m=NUMBER"),
        ("$argon2id$v=19$m=64,t=1,p=1$not*base64$aGFzaGhhc2g", "salt .* not base64"),
        ("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2g", "salt length is 4"),
        ("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "memory cost"),
        ("$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "iteration count"),
        ("$scrypt$ln=15,r=8$c2FsdHNhbHQ$aGFzaGhhc2doYXNoaGFzaA", "lacks the parameter"),
        ("$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2doYXNoaGFzaA", "ln"),
        ("$scrypt$ln=20,r=64,p=1$c2FsdHNhbHQ$aGFzaGhhc2doYXNoaGFzaA", "bytes of memory"),
        ("$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ", "looks like"),
        ("$2b$31$" + "a" * 53, "cost is 31"),
        ("$2b$12$short", "looks like"),
    ],
)
def test_malformedOrUnboundedHashesAreRefusedAtOnce(hashed: str, message: str) -> None:
    with pytest.raises(HashError, match=message):
        verifyPassword("pw", hashed)


def test_hashersRefuseParametersOutOfBounds() -> None:
    with pytest.raises(HashError, match="memory cost"):
        hashing.Argon2idHasher(memoryCost=1 << 30)
    with pytest.raises(HashError, match="cost is 3"):
        hashing.BcryptHasher(rounds=3)
    with pytest.raises(HashError, match="bytes of memory"):
        hashing.ScryptHasher(logN=24, r=8)


def test_aNonASCIIHashIsRefused() -> None:
    with pytest.raises(HashError, match="ASCII"):
        hashing.Argon2idHasher().verify("pw", "$argon2id$é".encode())


# Text shaped like each scheme's hashes, mostly malformed: what a damaged or hostile
# password file holds.
_hashLike = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(["$argon2id$", "$argon2id$v=19$", "$scrypt$", "$scrypt$ln=", "$2b$"]),
        st.text(alphabet="$=,0123456789abcdefmtplnrv+/.AZ", max_size=70),
    ),
)


@settings(max_examples=300, deadline=None)
@given(hashed=_hashLike, password=st.binary(max_size=20))
def test_anyStoredTextVerifiesOrFailsCleanly(hashed: str, password: bytes) -> None:
    try:
        assert verifyPassword(password, hashed) in (True, False)
    except HashError as e:
        assert str(e)
