"""torsion's SSH against asyncssh, a third-party implementation, both ways, over TCP
on 127.0.0.1: asyncssh's server with torsion's client (SSHCommandClientEndpoint) and
asyncssh's client with torsion's server; exec with output, stdin and exit statuses,
password and publickey logins, wrong credentials refused, each side checking the
other's host key. asyncssh runs on its own asyncio loop in a thread; torsion's
reactor runs in the test's thread."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conch.sshhelpers import HOST_KEYS
from tests.conch.test_endpoints import (
    ALICE_KEY,
    STRANGER_KEY,
    CommandOutput,
    Server,
    failureOf,
    run,
    trusting,
)
from tests.internet import reactormixins
from tests.internet.reactormixins import inThread
from torsion.conch.client.knownhosts import KnownHostsFile
from torsion.conch.endpoints import AuthenticationFailed, SSHCommandClientEndpoint
from torsion.internet import protocol
from torsion.internet.error import ProcessDone, ProcessTerminated

asyncssh = pytest.importorskip("asyncssh", reason="asyncssh (the test extra) is missing")
oneReactor = reactormixins.oneReactor


class AsyncioThread:
    """An asyncio loop in a thread, for asyncssh; ``run`` waits for a coroutine while
    torsion's reactor keeps running."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, reactor: Any, coroutine: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return inThread(reactor, lambda: future.result(timeout), timeout=timeout + 5)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def aio() -> Iterator[AsyncioThread]:
    made = AsyncioThread()
    yield made
    made.stop()


# -- asyncssh's server, torsion's client ---------------------------------------------------


class PasswordServer(asyncssh.SSHServer):  # type: ignore[misc]
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "alice" and password == "pw"


async def serveProcess(process: Any) -> None:
    """The "commands" of asyncssh's server."""
    command = process.command
    if command == "cat":
        process.stdout.write(await process.stdin.read())
        process.exit(0)
    elif command.startswith("exit "):
        process.stderr.write(b"exiting\n")
        process.exit(int(command.split()[1]))
    elif command == "signal":
        process.exit_with_signal("TERM")
    else:
        process.stdout.write(b"ran " + command.encode() + b"\n")
        process.exit(0)


@pytest.fixture(scope="module")
def theirServer(aio: AsyncioThread) -> Iterator[int]:
    hostKey = asyncssh.import_private_key(HOST_KEYS[b"ssh-ed25519"].toString("openssh"))
    authorized = asyncssh.import_authorized_keys(ALICE_KEY.public().toString("openssh").decode())

    async def start() -> Any:
        return await asyncssh.create_server(
            PasswordServer, "127.0.0.1", 0, server_host_keys=[hostKey],
            authorized_client_keys=authorized, process_factory=serveProcess, encoding=None,
        )  # fmt: skip

    server = asyncio.run_coroutine_threadsafe(start(), aio.loop).result(20)
    yield server.sockets[0].getsockname()[1]

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), aio.loop).result(20)


def toTheirs(reactor: Any, port: int, tmp_path: Path, command: bytes, **kw: Any) -> Any:
    known = trusting(tmp_path / "known_hosts", port)
    kw.setdefault("password", "pw")
    return SSHCommandClientEndpoint.newConnection(
        reactor, command, "alice", "127.0.0.1", port, knownHosts=known, **kw
    )


def test_ourClientRunsCommands(oneReactor: Any, theirServer: int, tmp_path: Path) -> None:
    proto, reason = run(oneReactor, toTheirs(oneReactor, theirServer, tmp_path, b"hello"))
    assert bytes(proto.out) == b"ran hello\n" and reason.check(ProcessDone)
    data = bytes(range(256)) * 12288  # 3 MiB, past asyncssh's window
    proto, reason = run(oneReactor, toTheirs(oneReactor, theirServer, tmp_path, b"cat"), data)
    assert bytes(proto.out) == data and reason.check(ProcessDone)


