"""Certificates and private keys for TLS: loading them, checking they belong together.

The objects of torsion.internet.ssl that hold key material: Certificate (a public
certificate), KeyPair (a private key) and PrivateCertificate (a certificate with its
key), on top of the ``cryptography`` library. They load PEM or DER from bytes, text or
files, and every way that loading goes wrong (a missing or unreadable file, a wrong or
missing passphrase, a file with no key in it, a key that is not the certificate's)
raises CertificateLoadError saying which it was and what to do.
Tests: tests/internet/test_ssl.py.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "FILETYPE_ASN1",
    "FILETYPE_PEM",
    "TYPE_EC",
    "TYPE_RSA",
    "Certificate",
    "CertificateLoadError",
    "DistinguishedName",
    "KeyPair",
    "PrivateCertificate",
]

# The encodings ``load`` and ``dump`` take (the values are pyOpenSSL's).
FILETYPE_PEM = 1
FILETYPE_ASN1 = 2
# The kinds of key ``KeyPair.generate`` makes.
TYPE_RSA = "rsa"
TYPE_EC = "ec"

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.DOTALL)
_KEY_LABELS = frozenset(
    {b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"ENCRYPTED PRIVATE KEY"}
)


class CertificateLoadError(ValueError):
    """A certificate or private key cannot be used; the message says why and what to do.

    Raised for a file that cannot be read, PEM with no certificate (or no key) in it, a
    wrong or missing passphrase, and a private key that is not the certificate's.
    """


def _readSource(source: Any, what: str) -> tuple[bytes, str]:
    """Return the bytes of ``source`` (PEM/DER bytes, PEM text or a file path) and a name
    for it in error messages."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "the data given"
    if isinstance(source, str) and "-----BEGIN " in source:
        return source.encode("ascii", "replace"), "the PEM text given"
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                return f.read(), f"{path}"
        except FileNotFoundError:
            raise CertificateLoadError(
                f"cannot read the {what} file {path}: there is no such file; check the path"
            ) from None
        except PermissionError:
            raise CertificateLoadError(
                f"cannot read the {what} file {path}: permission denied; make it readable "
                "by this process's user"
            ) from None
        except IsADirectoryError:
            raise CertificateLoadError(
                f"cannot read the {what} file {path}: it is a directory; name the file"
            ) from None
        except OSError as e:
            raise CertificateLoadError(f"cannot read the {what} file {path}: {e}") from None
    raise TypeError(
        f"a {what} is given as PEM bytes or text, a file path or a loaded object, "
        f"not {type(source).__name__}"
    )


def _pemData(data: Any, what: str) -> tuple[bytes, str]:
    """Return PEM ``data`` (bytes or text, never a path) as bytes, with its name."""
    if isinstance(data, str):
        return data.encode("ascii", "replace"), "the PEM text given"
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data), "the PEM data given"
    raise TypeError(
        f"PEM data is bytes or str, not {type(data).__name__}; for a file use fromFilePath"
    )


