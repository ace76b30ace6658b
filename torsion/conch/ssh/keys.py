"""SSH keys: loading, writing, fingerprints, signatures (torsion.conch.ssh.keys).

`Key` wraps a key of the cryptography library under Twisted's API: ``Key.fromString``
and ``Key.fromFile`` read OpenSSH public keys (``ssh-ed25519 AAAA... comment``),
OpenSSH private keys (``-----BEGIN OPENSSH PRIVATE KEY-----``, with or without a
passphrase), PEM private keys (PKCS#1, SEC 1 and PKCS#8, encrypted or not) and the
SSH wire's public key blobs; ``toString`` writes them back; ``sign`` and ``verify``
make and check SSH signature blobs for each algorithm (ssh-ed25519,
ecdsa-sha2-nistp256/384/521, rsa-sha2-256, rsa-sha2-512 and the SHA-1 ssh-rsa
for old peers). The cryptography is the library's; the SSH encodings are ours.
DSA keys are refused: OpenSSH dropped them.
Tests: tests/conch/test_sshkeys.py (with ssh-keygen as the other side).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from torsion.conch.ssh.common import MP, NS, SSHDecodeError, getMP, getNS

__all__ = [
    "BadFingerPrintFormat",
    "BadKeyError",
    "BadSignatureAlgorithmError",
    "EncryptedKeyError",
    "FingerprintFormats",
    "Key",
    "PassphraseError",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class BadKeyError(Exception):
    """The data is not a key torsion can use; the message says why."""


class EncryptedKeyError(Exception):
    """The private key is encrypted and no passphrase was given."""


class PassphraseError(BadKeyError):
    """The passphrase given does not decrypt the private key."""


class BadFingerPrintFormat(Exception):
    """A fingerprint format other than FingerprintFormats.MD5_HEX or SHA256_BASE64."""


class BadSignatureAlgorithmError(Exception):
    """The key cannot sign with the signature algorithm asked for."""


class FingerprintFormats:
    """How ``Key.fingerprint`` writes a fingerprint."""

    MD5_HEX = "md5-hex"  # aa:bb:..., as OpenSSH before 6.8
    SHA256_BASE64 = "sha256-base64"  # base64 without padding, as OpenSSH now


# The EC curves SSH names (RFC 5656), their key type and the hash of their signatures.
_CURVES: dict[bytes, tuple[type[ec.EllipticCurve], type[hashes.HashAlgorithm]]] = {
    b"nistp256": (ec.SECP256R1, hashes.SHA256),
    b"nistp384": (ec.SECP384R1, hashes.SHA384),
    b"nistp521": (ec.SECP521R1, hashes.SHA512),
}
_CURVE_NAMES = {curve().name: name for name, (curve, _) in _CURVES.items()}
# The RSA signature algorithms and their hashes (RFC 8332); ssh-rsa is SHA-1.
_RSA_SIGNATURES: dict[bytes, type[hashes.HashAlgorithm]] = {
    b"rsa-sha2-512": hashes.SHA512,
    b"rsa-sha2-256": hashes.SHA256,
    b"ssh-rsa": hashes.SHA1,
}


class Key:
    """An SSH public or private key (RSA, ECDSA or Ed25519)."""

    __slots__ = ("_keyObject",)

    def __init__(self, keyObject: Any) -> None:
        if not isinstance(keyObject, PrivateKey | PublicKey):
            raise BadKeyError(
                f"{type(keyObject).__name__} keys are not supported; use RSA, ECDSA "
                "(nistp256/384/521) or Ed25519"
            )
        curve = getattr(keyObject, "curve", None)
        if curve is not None and curve.name not in _CURVE_NAMES:
            raise BadKeyError(f"the curve {curve.name} has no SSH name")
        self._keyObject = keyObject

    # -- reading -------------------------------------------------------------------------

    @classmethod
    def fromFile(
        cls, filename: str | Path, type: str | None = None, passphrase: bytes | None = None
    ) -> Key:
        """The key in the file ``filename`` (see ``fromString``)."""
        return cls.fromString(Path(filename).read_bytes(), type, passphrase)

    @classmethod
    def fromString(
        cls, data: bytes | str, type: str | None = None, passphrase: bytes | str | None = None
    ) -> Key:
        """The key in ``data``.

        ``type`` is "public_openssh", "private_openssh" (OpenSSH's own private format
        or PEM), "blob" (the SSH wire's public key) or None to guess from the data.
        Raises BadKeyError for what is not a usable key, EncryptedKeyError when a
        passphrase is needed and PassphraseError when it is wrong.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        kind = type or _guessType(data)
        if kind == "blob":
            return cls._fromBlob(data)
        if kind == "public_openssh":
            return cls._fromOpenSSHPublic(data)
        if kind == "private_openssh":
            return cls._fromPrivate(data, passphrase or None)
        raise BadKeyError(f"unknown key type {kind!r}")

    @classmethod
    def _fromBlob(cls, blob: bytes) -> Key:
        try:
            keyType, rest = getNS(blob)
            if keyType == b"ssh-rsa":
                e, n, tail = getMP(rest, 2)
                assert isinstance(e, int) and isinstance(n, int) and isinstance(tail, bytes)
                rest = tail
                key: PublicKey = rsa.RSAPublicNumbers(e, n).public_key()
            elif keyType == b"ssh-ed25519":
                raw, rest = getNS(rest)
                key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            elif keyType.startswith(b"ecdsa-sha2-"):
                curveName, point, rest = getNS(rest, 2)
                if curveName not in _CURVES or keyType != b"ecdsa-sha2-" + curveName:
                    raise BadKeyError(f"unknown ECDSA curve {curveName!r}")
                curve = _CURVES[curveName][0]()
                key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
            else:
                raise BadKeyError(f"unknown SSH key type {keyType[:40]!r}")
        except (SSHDecodeError, ValueError, UnsupportedAlgorithm) as e:
            if isinstance(e, BadKeyError):
                raise
            raise BadKeyError(f"the SSH public key blob is malformed: {e}") from None
        if rest:
            raise BadKeyError("the SSH public key blob has data after the key")
        return cls(key)

    @classmethod
    def _fromOpenSSHPublic(cls, data: bytes) -> Key:
        fields = data.strip().split(None, 2)
        if len(fields) < 2:
            raise BadKeyError("an OpenSSH public key is 'TYPE BASE64 [COMMENT]'")
        try:
            blob = base64.b64decode(fields[1], validate=True)
        except binascii.Error:
            raise BadKeyError("the OpenSSH public key's base64 is malformed") from None
        key = cls._fromBlob(blob)
        if getNS(blob)[0] != fields[0]:
            raise BadKeyError(f"the key says {fields[0][:40]!r} but holds {key.sshType()!r}")
        return key

    @classmethod
    def _fromPrivate(cls, data: bytes, passphrase: bytes | None) -> Key:
        loader = (
            serialization.load_ssh_private_key
            if b"BEGIN OPENSSH PRIVATE KEY" in data
            else serialization.load_pem_private_key
        )
        try:
            key = loader(data, passphrase)
        except TypeError as e:
            # cryptography says TypeError both for a missing and for a needless password.
            if passphrase is None:
                raise EncryptedKeyError("the private key is encrypted: give its passphrase") from e
            return cls._fromPrivate(data, None)
        except ValueError as e:
            if passphrase is not None and _needsPassphrase(loader, data):
                raise PassphraseError("the passphrase does not decrypt this private key") from e
            raise BadKeyError(f"not a usable private key: {e}") from e
        except UnsupportedAlgorithm as e:
            raise BadKeyError(f"the private key's algorithm is not supported: {e}") from e
        return cls(key)

    # -- what it is ----------------------------------------------------------------------

    def isPublic(self) -> bool:
        return isinstance(self._keyObject, PublicKey)

    def public(self) -> Key:
        """The public half (the key itself if it is public)."""
        if self.isPublic():
            return self
        return Key(self._keyObject.public_key())  # type: ignore[union-attr]

    def type(self) -> str:
        """ "RSA", "EC" or "Ed25519" (Twisted's names)."""
        key = self._keyObject
        if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            return "RSA"
        if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            return "EC"
        return "Ed25519"

    def sshType(self) -> bytes:
        """The SSH key type: b"ssh-rsa", b"ecdsa-sha2-nistp256", b"ssh-ed25519", ..."""
        kind = self.type()
        if kind == "RSA":
            return b"ssh-rsa"
        if kind == "EC":
            return b"ecdsa-sha2-" + self._curveName()
        return b"ssh-ed25519"

    def _curveName(self) -> bytes:
        key = self._keyObject
        assert isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
        return _CURVE_NAMES[key.curve.name]

    def size(self) -> int:
        """The key's size in bits."""
        key = self._keyObject
        if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
            return 256
        return int(key.key_size)

    def supportedSignatureAlgorithms(self) -> list[bytes]:
        """The signature algorithms this key can make, best first."""
        if self.type() == "RSA":
            return list(_RSA_SIGNATURES)
        return [self.sshType()]

    def _publicKey(self) -> PublicKey:
        key = self._keyObject
        return key if isinstance(key, PublicKey) else key.public_key()

    def blob(self) -> bytes:
        """The public key as the SSH wire writes it (RFC 4253 section 6.6)."""
        key = self._publicKey()
        if isinstance(key, rsa.RSAPublicKey):
            numbers = key.public_numbers()
            return NS(b"ssh-rsa") + MP(numbers.e) + MP(numbers.n)
        if isinstance(key, ec.EllipticCurvePublicKey):
            point = key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            return NS(self.sshType()) + NS(self._curveName()) + NS(point)
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return NS(b"ssh-ed25519") + NS(raw)

    def fingerprint(self, format: str = FingerprintFormats.MD5_HEX) -> str:
        """The fingerprint of the public key, as ssh-keygen -l -E md5/sha256 shows it."""
        if format == FingerprintFormats.SHA256_BASE64:
            digest = hashlib.sha256(self.blob()).digest()
            return base64.b64encode(digest).decode("ascii").rstrip("=")
        if format == FingerprintFormats.MD5_HEX:
            return ":".join(f"{b:02x}" for b in hashlib.md5(self.blob()).digest())
        raise BadFingerPrintFormat(
            f"unknown fingerprint format {format!r}; use FingerprintFormats.MD5_HEX or "
            "FingerprintFormats.SHA256_BASE64"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        if self.isPublic() != other.isPublic():
            return False
        if self.isPublic():
            return self.blob() == other.blob()
        return self._privateBytes() == other._privateBytes()

    def __hash__(self) -> int:
        return hash(self.blob())

    def __repr__(self) -> str:
        half = "Public" if self.isPublic() else "Private"
        sha256 = self.fingerprint(FingerprintFormats.SHA256_BASE64)
        return f"<{self.type()} {half} Key ({self.size()} bits) SHA256:{sha256}>"

    # -- writing -------------------------------------------------------------------------

    def _privateBytes(self) -> bytes:
        key = self._keyObject
        assert isinstance(key, PrivateKey)
        return key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def toString(
        self,
        type: str = "openssh",
        extra: Any = None,
        subtype: str | None = None,
        comment: bytes | str | None = None,
        passphrase: bytes | str | None = None,
    ) -> bytes:
        """The key as text: type "openssh" (the only one), private keys in OpenSSH's
        own format (``subtype`` "v1", the default) or traditional PEM ("PEM");
        ``passphrase`` encrypts a private key; ``comment`` ends a public key line."""
        if type != "openssh":
            raise BadKeyError(f"cannot write keys as {type!r}; only 'openssh' is supported")
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        if isinstance(extra, bytes | str) and passphrase is None:
            passphrase = extra.encode("utf-8") if isinstance(extra, str) else extra  # Twisted's
        if self.isPublic():
            line = self.sshType() + b" " + base64.b64encode(self.blob())
            if comment:
                line += b" " + (comment.encode("utf-8") if isinstance(comment, str) else comment)
            return line
        key = self._keyObject
        assert isinstance(key, PrivateKey)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        if subtype in (None, "v1"):
            privateFormat = serialization.PrivateFormat.OpenSSH
        elif subtype == "PEM":
            if isinstance(key, ed25519.Ed25519PrivateKey):
                raise BadKeyError(
                    "OpenSSH reads Ed25519 private keys only in its own format: use subtype 'v1'"
                )
            privateFormat = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            raise BadKeyError(f"unknown private key subtype {subtype!r}; use 'v1' or 'PEM'")
        return key.private_bytes(serialization.Encoding.PEM, privateFormat, encryption)

    # -- signatures ----------------------------------------------------------------------

    def sign(self, data: bytes, signatureType: bytes | None = None) -> bytes:
        """An SSH signature blob over ``data``: NS(algorithm) + NS(signature).

        RSA keys sign with rsa-sha2-512 unless ``signatureType`` says otherwise (the
        peer's server-sig-algs decide that).
        """
        key = self._keyObject
        if not isinstance(key, PrivateKey):
            raise BadKeyError("a public key cannot sign; load the private key")
        algorithm = signatureType or self.supportedSignatureAlgorithms()[0]
        if algorithm not in self.supportedSignatureAlgorithms():
            raise BadSignatureAlgorithmError(
                f"a {self.sshType().decode()} key cannot make {algorithm!r} signatures"
            )
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(data, padding.PKCS1v15(), _RSA_SIGNATURES[algorithm]())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            digest = _CURVES[self._curveName()][1]()
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            signature = MP(r) + MP(s)
        else:
            signature = key.sign(data)
        return NS(algorithm) + NS(signature)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` (an SSH signature blob) is this key's over ``data``.

        False, never an exception, for a malformed blob, an algorithm that does not go
        with this key, or a wrong signature.
        """
        try:
            algorithm, raw, rest = getNS(signature, 2)
        except SSHDecodeError:
            return False
        if rest or algorithm not in self.supportedSignatureAlgorithms():
            return False
        key = self._publicKey()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(raw, data, padding.PKCS1v15(), _RSA_SIGNATURES[algorithm]())
            elif isinstance(key, ec.EllipticCurvePublicKey):
                r, s, tail = getMP(raw, 2)
                if tail or not isinstance(r, int) or not isinstance(s, int) or r < 0 or s < 0:
                    return False
                digest = _CURVES[self._curveName()][1]()
                key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest))
            else:
                key.verify(raw, data)
        except (InvalidSignature, SSHDecodeError, ValueError):
            return False
        return True


def _needsPassphrase(loader: Any, data: bytes) -> bool:
    try:
        loader(data, None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        pass
    return False


def _guessType(data: bytes) -> str:
    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        if b"PUBLIC KEY" in stripped.split(b"\n", 1)[0]:
            raise BadKeyError("PEM public keys are not supported; use the OpenSSH form")
        return "private_openssh"
    if stripped.startswith((b"ssh-", b"ecdsa-")):
        return "public_openssh"
    if stripped.startswith(b"\0\0\0"):
        return "blob"
    raise BadKeyError("the data is not an OpenSSH public key, a private key or a key blob")
