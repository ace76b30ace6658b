"""The endpoints of standard I/O and of child processes (re-exported by endpoints).

StandardIOEndpoint connects one protocol to the program's stdin and stdout;
ProcessEndpoint makes a child process look like a stream connection to the protocol:
its stdout is the data received, writes go to its stdin, and the connection is lost
when it ends. Kept apart from torsion.internet.endpoints so that module stays about
sockets.
Tests: tests/internet/test_endpoints.py.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import defer, error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IStreamClientEndpoint, IStreamServerEndpoint
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["ProcessEndpoint", "StandardErrorBehavior", "StandardIOEndpoint"]


@implementer(IStreamServerEndpoint)
class StandardIOEndpoint:
    """The program's own standard input and output, as one connection.

    ``listen(factory)`` builds one protocol and connects it to stdin/stdout
    (torsion.internet.stdio.StandardIO); the Deferred fires with that StandardIO,
    which stands for the "port". ``stdin`` and ``stdout`` (descriptors) are a torsion
    extension, for programs and tests that talk over other pipes.
    """

    def __init__(self, reactor: Any, stdin: int = 0, stdout: int = 1) -> None:
        self._reactor = reactor
        self._stdin = stdin
        self._stdout = stdout

    def __repr__(self) -> str:
        return f"StandardIOEndpoint(stdin={self._stdin}, stdout={self._stdout})"

    def listen(self, stdioProtocolFactory: Any) -> Deferred[Any]:
        """Connect a protocol from ``stdioProtocolFactory`` to stdin and stdout."""
        from torsion.internet.address import PipeAddress
        from torsion.internet.stdio import StandardIO

        def connect() -> Any:
            protocol = stdioProtocolFactory.buildProtocol(PipeAddress())
            if protocol is None:
                raise error.NoProtocol(
                    f"{type(stdioProtocolFactory).__name__}.buildProtocol returned None"
                )
            return StandardIO(protocol, self._stdin, self._stdout, reactor=self._reactor)

        return defer.execute(connect)


# spawnProcess's default environment: an empty one (None inherits this program's).
_NO_ENVIRONMENT: Mapping[str, str] = types.MappingProxyType({})


class StandardErrorBehavior(enum.Enum):
    """What ProcessEndpoint does with what the child writes to its standard error."""

    LOG = "log"  # log each chunk, with the program's name
    DROP = "drop"  # ignore it


class _ProcessEndpointTransport:
    """The transport a ProcessEndpoint's protocol sees: the child's stdin and stdout.

    Writes go to the child's stdin; ``loseConnection`` closes it and lets the child
    finish; everything else of the process transport (``signalProcess``, ``pid``,
    ``closeStdin``...) is reachable too.
    """

    def __init__(self, process: Any) -> None:
        self._process = process

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_process"], name)


class _ProcessEndpointProtocol:
    """The process protocol behind a ProcessEndpoint: a stream protocol on a child."""

    def __init__(self, protocol: Any, executable: str, errFlag: StandardErrorBehavior) -> None:
        self.protocol = protocol
        self._executable = executable
        self._errFlag = errFlag
        self.transport: Any = None

    def makeConnection(self, process: Any) -> None:
        self.transport = process
        self.protocol.makeConnection(_ProcessEndpointTransport(process))

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == 1:
            self.protocol.dataReceived(data)
        elif childFD == 2 and self._errFlag is StandardErrorBehavior.LOG:
            log.msg(
                f"Process {self._executable!r} wrote to stderr, unhandled by "
                f"{type(self.protocol).__name__}: {data!r}"
            )

    def childConnectionLost(self, childFD: int) -> None:
        pass

    def processExited(self, reason: Failure) -> None:
        pass

    def processEnded(self, reason: Failure) -> None:
        from torsion.internet.error import ProcessDone

        if reason.check(ProcessDone):
            reason = Failure(error.ConnectionDone())
        self.protocol.connectionLost(reason)


@implementer(IStreamClientEndpoint)
class ProcessEndpoint:
    """A child process as a stream connection: its stdout in, its stdin out.

    ``connect(factory)`` spawns ``executable`` with ``args`` (argv, the program's own
    name first, as for ``spawnProcess``) and connects a protocol from ``factory`` to
    it; the Deferred fires with the protocol once its ``connectionMade`` has run, or
    fails if the program cannot be started. The connection is lost when the child
    ends: ConnectionDone for exit status 0, else the ProcessTerminated reason.

    Args:
        errFlag: what to do with the child's standard error (StandardErrorBehavior).
        The others are ``reactor.spawnProcess``'s: ``env`` is the child's whole
        environment (empty by default, as there), None to inherit this program's.
    """

    def __init__(
        self,
        reactor: Any,
        executable: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = _NO_ENVIRONMENT,
        path: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: dict[int, Any] | None = None,
        errFlag: StandardErrorBehavior = StandardErrorBehavior.LOG,
    ) -> None:
        self._reactor = reactor
        self._executable = executable
        self._args = tuple(args)
        self._env = env
        self._path = path
        self._uid = uid
        self._gid = gid
        self._usePTY = usePTY
        self._childFDs = childFDs
        self._errFlag = errFlag

    def __repr__(self) -> str:
        return f"ProcessEndpoint({self._executable!r})"

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Spawn the program; fires with the connected protocol."""
        from torsion.internet.address import _ProcessAddress

        def spawn() -> Any:
            protocol = protocolFactory.buildProtocol(_ProcessAddress())
            if protocol is None:
                raise error.NoProtocol(
                    f"{type(protocolFactory).__name__}.buildProtocol returned None"
                )
            self._reactor.spawnProcess(
                _ProcessEndpointProtocol(protocol, self._executable, self._errFlag),
                self._executable,
                self._args,
                self._env,
                self._path,
                self._uid,
                self._gid,
                self._usePTY,
                self._childFDs,
            )
            return protocol

        return defer.execute(spawn)