def _pemBlocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Return each PEM block of ``data`` as (label, the whole block)."""
    return [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]


def _passphraseBytes(passphrase: bytes | str | None) -> bytes | None:
    if passphrase is None or isinstance(passphrase, bytes):
        return passphrase
    if isinstance(passphrase, str):
        return passphrase.encode("utf-8")
    raise TypeError(f"a passphrase is bytes or str, not {type(passphrase).__name__}")


def _publicBytes(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class DistinguishedName:
    """The subject or issuer of a certificate: its common name, organisation, and so on.

    The attributes are those of Twisted's DistinguishedName; each is a str, or None
    when the name has no such part.
    """

    __slots__ = (
        "commonName",
        "countryName",
        "emailAddress",
        "localityName",
        "organizationName",
        "organizationalUnitName",
        "stateOrProvinceName",
    )

    _OIDS = (
        ("commonName", NameOID.COMMON_NAME),
        ("organizationName", NameOID.ORGANIZATION_NAME),
        ("organizationalUnitName", NameOID.ORGANIZATIONAL_UNIT_NAME),
        ("localityName", NameOID.LOCALITY_NAME),
        ("stateOrProvinceName", NameOID.STATE_OR_PROVINCE_NAME),
        ("countryName", NameOID.COUNTRY_NAME),
        ("emailAddress", NameOID.EMAIL_ADDRESS),
    )

    commonName: str | None
    organizationName: str | None
    organizationalUnitName: str | None
    localityName: str | None
    stateOrProvinceName: str | None
    countryName: str | None
    emailAddress: str | None

    def __init__(self, **parts: str | None) -> None:
        for name, _ in self._OIDS:
            setattr(self, name, parts.pop(name, None))
        if parts:
            known = ", ".join(name for name, _ in self._OIDS)
            raise TypeError(f"unknown name part(s) {', '.join(parts)}; use {known}")

    @classmethod
    def _fromX509(cls, name: x509.Name) -> DistinguishedName:
        parts: dict[str, str | None] = {}
        for attribute, oid in cls._OIDS:
            values = name.get_attributes_for_oid(oid)
            parts[attribute] = str(values[0].value) if values else None
        return cls(**parts)

    def _toX509(self) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(oid, getattr(self, attribute))
                for attribute, oid in self._OIDS
                if getattr(self, attribute) is not None
            ]
        )

    def inspect(self) -> str:
        """Return the parts that are set, one "name: value" per line."""
        return "\n".join(
            f"{attribute}: {getattr(self, attribute)}"
            for attribute, _ in self._OIDS
            if getattr(self, attribute) is not None
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DistinguishedName):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a, _ in self._OIDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, a) for a, _ in self._OIDS))

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{a}={getattr(self, a)!r}" for a, _ in self._OIDS if getattr(self, a) is not None
        )
        return f"<DN {parts}>"


class Certificate:
    """An X.509 certificate (no private key). ``original`` is cryptography's object."""

    __slots__ = ("original",)

    def __init__(self, original: x509.Certificate) -> None:
        if not isinstance(original, x509.Certificate):
            raise TypeError(
                f"Certificate wraps a cryptography x509.Certificate, not {type(original).__name__}"
                "; use Certificate.loadPEM or Certificate.load to load one"
            )
        self.original = original

    @classmethod
    def load(cls, requestData: bytes, format: int = FILETYPE_ASN1) -> Certificate:
        """Load a certificate from DER (``FILETYPE_ASN1``) or PEM (``FILETYPE_PEM``) bytes.

        Raises:
            CertificateLoadError: if there is no certificate in the data.
        """
        if format == FILETYPE_PEM:
            return cls.loadPEM(requestData)
        if format != FILETYPE_ASN1:
            raise ValueError(f"unknown format {format!r}: use FILETYPE_PEM or FILETYPE_ASN1")
        try:
            return cls(x509.load_der_x509_certificate(bytes(requestData)))
        except ValueError as e:
            raise CertificateLoadError(
                f"the data is not a DER certificate ({e}); for PEM use Certificate.loadPEM"
            ) from None

    @classmethod
    def loadPEM(cls, data: bytes | str) -> Certificate:
        """Load the first certificate of PEM ``data`` (bytes or text).

        Raises:
            CertificateLoadError: if the data holds no PEM certificate.
        """
        return cls(_certificatesIn(*_pemData(data, "certificate"))[0])

    @classmethod
    def fromFilePath(cls, path: str | os.PathLike[str]) -> Certificate:
        """Load the first certificate of the PEM file at ``path``.

        Raises:
            CertificateLoadError: if the file cannot be read or holds no certificate.
        """
        return cls(_certificatesIn(*_readSource(os.fspath(path), "certificate"))[0])

    @classmethod
    def peerFromTransport(cls, transport: Any) -> Certificate:
        """Return the certificate of the peer of a TLS ``transport``.

        Raises:
            CertificateLoadError: if the peer sent none (or the handshake is not done).
        """
        peer = transport.getPeerCertificate()
        if peer is None:
            raise CertificateLoadError(
                "the peer sent no certificate (or the TLS handshake has not completed yet)"
            )
        return Certificate(peer.original)

    def dump(self, format: int = FILETYPE_ASN1) -> bytes:
        """Return the certificate (never a key) encoded as DER (the default) or PEM."""
        if format == FILETYPE_PEM:
            return self.original.public_bytes(serialization.Encoding.PEM)
        if format != FILETYPE_ASN1:
            raise ValueError(f"unknown format {format!r}: use FILETYPE_PEM or FILETYPE_ASN1")
        return self.original.public_bytes(serialization.Encoding.DER)

    def dumpPEM(self) -> bytes:
        """Return the certificate as PEM."""
        return self.original.public_bytes(serialization.Encoding.PEM)

    def getSubject(self) -> DistinguishedName:
        """Return whom the certificate was issued to."""
        return DistinguishedName._fromX509(self.original.subject)

    def getIssuer(self) -> DistinguishedName:
        """Return who issued (signed) the certificate."""
        return DistinguishedName._fromX509(self.original.issuer)

    def serialNumber(self) -> int:
        """Return the serial number the issuer gave the certificate."""
        return int(self.original.serial_number)

    def digest(self, method: str = "sha256") -> str:
        """Return the fingerprint ("AB:CD:...") with hash ``method`` (sha256, sha1...)."""
        algorithm = getattr(hashes, method.upper(), None)
        if algorithm is None:
            raise ValueError(f"unknown digest {method!r}; use sha256, sha384, sha512 or sha1")
        return ":".join(f"{b:02X}" for b in self.original.fingerprint(algorithm()))

    def getPublicKey(self) -> Any:
        """Return the certificate's public key (a cryptography public key object)."""
        return self.original.public_key()

    def _label(self) -> str:
        """A short description for messages: the common name, else the names it is for."""
        commonName = self.getSubject().commonName
        if commonName:
            return f"for {commonName!r}"
        try:
            names = self.original.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            return f"subject {self.original.subject.rfc4514_string()!r}"
        return "for " + ", ".join(repr(str(getattr(n, "value", n))) for n in names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Certificate):
            return NotImplemented
        return self.dump() == other.dump()

    def __hash__(self) -> int:
        return hash(self.dump())

    def __repr__(self) -> str:
        issuer = self.getIssuer().commonName or self.original.issuer.rfc4514_string()
        return f"<{type(self).__name__} {self._label()} issued by {issuer!r}>"


