"""The ``pb`` plugin (torsion/plugins/torsion_pb.py, torsion/tap/pb.py) and examples/pb/kvclient.py.

Options are parsed directly, the realm and the store are used through their Portal,
and services are made with a MemoryReactor as the global reactor; ``torsiond pb`` and
``torsion mktap pb`` run for real as child processes on free ports of 127.0.0.1, with
the example client (examples/pb/kvclient.py, itself a child process) as their client:
logins good and bad, read-only visitors, and a watching client that sees each change
another client makes, live.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from tests.internet.reactormixins import loggedErrors  # noqa: F401 (a fixture)
from tests.spread.peers import PeerProcess
from tests.tap._torsiond import TORSIOND, freePort, runTorsiond
from torsion.application.internet import StreamServerEndpointService
from torsion.application.service import IServiceMaker, MultiService
from torsion.cred import checkers, credentials
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.internet.testing import MemoryReactor
from torsion.plugin import getPlugins
from torsion.python import usage
from torsion.python.failure import Failure
from torsion.spread import pb
from torsion.tap import pb as kv

ROOT = Path(__file__).resolve().parents[2]
KVCLIENT = ROOT / "examples" / "pb" / "kvclient.py"
TORSION = Path(sys.executable).with_name("torsion")


@pytest.fixture
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


def parse(*args: str) -> kv.Options:
    options = kv.Options()
    options.parseOptions(list(args))
    return options


def fired(d: defer.Deferred[Any]) -> Any:
    """The result of a Deferred that has already fired (raising its failure)."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def login(options: kv.Options, creds: Any) -> kv.KeyValueUser:
    store = kv.KeyValueStore(int(options["max-keys"]))
    interface, avatar, _ = fired(kv.makePortal(options, store).login(creds, None, pb.IPerspective))
    assert interface is pb.IPerspective
    assert isinstance(avatar, kv.KeyValueUser)
    return avatar


class Observer:
    """Stands for a client's cache: records what the store tells it."""

    def __init__(self, failWith: Exception | None = None) -> None:
        self.told: list[tuple[Any, ...]] = []
        self.failWith = failWith

    def callRemote(self, name: str, *args: Any) -> defer.Deferred[None]:
        self.told.append((name, *args))
        if self.failWith is not None:
            return defer.fail(self.failWith)
        return defer.succeed(None)


# -- options -------------------------------------------------------------------------------


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["pb"].options is kv.Options


def test_defaultListensOnPort8789OfThisMachineOnly() -> None:
    options = parse()
    assert options["listen"] == ["tcp:8789:interface=127.0.0.1"]
    assert options["max-keys"] == 10_000
    assert options["credCheckers"] == []


def test_severalListensAndABareNumber() -> None:
    options = parse("--listen", "9000", "--listen", "unix:/tmp/kv.sock")
    assert options["listen"] == ["tcp:9000:interface=127.0.0.1", "unix:/tmp/kv.sock"]


def test_authGivesCheckers() -> None:
    options = parse("--auth", "memory:alice:secret:bob:pw", "--auth", "anonymous")
    kinds = [type(c) for c in options["credCheckers"]]
    assert checkers.AllowAnonymousAccess in kinds and len(kinds) == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--listen", "tcp:80:interfac=x"], "interfac"),
        (["--listen", "bogus:1"], "unknown endpoint type"),
        (["--max-keys", "0"], "at least one key"),
        (["--max-keys", "many"], "not a number"),
        (["--auth", "nosuchtype:x"], "nosuchtype"),
    ],
)
def test_badOptions(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words):
        parse(*args)


# -- the realm and the store ------------------------------------------------------------------


def test_withoutAuthAnonymousMayWrite() -> None:
    user = login(parse(), credentials.Anonymous())
    assert user.perspective_whoami() == ["anonymous", True]
    user.perspective_set("color", "blue")
    assert user.perspective_get("color") == "blue"
    assert user.perspective_keys() == ["color"]


