"""The XMPP client and component against prosody, a real XMPP server (Debian's).

Each test module run starts its own prosody: a config and data directory in a tmp
dir, c2s and component ports on 127.0.0.1 picked free, STARTTLS with a certificate
from the test CA, and users made with prosodyctl against that config. The tests
skip, saying why, when prosody is not installed or cannot start here.
"""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet.tlshelpers import clientOptions, serverCert
from tests.words import xmpphelpers
from tests.words.xmpphelpers import run, waitFor
from torsion.internet.defer import Deferred
from torsion.protocols.xmlstream import Element
from torsion.words.protocols.jabber import client, component, jid, sasl, xmlstream

PROSODY = shutil.which("prosody")
PROSODYCTL = shutil.which("prosodyctl")
pytestmark = pytest.mark.skipif(
    PROSODY is None or PROSODYCTL is None,
    reason="prosody is not installed (apt-get install prosody)",
)

oneReactor = xmpphelpers.oneReactor
SECRET = "component secret"
CONFIG = """\
prosody_user = "{user}"
prosody_group = "{group}"
run_as_root = true  -- only matters where the tests run as root (containers)
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
certificates = "{dir}/certs"
log = {{ info = "{dir}/prosody.log" }}
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping" }}
modules_disabled = {{ "s2s" }}
authentication = "internal_hashed"
c2s_require_encryption = true
ssl = {{ certificate = "{dir}/certs/localhost.crt", key = "{dir}/certs/localhost.key" }}
VirtualHost "localhost"
Component "echo.localhost"
    component_secret = "{secret}"
"""


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Prosody:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.c2s = freePort()
        self.component = freePort()
        (directory / "data").mkdir()
        certs = directory / "certs"
        certs.mkdir()
        leaf = serverCert()
        leaf.cert_chain_pems[0].write_to_path(str(certs / "localhost.crt"))
        leaf.private_key_pem.write_to_path(str(certs / "localhost.key"))
        self.config = directory / "prosody.cfg.lua"
        self.config.write_text(
            CONFIG.format(
                user=getpass.getuser(),
                group=grp.getgrgid(os.getgid()).gr_name,
                dir=directory,
                c2s=self.c2s,
                component=self.component,
                secret=SECRET,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def ctl(self, *args: str) -> None:
        done = subprocess.run(
            [PROSODYCTL or "prosodyctl", "--config", str(self.config), *args],
            capture_output=True,
            timeout=30,
            cwd=self.dir,
        )
        if done.returncode != 0:
            pytest.skip(f"prosodyctl {args[0]} failed here: {done.stderr.decode()[-300:]}")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [PROSODY or "prosody", "--config", str(self.config), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.dir,
        )
        deadline = time.monotonic() + 15
        while not (listening(self.c2s) and listening(self.component)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                logFile = self.dir / "prosody.log"
                log = logFile.read_text() if logFile.exists() else ""
                pytest.skip(f"prosody did not start here: {log[-500:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture(scope="module")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prosody]:
    server = Prosody(tmp_path_factory.mktemp("prosody"))
    server.ctl("register", "alice", "localhost", "wonderland")
    server.ctl("register", "bob", "localhost", "builder")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def login(reactor: Any, prosody: Prosody, who: str, password: str) -> Deferred[Any]:
    return client.connectClient(
        reactor,
        who,
        password,
        host="127.0.0.1",
        port=prosody.c2s,
        configurationForTLS=clientOptions("localhost"),
    )


def test_logInAndExchangeAMessage(oneReactor: Any, prosody: Prosody) -> None:
    async def scenario() -> None:
        alice = await login(oneReactor, prosody, "alice@localhost/torsion", "wonderland")
        bob = await login(oneReactor, prosody, "bob@localhost", "builder")
        assert alice.authenticator.jid == jid.JID("alice@localhost/torsion")
        assert bob.authenticator.jid.userhost() == "bob@localhost"
        assert bob.authenticator.jid.resource
        messages: list[Element] = []
        bob.addObserver("/message[@type='chat']/body", messages.append)
        client.sendPresence(bob)
        client.sendPresence(alice)
        client.sendMessage(alice, bob.authenticator.jid.full(), "héllo <bob> & co")
        await waitFor(oneReactor, lambda: messages)
        assert messages[0].getAttribute("from") == "alice@localhost/torsion"
        assert str(next(messages[0].elements(name="body"))) == "héllo <bob> & co"
        alice.sendFooter()
        bob.sendFooter()

    run(oneReactor, scenario(), timeout=20)


def test_roster(oneReactor: Any, prosody: Prosody) -> None:
    async def scenario() -> None:
        alice = await login(oneReactor, prosody, "alice@localhost", "wonderland")
        await client.setRosterItem(alice, jid.JID("bob@localhost"), "Bob", ["Friends"])
        roster = await client.getRoster(alice)
        bob = [item for item in roster if item.jid == jid.JID("bob@localhost")]
        assert bob and bob[0].name == "Bob" and bob[0].groups == ["Friends"]
        await client.setRosterItem(alice, jid.JID("bob@localhost"), remove=True)
        roster = await client.getRoster(alice)
        assert jid.JID("bob@localhost") not in [item.jid for item in roster]
        alice.sendFooter()

    run(oneReactor, scenario(), timeout=20)


def test_badPassword(oneReactor: Any, prosody: Prosody) -> None:
    with pytest.raises(sasl.SASLAuthError) as caught:
        run(oneReactor, _awaited(login(oneReactor, prosody, "alice@localhost", "nope")), 20)
    assert caught.value.condition == "not-authorized"


async def _awaited(d: Deferred[Any]) -> Any:
    return await d


def test_componentHandshakeAndMessage(oneReactor: Any, prosody: Prosody) -> None:
    async def scenario() -> None:
        factory = component.componentFactory("echo.localhost", SECRET)
        factory.clock = oneReactor
        authenticated: Deferred[Any] = Deferred()
        factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authenticated.callback)
        oneReactor.connectTCP("127.0.0.1", prosody.component, factory)
        echo = await authenticated
        factory.stopTrying()

        def onMessage(message: Element) -> None:
            reply = xmlstream.toResponse(message, "chat")
            reply.addElement("body", content="echo: " + str(next(message.elements(name="body"))))
            echo.send(reply)

        echo.addObserver("/message/body", onMessage)  # observers get the whole stanza
        alice = await login(oneReactor, prosody, "alice@localhost/c", "wonderland")
        replies: list[Element] = []
        alice.addObserver("/message/body", replies.append)
        client.sendMessage(alice, "bot@echo.localhost", "ping")
        await waitFor(oneReactor, lambda: replies, timeout=10)
        assert str(next(replies[0].elements(name="body"))) == "echo: ping"
        assert replies[0].getAttribute("from") == "bot@echo.localhost"
        echo.transport.loseConnection()
        alice.sendFooter()

    run(oneReactor, scenario(), timeout=20)


def test_componentWrongSecretIsRefused(oneReactor: Any, prosody: Prosody) -> None:
    async def scenario() -> None:
        factory = component.componentFactory("echo.localhost", "not the secret")
        factory.clock = oneReactor
        failures: list[Any] = []
        factory.addBootstrap(xmlstream.INIT_FAILED_EVENT, failures.append)
        oneReactor.connectTCP("127.0.0.1", prosody.component, factory)
        await waitFor(oneReactor, lambda: failures, timeout=10)
        factory.stopTrying()
        assert failures[0].value.condition == "not-authorized"

    run(oneReactor, scenario(), timeout=20)


def test_scramWithProsody(oneReactor: Any, prosody: Prosody) -> None:
    """prosody offers SCRAM: the login uses it (and checks prosody's signature)."""

    async def scenario() -> None:
        factory = client.XMPPClientFactory(
            jid.JID("bob@localhost"), "builder", configurationForTLS=clientOptions("localhost")
        )
        factory.clock = oneReactor
        initializers: list[Any] = []
        authd: list[Any] = []
        factory.addBootstrap(
            xmlstream.STREAM_CONNECTED_EVENT, lambda xs: initializers.extend(xs.initializers)
        )
        factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authd.append)
        oneReactor.connectTCP("127.0.0.1", prosody.c2s, factory)
        await waitFor(oneReactor, lambda: authd, timeout=10)
        factory.stopTrying()
        [login] = [i for i in initializers if isinstance(i, sasl.SASLInitiatingInitializer)]
        assert login.mechanism.name.startswith("SCRAM-SHA-")
        assert login.mechanism.verified
        authd[0].sendFooter()

    run(oneReactor, scenario(), timeout=20)