def _certificatesIn(data: bytes, where: str) -> list[x509.Certificate]:
    """Every certificate of PEM ``data``, in order, at least one."""
    blocks = [block for label, block in _pemBlocks(data) if label == b"CERTIFICATE"]
    if not blocks:
        found = {label.decode() for label, _ in _pemBlocks(data)}
        has = f" (it has {', '.join(sorted(found))} only)" if found else ""
        raise CertificateLoadError(
            f"no PEM certificate ('-----BEGIN CERTIFICATE-----') in {where}{has}"
        )
    try:
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as e:
        raise CertificateLoadError(f"a certificate in {where} is damaged: {e}") from None


def loadCertificates(source: Any) -> list[Certificate]:
    """Return every certificate of ``source`` (PEM bytes or text, or a PEM file path).

    Raises:
        CertificateLoadError: if it cannot be read or holds no certificate.
    """
    return [Certificate(c) for c in _certificatesIn(*_readSource(source, "certificate"))]


class KeyPair:
    """A private key (with its public half). ``original`` is cryptography's object."""

    __slots__ = ("original",)

    def __init__(self, original: Any) -> None:
        if not isinstance(original, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) and (
            not hasattr(original, "private_bytes")
        ):
            raise TypeError(
                f"KeyPair wraps a cryptography private key, not {type(original).__name__}; "
                "use KeyPair.loadPEM or KeyPair.load to load one"
            )
        self.original = original

    @classmethod
    def generate(cls, kind: str = TYPE_RSA, size: int = 2048) -> KeyPair:
        """Make a new key: RSA of ``size`` bits (``TYPE_RSA``), or EC P-256 (``TYPE_EC``)."""
        if kind == TYPE_RSA:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=size))
        if kind == TYPE_EC:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        raise ValueError(f"unknown key kind {kind!r}: use TYPE_RSA or TYPE_EC")

    @classmethod
    def load(
        cls, data: bytes, format: int = FILETYPE_ASN1, passphrase: bytes | str | None = None
    ) -> KeyPair:
        """Load a private key from DER (the default) or PEM bytes.

        Raises:
            CertificateLoadError: if there is no key, or the passphrase is wrong or missing.
        """
        if format == FILETYPE_PEM:
            return cls.loadPEM(data, passphrase)
        if format != FILETYPE_ASN1:
            raise ValueError(f"unknown format {format!r}: use FILETYPE_PEM or FILETYPE_ASN1")
        return cls(_loadKey(bytes(data), "the DER data given", passphrase, der=True))

    @classmethod
    def loadPEM(cls, data: bytes | str, passphrase: bytes | str | None = None) -> KeyPair:
        """Load the private key of PEM ``data`` (which may hold certificates too).

        Raises:
            CertificateLoadError: if there is no key, or the passphrase is wrong or missing.
        """
        return cls(_loadKey(*_pemData(data, "private key"), passphrase))

    @classmethod
    def fromFilePath(
        cls, path: str | os.PathLike[str], passphrase: bytes | str | None = None
    ) -> KeyPair:
        """Load the private key of the PEM file at ``path``.

        Raises:
            CertificateLoadError: if the file cannot be read, holds no key, or the
                passphrase is wrong or missing.
        """
        return cls(_loadKey(*_readSource(os.fspath(path), "private key"), passphrase))

    def dump(self, format: int = FILETYPE_ASN1) -> bytes:
        """Return the private key, unencrypted, as DER (the default) or PEM (PKCS #8)."""
        if format == FILETYPE_PEM:
            return self.dumpPEM()
        if format != FILETYPE_ASN1:
            raise ValueError(f"unknown format {format!r}: use FILETYPE_PEM or FILETYPE_ASN1")
        return bytes(
            self.original.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def dumpPEM(self, passphrase: bytes | str | None = None) -> bytes:
        """Return the private key as PEM, encrypted with ``passphrase`` if one is given."""
        secret = _passphraseBytes(passphrase)
        encryption: Any = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        return bytes(
            self.original.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
        )

    def matches(self, certificate: Certificate) -> bool:
        """Return True if ``certificate`` is for this key (their public keys are the same)."""
        return _publicBytes(self.original.public_key()) == _publicBytes(certificate.getPublicKey())

    def selfSignedCert(
        self, serialNumber: int, validDays: int = 365, **subject: str
    ) -> PrivateCertificate:
        """Return a certificate for this key signed by itself, with the given subject.

        ``subject`` takes DistinguishedName's parts (``commonName="localhost"``). The
        common name also goes in as the certificate's subject alternative name (an IP
        address or a DNS name), which is what TLS clients check host names against.
        Useful for tests and private services; a client trusts it only when told to
        (``optionsForClientTLS(name, trustRoot=theCertificate)``).
        """
        name = DistinguishedName(**subject)._toX509()
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.original.public_key())
            .serial_number(serialNumber)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=validDays))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        )
        commonName = subject.get("commonName")
        if commonName:
            general: x509.GeneralName
            try:
                general = x509.IPAddress(ipaddress.ip_address(commonName))
            except ValueError:
                general = x509.DNSName(commonName)
            builder = builder.add_extension(x509.SubjectAlternativeName([general]), False)
        certificate = builder.sign(self.original, hashes.SHA256())
        return PrivateCertificate(certificate, self)

    def __repr__(self) -> str:
        size = getattr(self.original, "key_size", "?")
        return f"<KeyPair {type(self.original).__name__.lstrip('_')} {size} bits>"