def test_withAccountsAnonymousMayOnlyRead() -> None:
    options = parse("--auth", "memory:alice:secret", "--auth", "anonymous")
    visitor = login(options, credentials.Anonymous())
    assert visitor.perspective_whoami() == ["anonymous", False]
    with pytest.raises(kv.KeyValueError, match="may only read"):
        visitor.perspective_set("color", "red")
    with pytest.raises(kv.KeyValueError, match="may only read"):
        visitor.perspective_delete("color")
    alice = login(options, credentials.UsernamePassword("alice", "secret"))
    assert alice.perspective_whoami() == ["alice", True]


def test_withAccountsAndNoAnonymousCheckerVisitorsAreRefused() -> None:
    options = parse("--auth", "memory:alice:secret")
    with pytest.raises(UnauthorizedLogin):
        login(options, credentials.Anonymous())
    with pytest.raises(UnauthorizedLogin):
        login(options, credentials.UsernamePassword("alice", "wrong"))


def test_keysAreCheckedAndTheStoreIsBounded() -> None:
    user = login(parse("--max-keys", "2"), credentials.Anonymous())
    for bad in ("", 7, b"bytes", "k" * (kv.MAX_KEY_LENGTH + 1)):
        with pytest.raises(kv.KeyValueError, match="a key"):
            user.perspective_set(bad, 1)  # type: ignore[arg-type]
    user.perspective_set("a", 1)
    user.perspective_set("b", 2)
    user.perspective_set("a", 3)  # replacing needs no room
    with pytest.raises(kv.KeyValueError, match=r"full \(2 keys\).*--max-keys"):
        user.perspective_set("c", 4)
    assert user.perspective_delete("a") is True
    assert user.perspective_delete("a") is False
    assert kv.KeyValueError.__mro__[1] is pb.Error


def test_everyObserverHearsEveryChangeWithWhoMadeIt() -> None:
    store = kv.KeyValueStore()
    first, second = Observer(), Observer()
    assert store.getStateToCacheAndObserveFor(None, first) == {}
    store.set("a", [1, 2], "alice")
    assert store.getStateToCacheAndObserveFor(None, second) == {"a": [1, 2]}
    store.set("b", {"x": 1}, "bob")
    store.delete("a", "alice")
    store.stoppedObserving(None, first)
    store.set("c", None, "carol")
    assert first.told == [("set", "a", [1, 2], "alice"), ("set", "b", {"x": 1}, "bob"),
                          ("delete", "a", "alice")]  # fmt: skip
    assert second.told == [("set", "b", {"x": 1}, "bob"), ("delete", "a", "alice"),
                           ("set", "c", None, "carol")]  # fmt: skip


def test_anObserverGoneMidUpdateIsNotAnError(
    loggedErrors: list[dict[str, Any]],  # noqa: F811 (the fixture)
) -> None:
    store = kv.KeyValueStore()
    store.getStateToCacheAndObserveFor(None, Observer(pb.DeadReferenceError("gone")))
    store.set("a", 1, "alice")
    assert loggedErrors == []
    store.getStateToCacheAndObserveFor(None, Observer(ZeroDivisionError("a bug")))
    store.set("b", 1, "alice")
    assert len(loggedErrors) == 1


def test_theRemoteCopyFollowsChanges() -> None:
    copy = kv.RemoteKeyValueStore()
    copy.setCopyableState({"a": 1})
    seen: list[tuple[Any, ...]] = []
    copy.watch(lambda *change: seen.append(change))
    copy.observe_set("b", 2, "bob")
    copy.observe_delete("a", "alice")
    assert copy.data == {"b": 2}
    assert seen == [("set", "b", 2, "bob"), ("delete", "a", None, "alice")]


# -- makeService ----------------------------------------------------------------------------


