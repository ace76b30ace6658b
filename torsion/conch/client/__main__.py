"""``python -m torsion.conch.client [options] [user@]host command...``: run a command
over SSH with this program's stdin, stdout and stderr as the command's, and exit
with its exit status (255 when it could not run or a signal killed it), as ``ssh
host command`` does. The options are torsion.conch.client.options'; the login is
torsion.conch.client.default's. Tests: tests/conch/test_client_cli.py.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from zope.interface import implementer

from torsion.conch.client import default
from torsion.conch.client.knownhosts import KnownHostsFile
from torsion.conch.client.options import ConchOptions
from torsion.conch.endpoints import SSHCommandClientEndpoint, _NewConnectionHelper
from torsion.conch.error import ConchError
from torsion.conch.ssh import userauth
from torsion.internet import defer, interfaces, protocol, stdio, task
from torsion.internet.error import ProcessDone, ProcessTerminated
from torsion.python import usage
from torsion.python.failure import Failure

PROGRAM = "python -m torsion.conch.client"
FAILED = 255


class _Helper(_NewConnectionHelper):
    """Logs in with torsion.conch.client.default's client (files, prompts)."""

    options: Any = None

    def makeUserAuth(self, instance: Any) -> userauth.SSHUserAuthClient:
        return default.SSHUserAuthClient(self.username, self.options, instance)


@implementer(interfaces.IHalfCloseableProtocol)
class _Local(protocol.Protocol):
    """This program's stdin and stdout, wired to the remote command."""

    def __init__(self, remote: _Remote) -> None:
        self.remote = remote
        self.closed: defer.Deferred[None] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.remote.transport.write(data)

    def readConnectionLost(self) -> None:
        if self.remote.transport is not None:
            self.remote.transport.loseWriteConnection()

    def writeConnectionLost(self) -> None:
        self.remote.transport.loseConnection()  # nobody reads the output any more

    def connectionLost(self, reason: object = None) -> None:
        if not self.closed.called:
            self.closed.callback(None)


class _Remote(protocol.Protocol):
    """The command: its output to stdout and stderr, its end to ``ended``."""

    def __init__(self) -> None:
        self.ended: defer.Deferred[int] = defer.Deferred()
        self.local: _Local | None = None

    def connectionMade(self) -> None:
        self.local = _Local(self)
        self.stdio = stdio.StandardIO(self.local)
        # Each side holds the other back: a full window pauses stdin, a slow stdout
        # pauses the command's output.
        self.transport.registerProducer(self.stdio, True)
        self.stdio.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        self.stdio.write(data)

    def extReceived(self, dataType: int, data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()

    def connectionLost(self, reason: object = None) -> None:
        value = reason.value if isinstance(reason, Failure) else None
        if isinstance(value, ProcessDone):
            status = 0
        elif isinstance(value, ProcessTerminated) and value.exitCode is not None:
            status = value.exitCode
        else:
            status = FAILED
            if not isinstance(value, ProcessTerminated):
                print(f"{PROGRAM}: {_describe(value)}", file=sys.stderr)
        # The channel is gone: it no longer produces for stdout (a producer still
        # registered, and paused, would hold stdout open), then close after what
        # waits for stdout has gone.
        self.stdio.unregisterProducer()
        self.stdio.loseConnection()
        assert self.local is not None
        self.local.closed.addCallback(lambda _: self.ended.callback(status))


def _describe(problem: object) -> str:
    """One line for the user: a ConchError's text rather than its arguments."""
    if isinstance(problem, ConchError):
        if isinstance(problem.value, int):
            return f"{problem.data} (SSH disconnect reason {problem.value})"
        return str(problem.value)
    return str(problem)


async def _main(reactor: Any, options: ConchOptions) -> int:
    helper = _Helper(
        reactor,
        options["host"],
        options["port"],
        options["user"].encode("utf-8"),
        [],
        None,
        KnownHostsFile.fromPath(options["known-hosts"]) if options["known-hosts"] else None,
        default.hostKeyUI(options),
    )
    helper.options = options
    helper.transportOptions = {
        "supportedCiphers": options["ciphers"],
        "supportedMACs": options["macs"],
    }
    endpoint = SSHCommandClientEndpoint(helper, options["command"].encode("utf-8"))
    try:
        remote = await endpoint.connect(protocol.Factory.forProtocol(_Remote))
    except Exception as e:
        print(f"{PROGRAM}: {_describe(e)}", file=sys.stderr)
        return FAILED
    status: int = await remote.ended
    return status


def run(argv: Sequence[str] | None = None) -> int:
    """Run the program with ``argv`` (default: the command line); its exit status."""
    options = ConchOptions()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else list(argv))
    except usage.UsageError as e:
        print(f"{PROGRAM}: {e}\n{options}", file=sys.stderr)
        return 2
    outcome: list[int] = []

    def main(reactor: Any) -> defer.Deferred[None]:
        d = defer.Deferred.fromCoroutine(_main(reactor, options))
        return d.addCallback(outcome.append)

    try:
        task.react(main)
    except SystemExit as e:
        if not outcome:
            return int(e.code or 0)
    return outcome[0] if outcome else FAILED


if __name__ == "__main__":
    sys.exit(run())
