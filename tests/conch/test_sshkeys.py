"""Tests for torsion.conch.ssh.keys and common: SSH wire types, keys read and written
in every format, fingerprints and signatures, checked against OpenSSH's ssh-keygen
where it is installed (it makes the keys, reads ours back and prints fingerprints)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.conch.ssh import keys
from torsion.conch.ssh.common import MP, NS, SSHDecodeError, getMP, getNS
from torsion.conch.ssh.keys import BadKeyError, FingerprintFormats, Key

SSH_KEYGEN = shutil.which("ssh-keygen")
needsKeygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen (openssh-client) missing")
KINDS = [
    ("ed25519", []),
    ("ecdsa", ["-b", "256"]),
    ("ecdsa", ["-b", "384"]),
    ("rsa", ["-b", "2048"]),
]


# -- wire types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "wire"),
    [  # RFC 4251 section 5's examples
        (0, b"\0\0\0\0"),
        (0x9A378F9B2E332A7, b"\0\0\0\x08\x09\xa3\x78\xf9\xb2\xe3\x32\xa7"),
        (0x80, b"\0\0\0\x02\x00\x80"),
        (-0x1234, b"\0\0\0\x02\xed\xcc"),
        (-0xDEADBEEF, b"\0\0\0\x05\xff\x21\x52\x41\x11"),
    ],
)
def test_mpintExamplesOfTheRFC(number: int, wire: bytes) -> None:
    assert MP(number) == wire
    assert getMP(wire + b"rest") == (number, b"rest")


@given(st.integers(min_value=-(2**600), max_value=2**600))
def test_mpintRoundTrip(number: int) -> None:
    assert getMP(MP(number)) == (number, b"")


def test_stringsAndTheirErrors() -> None:
    assert NS(b"ssh") == b"\0\0\0\x03ssh" and NS("é") == b"\0\0\0\x02\xc3\xa9"
    assert getNS(NS(b"a") + NS(b"bc") + b"tail", 2) == (b"a", b"bc", b"tail")
    with pytest.raises(SSHDecodeError, match="runs past"):
        getNS(b"\0\0\0\x09short")
    with pytest.raises(SSHDecodeError, match="truncated"):
        getNS(b"\0\0")


# -- keys made by ssh-keygen ----------------------------------------------------------------


def keygen(tmp_path: Path, kind: str, extra: list[str], passphrase: str = "", *more: str) -> Path:
    assert SSH_KEYGEN is not None
    path = tmp_path / f"id_{kind}_{len(list(tmp_path.iterdir()))}"
    command = [SSH_KEYGEN, "-q", "-t", kind, *extra, "-N", passphrase, "-C", "me@example"]
    subprocess.run([*command, *more, "-f", str(path)], check=True, timeout=60)
    return path


def keygenFingerprint(path: Path, hashName: str) -> str:
    assert SSH_KEYGEN is not None
    out = subprocess.run(
        [SSH_KEYGEN, "-l", "-E", hashName, "-f", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return out.split()[1].split(":", 1)[1]


@needsKeygen
@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=lambda v: str(v))
def test_keygenKeysLoadWithTheirFingerprints(tmp_path: Path, kind: str, extra: list[str]) -> None:
    path = keygen(tmp_path, kind, extra)
    private = Key.fromFile(path)
    public = Key.fromFile(f"{path}.pub")
    assert not private.isPublic() and public.isPublic()
    assert private.public() == public
    assert public.fingerprint(FingerprintFormats.SHA256_BASE64) == keygenFingerprint(path, "sha256")
    assert public.fingerprint() == keygenFingerprint(path, "md5")
    line = Path(f"{path}.pub").read_bytes().split()
    assert public.toString("openssh", comment=b"me@example").split() == line


@needsKeygen
@pytest.mark.parametrize(("kind", "extra"), KINDS[:1] + KINDS[-1:], ids=lambda v: str(v))
def test_encryptedKeygenKeys(tmp_path: Path, kind: str, extra: list[str]) -> None:
    path = keygen(tmp_path, kind, extra, "correct horse")
    with pytest.raises(keys.EncryptedKeyError):
        Key.fromFile(path)
    with pytest.raises(keys.PassphraseError):
        Key.fromFile(path, passphrase=b"wrong")
    assert Key.fromFile(path, passphrase="correct horse").public() == Key.fromFile(f"{path}.pub")


@needsKeygen
def test_keygenPEMKeysLoad(tmp_path: Path) -> None:
    path = keygen(tmp_path, "rsa", ["-b", "2048", "-m", "PEM"], "pass phrase")
    assert Path(path).read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    with pytest.raises(keys.PassphraseError):
        Key.fromFile(path, passphrase=b"nope")
    assert Key.fromFile(path, passphrase=b"pass phrase").type() == "RSA"


@needsKeygen
@pytest.mark.parametrize("subtype", ["v1", "PEM"])
@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=lambda v: str(v))
def test_keygenReadsTheKeysWeWrite(
    tmp_path: Path, kind: str, extra: list[str], subtype: str
) -> None:
    original = Key.fromFile(keygen(tmp_path, kind, extra))
    if kind == "ed25519" and subtype == "PEM":
        with pytest.raises(BadKeyError, match="use subtype 'v1'"):
            original.toString("openssh", subtype=subtype)
        return
    mine = tmp_path / "written"
    mine.write_bytes(original.toString("openssh", subtype=subtype, passphrase=b"s3cret"))
    mine.chmod(0o600)
    assert SSH_KEYGEN is not None
    derived = subprocess.run(
        [SSH_KEYGEN, "-y", "-P", "s3cret", "-f", str(mine)],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    assert Key.fromString(derived) == original.public()
    assert Key.fromFile(mine, passphrase=b"s3cret") == original


# -- keys made here ------------------------------------------------------------------------


def newKeys() -> list[Key]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return [
        Key(ed25519.Ed25519PrivateKey.generate()),
        Key(ec.generate_private_key(ec.SECP256R1())),
        Key(ec.generate_private_key(ec.SECP521R1())),
        Key(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ]


KEYS = newKeys()


@pytest.mark.parametrize("key", KEYS, ids=lambda key: f"{key.sshType().decode()}-{key.size()}")
def test_signAndVerifyEveryAlgorithm(key: Key) -> None:
    public = key.public()
    for algorithm in key.supportedSignatureAlgorithms():
        signature = key.sign(b"data to sign", algorithm)
        assert getNS(signature)[0] == algorithm
        assert public.verify(signature, b"data to sign")
        assert not public.verify(signature, b"other data")
        assert not public.verify(signature[:-1], b"data to sign")
        assert not public.verify(signature + b"x", b"data to sign")
    with pytest.raises(keys.BadSignatureAlgorithmError):
        key.sign(b"x", b"ssh-dss")
    with pytest.raises(BadKeyError, match="cannot sign"):
        public.sign(b"x")


def test_rsaSignsWithSHA512ByDefaultAndRefusesOtherKeysAlgorithms() -> None:
    rsaKey, edKey = KEYS[3], KEYS[0]
    assert getNS(rsaKey.sign(b"x"))[0] == b"rsa-sha2-512"
    assert rsaKey.supportedSignatureAlgorithms() == [b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa"]
    # A valid Ed25519 signature blob is no good for the RSA key.
    assert not rsaKey.public().verify(edKey.sign(b"x"), b"x")


@pytest.mark.parametrize("key", KEYS, ids=lambda key: f"{key.sshType().decode()}-{key.size()}")
def test_blobAndOpenSSHRoundTrips(key: Key) -> None:
    public = key.public()
    assert Key.fromString(public.blob()) == public
    assert Key.fromString(public.toString("openssh")) == public
    assert Key.fromString(public.toString("openssh", comment="a comment")) == public
    for subtype in ("v1", "PEM") if key.type() != "Ed25519" else ("v1",):
        assert Key.fromString(key.toString("openssh", subtype=subtype)) == key
    assert key.type() in ("RSA", "EC", "Ed25519") and public.size() == key.size()
    assert key.sshType().decode() in repr(key) or key.type() in repr(key)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ssh-ed25519", "TYPE BASE64"),
        (b"ssh-ed25519 !!!notbase64", "base64"),
        (NS(b"ssh-dss") + NS(b"x"), "unknown SSH key type"),
        (NS(b"ssh-ed25519") + NS(b"short"), "malformed"),
        (NS(b"ecdsa-sha2-nistp999") + NS(b"nistp999") + NS(b"\x04"), "curve"),
        (KEYS[0].public().blob() + b"extra", "after the key"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "PEM public"),
        (b"-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n",
         "not a usable private key"),
        (b"hello", "not an OpenSSH public key"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_badKeysAreRefusedClearly(data: bytes, message: str) -> None:
    with pytest.raises(BadKeyError, match=message):
        Key.fromString(data)


def test_mismatchedTypeNameRefused() -> None:
    blob = KEYS[0].public().toString("openssh").split()[1]
    with pytest.raises(BadKeyError, match="holds"):
        Key.fromString(b"ssh-rsa " + blob)


def test_unknownFingerprintFormatAndUnsupportedKeys() -> None:
    with pytest.raises(keys.BadFingerPrintFormat):
        KEYS[0].fingerprint("sha1-hex")
    from cryptography.hazmat.primitives.asymmetric import dsa

    with pytest.raises(BadKeyError, match="not supported"):
        Key(dsa.generate_private_key(key_size=1024))


@given(st.binary(max_size=200))
def test_garbageBlobsOnlyRaiseBadKeyError(data: bytes) -> None:
    try:
        Key.fromString(data, type="blob")
    except BadKeyError:
        pass
