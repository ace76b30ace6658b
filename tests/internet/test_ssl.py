"""Tests for torsion.internet.ssl: loading certificates and keys, CertificateOptions,
optionsForClientTLS, trust roots, and the errors for every way loading goes wrong.

Connections are tested in tests/protocols/test_tls.py (in memory) and
tests/internet/test_tls_reactor.py (over sockets, on every reactor).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.internet.tlshelpers import (
    caCertificate,
    clientCert,
    otherCA,
    privateCertificate,
    serverCert,
    serverOptions,
    theCA,
)
from torsion.internet import ssl as tssl
from torsion.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
    IReactorSSL,
)
from torsion.internet.testing import MemoryReactor


def leafPEM() -> bytes:
    return serverCert().cert_chain_pems[0].bytes()


def keyPEM() -> bytes:
    return serverCert().private_key_pem.bytes()


# -- Certificate -------------------------------------------------------------------------


def test_certificateRoundTripsThroughPEMAndDER() -> None:
    certificate = tssl.Certificate.loadPEM(leafPEM())
    assert tssl.Certificate.load(certificate.dump()) == certificate
    assert tssl.Certificate.load(certificate.dumpPEM(), tssl.FILETYPE_PEM) == certificate
    assert tssl.Certificate.loadPEM(leafPEM().decode()) == certificate
    assert certificate.dump(tssl.FILETYPE_PEM) == leafPEM()
    assert hash(certificate) == hash(tssl.Certificate.loadPEM(leafPEM()))


def test_certificateDescribesItself() -> None:
    certificate = tssl.Certificate.loadPEM(leafPEM())
    assert certificate.getIssuer() == caCertificate().getSubject()
    assert certificate.getIssuer().organizationName == "trustme v1.2.1" or (
        certificate.getIssuer().organizationName
    )
    assert certificate.serialNumber() > 0
    digest = certificate.digest()
    assert len(digest.split(":")) == 32
    assert len(certificate.digest("sha1").split(":")) == 20
    with pytest.raises(ValueError, match="unknown digest"):
        certificate.digest("nosuch")
    assert "localhost" in repr(certificate)
    assert certificate.getPublicKey() is not None


def test_certificateFromAFile(tmp_path: Path) -> None:
    path = tmp_path / "cert.pem"
    path.write_bytes(leafPEM())
    assert tssl.Certificate.fromFilePath(path) == tssl.Certificate.loadPEM(leafPEM())
    assert tssl.Certificate.fromFilePath(str(path)) == tssl.Certificate.loadPEM(leafPEM())


def test_bundleGivesEveryCertificate() -> None:
    bundle = leafPEM() + theCA().cert_pem.bytes()
    certificates = tssl.loadCertificates(bundle)
    assert [c.getSubject() for c in certificates][1] == caCertificate().getSubject()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no PEM certificate"),
        (b"hello", "no PEM certificate"),
        (None, "PRIVATE KEY only"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "damaged"),
    ],
)
def test_noCertificateInTheDataIsAClearError(data: bytes | None, message: str) -> None:
    with pytest.raises(tssl.CertificateLoadError, match=message):
        tssl.Certificate.loadPEM(keyPEM() if data is None else data)


def test_derThatIsNotACertificateIsAClearError() -> None:
    with pytest.raises(tssl.CertificateLoadError, match="not a DER certificate"):
        tssl.Certificate.load(b"\x30\x03\x02\x01\x01")


def test_missingFileIsAClearError(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(tssl.CertificateLoadError, match=r"nope\.pem: there is no such file"):
        tssl.Certificate.fromFilePath(missing)


def test_directoryInsteadOfAFileIsAClearError(tmp_path: Path) -> None:
    with pytest.raises(tssl.CertificateLoadError, match="it is a directory"):
        tssl.KeyPair.fromFilePath(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadableFileIsAClearError(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(keyPEM())
    path.chmod(0)
    with pytest.raises(tssl.CertificateLoadError, match="permission denied"):
        tssl.KeyPair.fromFilePath(path)


def test_loadPEMTakesDataNotAPath() -> None:
    with pytest.raises(TypeError, match="fromFilePath"):
        tssl.Certificate.loadPEM(Path("cert.pem"))  # type: ignore[arg-type]


# -- KeyPair -------------------------------------------------------------------------------


def test_keyRoundTripsAndMatchesItsCertificate() -> None:
    key = tssl.KeyPair.loadPEM(keyPEM())
    assert tssl.KeyPair.load(key.dump()).dump() == key.dump()
    assert tssl.KeyPair.load(key.dumpPEM(), tssl.FILETYPE_PEM).dump() == key.dump()
    assert key.matches(tssl.Certificate.loadPEM(leafPEM()))
    assert not key.matches(caCertificate())


def test_encryptedKeyNeedsItsPassphrase() -> None:
    key = tssl.KeyPair.generate(tssl.TYPE_EC)
    locked = key.dumpPEM(passphrase="open sesame")
    assert b"ENCRYPTED" in locked
    with pytest.raises(tssl.CertificateLoadError, match="encrypted: give its passphrase"):
        tssl.KeyPair.loadPEM(locked)
    with pytest.raises(tssl.CertificateLoadError, match="wrong passphrase"):
        tssl.KeyPair.loadPEM(locked, passphrase=b"open barley")
    assert tssl.KeyPair.loadPEM(locked, passphrase="open sesame").dump() == key.dump()


def test_passphraseForAnUnencryptedKeyIsIgnored() -> None:
    assert tssl.KeyPair.loadPEM(keyPEM(), passphrase="unneeded").matches(
        tssl.Certificate.loadPEM(leafPEM())
    )


def test_noKeyInTheDataIsAClearError(tmp_path: Path) -> None:
    path = tmp_path / "cert-only.pem"
    path.write_bytes(leafPEM())
    with pytest.raises(tssl.CertificateLoadError, match=r"no PEM private key .* CERTIFICATE only"):
        tssl.KeyPair.fromFilePath(path)
    with pytest.raises(tssl.CertificateLoadError, match="cannot be loaded"):
        tssl.KeyPair.load(b"\x30\x03\x02\x01\x01")


def test_generatedKeysSignThemselves() -> None:
    rsaKey = tssl.KeyPair.generate(size=2048)
    assert "2048" in repr(rsaKey)
    certificate = tssl.KeyPair.generate(tssl.TYPE_EC).selfSignedCert(7, commonName="127.0.0.1")
    assert certificate.serialNumber() == 7
    assert certificate.getSubject() == certificate.getIssuer()
    assert "127.0.0.1" in certificate._label()
    with pytest.raises(ValueError, match="unknown key kind"):
        tssl.KeyPair.generate("dsa")
    with pytest.raises(TypeError, match="unknown name part"):
        tssl.KeyPair.generate(tssl.TYPE_EC).selfSignedCert(1, cn="x")


# -- PrivateCertificate ------------------------------------------------------------------


def test_privateCertificateFromOnePEM() -> None:
    both = serverCert().private_key_and_cert_chain_pem.bytes()
    certificate = tssl.PrivateCertificate.loadPEM(both)
    assert certificate.privateKey.matches(certificate)
    assert certificate.getPrivateKey() is certificate.privateKey
    assert tssl.PrivateCertificate.loadPEM(certificate.dumpPEM()) == certificate


def test_dumpingAPrivateCertificateLeavesTheKeyOutUnlessAskedFor() -> None:
    certificate = privateCertificate(serverCert())
    assert b"PRIVATE KEY" not in certificate.dump(tssl.FILETYPE_PEM)
    assert b"PRIVATE KEY" not in certificate.dump()
    assert b"PRIVATE KEY" in certificate.dumpPEM()


def test_privateCertificateFromTwoFiles(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_bytes(leafPEM())
    (tmp_path / "k.pem").write_bytes(keyPEM())
    certificate = tssl.PrivateCertificate.fromFilePath(tmp_path / "c.pem", tmp_path / "k.pem")
    assert certificate == tssl.Certificate.loadPEM(leafPEM())


def test_keyThatIsNotTheCertificatesIsAClearError() -> None:
    stranger = tssl.KeyPair.generate(tssl.TYPE_EC)
    with pytest.raises(tssl.CertificateLoadError, match="does not match the certificate"):
        tssl.PrivateCertificate.fromCertificateAndKeyPair(
            tssl.Certificate.loadPEM(leafPEM()), stranger
        )
    with pytest.raises(tssl.CertificateLoadError, match="does not match"):
        tssl.PrivateCertificate.load(tssl.Certificate.loadPEM(leafPEM()).dump(), stranger)


def test_privateCertificateOptionsAskForClientCertificatesFromAuthorities() -> None:
    certificate = privateCertificate(serverCert())
    plain = certificate.options()
    assert plain.getContext().verify_mode == ssl.CERT_NONE
    asking = certificate.options(caCertificate())
    assert asking.getContext().verify_mode == ssl.CERT_REQUIRED


# -- CertificateOptions --------------------------------------------------------------------


def test_certificateOptionsProvideTheCreatorInterfaces() -> None:
    options = serverOptions()
    for interface in (
        IOpenSSLContextFactory,
        IOpenSSLServerConnectionCreator,
        IOpenSSLClientConnectionCreator,
    ):
        assert verifyObject(interface, options)
    assert verifyObject(IOpenSSLClientConnectionCreator, tssl.optionsForClientTLS("x.example"))


def test_contextIsMadeOnceAndRefusesOldTLSByDefault() -> None:
    options = serverOptions()
    context = options.getContext()
    assert context is options.getContext()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
    assert context.options & ssl.OP_NO_TICKET
    assert options._clientContext().minimum_version == ssl.TLSVersion.TLSv1_2


def test_keysMayBeGivenInEveryForm(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_bytes(leafPEM())
    (tmp_path / "k.pem").write_bytes(keyPEM())
    (tmp_path / "both.pem").write_bytes(keyPEM() + leafPEM())
    forms: list[dict[str, Any]] = [
        {"privateKey": keyPEM(), "certificate": leafPEM()},
        {"privateKey": keyPEM().decode(), "certificate": leafPEM().decode()},
        {"privateKey": tmp_path / "k.pem", "certificate": str(tmp_path / "c.pem")},
        {"certificate": tmp_path / "both.pem"},
        {"certificate": privateCertificate(serverCert())},
        {
            "privateKey": tssl.KeyPair.loadPEM(keyPEM()).original,
            "certificate": tssl.Certificate.loadPEM(leafPEM()).original,
        },
    ]
    for form in forms:
        assert tssl.CertificateOptions(**form).getContext() is not None, form


def test_encryptedKeyFileWithPassphrase(tmp_path: Path) -> None:
    key = tssl.KeyPair.loadPEM(keyPEM())
    (tmp_path / "k.pem").write_bytes(key.dumpPEM(passphrase=b"pw"))
    tssl.CertificateOptions(privateKey=tmp_path / "k.pem", certificate=leafPEM(), passphrase="pw")
    with pytest.raises(tssl.CertificateLoadError, match=r"wrong passphrase .*k\.pem"):
        tssl.CertificateOptions(
            privateKey=tmp_path / "k.pem", certificate=leafPEM(), passphrase="no"
        )


def test_certificateWithoutItsKeyIsAClearError() -> None:
    with pytest.raises(tssl.CertificateLoadError, match="without its private key"):
        tssl.CertificateOptions(certificate=leafPEM())
    with pytest.raises(tssl.CertificateLoadError, match="without its certificate"):
        tssl.CertificateOptions(privateKey=keyPEM())


def test_keyThatDoesNotMatchIsRefusedByTheOptions() -> None:
    other = otherCA().issue_cert("localhost")
    with pytest.raises(tssl.CertificateLoadError, match="does not match the certificate"):
        tssl.CertificateOptions(privateKey=other.private_key_pem.bytes(), certificate=leafPEM())


def test_chainFollowsTheCertificate() -> None:
    intermediate = theCA().create_child_ca()
    leaf = intermediate.issue_cert("localhost")
    fromFile = tssl.CertificateOptions(
        privateKey=leaf.private_key_pem.bytes(),
        certificate=b"".join(p.bytes() for p in leaf.cert_chain_pems),
    )
    explicit = tssl.CertificateOptions(
        privateKey=leaf.private_key_pem.bytes(),
        certificate=leaf.cert_chain_pems[0].bytes(),
        extraCertChain=[tssl.Certificate.loadPEM(leaf.cert_chain_pems[1].bytes())],
    )
    assert len(fromFile._chain) == len(explicit._chain) == 2
    with pytest.raises(TypeError, match="extraCertChain needs a certificate"):
        tssl.CertificateOptions(extraCertChain=[caCertificate()])


def test_versionLimits() -> None:
    assert (
        serverOptions(raiseMinimumTo=tssl.TLSVersion.TLSv1_3).getContext().minimum_version
        == ssl.TLSVersion.TLSv1_3
    )
    # raiseMinimumTo never lowers the default.
    assert (
        serverOptions(raiseMinimumTo=tssl.TLSVersion.TLSv1_1).getContext().minimum_version
        == ssl.TLSVersion.TLSv1_2
    )
    lowered = serverOptions(insecurelyLowerMinimumTo=ssl.TLSVersion.TLSv1_1).getContext()
    assert lowered.minimum_version == ssl.TLSVersion.TLSv1_1
    capped = serverOptions(lowerMaximumSecurityTo=tssl.TLSVersion.TLSv1_2).getContext()
    assert capped.maximum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(TypeError, match="not both"):
        serverOptions(
            raiseMinimumTo=tssl.TLSVersion.TLSv1_3,
            insecurelyLowerMinimumTo=tssl.TLSVersion.TLSv1_1,
        )
    with pytest.raises(ValueError, match="no version would be left"):
        serverOptions(
            raiseMinimumTo=tssl.TLSVersion.TLSv1_3,
            lowerMaximumSecurityTo=tssl.TLSVersion.TLSv1_2,
        )
    with pytest.raises(TypeError, match="TLSVersion"):
        serverOptions(raiseMinimumTo="1.3")


def test_ciphers() -> None:
    options = serverOptions(acceptableCiphers="ECDHE+AESGCM")
    names = {c["name"] for c in options.getContext().get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert names and all("GCM" in n for n in names)
    tssl.CertificateOptions(
        acceptableCiphers=tssl.OpenSSLAcceptableCiphers.fromOpenSSLCipherString("HIGH")
    )
    with pytest.raises(ValueError, match="no cipher suite matches"):
        serverOptions(acceptableCiphers="NOSUCHCIPHER")
    with pytest.raises(TypeError, match="cipher string"):
        serverOptions(acceptableCiphers=["HIGH"])


def test_alpnNamesAreChecked() -> None:
    serverOptions(acceptableProtocols=[b"h2", "http/1.1"])
    with pytest.raises(ValueError, match="is empty"):
        serverOptions(acceptableProtocols=[])
    with pytest.raises(ValueError, match="1 to 255 ASCII bytes"):
        serverOptions(acceptableProtocols=[b""])


def test_trustRootForms(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(theCA().cert_pem.bytes())
    for trustRoot in (
        caCertificate(),
        [caCertificate()],
        theCA().cert_pem.bytes(),
        theCA().cert_pem.bytes().decode(),
        tmp_path / "ca.pem",
        str(tmp_path),
        tssl.trustRootFromCertificates([caCertificate()]),
        tssl.platformTrust(),
    ):
        context = tssl.CertificateOptions(trustRoot=trustRoot)._clientContext()
        assert context.verify_mode == ssl.CERT_REQUIRED, trustRoot
    with pytest.raises(tssl.CertificateLoadError, match="no such file or directory"):
        tssl.CertificateOptions(trustRoot=tmp_path / "missing.pem")
    with pytest.raises(TypeError, match="trustRoot is"):
        tssl.CertificateOptions(trustRoot=42)
    with pytest.raises(TypeError, match="takes Certificates"):
        tssl.trustRootFromCertificates([b"pem"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        tssl.trustRootFromCertificates([])


def test_olderVerifySpelling() -> None:
    options = serverOptions(verify=True, caCerts=[caCertificate()])
    assert options.getContext().verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ValueError, match="needs caCerts"):
        serverOptions(verify=True)
    with pytest.raises(TypeError, match="not both"):
        serverOptions(verify=True, caCerts=[caCertificate()], trustRoot=caCertificate())


def test_serverAskingForOptionalClientCertificates() -> None:
    options = serverOptions(trustRoot=caCertificate(), requireCertificate=False)
    assert options.getContext().verify_mode == ssl.CERT_OPTIONAL


def test_perHostOptionsMustBeAMappingOrCallable() -> None:
    with pytest.raises(TypeError, match="perHostOptions"):
        serverOptions(perHostOptions=["a.example"])


def test_keyMaterialIsLoadedWithoutAFileOnDiskWhereTheSystemAllows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The fallback (no memfd): a private temporary file, gone once loaded.
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    serverOptions().getContext()
    assert list(tmp_path.iterdir()) == []


def test_defaultOpenSSLContextFactory(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_bytes(leafPEM())
    (tmp_path / "k.pem").write_bytes(keyPEM())
    factory = tssl.DefaultOpenSSLContextFactory(str(tmp_path / "k.pem"), str(tmp_path / "c.pem"))
    assert isinstance(factory.getContext(), ssl.SSLContext)


def test_repr() -> None:
    assert "localhost" in repr(serverOptions())
    assert repr(tssl.optionsForClientTLS("example.com")) == "<ClientTLSOptions for 'example.com'>"


# -- optionsForClientTLS ---------------------------------------------------------------------


def test_clientOptionsVerifyChainAndHostNameWithTheSystemStore() -> None:
    context = tssl.optionsForClientTLS("example.com").getContext()
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    if Path("/etc/ssl/certs/ca-certificates.crt").exists():
        assert context.cert_store_stats()["x509_ca"] > 0


def test_clientOptionsNeedTextHostNames() -> None:
    with pytest.raises(TypeError, match="decode it first"):
        tssl.optionsForClientTLS(b"example.com")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the host name"):
        tssl.optionsForClientTLS("")


def test_clientOptionsExtras() -> None:
    options = tssl.optionsForClientTLS(
        "example.com", extraCertificateOptions={"raiseMinimumTo": tssl.TLSVersion.TLSv1_3}
    )
    assert options.getContext().minimum_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises(TypeError, match="own argument"):
        tssl.optionsForClientTLS("x", extraCertificateOptions={"trustRoot": caCertificate()})
    with pytest.raises(TypeError, match="PrivateCertificate"):
        tssl.optionsForClientTLS("x", clientCertificate=clientCert())  # type: ignore[arg-type]


def test_clientOptionsWithAClientCertificate() -> None:
    options = tssl.optionsForClientTLS(
        "localhost", caCertificate(), privateCertificate(clientCert()), [b"h2"]
    )
    assert options.getContext().check_hostname


# -- the reactor interfaces --------------------------------------------------------------


def test_memoryReactorRecordsSSLCalls() -> None:
    reactor = MemoryReactor()
    assert verifyObject(IReactorSSL, reactor)
    options = serverOptions()
    port = reactor.listenSSL(443, "factory", options, 10, "127.0.0.1")
    assert reactor.sslServers == [(443, "factory", options, 10, "127.0.0.1")]
    assert port.getHost().port == 443

    class Started:
        connectors: list[Any] = []

        def startedConnecting(self, connector: Any) -> None:
            self.connectors.append(connector)

    factory = Started()
    client = tssl.optionsForClientTLS("example.com")
    connector = reactor.connectSSL("example.com", 443, factory, client, 5, None)
    assert reactor.sslClients == [("example.com", 443, factory, client, 5, None)]
    assert factory.connectors == [connector]


def test_twistedNamesAreThere() -> None:
    for name in (
        "AcceptableCiphers",
        "Certificate",
        "CertificateOptions",
        "ClientTLSOptions",
        "DN",
        "DefaultOpenSSLContextFactory",
        "DistinguishedName",
        "KeyPair",
        "OpenSSLAcceptableCiphers",
        "PrivateCertificate",
        "TLSVersion",
        "optionsForClientTLS",
        "platformTrust",
        "trustRootFromCertificates",
    ):
        assert name in tssl.__all__ and hasattr(tssl, name), name
    assert tssl.supported is True
    assert {v.name for v in tssl.TLSVersion} >= {"TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"}
