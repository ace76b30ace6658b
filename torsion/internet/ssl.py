"""TLS configuration: CertificateOptions, optionsForClientTLS, trust roots, certificates.

What ``listenSSL``, ``connectSSL``, ``startTLS`` and TLSMemoryBIOFactory take to know
how to do TLS. The names are Twisted's; underneath is the standard library's ``ssl``
(each connection's TLS runs on ``ssl.MemoryBIO``, see torsion.protocols.tls), with the
``cryptography`` library to load and check certificates and keys.

The defaults are the safe ones. ``optionsForClientTLS(hostname)`` verifies the server's
certificate chain against the system's trust store and checks that it was issued for
``hostname``; a self-signed or privately issued certificate is refused unless its
issuer is given as ``trustRoot``. Both sides refuse anything older than TLS 1.2.
CertificateOptions is the server side (certificate, key, chain, client certificates,
ALPN, a certificate per server name); used for a client it checks no host name, which
is what optionsForClientTLS is for.

Where this differs from Twisted: ``getContext()`` returns an ``ssl.SSLContext``, not a
pyOpenSSL Context, and connection creators return an ``ssl.SSLObject``; certificates
and keys are given as PEM bytes or text, file paths, or the Certificate, KeyPair and
PrivateCertificate objects here (which wrap ``cryptography`` objects); and
``perHostOptions`` chooses a certificate by the name the client asks for (SNI).
Tests: tests/internet/test_ssl.py (options and loading), tests/protocols/test_tls.py
and tests/internet/test_tls_reactor.py (connections).
"""

from __future__ import annotations

import contextlib
import enum
import os
import ssl as _ssl
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet._sslcerts import (
    FILETYPE_ASN1,
    FILETYPE_PEM,
    TYPE_EC,
    TYPE_RSA,
    Certificate,
    CertificateLoadError,
    DistinguishedName,
    KeyPair,
    PrivateCertificate,
    _loadKey,
    _mismatch,
    _readSource,
    loadCertificates,
)
from torsion.internet.error import CertificateVerificationError, SSLError
from torsion.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
)
from torsion.python import log

__all__ = [
    "DN",
    "FILETYPE_ASN1",
    "FILETYPE_PEM",
    "TYPE_EC",
    "TYPE_RSA",
    "AcceptableCiphers",
    "Certificate",
    "CertificateLoadError",
    "CertificateOptions",
    "CertificateVerificationError",
    "ClientTLSOptions",
    "DefaultOpenSSLContextFactory",
    "DistinguishedName",
    "KeyPair",
    "OpenSSLAcceptableCiphers",
    "PrivateCertificate",
    "SSLError",
    "TLSVersion",
    "loadCertificates",
    "optionsForClientTLS",
    "platformTrust",
    "supported",
    "trustRootFromCertificates",
]

# TLS is always there (the standard library's ssl module); Twisted programs check this.
supported = True


class TLSVersion(enum.Enum):
    """The protocol versions, by Twisted's names (``ssl.TLSVersion`` is accepted too)."""

    SSLv3 = _ssl.TLSVersion.SSLv3
    TLSv1_0 = _ssl.TLSVersion.TLSv1
    TLSv1_1 = _ssl.TLSVersion.TLSv1_1
    TLSv1_2 = _ssl.TLSVersion.TLSv1_2
    TLSv1_3 = _ssl.TLSVersion.TLSv1_3


# The oldest version either side accepts unless told otherwise.
_DEFAULT_MINIMUM = _ssl.TLSVersion.TLSv1_2


def _stdlibVersion(version: Any, argument: str) -> _ssl.TLSVersion:
    if isinstance(version, TLSVersion):
        return version.value
    if isinstance(version, _ssl.TLSVersion):
        return version
    raise TypeError(f"{argument} takes a TLSVersion (TLSVersion.TLSv1_3), not {version!r}")


class OpenSSLAcceptableCiphers:
    """The cipher suites to allow, as an OpenSSL cipher string ("ECDHE+AESGCM").

    The string governs TLS 1.2; TLS 1.3's suites are all strong and OpenSSL's own.
    """

    __slots__ = ("cipherString",)

    def __init__(self, cipherString: str) -> None:
        self.cipherString = cipherString

    @classmethod
    def fromOpenSSLCipherString(cls, cipherString: str) -> OpenSSLAcceptableCiphers:
        """Make the set from an OpenSSL cipher string (see ``openssl ciphers -v``)."""
        return cls(cipherString)