def test_oneFactoryOnEveryEndpoint(memoryReactor: MemoryReactor) -> None:
    made = kv.makeService(parse("--listen", "tcp:8001:interface=127.0.0.1", "--listen", "8002"))
    assert isinstance(made, MultiService)
    children = list(made)
    assert all(isinstance(child, StreamServerEndpointService) for child in children)
    (factory,) = {id(child.factory): child.factory for child in children}.values()
    assert isinstance(factory, pb.PBServerFactory)
    made.privilegedStartService()
    made.startService()
    ports = [(port, interface) for port, _, _, interface in memoryReactor.tcpServers]
    assert ports == [(8001, "127.0.0.1"), (8002, "127.0.0.1")]


def test_theServiceIsPicklableWithItsDataButNotItsObservers(
    memoryReactor: MemoryReactor,
) -> None:
    made = kv.makeService(parse("--auth", "memory:alice:secret", "--max-keys", "5"))
    store = kv.KeyValueStore(5)
    store.set("kept", "yes", "alice")
    store.getStateToCacheAndObserveFor(None, Observer())
    copy = pickle.loads(pickle.dumps(store))
    assert (copy.data, copy.maxKeys, copy.observers) == ({"kept": "yes"}, 5, [])
    again = pickle.loads(pickle.dumps(made))
    assert isinstance(next(iter(again)).factory, pb.PBServerFactory)


# -- through torsiond, with the example client ---------------------------------------------