def _loadKey(data: bytes, where: str, passphrase: bytes | str | None, der: bool = False) -> Any:
    """Load the private key of ``data``, with every failure made a CertificateLoadError."""
    secret = _passphraseBytes(passphrase)
    if der:
        loader: Any = serialization.load_der_private_key
        block = data
    else:
        keys = [block for label, block in _pemBlocks(data) if label in _KEY_LABELS]
        if not keys:
            found = sorted({label.decode() for label, _ in _pemBlocks(data)})
            has = f" (it has {', '.join(found)} only)" if found else ""
            raise CertificateLoadError(
                f"no PEM private key ('-----BEGIN PRIVATE KEY-----') in {where}{has}; "
                "name the key's file as privateKey"
            )
        loader = serialization.load_pem_private_key
        block = keys[0]
    try:
        return loader(block, password=secret)
    except TypeError as e:
        if secret is not None and "not encrypted" in str(e):
            return loader(block, password=None)  # A passphrase an unencrypted key ignores.
        raise CertificateLoadError(
            f"the private key in {where} is encrypted: give its passphrase (passphrase=...)"
        ) from None
    except ValueError as e:
        if secret is not None and ("password" in str(e).lower() or "decrypt" in str(e).lower()):
            raise CertificateLoadError(f"wrong passphrase for the private key in {where}") from None
        raise CertificateLoadError(f"the private key in {where} cannot be loaded: {e}") from None