# Twisted's other names for these.
AcceptableCiphers = OpenSSLAcceptableCiphers
DN = DistinguishedName


# -- trust roots ------------------------------------------------------------------------


class _PlatformTrust:
    """The operating system's store of trusted certificate authorities."""

    __slots__ = ()

    def _addCACertsToContext(self, context: _ssl.SSLContext) -> None:
        context.load_default_certs(_ssl.Purpose.SERVER_AUTH)

    def __repr__(self) -> str:
        return "platformTrust()"


class _CertificateTrust:
    """Trust exactly the given certificates (and what they issued)."""

    __slots__ = ("_certificates",)

    def __init__(self, certificates: Sequence[Certificate]) -> None:
        self._certificates = list(certificates)

    def _addCACertsToContext(self, context: _ssl.SSLContext) -> None:
        pem = b"".join(c.dumpPEM() for c in self._certificates)
        context.load_verify_locations(cadata=pem.decode("ascii"))

    def __repr__(self) -> str:
        return f"trustRootFromCertificates({self._certificates!r})"


class _PathTrust:
    """Trust the certificates of a PEM file, or of an OpenSSL hashed directory."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        if os.path.isdir(path):
            self._path = path
        else:
            loadCertificates(path)  # Fail now, and clearly, if it cannot be read.
            self._path = path

    def _addCACertsToContext(self, context: _ssl.SSLContext) -> None:
        if os.path.isdir(self._path):
            context.load_verify_locations(capath=self._path)
        else:
            context.load_verify_locations(cafile=self._path)

    def __repr__(self) -> str:
        return f"<trust root {self._path}>"


def platformTrust() -> _PlatformTrust:
    """Trust the certificate authorities the operating system trusts (the default)."""
    return _PlatformTrust()


def trustRootFromCertificates(certificates: Iterable[Certificate]) -> _CertificateTrust:
    """Trust only ``certificates`` (a private CA, or one self-signed certificate).

    Raises:
        TypeError: if an element is not a Certificate.
        ValueError: if there are none.
    """
    certs = list(certificates)
    for c in certs:
        if not isinstance(c, Certificate):
            raise TypeError(f"trustRootFromCertificates takes Certificates, not {type(c).__name__}")
    if not certs:
        raise ValueError("trustRootFromCertificates needs at least one certificate")
    return _CertificateTrust(certs)


def _asTrustRoot(trustRoot: Any) -> Any:
    """Make whatever the user gave as a trust root into an object that loads it."""
    if hasattr(trustRoot, "_addCACertsToContext"):
        return trustRoot
    if isinstance(trustRoot, Certificate):
        return _CertificateTrust([trustRoot])
    if isinstance(trustRoot, list | tuple):
        return trustRootFromCertificates(trustRoot)
    if isinstance(trustRoot, bytes | bytearray) or (
        isinstance(trustRoot, str) and "-----BEGIN " in trustRoot
    ):
        return _CertificateTrust(loadCertificates(trustRoot))
    if isinstance(trustRoot, str | os.PathLike):
        path = os.fspath(trustRoot)
        if not os.path.exists(path):
            raise CertificateLoadError(
                f"cannot read the trust root {path}: there is no such file or directory"
            )
        return _PathTrust(str(path))
    raise TypeError(
        "trustRoot is platformTrust(), a Certificate, a list of them, PEM bytes, or a "
        f"path to a PEM file or certificate directory, not {type(trustRoot).__name__}"
    )


# -- loading into a context -------------------------------------------------------------


@contextlib.contextmanager
def _inMemoryFile(data: bytes) -> Iterator[str]:
    """A path whose file holds ``data``, for ssl's loaders, which only take paths.

    On Linux the file is in memory only (memfd), so an unencrypted key never touches a
    disk; elsewhere it is a file in a private temporary directory, removed at once.
    """
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("torsion-tls", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="torsion-tls-") as directory:
        path = os.path.join(directory, "chain.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path


def _certificatesFrom(source: Any) -> list[Certificate]:
    """The certificate (then any chain after it) of ``source``, however it was given."""
    if isinstance(source, Certificate):
        return [source]
    if hasattr(source, "public_bytes") and hasattr(source, "subject"):
        return [Certificate(source)]
    return loadCertificates(source)


def _keyFrom(source: Any, passphrase: bytes | str | None) -> KeyPair:
    if isinstance(source, KeyPair):
        return source
    if hasattr(source, "private_bytes"):
        return KeyPair(source)
    return KeyPair(_loadKey(*_readSource(source, "private key"), passphrase))


def _alpnNames(protocols: Iterable[bytes | str]) -> list[str]:
    names = []
    for protocol in protocols:
        name = protocol.decode("ascii") if isinstance(protocol, bytes) else protocol
        if not isinstance(name, str) or not 0 < len(name.encode("ascii")) < 256:
            raise ValueError(
                f"an ALPN protocol name is 1 to 255 ASCII bytes (b'h2', b'http/1.1'), "
                f"not {protocol!r}"
            )
        names.append(name)
    if not names:
        raise ValueError("acceptableProtocols is empty; give None to offer no ALPN protocols")
    return names


@implementer(
    IOpenSSLContextFactory, IOpenSSLServerConnectionCreator, IOpenSSLClientConnectionCreator
)
class CertificateOptions:
    """How to do TLS: the certificate to present, whom to trust, versions, ciphers, ALPN.

    Give it to ``listenSSL`` (or TLSMemoryBIOFactory) for a server. Everything is
    checked when it is made, so a wrong passphrase or a key that does not match the
    certificate is a CertificateLoadError at start-up, not a failed handshake later.

    Args:
        privateKey: the key of ``certificate``: a KeyPair, PEM bytes or text, or a path
            (it may be left out if ``certificate`` is a PrivateCertificate or a PEM
            file that holds the key too).
        certificate: the certificate to present: a Certificate, PEM bytes or text, or
            a path. Certificates after the first in a PEM file are sent as its chain.
        passphrase: the passphrase of an encrypted ``privateKey``.
        extraCertChain: intermediate certificates to send after ``certificate``.
        trustRoot: whose certificates to accept from the peer: ``platformTrust()``, a
            Certificate or list of them, PEM, or a path. On a server, this asks
            clients for certificates (see ``requireCertificate``).
        requireCertificate: with ``trustRoot``, a server refuses a client that sends
            no certificate (True, the default) or lets it in without one (False).
        verify, caCerts: Twisted's older spelling of ``trustRoot=caCerts``.
        acceptableCiphers: an OpenSSL cipher string or OpenSSLAcceptableCiphers (TLS
            1.2's suites; the default is the standard library's secure choice).
        acceptableProtocols: ALPN protocol names, most preferred first ([b"h2",
            b"http/1.1"]); the choice is ``transport.negotiatedProtocol``.
        raiseMinimumTo: accept nothing older than this TLSVersion (never below the
            default, TLS 1.2).
        insecurelyLowerMinimumTo: accept versions down to this one, below TLS 1.2.
        lowerMaximumSecurityTo: accept nothing newer than this version.
        enableSessionTickets: let clients resume sessions with TLS session tickets
            (off by default, as in Twisted: each ticket costs the server work).
        perHostOptions: a certificate per server name (SNI): a mapping of host names
            (or "*.example.com") to CertificateOptions, or a callable taking the name
            and returning CertificateOptions or None. Names not found get this object's
            certificate. Only the other object's certificate, key and ALPN are used.

    Raises:
        CertificateLoadError: a file cannot be read, a passphrase is wrong or missing,
            a key is missing or is not the certificate's.
        TypeError, ValueError: the arguments contradict each other or are malformed.
    """

    def __init__(
        self,
        privateKey: Any = None,
        certificate: Any = None,
        verify: bool = False,
        caCerts: Sequence[Certificate] | None = None,
        requireCertificate: bool = True,
        extraCertChain: Sequence[Any] | None = None,
        acceptableCiphers: OpenSSLAcceptableCiphers | str | None = None,
        trustRoot: Any = None,
        acceptableProtocols: Sequence[bytes | str] | None = None,
        raiseMinimumTo: Any = None,
        insecurelyLowerMinimumTo: Any = None,
        lowerMaximumSecurityTo: Any = None,
        enableSessionTickets: bool = False,
        perHostOptions: Mapping[str, CertificateOptions]
        | Callable[[str], CertificateOptions | None]
        | None = None,
        passphrase: bytes | str | None = None,
    ) -> None:
        self._chain: list[Certificate] = []
        self._key: KeyPair | None = None
        if certificate is not None:
            self._chain = _certificatesFrom(certificate)
            if privateKey is None:
                privateKey = self._keyBesideCertificate(certificate, passphrase)
        if (privateKey is None) != (certificate is None):
            if certificate is None:
                raise CertificateLoadError(
                    "a private key was given without its certificate: pass certificate=... "
                    "(a PEM file, PEM bytes or a Certificate)"
                )
            raise CertificateLoadError(
                "the certificate was given without its private key: pass privateKey=... "
                "(a PEM file, PEM bytes or a KeyPair), or a PEM file holding both"
            )
        if privateKey is not None:
            self._key = _keyFrom(privateKey, passphrase)
            if not self._key.matches(self._chain[0]):
                raise CertificateLoadError(_mismatch(self._chain[0]))
        for extra in extraCertChain or ():
            self._chain.extend(_certificatesFrom(extra))
        if extraCertChain and certificate is None:
            raise TypeError("extraCertChain needs a certificate to follow; pass certificate=...")

        if verify or caCerts is not None:
            if trustRoot is not None:
                raise TypeError(
                    "give either trustRoot or the older verify=True with caCerts, not both"
                )
            if not (verify and caCerts):
                raise ValueError(
                    "verify=True needs caCerts (the certificates to trust), and caCerts "
                    "needs verify=True; or give trustRoot=... instead"
                )
            trustRoot = list(caCerts)
        self.trustRoot = None if trustRoot is None else _asTrustRoot(trustRoot)
        self.verify = self.trustRoot is not None
        self.requireCertificate = requireCertificate

        if raiseMinimumTo is not None and insecurelyLowerMinimumTo is not None:
            raise TypeError("give raiseMinimumTo or insecurelyLowerMinimumTo, not both")
        minimum = _DEFAULT_MINIMUM
        if raiseMinimumTo is not None:
            minimum = max(minimum, _stdlibVersion(raiseMinimumTo, "raiseMinimumTo"))
        if insecurelyLowerMinimumTo is not None:
            minimum = _stdlibVersion(insecurelyLowerMinimumTo, "insecurelyLowerMinimumTo")
        maximum = None
        if lowerMaximumSecurityTo is not None:
            maximum = _stdlibVersion(lowerMaximumSecurityTo, "lowerMaximumSecurityTo")
            if maximum < minimum:
                raise ValueError(
                    f"lowerMaximumSecurityTo ({maximum.name}) is older than the minimum "
                    f"version ({minimum.name}); no version would be left"
                )
        self._minimum = minimum
        self._maximum = maximum

        if isinstance(acceptableCiphers, OpenSSLAcceptableCiphers):
            acceptableCiphers = acceptableCiphers.cipherString
        if acceptableCiphers is not None and not isinstance(acceptableCiphers, str):
            raise TypeError(
                "acceptableCiphers is an OpenSSL cipher string or OpenSSLAcceptableCiphers, "
                f"not {type(acceptableCiphers).__name__}"
            )
        self._ciphers = acceptableCiphers
        self._alpn = None if acceptableProtocols is None else _alpnNames(acceptableProtocols)
        self.enableSessionTickets = enableSessionTickets
        if perHostOptions is not None and not (
            callable(perHostOptions) or isinstance(perHostOptions, Mapping)
        ):
            raise TypeError(
                "perHostOptions is a mapping of host names to CertificateOptions, or a "
                f"callable taking a name; not {type(perHostOptions).__name__}"
            )
        self._perHost = perHostOptions
        self._serverContext: _ssl.SSLContext | None = None
        self._clientContexts: dict[bool, _ssl.SSLContext] = {}
        # Build the server side now: a bad cipher string fails here, not per connection.
        if self._key is not None or self._ciphers is not None:
            self.getContext()

    @staticmethod
    def _keyBesideCertificate(certificate: Any, passphrase: bytes | str | None) -> Any:
        """The key that came with ``certificate`` (a PrivateCertificate, or one PEM
        holding both), or None."""
        if isinstance(certificate, PrivateCertificate):
            return certificate.privateKey
        if isinstance(certificate, bytes | str | os.PathLike) and not isinstance(
            certificate, Certificate
        ):
            raw, where = _readSource(certificate, "certificate")
            if b"PRIVATE KEY-----" in raw:
                return KeyPair(_loadKey(raw, where, passphrase))
        return None

    # -- the contexts ---------------------------------------------------------------------

    def _configure(self, context: _ssl.SSLContext) -> None:
        """What the server and client contexts share: versions, ciphers, certificate, ALPN."""
        with warnings.catch_warnings():
            # The standard library warns of the versions before 1.2, which only
            # insecurelyLowerMinimumTo (or lowerMaximumSecurityTo) asks for, knowingly.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = self._minimum
            if self._maximum is not None:
                context.maximum_version = self._maximum
        context.options |= _ssl.OP_NO_COMPRESSION | getattr(_ssl, "OP_NO_RENEGOTIATION", 0)
        if self._minimum < _ssl.TLSVersion.TLSv1_2 and self._ciphers is None:
            # OpenSSL 3 allows the old versions only at security level 0.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        if self._ciphers is not None:
            try:
                context.set_ciphers(self._ciphers)
            except _ssl.SSLError:
                raise ValueError(
                    f"no cipher suite matches the cipher string {self._ciphers!r}; see "
                    "`openssl ciphers -v 'STRING'` for what a string selects"
                ) from None
        if self._key is not None:
            pem = b"".join(c.dumpPEM() for c in self._chain) + self._key.dumpPEM()
            with _inMemoryFile(pem) as path:
                context.load_cert_chain(path)
        if self._alpn is not None:
            context.set_alpn_protocols(self._alpn)

    def getContext(self) -> _ssl.SSLContext:
        """Return the ``ssl.SSLContext`` for the server side (made once, then reused).

        Raises:
            ValueError: if the cipher string selects nothing.
        """
        context = self._serverContext
        if context is not None:
            return context
        context = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER)
        self._configure(context)
        context.options |= _ssl.OP_CIPHER_SERVER_PREFERENCE
        if not self.enableSessionTickets:
            context.options |= _ssl.OP_NO_TICKET
            context.num_tickets = 0
        if self.trustRoot is not None:
            self.trustRoot._addCACertsToContext(context)
            context.verify_mode = (
                _ssl.CERT_REQUIRED if self.requireCertificate else _ssl.CERT_OPTIONAL
            )
        if self._perHost is not None:
            context.sni_callback = self._chooseByServerName
        self._serverContext = context
        return context

    def _clientContext(self, checkHostname: bool = False) -> _ssl.SSLContext:
        """Return the ``ssl.SSLContext`` for the client side (made once per kind)."""
        context = self._clientContexts.get(checkHostname)
        if context is not None:
            return context
        context = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        self._configure(context)
        if self.trustRoot is not None:
            self.trustRoot._addCACertsToContext(context)
            context.verify_mode = _ssl.CERT_REQUIRED
            context.check_hostname = checkHostname
        else:
            context.verify_mode = _ssl.CERT_NONE
        self._clientContexts[checkHostname] = context
        return context

    def _optionsForName(self, serverName: str) -> CertificateOptions | None:
        chooser = self._perHost
        if callable(chooser):
            return chooser(serverName)
        assert chooser is not None
        name = serverName.lower().rstrip(".")
        found = chooser.get(name)
        if found is None and "." in name:
            found = chooser.get("*." + name.split(".", 1)[1])
        return found

    def _chooseByServerName(
        self, sslObject: Any, serverName: str | None, context: _ssl.SSLContext
    ) -> int | None:
        """The SNI callback: switch the handshake to the certificate for ``serverName``."""
        if serverName is None:
            return None
        try:
            options = self._optionsForName(serverName)
            if options is None:
                return None
            if not isinstance(options, CertificateOptions):
                raise TypeError(
                    f"perHostOptions gave {type(options).__name__} for {serverName!r}; it "
                    "must give CertificateOptions or None"
                )
            sslObject.context = options.getContext()
        except Exception:
            log.err(None, f"Choosing the TLS certificate for server name {serverName!r} failed")
            return _ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        return None

    # -- connection creators --------------------------------------------------------------

    def serverConnectionForTLS(self, tlsProtocol: Any) -> _ssl.SSLObject:
        """Return the server side's TLS object on ``tlsProtocol``'s memory BIOs."""
        return self.getContext().wrap_bio(
            tlsProtocol.incomingBIO, tlsProtocol.outgoingBIO, server_side=True
        )

    def clientConnectionForTLS(self, tlsProtocol: Any) -> _ssl.SSLObject:
        """Return a client side's TLS object (no host name check: see optionsForClientTLS)."""
        return self._clientContext().wrap_bio(
            tlsProtocol.incomingBIO, tlsProtocol.outgoingBIO, server_side=False
        )

    def __repr__(self) -> str:
        presents = self._chain[0]._label() if self._chain else "no certificate"
        return f"<CertificateOptions {presents}, trustRoot={self.trustRoot!r}>"