def kvclient(port: int, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the example client against ``port`` (a --connect among ``args`` wins)."""
    connect = ["--connect", f"tcp:host=127.0.0.1:port={port}"]
    return subprocess.run(
        [sys.executable, str(KVCLIENT), *connect, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def localListen(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


def test_torsiondPbWithoutAuthLetsAnyoneReadAndWrite(tmp_path: Path) -> None:
    port = freePort()
    with runTorsiond(["pb", "--listen", localListen(port)], port, tmp_path):
        assert ok(kvclient(port, "whoami")) == "anonymous (may write)\n"
        ok(kvclient(port, "set", "color", "blue"))
        ok(kvclient(port, "--json", "set", "limits", '{"cpu": 2, "tags": ["a"]}'))
        assert ok(kvclient(port, "get", "color")) == "blue\n"
        assert ok(kvclient(port, "get", "limits")) == '{"cpu": 2, "tags": ["a"]}\n'
        assert ok(kvclient(port, "keys")) == "color\nlimits\n"
        ok(kvclient(port, "delete", "color"))
        missing = kvclient(port, "delete", "color")
        assert missing.returncode == 1 and "no key 'color'" in missing.stderr


def test_torsiondPbLoginsGoodAndBadAndReadOnlyVisitors(tmp_path: Path) -> None:
    port = freePort()
    args = ["pb", "--listen", localListen(port), "--auth", "memory:alice:secret",
            "--auth", "anonymous"]  # fmt: skip
    with runTorsiond(args, port, tmp_path):
        alice = ["--user", "alice", "--password", "secret"]
        assert ok(kvclient(port, *alice, "whoami")) == "alice (may write)\n"
        ok(kvclient(port, *alice, "set", "motd", "hello"))
        assert ok(kvclient(port, "whoami")) == "anonymous (read-only)\n"
        assert ok(kvclient(port, "get", "motd")) == "hello\n"
        refused = kvclient(port, "set", "motd", "defaced")
        assert refused.returncode == 1
        assert refused.stderr == "kvclient: anonymous may only read this store: log in to write\n"
        wrong = kvclient(port, "--user", "alice", "--password", "guess", "whoami")
        assert wrong.returncode == 1 and wrong.stderr.startswith("kvclient: ")
        assert "password" in wrong.stderr and "Traceback" not in wrong.stderr
        assert ok(kvclient(port, "get", "motd")) == "hello\n"


def test_torsiondPbWatcherSeesOtherClientsChangesLive(tmp_path: Path) -> None:
    port = freePort()
    with runTorsiond(["pb", "--listen", localListen(port)], port, tmp_path):
        ok(kvclient(port, "set", "before", "1"))
        connect = f"tcp:host=127.0.0.1:port={port}"
        watcher = PeerProcess(
            [sys.executable, str(KVCLIENT), "--connect", connect, "watch", "--count", "3"],
            "kvclient watch",
        )
        try:
            assert watcher.readLine() == "before = 1"
            assert watcher.readLine() == "watching for changes"
            ok(kvclient(port, "set", "color", "blue"))
            assert watcher.readLine() == "anonymous set color = blue"
            ok(kvclient(port, "--json", "set", "n", "[1, 2]"))
            assert watcher.readLine() == "anonymous set n = [1, 2]"
            ok(kvclient(port, "delete", "color"))
            assert watcher.readLine() == "anonymous deleted color"
            assert watcher.process.wait(timeout=20) == 0
        finally:
            watcher.stop()


def test_torsiondPbBadOptionIsAUsageError(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(TORSIOND), "-n", "-o", "--pidfile=", "pb", "--max-keys", "none"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not a number" in done.stderr


def test_mktapPbThenRunTheFile(tmp_path: Path) -> None:
    port = freePort()
    done = subprocess.run(
        [str(TORSION), "mktap", "pb", "--listen", localListen(port), "--auth",
         "memory:alice:secret"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "pb.tap").exists()
    with runTorsiond(["-f", "pb.tap"], port, tmp_path):
        alice = ["--user", "alice", "--password", "secret"]
        ok(kvclient(port, *alice, "set", "from", "tap"))
        assert ok(kvclient(port, *alice, "get", "from")) == "tap\n"
        assert kvclient(port, "whoami").returncode == 1


def hashedPasswordFile(directory: Path) -> None:
    """pb.passwd with alice's password (secret) as an argon2id hash, made by torsion passwd."""
    done = subprocess.run(
        [str(TORSION), "passwd", "--stdin", "pb.passwd", "alice"],
        input="secret\n", cwd=directory, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "$argon2id$" in (directory / "pb.passwd").read_text()


def test_torsiondPbHashedPasswordsOverTLS(tmp_path: Path) -> None:
    from tests.internet.tlshelpers import serverCert, theCA

    hashedPasswordFile(tmp_path)
    cert = serverCert()
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    theCA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port, plain = freePort(), freePort()
    args = [
        "pb", "--auth", "file:pb.passwd",
        "--listen", f"ssl:{port}:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem",
        "--listen", localListen(plain),
    ]  # fmt: skip
    alice = ["--user", "alice", "--password", "secret"]
    with runTorsiond(args, port, tmp_path):
        overTLS = ["--connect", f"tls:127.0.0.1:{port}:trustRoots={tmp_path / 'ca.pem'}"]
        ok(kvclient(port, *overTLS, *alice, "--send-password", "set", "over", "tls"))
        assert ok(kvclient(port, *overTLS, *alice, "--send-password", "get", "over")) == "tls\n"
        # A hash cannot answer Twisted's MD5 challenge: that login fails, and says so.
        challenged = kvclient(port, *overTLS, *alice, "whoami")
        assert challenged.returncode == 1 and challenged.stderr.startswith("kvclient: ")
        # Without TLS the server will not take the password at all.
        readable = kvclient(plain, *alice, "--send-password", "whoami")
        assert readable.returncode == 1 and "only over TLS" in readable.stderr


def test_torsiondPbPasswordsWithoutTLSWhenAllowed(tmp_path: Path) -> None:
    hashedPasswordFile(tmp_path)
    port = freePort()
    args = ["pb", "--auth", "file:pb.passwd", "--listen", localListen(port),
            "--allow-password-without-tls"]  # fmt: skip
    with runTorsiond(args, port, tmp_path):
        alice = ["--user", "alice", "--password", "secret", "--send-password"]
        assert ok(kvclient(port, *alice, "whoami")) == "alice (may write)\n"
        wrong = kvclient(port, "--user", "alice", "--password", "guess", "--send-password", "keys")
        assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
