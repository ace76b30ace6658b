"""Tests for the endpoint string language (endpoints.serverFromString/clientFromString)
and for strports.service.

Every prefix and option is parsed into the endpoint it should make (checked on the
endpoint's attributes); escaping has a property test; every error is checked to name
the bad part. Plugins are tested both registered in-process and found through a
``torsion.plugins`` entry point of a distribution put on sys.path. TCP descriptions
also listen and connect for real on each reactor. The TLS parts that need
torsion.internet.ssl are in test_strports_tls.py.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zope.interface import implementer

from tests.application.conftest import RecordingReactor
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from tests.internet.test_tcp import OneProtocolFactory, Recorder
from torsion.application import internet, strports
from torsion.internet import _endpointstrings, endpoints, error
from torsion.internet.interfaces import (
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from torsion.internet.protocol import Factory
from torsion.protocols.wire import Echo
from torsion.python import usage

reactor = reactormixins.reactor

R = RecordingReactor()


def server(description: str) -> Any:
    return endpoints.serverFromString(R, description)


def client(description: str) -> Any:
    return endpoints.clientFromString(R, description)


def badServer(description: str) -> str:
    with pytest.raises(ValueError) as caught:
        server(description)
    message = str(caught.value)
    assert repr(description) in message, message
    return message


def badClient(description: str) -> str:
    with pytest.raises(ValueError) as caught:
        client(description)
    message = str(caught.value)
    assert repr(description) in message, message
    return message


# -- the syntax ------------------------------------------------------------------------


def test_parseSplitsArgumentsAndOptions() -> None:
    assert _endpointstrings._parse("tcp:80:interface=192.168.3.1") == (
        ["tcp", "80"],
        {"interface": "192.168.3.1"},
    )
    assert _endpointstrings._parse("x") == (["x"], {})
    assert _endpointstrings._parse("x::a=") == (["x", ""], {"a": ""})


def test_backslashEscapesColonEqualsAndBackslash() -> None:
    assert _endpointstrings._parse(r"tcp6:80:interface=\:\:1") == (
        ["tcp6", "80"],
        {"interface": "::1"},
    )
    assert _endpointstrings._parse(r"unix:C\:\\dir\\sock") == (["unix", "C:\\dir\\sock"], {})
    assert _endpointstrings._parse(r"x:a\=b") == (["x", "a=b"], {})
    assert _endpointstrings._parse(r"x:k\=ey=v") == (["x"], {"k=ey": "v"})
    assert _endpointstrings._parse(r"x:\q") == (["x", "q"], {})


def test_onlyTheFirstEqualsSplitsAnOption() -> None:
    assert _endpointstrings._parse("x:k=a=b") == (["x"], {"k": "a=b"})


@given(st.text())
def test_quoteStringArgumentRoundTrips(text: str) -> None:
    assert _endpointstrings._parse("x:" + endpoints.quoteStringArgument(text)) == (["x", text], {})
    assert _endpointstrings._parse("x:k=" + endpoints.quoteStringArgument(text)) == (
        ["x"],
        {"k": text},
    )


def test_quoteStringArgument() -> None:
    assert endpoints.quoteStringArgument("a:b=c\\d") == "a\\:b\\=c\\\\d"


# -- servers ---------------------------------------------------------------------------


def test_tcpServer() -> None:
    e = server("tcp:80")
    assert isinstance(e, endpoints.TCP4ServerEndpoint)
    assert (e._reactor, e._port, e._backlog, e._interface) == (R, 80, 50, "")


def test_tcpServerFromTheSeed() -> None:
    e = server("tcp:80:interface=192.168.3.1")
    assert (e._port, e._interface) == (80, "192.168.3.1")


def test_tcpServerOptionsByNameAndInOrder() -> None:
    e = server("tcp:port=8080:backlog=7:interface=127.0.0.1")
    assert (e._port, e._backlog, e._interface) == (8080, 7, "127.0.0.1")
    e = server("tcp:8080:127.0.0.1:9")
    assert (e._port, e._backlog, e._interface) == (8080, 9, "127.0.0.1")


def test_prefixIsCaseInsensitive() -> None:
    assert isinstance(server("TCP:80"), endpoints.TCP4ServerEndpoint)


def test_tcp6Server() -> None:
    e = server("tcp6:443")
    assert isinstance(e, endpoints.TCP6ServerEndpoint)
    assert (e._port, e._interface, e._backlog) == (443, "::", 50)
    e = server(r"tcp6:443:interface=\:\:1:backlog=3")
    assert (e._interface, e._backlog) == ("::1", 3)


def test_unixServer() -> None:
    e = server("unix:/var/run/app.sock")
    assert isinstance(e, endpoints.UNIXServerEndpoint)
    assert (e._address, e._mode, e._backlog, e._wantPID) == ("/var/run/app.sock", 0o666, 50, False)
    e = server("unix:address=/tmp/s:mode=0660:lockfile=1:backlog=9")
    assert (e._address, e._mode, e._backlog, e._wantPID) == ("/tmp/s", 0o660, 9, True)
    assert server("unix:/tmp/s:mode=0o600")._mode == 0o600


def test_systemdServer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "2")
    monkeypatch.setenv("LISTEN_FDNAMES", "web:admin")
    e = server("systemd:domain=INET:index=0")
    assert isinstance(e, endpoints.AdoptedStreamServerEndpoint)
    assert (e.fileno, e.addressFamily, e.reactor) == (3, socket.AF_INET, R)
    e = server("systemd:domain=INET6:index=1")
    assert (e.fileno, e.addressFamily) == (4, socket.AF_INET6)
    e = server("systemd:domain=unix:name=admin")
    assert (e.fileno, e.addressFamily) == (4, socket.AF_UNIX)


def test_systemdErrors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTEN_PID", raising=False)
    monkeypatch.delenv("LISTEN_FDNAMES", raising=False)
    assert "passed no sockets to this process" in badServer("systemd:domain=INET:index=0")
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "1")
    message = badServer("systemd:domain=INET:index=1")
    assert "index 1 is out of range" in message and "1 socket(s)" in message
    assert "unknown systemd domain 'IPX'" in badServer("systemd:domain=IPX:index=0")
    assert "one of index and name" in badServer("systemd:domain=INET")
    assert "one of index and name" in badServer("systemd:domain=INET:index=0:name=x")
    assert "no socket named 'web'" in badServer("systemd:domain=INET:name=web")
    assert "missing domain" in badServer("systemd:index=0")


def test_stdioWithoutStandardIOSaysSo() -> None:
    if hasattr(endpoints, "StandardIOEndpoint"):
        pytest.skip("this torsion has standard I/O endpoints")
    assert "torsion.internet.stdio" in badServer("stdio")


def test_stdioServer() -> None:
    pytest.importorskip("torsion.internet.stdio")
    assert isinstance(server("stdio"), endpoints.StandardIOEndpoint)
    assert "unexpected argument" in badServer("stdio:x")


def test_sslServerNeedsItsKeyFile(tmp_path: Path) -> None:
    missing = tmp_path / "pvk.pem"
    message = badServer(f"ssl:443:privateKey={missing}")
    assert "cannot read the privateKey file" in message and str(missing) in message


def test_sslServerDefaultsToServerPem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "'server.pem'" in badServer("ssl:443")


def test_sslServerChecksWhatTheFilesHold(tmp_path: Path) -> None:
    notKey = tmp_path / "notkey.pem"
    notKey.write_text("hello\n")
    assert "holds no PEM private key" in badServer(f"ssl:443:privateKey={notKey}")
    keyOnly = tmp_path / "key.pem"
    keyOnly.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    message = badServer(f"ssl:443:privateKey={keyOnly}")
    assert "certKey file" in message and "holds no PEM certificate" in message
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    message = badServer(f"ssl:443:privateKey={keyOnly}:certKey={cert}:extraCertChain={notKey}")
    assert "extraCertChain file" in message
    message = badServer(f"ssl:443:privateKey={keyOnly}:certKey={cert}:dhParameters={tmp_path}/dh")
    assert "dhParameters file" in message
    message = badServer(f"ssl:443:privateKey={keyOnly}:certKey={cert}:sslmethod=SSLv2_METHOD")
    assert "unknown sslmethod 'SSLv2_METHOD'" in message and "TLS_METHOD" in message


def test_sslServerWithoutTLSSupportSaysSo(tmp_path: Path) -> None:
    try:
        import torsion.internet.ssl  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("this torsion has TLS")
    both = tmp_path / "pvk.pem"
    both.write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    assert "need torsion.internet.ssl" in badServer(f"ssl:443:privateKey={both}")


# -- clients ---------------------------------------------------------------------------


def test_tcpClient() -> None:
    e = client("tcp:example.com:80")
    assert isinstance(e, endpoints.TCP4ClientEndpoint)
    assert (e._reactor, e._host, e._port, e._timeout, e._bindAddress) == (
        R,
        "example.com",
        80,
        30,
        None,
    )


def test_tcpClientOptionsByNameOrInOrder() -> None:
    for description in (
        "tcp:host=example.com:port=8080:timeout=2.5:bindAddress=10.0.0.1",
        "tcp:example.com:8080:timeout=2.5:bindAddress=10.0.0.1",
        "tcp:8080:host=example.com:timeout=2.5:bindAddress=10.0.0.1",
        "tcp:example.com:port=8080:timeout=2.5:bindAddress=10.0.0.1",
    ):
        e = client(description)
        assert (e._host, e._port, e._timeout, e._bindAddress) == (
            "example.com",
            8080,
            2.5,
            ("10.0.0.1", 0),
        ), description


def test_tcp6Client() -> None:
    e = client(r"tcp6:\:\:1:8080")
    assert isinstance(e, endpoints.TCP6ClientEndpoint)
    assert (e._host, e._port) == ("::1", 8080)


def test_unixClient() -> None:
    e = client("unix:/run/app.sock")
    assert isinstance(e, endpoints.UNIXClientEndpoint)
    assert (e._path, e._timeout, e._checkPID) == ("/run/app.sock", 30, False)
    e = client("unix:path=/run/app.sock:timeout=3:lockfile=1")
    assert (e._path, e._timeout, e._checkPID) == ("/run/app.sock", 3, True)


def test_tlsClientNeedsAHost() -> None:
    assert "tls needs the server's host name" in badClient("tls::443")
    assert "missing host" in badClient("tls")


def test_tlsClientChecksItsFiles(tmp_path: Path) -> None:
    message = badClient(f"tls:example.com:trustRoots={tmp_path / 'nope'}")
    assert "trustRoots file" in message
    empty = tmp_path / "cas"
    empty.mkdir()
    (empty / "readme").write_text("no certificates here")
    assert "trustRoots directory" in badClient(f"tls:example.com:trustRoots={empty}")
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    message = badClient(f"tls:example.com:certificate={cert}")
    assert "needs both certificate" in message


def test_sslClientChecksItsFiles(tmp_path: Path) -> None:
    assert "trustRoots" in badClient(f"ssl:example.com:443:caCertsDir={tmp_path / 'x'}")
    assert "needs both" in badClient(f"ssl:example.com:443:privateKey={tmp_path / 'k'}")


def test_tlsNestedEndpointErrorsNameTheNestedDescription() -> None:
    with pytest.raises(ValueError, match="'tpc:x'"):
        client(r"tls:example.com:endpoint=tpc\:x")


# -- errors ----------------------------------------------------------------------------


def test_unknownPrefixListsTheKnownOnes() -> None:
    message = badServer("tpc:80")
    assert message.startswith(
        "unknown endpoint type 'tpc' in 'tpc:80'; known types: tcp, tcp6, ssl"
    )
    assert "unix, systemd, stdio" in message and "did you mean 'tcp'?" in message
    message = badClient("tlz:example.com")
    assert "known types: tcp, tcp6, ssl, unix, tls" in message and "'tls'" in message


def test_aBareNumberSuggestsTcp() -> None:
    assert "write tcp:8080 for TCP port 8080" in badServer("8080")


def test_emptyDescriptions() -> None:
    assert "no endpoint type" in badServer("")
    assert "no endpoint type" in badServer(":80")


def test_syntaxErrors() -> None:
    assert "lone backslash" in badServer("tcp:80\\")
    assert "no name before '='" in badServer("tcp:80:=x")
    assert "'backlog' is given twice" in badServer("tcp:80:backlog=1:backlog=2")


def test_unknownOptionNamesItAndTheRightOnes() -> None:
    message = badServer("tcp:80:interfac=127.0.0.1")
    assert "unknown option 'interfac' for tcp (did you mean 'interface'?)" in message
    assert "tcp takes: port, interface, backlog" in message


def test_argumentErrors() -> None:
    assert "missing port for tcp" in badServer("tcp")
    assert "usage: tcp:PORT" in badServer("tcp")
    assert "port is given twice" in badServer("tcp:80:port=81")
    assert "unexpected argument 'x'" in badServer("tcp:80:127.0.0.1:5:x")
    assert "missing port for tcp" in badClient("tcp:example.com")
    assert "missing host for tcp" in badClient("tcp:port=80")


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("tcp:http", "bad port 'http'"),
        ("tcp:65536", "bad port '65536'"),
        ("tcp:-1", "bad port '-1'"),
        ("tcp:80:backlog=many", "bad backlog 'many'"),
        ("unix:/tmp/s:mode=rw", "bad mode 'rw'"),
        ("unix:/tmp/s:mode=77777", "bad mode '77777'"),
        ("unix:/tmp/s:lockfile=maybe", "bad lockfile 'maybe'"),
        ("unix:", "address is empty"),
    ],
)
def test_badServerValues(description: str, expected: str) -> None:
    assert expected in badServer(description)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("tcp:h:80:timeout=soon", "bad timeout 'soon'"),
        ("tcp:h:80:timeout=nan", "bad timeout 'nan'"),
        ("tcp:h:80:timeout=-1", "bad timeout '-1'"),
        ("unix:/s:lockfile=2", "bad lockfile '2'"),
        ("unix:", "path is empty"),
    ],
)
def test_badClientValues(description: str, expected: str) -> None:
    assert expected in badClient(description)


def test_descriptionMustBeText() -> None:
    with pytest.raises(TypeError, match="is a str, not bytes"):
        endpoints.serverFromString(R, b"tcp:80")  # type: ignore[arg-type]


def test_flagsAcceptWords() -> None:
    assert server("unix:/s:lockfile=true")._wantPID is True
    assert server("unix:/s:lockfile=No")._wantPID is False


# -- plugins ---------------------------------------------------------------------------


class MadeByPlugin:
    def __init__(self, reactor: Any, args: tuple[str, ...], kwargs: dict[str, str]) -> None:
        self.reactor, self.args, self.kwargs = reactor, args, kwargs


@implementer(IStreamServerEndpointStringParser, IStreamClientEndpointStringParserWithReactor)
class Plugin:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def parseStreamServer(self, reactor: Any, *args: str, **kwargs: str) -> Any:
        return MadeByPlugin(reactor, args, kwargs)

    def parseStreamClient(self, reactor: Any, *args: str, **kwargs: str) -> Any:
        if "bad" in kwargs:
            raise ValueError("the plugin's own complaint")
        return MadeByPlugin(reactor, ("client", *args), kwargs)


@pytest.fixture
def registered() -> Any:
    plugin = Plugin("mine")
    endpoints.registerParser(plugin)
    yield plugin
    endpoints.unregisterParser(plugin)


def test_registeredPluginParsesItsPrefix(registered: Plugin) -> None:
    made = server(r"mine:a:b\:c:key=value")
    assert isinstance(made, MadeByPlugin)
    assert (made.reactor, made.args, made.kwargs) == (R, ("a", "b:c"), {"key": "value"})
    assert client("MINE:x").args == ("client", "x")
    assert "mine" in badServer("nope:1")


def test_pluginErrorsPassThrough(registered: Plugin) -> None:
    with pytest.raises(ValueError, match="the plugin's own complaint"):
        client("mine:bad=1")


def test_unregisteredPluginIsGone(registered: Plugin) -> None:
    endpoints.unregisterParser(registered)
    assert "unknown endpoint type 'mine'" in badServer("mine:1")
    endpoints.unregisterParser(registered)  # Twice is harmless.


def test_registerParserRefusals(registered: Plugin) -> None:
    with pytest.raises(ValueError, match="'tcp' is built in"):
        endpoints.registerParser(Plugin("tcp"))
    with pytest.raises(ValueError, match="registered already"):
        endpoints.registerParser(Plugin("Mine"))
    with pytest.raises(TypeError, match="provides neither"):
        endpoints.registerParser(object())


def writeDistribution(site: Path, name: str, entryPoints: str, modules: dict[str, str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[torsion.plugins]\n{entryPoints}")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


PLUGIN_MODULE = """
    from zope.interface import implementer
    from torsion.internet.interfaces import IStreamServerEndpointStringParser

    @implementer(IStreamServerEndpointStringParser)
    class Parser:
        def __init__(self, prefix):
            self.prefix = prefix

        def parseStreamServer(self, reactor, *args, **kwargs):
            return (self.prefix, args, kwargs)

    {assignments}