def test_ourClientGetsExitStatusAndSignal(
    oneReactor: Any, theirServer: int, tmp_path: Path
) -> None:
    proto, reason = run(oneReactor, toTheirs(oneReactor, theirServer, tmp_path, b"exit 9"))
    assert reason.check(ProcessTerminated) and reason.value.exitCode == 9
    assert bytes(proto.err) == b"exiting\n"
    _, reason = run(oneReactor, toTheirs(oneReactor, theirServer, tmp_path, b"signal"))
    assert reason.check(ProcessTerminated) and reason.value.signal == 15


def test_ourClientWithAKey(oneReactor: Any, theirServer: int, tmp_path: Path) -> None:
    ep = toTheirs(oneReactor, theirServer, tmp_path, b"k", password=None, keys=[ALICE_KEY])
    proto, _ = run(oneReactor, ep)
    assert bytes(proto.out) == b"ran k\n"


@pytest.mark.parametrize("credentials", [{"password": "no"}, {"keys": [STRANGER_KEY]}])
def test_ourClientRefused(
    oneReactor: Any, theirServer: int, tmp_path: Path, credentials: dict[str, Any]
) -> None:
    credentials.setdefault("password", None)
    ep = toTheirs(oneReactor, theirServer, tmp_path, b"x", **credentials)
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert failure.check(AuthenticationFailed), failure


def test_ourClientRefusesTheirUnknownKey(oneReactor: Any, theirServer: int, tmp_path: Path) -> None:
    ep = SSHCommandClientEndpoint.newConnection(
        oneReactor, b"x", "alice", "127.0.0.1", theirServer, password="pw",
        knownHosts=KnownHostsFile.fromPath(tmp_path / "empty"),
    )  # fmt: skip
    failure = failureOf(oneReactor, ep.connect(protocol.Factory.forProtocol(CommandOutput)))
    assert "is not in" in str(failure.value)


# -- asyncssh's client, torsion's server ---------------------------------------------------


@pytest.fixture
def ourServer(oneReactor: Any) -> Iterator[Server]:
    made = Server(oneReactor)
    yield made
    made.port.stopListening()


def theirKnownHosts(port: int) -> Any:
    blob = base64.b64encode(HOST_KEYS[b"ssh-ed25519"].public().blob()).decode()
    return asyncssh.import_known_hosts(f"[127.0.0.1]:{port} ssh-ed25519 {blob}\n")


async def theirClient(port: int, command: str, stdin: bytes | None = None, **kw: Any) -> Any:
    async with asyncssh.connect(
        "127.0.0.1", port, username="alice", known_hosts=theirKnownHosts(port),
        encoding=None, **kw,
    ) as conn:  # fmt: skip
        return await conn.run(command, input=stdin)


def test_theirClientWithPassword(oneReactor: Any, aio: AsyncioThread, ourServer: Server) -> None:
    done = aio.run(
        oneReactor, theirClient(ourServer.portNumber, "echo hi; exit 4", password="pw",
                                client_keys=None)
    )  # fmt: skip
    assert done.stdout == b"hi\n" and done.exit_status == 4


def test_theirClientWithAKey(oneReactor: Any, aio: AsyncioThread, ourServer: Server) -> None:
    key = asyncssh.import_private_key(ALICE_KEY.toString("openssh"))
    data = bytes(range(256)) * 8192
    done = aio.run(oneReactor, theirClient(ourServer.portNumber, "cat", data, client_keys=[key]))
    assert done.stdout == data and done.exit_status == 0


def test_theirClientSeesSignals(oneReactor: Any, aio: AsyncioThread, ourServer: Server) -> None:
    done = aio.run(
        oneReactor, theirClient(ourServer.portNumber, "kill -TERM $$", password="pw",
                                client_keys=None)
    )  # fmt: skip
    assert done.exit_signal is not None and done.exit_signal[0] == "TERM"


def test_theirClientRefused(oneReactor: Any, aio: AsyncioThread, ourServer: Server) -> None:
    stranger = asyncssh.import_private_key(STRANGER_KEY.toString("openssh"))
    with pytest.raises(asyncssh.PermissionDenied):
        aio.run(
            oneReactor, theirClient(ourServer.portNumber, "true", password="wrong",
                                    client_keys=[stranger])
        )  # fmt: skip