class PrivateCertificate(Certificate):
    """A certificate together with its private key: what a server (or client) presents."""

    __slots__ = ("privateKey",)

    def __init__(self, original: x509.Certificate, privateKey: KeyPair) -> None:
        super().__init__(original)
        if not isinstance(privateKey, KeyPair):
            raise TypeError(f"privateKey is a KeyPair, not {type(privateKey).__name__}")
        if not privateKey.matches(self):
            raise CertificateLoadError(_mismatch(self))
        self.privateKey = privateKey

    @classmethod
    def load(  # type: ignore[override]
        cls, data: bytes, privKey: KeyPair, format: int = FILETYPE_ASN1
    ) -> PrivateCertificate:
        """Load the certificate in ``data`` (DER or PEM) and pair it with ``privKey``.

        Raises:
            CertificateLoadError: if the key is not the certificate's.
        """
        return cls(Certificate.load(data, format).original, privKey)

    @classmethod
    def loadPEM(
        cls, data: bytes | str, passphrase: bytes | str | None = None
    ) -> PrivateCertificate:
        """Load PEM holding both a certificate and its private key.

        Raises:
            CertificateLoadError: if either is missing, or they do not belong together.
        """
        raw, where = _pemData(data, "certificate and key")
        return cls(_certificatesIn(raw, where)[0], KeyPair(_loadKey(raw, where, passphrase)))

    @classmethod
    def fromFilePath(
        cls,
        path: str | os.PathLike[str],
        keyPath: str | os.PathLike[str] | None = None,
        passphrase: bytes | str | None = None,
    ) -> PrivateCertificate:
        """Load a certificate and its key from one PEM file, or from ``path`` and ``keyPath``.

        Raises:
            CertificateLoadError: if a file cannot be read, the key is missing or
                locked, or it is not the certificate's.
        """
        raw, where = _readSource(os.fspath(path), "certificate")
        certificate = _certificatesIn(raw, where)[0]
        if keyPath is not None:
            raw, where = _readSource(os.fspath(keyPath), "private key")
        return cls(certificate, KeyPair(_loadKey(raw, where, passphrase)))

    @classmethod
    def fromCertificateAndKeyPair(
        cls, certificateInstance: Certificate, privateKey: KeyPair
    ) -> PrivateCertificate:
        """Pair a loaded certificate with its loaded key.

        Raises:
            CertificateLoadError: if the key is not the certificate's.
        """
        return cls(certificateInstance.original, privateKey)

    def getPrivateKey(self) -> KeyPair:
        """Return the private key."""
        return self.privateKey

    def dumpPEM(self) -> bytes:
        """Return the certificate and then its (unencrypted) private key, as PEM."""
        return super().dumpPEM() + self.privateKey.dumpPEM()

    def options(self, *authorities: Certificate) -> Any:
        """Return CertificateOptions presenting this certificate.

        With ``authorities``, the peer must present a certificate that one of them
        issued (a server asking for client certificates).
        """
        from torsion.internet.ssl import CertificateOptions

        if authorities:
            return CertificateOptions(
                privateKey=self.privateKey, certificate=self, trustRoot=list(authorities)
            )
        return CertificateOptions(privateKey=self.privateKey, certificate=self)


def _mismatch(certificate: Certificate) -> str:
    return (
        f"the private key does not match the certificate ({certificate._label()}): they "
        "are not a pair; give the key that was made with this certificate"
    )


def _certificateChain(certificates: Iterable[Certificate]) -> bytes:
    return b"".join(c.dumpPEM() for c in certificates)