"""


def test_entryPointPluginsAreFound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writeDistribution(
        tmp_path,
        "torsion_testplugins",
        "one = tsp_objects:parser\nmany = tsp_module\nbroken = tsp_missing:parser\n",
        {
            "tsp_objects": PLUGIN_MODULE.format(assignments="parser = Parser('alpha')"),
            "tsp_module": PLUGIN_MODULE.format(
                assignments="beta = Parser('beta')\n    gamma = Parser('gamma')\n    other = 1"
            ),
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("tsp_objects", "tsp_module"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    assert server("alpha:1:x=2") == ("alpha", ("1",), {"x": "2"})
    assert server("beta") == ("beta", (), {})
    assert server("GAMMA:z")[0] == "gamma"
    # Built-in prefixes still work, a broken plugin notwithstanding...
    assert isinstance(server("tcp:80"), endpoints.TCP4ServerEndpoint)
    # ...and an unknown prefix lists the plugins' prefixes and says which one is broken.
    message = badServer("delta:1")
    assert "alpha" in message and "beta" in message and "gamma" in message
    assert "the plugin 'broken' (tsp_missing:parser) failed to load" in message
    # A client description does not see server-only plugins.
    assert "unknown endpoint type 'alpha'" in badClient("alpha:1")


# -- for real, on every reactor --------------------------------------------------------


def test_tcpDescriptionsListenAndConnect(reactor: Any) -> None:
    listening = runUntilFired(
        reactor,
        endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            Factory.forProtocol(Echo)
        ),
    )
    number = listening.getHost().port
    made = Recorder()
    connecting = endpoints.clientFromString(reactor, f"tcp:127.0.0.1:{number}:timeout=5")
    runUntilFired(reactor, connecting.connect(OneProtocolFactory(made)))
    made.transport.write(b"strports")
    runUntil(reactor, lambda: made.data == b"strports")
    made.transport.loseConnection()
    runUntilFired(reactor, made.lost)
    runUntilFired(reactor, listening.stopListening())


# -- strports.service --------------------------------------------------------------------


def test_serviceListensWhereTheDescriptionSays() -> None:
    factory = Factory()
    fake = RecordingReactor()
    s = strports.service("tcp:8080:interface=127.0.0.1", factory, reactor=fake)
    assert isinstance(s, internet.StreamServerEndpointService)
    assert s.factory is factory
    s.privilegedStartService()
    assert fake.calls == [("listenTCP", (8080, factory), {"backlog": 50, "interface": "127.0.0.1"})]
    s.startService()
    assert len(fake.calls) == 1


def test_serviceWithABadDescriptionFailsAtOnce() -> None:
    with pytest.raises(ValueError, match="unknown endpoint type 'tpc'"):
        strports.service("tpc:80", Factory(), reactor=RecordingReactor())


def test_serviceThatCannotListenFailsToStart(reactor: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        number = taken.getsockname()[1]
        s = strports.service(f"tcp:{number}:interface=127.0.0.1", Factory(), reactor=reactor)
        with pytest.raises(error.CannotListenError, match="in use"):
            s.privilegedStartService()


def test_serviceServesForReal(reactor: Any) -> None:
    s = strports.service("tcp:0:interface=127.0.0.1", Factory.forProtocol(Echo), reactor=reactor)
    s.startService()
    ports: list[Any] = []
    assert s._waitingForPort is not None
    s._waitingForPort.addCallback(lambda port: ports.append(port) or port)
    runUntil(reactor, lambda: bool(ports))
    port = ports[0]
    made = Recorder()
    reactor.connectTCP("127.0.0.1", port.getHost().port, OneProtocolFactory(made))
    runUntilFired(reactor, made.made)
    made.transport.loseConnection()
    runUntilFired(reactor, made.lost)
    runUntilFired(reactor, s.stopService())
    assert not port.connected


def test_unixDescriptionsListenAndConnect(reactor: Any, tmp_path: Path) -> None:
    pytest.importorskip("torsion.internet.unix")
    path = tmp_path / "echo.sock"
    listening = runUntilFired(
        reactor,
        endpoints.serverFromString(reactor, f"unix:{path}:mode=600").listen(
            Factory.forProtocol(Echo)
        ),
    )
    assert path.stat().st_mode & 0o777 == 0o600
    made = Recorder()
    connecting = endpoints.clientFromString(reactor, f"unix:path={path}:timeout=5")
    runUntilFired(reactor, connecting.connect(OneProtocolFactory(made)))
    made.transport.write(b"over unix")
    runUntil(reactor, lambda: made.data == b"over unix")
    made.transport.loseConnection()
    runUntilFired(reactor, made.lost)
    runUntilFired(reactor, listening.stopListening())


class ListenOptions(usage.Options, strports.ListenOptionMixin):
    defaultListen = "tcp:7000:interface=127.0.0.1"

    def postOptions(self) -> None:
        self.checkListen()


def test_listenOptionTakesSeveralDescriptionsAndBareNumbersStayLocal() -> None:
    options = ListenOptions()
    options.parseOptions(["--listen", "8080", "--listen", "unix:/tmp/x.sock"])
    assert options["listen"] == ["tcp:8080:interface=127.0.0.1", "unix:/tmp/x.sock"]


def test_listenOptionDefaultsAndRefusesWhatCannotBeParsed() -> None:
    options = ListenOptions()
    options.parseOptions([])
    assert options["listen"] == ["tcp:7000:interface=127.0.0.1"]
    with pytest.raises(usage.UsageError, match="--listen 'tcp:notaport'"):
        ListenOptions().parseOptions(["--listen", "tcp:notaport"])


def test_listenOptionBareNumberOnEveryInterfaceWhenThePluginSaysSo() -> None:
    class Everywhere(ListenOptions):
        bareNumberInterface = None

    options = Everywhere()
    options.parseOptions(["--listen", "8080"])
    assert options["listen"] == ["tcp:8080"]