@implementer(IOpenSSLClientConnectionCreator, IOpenSSLContextFactory)
class ClientTLSOptions:
    """A client's TLS: a context that verifies, and the host name to verify and send.

    Made by ``optionsForClientTLS``; give it to ``connectSSL`` or ``startTLS``.
    """

    __slots__ = ("_context", "_hostname")

    def __init__(self, hostname: str, ctx: _ssl.SSLContext) -> None:
        self._hostname = hostname
        self._context = ctx

    def getContext(self) -> _ssl.SSLContext:
        """Return the ``ssl.SSLContext`` (it checks the chain and the host name)."""
        return self._context

    def clientConnectionForTLS(self, tlsProtocol: Any) -> _ssl.SSLObject:
        """Return the TLS object on ``tlsProtocol``'s memory BIOs, for this host name."""
        return self._context.wrap_bio(
            tlsProtocol.incomingBIO,
            tlsProtocol.outgoingBIO,
            server_side=False,
            server_hostname=self._hostname,
        )

    def __repr__(self) -> str:
        return f"<ClientTLSOptions for {self._hostname!r}>"


def optionsForClientTLS(
    hostname: str,
    trustRoot: Any = None,
    clientCertificate: PrivateCertificate | None = None,
    acceptableProtocols: Sequence[bytes | str] | None = None,
    *,
    extraCertificateOptions: Mapping[str, Any] | None = None,
) -> ClientTLSOptions:
    """Return a client's TLS options that verify the server is ``hostname``.

    The server's chain must lead to a trusted authority (the system's, or
    ``trustRoot``'s) and its certificate must name ``hostname`` (a DNS name or an IP
    address), else the handshake fails and the connection's protocol gets a
    CertificateVerificationError.

    Args:
        hostname: the name the server's certificate must be for, also sent as SNI.
        trustRoot: whom to trust instead of the system's store (a private CA, or a
            self-signed server certificate): see CertificateOptions.
        clientCertificate: a PrivateCertificate to present, for servers that ask.
        acceptableProtocols: ALPN names to offer, most preferred first.
        extraCertificateOptions: more CertificateOptions arguments (raiseMinimumTo,
            acceptableCiphers, ...).

    Raises:
        TypeError: ``hostname`` is not text, or an extra option repeats an argument.
    """
    if not isinstance(hostname, str):
        raise TypeError(
            f"optionsForClientTLS takes the host name as text, not {type(hostname).__name__}"
            + ("; decode it first" if isinstance(hostname, bytes) else "")
        )
    if not hostname:
        raise ValueError("optionsForClientTLS needs the host name the server must prove")
    extra = dict(extraCertificateOptions or {})
    for name in ("trustRoot", "acceptableProtocols", "privateKey", "certificate"):
        if name in extra:
            raise TypeError(
                f"give {name} as optionsForClientTLS's own argument, not in extraCertificateOptions"
            )
    if clientCertificate is not None:
        if not isinstance(clientCertificate, PrivateCertificate):
            raise TypeError(
                "clientCertificate is a PrivateCertificate (PrivateCertificate.loadPEM), "
                f"not {type(clientCertificate).__name__}"
            )
        extra["privateKey"] = clientCertificate.privateKey
        extra["certificate"] = clientCertificate
    options = CertificateOptions(
        trustRoot=platformTrust() if trustRoot is None else trustRoot,
        acceptableProtocols=acceptableProtocols,
        **extra,
    )
    return ClientTLSOptions(hostname, options._clientContext(checkHostname=True))


class DefaultOpenSSLContextFactory(CertificateOptions):
    """Twisted's server context factory: a key file and a certificate file.

    The same as ``CertificateOptions(privateKey=privateKeyFileName,
    certificate=certificateFileName)``; kept so that Twisted programs port unchanged.
    """

    def __init__(self, privateKeyFileName: str, certificateFileName: str) -> None:
        super().__init__(privateKey=privateKeyFileName, certificate=certificateFileName)
