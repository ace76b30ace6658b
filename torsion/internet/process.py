"""Child processes: the transports that ``reactor.spawnProcess`` returns.

``Process`` talks to a child through pipes, one per descriptor of the child's that
``childFDs`` names ('r': we read what the child writes there, 'w': we write what it
reads, a number: the child gets that descriptor of ours). Each pipe is a
ProcessReader or ProcessWriter (torsion.internet.fdesc), so writes are buffered and
flow-controlled like a socket's. ``PTYProcess`` puts the child on a pseudo-terminal
instead (``usePTY=True``): one channel both ways, and the child sees a terminal.

The protocol hears ``processExited`` as soon as the child exits, and ``processEnded``
only once it has exited *and* every pipe to it is closed, so no output is lost
however fast the child writes and exits. When the child exits, its stdin is closed
once what was written to it has been sent. Exits are noticed by
torsion.internet._childwatch (a pidfd on Linux, SIGCHLD elsewhere), on every reactor.
Tests: tests/internet/test_process.py.
"""

from __future__ import annotations

import os
import signal
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.internet import _spawn, error
from torsion.internet._childwatch import watcherFor
from torsion.internet.abstract import FileDescriptor
from torsion.internet.address import _ProcessAddress
from torsion.internet.fdesc import ProcessReader, ProcessWriter, setNonBlocking
from torsion.internet.interfaces import IConsumer, IProcessTransport, IPushProducer
from torsion.internet.tcp import _logPrefixOf
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "PTYProcess",
    "Process",
    "ProcessExitedAlready",
    "ProcessReader",
    "ProcessWriter",
    "spawnProcess",
]

ProcessExitedAlready = error.ProcessExitedAlready

_DEFAULT_CHILD_FDS: Mapping[int, str | int] = {0: "w", 1: "r", 2: "r"}


def _exitReason(status: int | None) -> BaseException:
    """ProcessDone for exit code 0, ProcessTerminated for anything else."""
    if status is None:
        return error.ProcessTerminated()
    if os.WIFSIGNALED(status):
        return error.ProcessTerminated(signal=os.WTERMSIG(status), status=status)
    code = os.WEXITSTATUS(status)
    if code == 0:
        return error.ProcessDone(status)
    return error.ProcessTerminated(exitCode=code, status=status)


def _signalNumber(signalID: str | int) -> int:
    if isinstance(signalID, int):
        return signalID
    name = signalID.upper()
    number = getattr(signal, name if name.startswith("SIG") else f"SIG{name}", None)
    if not isinstance(number, signal.Signals):
        raise ValueError(
            f"unknown signal {signalID!r}; use a name such as 'TERM', 'KILL', 'INT' or "
            "'HUP', or a signal number"
        )
    return int(number)


class _Spawned:
    """What starting a child takes, checked and encoded (shared by both transports)."""

    __slots__ = ("argv", "env", "executable", "gid", "path", "uid")

    def __init__(
        self,
        executable: Any,
        args: Sequence[Any],
        environment: Mapping[Any, Any] | None,
        path: Any,
        uid: int | None,
        gid: int | None,
    ) -> None:
        self.env = _spawn.encodeEnvironment(environment)
        self.executable = _spawn.findExecutable(executable, self.env)
        self.argv = _spawn.encodeArguments(args, os.fsencode(executable))
        self.path = path
        for name, value in (("uid", uid), ("gid", gid)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative number or None, not {value!r}")
        self.uid = uid
        self.gid = gid

    def start(self, fdMap: Mapping[int, int], terminal: bool = False) -> int:
        return _spawn.spawn(
            self.executable,
            self.argv,
            self.env,
            fdMap,
            self.path,
            self.uid,
            self.gid,
            newSession=terminal,
            controllingTerminal=terminal,
        )


class _BaseProcess:
    """What both kinds of process transport share: the exit, signals, the protocol calls.

    The classes that use it provide ``_allClosed()`` (every channel to the child is
    closed) and ``_childExited()`` (what to do with those channels at the exit).
    """

    if not TYPE_CHECKING:
        # Empty, so that PTYProcess can also be a FileDescriptor; the attributes below
        # are slots of the classes that mix this in (mypy would take them for ours).
        __slots__ = ()

    proto: Any
    pid: int | None
    status: int
    reactor: Any
    _exitReason: BaseException | None
    _ended: bool
    _pidText: str
    # Provided by those classes (declared, not defined, so as not to hide
    # FileDescriptor's loseConnection from PTYProcess).
    loseConnection: Callable[[], None]
    _allClosed: Callable[[], bool]
    _childExited: Callable[[], None]

    def _setUpProcess(self, proto: Any, pid: int) -> None:
        self.proto = proto
        self.pid = pid
        self.status = -1
        self._exitReason = None
        self._ended = False
        self._pidText = str(pid)

    def _connectProtocol(self) -> None:
        """Connect the protocol, then start watching for the exit.

        A protocol whose connectionMade raises is logged, and the pipes to the child
        are closed (as a connection would be dropped); its exit is still reported.
        """
        proto = self.proto
        try:
            proto.makeConnection(self)
        except Exception:
            log.err(
                None,
                f"Error in {type(proto).__name__}.connectionMade; closing the pipes to "
                f"process {self._pidText}",
            )
            self.loseConnection()
        assert self.pid is not None
        watcherFor(self.reactor).watch(self.pid, self._processExitedWith)

    def logPrefix(self) -> str:
        """Return "ProtocolName,pid" for what is logged about this process."""
        return f"{_logPrefixOf(self.proto)},{self._pidText}"

    def _callProtocol(self, name: str, *args: Any) -> None:
        try:
            getattr(self.proto, name)(*args)
        except Exception:
            log.err(None, f"Error in {type(self.proto).__name__}.{name}")

    def _processExitedWith(self, status: int | None) -> None:
        """The child exited with wait status ``status`` (None: unknown)."""
        self.status = -1 if status is None else status
        self.pid = None
        reason = _exitReason(status)
        self._exitReason = reason
        log.callWithLogger(self, self._callProtocol, "processExited", Failure(reason))
        self._childExited()
        self.maybeCallProcessEnded()

    def maybeCallProcessEnded(self) -> None:
        """Call processEnded once the child has exited and every channel is closed."""
        if self._ended or self._exitReason is None or not self._allClosed():
            return
        self._ended = True
        log.callWithLogger(self, self._callProtocol, "processEnded", Failure(self._exitReason))

    def signalProcess(self, signalID: str | int) -> None:
        """Send the signal ``signalID`` ('TERM', 'KILL', 'INT', 'HUP', ... or a number).

        Raises:
            ProcessExitedAlready: if the child has exited (and its status was collected).
            ValueError: for an unknown signal name.
        """
        number = _signalNumber(signalID)
        if self.pid is None:
            raise ProcessExitedAlready(
                f"process {self._pidText} has exited already; it cannot be signalled"
            )
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            raise ProcessExitedAlready(f"process {self._pidText} has exited already") from None

    def getHost(self) -> _ProcessAddress:
        """Return the (empty) address of a process."""
        return _ProcessAddress()

    def getPeer(self) -> _ProcessAddress:
        """Return the (empty) address of a process."""
        return _ProcessAddress()


@implementer(IProcessTransport, IConsumer, IPushProducer)
class Process(_BaseProcess):
    """A child process connected through pipes (``spawnProcess`` without a pty).

    ``pipes`` maps each of the child's descriptors that still has a pipe to it to
    that pipe's ProcessReader or ProcessWriter.

    Raises:
        OSError: (FileNotFoundError, PermissionError, ...) if the child cannot start;
            nothing is left open then and the protocol is not connected.
        ValueError, TypeError: for bad arguments (``childFDs`` values, args, env).
    """

    __slots__ = (
        "__weakref__",
        "_ended",
        "_exitReason",
        "_pidText",
        "pid",
        "pipes",
        "proto",
        "reactor",
        "status",
    )

    def __init__(
        self,
        reactor: Any,
        executable: Any,
        args: Sequence[Any],
        environment: Mapping[Any, Any] | None,
        path: Any,
        proto: Any,
        uid: int | None = None,
        gid: int | None = None,
        childFDs: Mapping[int, str | int] | None = None,
    ) -> None:
        self.reactor = reactor
        self.pipes: dict[int, ProcessReader | ProcessWriter] = {}
        spawned = _Spawned(executable, args, environment, path, uid, gid)
        if childFDs is None:
            childFDs = _DEFAULT_CHILD_FDS
        fdMap: dict[int, int] = {}
        ours: dict[int, tuple[str, int]] = {}
        theirs: list[int] = []
        try:
            for childFD, kind in childFDs.items():
                if not isinstance(childFD, int) or childFD < 0:
                    raise ValueError(f"childFDs keys are descriptor numbers, not {childFD!r}")
                if kind == "r":
                    readEnd, writeEnd = os.pipe()
                    ours[childFD] = ("r", readEnd)
                    theirs.append(writeEnd)
                    fdMap[childFD] = writeEnd
                elif kind == "w":
                    readEnd, writeEnd = os.pipe()
                    ours[childFD] = ("w", writeEnd)
                    theirs.append(readEnd)
                    fdMap[childFD] = readEnd
                elif isinstance(kind, int) and not isinstance(kind, bool):
                    try:
                        os.fstat(kind)
                    except OSError:
                        raise ValueError(
                            f"childFDs gives the child our descriptor {kind} as its "
                            f"descriptor {childFD}, but {kind} is not open here"
                        ) from None
                    fdMap[childFD] = kind
                else:
                    raise ValueError(
                        f"childFDs[{childFD}] must be 'r' (we read), 'w' (we write) or one "
                        f"of our descriptors to pass on, not {kind!r}"
                    )
            pid = spawned.start(fdMap)
        except BaseException:
            for _, fd in ours.values():
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        self._setUpProcess(proto, pid)
        for childFD, (kind, fd) in ours.items():
            if kind == "r":
                reader = ProcessReader(reactor, self, childFD, fd)
                self.pipes[childFD] = reader
                reader.startReading()
            else:
                self.pipes[childFD] = ProcessWriter(reactor, self, childFD, fd)
        self._connectProtocol()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.pid is not None else f"exited, status={self.status}"
        return f"<Process {self._pidText} ({state})>"

    # -- what the pipes report ----------------------------------------------------------

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """A pipe read ``data`` from the child's descriptor ``childFD``."""
        self.proto.childDataReceived(childFD, data)

    def childConnectionLost(self, childFD: int, reason: Failure) -> None:
        """The pipe of ``childFD`` closed."""
        self.pipes.pop(childFD, None)
        self._callProtocol("childConnectionLost", childFD)
        self.maybeCallProcessEnded()

    def _allClosed(self) -> bool:
        return not self.pipes

    def _childExited(self) -> None:
        for pipe in list(self.pipes.values()):
            if isinstance(pipe, ProcessWriter):
                pipe.loseConnection()

    # -- IProcessTransport ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write ``data`` to the child's stdin (dropped if it has none, as in Twisted)."""
        stdin = self.pipes.get(0)
        if stdin is not None:
            stdin.write(data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        """Write each of ``seq`` to the child's stdin (dropped if it has none)."""
        stdin = self.pipes.get(0)
        if stdin is not None:
            stdin.writeSequence(seq)

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """Write ``data`` to the child's descriptor ``childFD``.

        Raises:
            KeyError: if we have no open pipe that writes to ``childFD``.
        """
        pipe = self.pipes.get(childFD)
        if not isinstance(pipe, ProcessWriter):
            raise KeyError(
                f"process {self._pidText} has no open pipe to write to its descriptor "
                f"{childFD} (childFDs must map it to 'w', and it must not be closed)"
            )
        pipe.write(data)

    def closeChildFD(self, descriptor: int) -> None:
        """Close our pipe to the child's ``descriptor`` (a write pipe once drained)."""
        pipe = self.pipes.get(descriptor)
        if pipe is not None:
            pipe.loseConnection()

    def closeStdin(self) -> None:
        """Close the child's stdin once what was written has been sent."""
        self.closeChildFD(0)

    def closeStdout(self) -> None:
        """Close the pipe of the child's stdout (it gets SIGPIPE if it writes more)."""
        self.closeChildFD(1)

    def closeStderr(self) -> None:
        """Close the pipe of the child's stderr."""
        self.closeChildFD(2)

    def loseConnection(self) -> None:
        """Close every pipe to the child (stdin after what was written is sent)."""
        for descriptor in list(self.pipes):
            self.closeChildFD(descriptor)

    # -- stdin as a consumer, the outputs as a producer -----------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Feed the child's stdin from ``producer`` (stopped at once if there is none)."""
        stdin = self.pipes.get(0)
        if stdin is None:
            producer.stopProducing()
        else:
            stdin.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """Forget stdin's producer."""
        stdin = self.pipes.get(0)
        if stdin is not None:
            stdin.unregisterProducer()

    def pauseProducing(self) -> None:
        """Stop reading the child's output (it blocks once the pipes fill)."""
        for pipe in self.pipes.values():
            if isinstance(pipe, ProcessReader):
                pipe.stopReading()

    def resumeProducing(self) -> None:
        """Read the child's output again."""
        for pipe in self.pipes.values():
            if isinstance(pipe, ProcessReader) and not pipe.disconnecting:
                pipe.startReading()

    def stopProducing(self) -> None:
        """Close every pipe to the child."""
        self.loseConnection()


@implementer(IProcessTransport, IConsumer, IPushProducer)
class PTYProcess(_BaseProcess, FileDescriptor):
    """A child process on a pseudo-terminal (``spawnProcess(..., usePTY=True)``).

    The child's stdin, stdout and stderr are the terminal: what it writes arrives in
    ``childDataReceived(1, data)`` (``outReceived``), with the terminal's conversions
    (newlines become CR LF, what is written is echoed unless the child turns echo
    off). ``usePTY`` may also be a ``(master, slave, ttyname)`` tuple from
    ``os.openpty``, to use that terminal.

    Raises:
        OSError: if the child cannot start (the terminal is closed then).
    """

    __slots__ = (
        "_ended",
        "_exitReason",
        "_master",
        "_outputEnded",
        "_pidText",
        "pid",
        "proto",
        "status",
    )

    def __init__(
        self,
        reactor: Any,
        executable: Any,
        args: Sequence[Any],
        environment: Mapping[Any, Any] | None,
        path: Any,
        proto: Any,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = True,
    ) -> None:
        FileDescriptor.__init__(self, reactor)
        spawned = _Spawned(executable, args, environment, path, uid, gid)
        if isinstance(usePTY, tuple | list):
            master, slave = usePTY[0], usePTY[1]
        else:
            master, slave = os.openpty()
        try:
            pid = spawned.start({0: slave, 1: slave, 2: slave}, terminal=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._master: int = master
        self._outputEnded = False
        setNonBlocking(master)
        self._setUpProcess(proto, pid)
        self.connected = True
        self.startReading()
        self._connectProtocol()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.pid is not None else f"exited, status={self.status}"
        return f"<PTYProcess {self._pidText} ({state})>"

    def fileno(self) -> int:
        """Return the terminal's master descriptor, or -1 once closed."""
        return self._master

    def doRead(self) -> object:
        """Read what the child wrote to the terminal."""
        try:
            data = os.read(self._master, 2**16)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            # EIO: every descriptor of the terminal in the child (and its children) is
            # closed. Linux hands over what they wrote before saying so.
            data = b""
        if data:
            self.proto.childDataReceived(1, data)
            return None
        # The output is over. But closing our side hangs the terminal up, which sends
        # SIGHUP to the child: one that closed its descriptors and has yet to exit
        # (cat does) would seem killed by it. So the terminal stays open until the exit.
        self._outputEnded = True
        self.stopReading()
        if self._exitReason is not None:
            return error.ConnectionDone()
        return None

    def writeSomeData(self, data: bytes | memoryview) -> int | BaseException:
        """Write what the terminal takes now."""
        try:
            return os.write(self._master, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as e:
            return error.ConnectionLost(str(e))

    def connectionLost(self, reason: Any) -> None:
        """The terminal is closed: release it; processEnded follows the exit."""
        if self.disconnected:
            return
        FileDescriptor.connectionLost(self, reason)
        master, self._master = self._master, -1
        os.close(master)
        self.maybeCallProcessEnded()

    def _allClosed(self) -> bool:
        return self.disconnected

    def _childExited(self) -> None:
        """Close the terminal if the output is over (else once it is: see doRead)."""
        if self._outputEnded and not self.disconnected:
            self._disconnectNow(error.ConnectionDone())

    def setWindowSize(self, rows: int, columns: int) -> None:
        """Tell the child the terminal now has ``rows`` x ``columns`` (it gets SIGWINCH).

        Raises:
            OSError: if the terminal is closed.
        """
        import fcntl
        import termios

        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    # -- IProcessTransport ----------------------------------------------------------------

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """Write ``data`` to the terminal (``childFD`` must be 0: it has one input).

        Raises:
            KeyError: for any other descriptor.
        """
        if childFD != 0:
            raise KeyError(f"a process on a pty reads only its terminal (0), not {childFD}")
        self.write(data)

    def closeStdin(self) -> None:
        """Send the terminal's end-of-file character (Ctrl-D).

        A terminal has no separate input to close; a program reading it line by line
        (the terminal's default, canonical mode) sees the end of its input when this
        comes at the start of a line. Twisted does nothing here.
        """
        eof = b"\x04"
        if self._master != -1:
            try:
                import termios

                character = termios.tcgetattr(self._master)[6][termios.VEOF]
                if isinstance(character, bytes) and character:
                    eof = character
            except (OSError, ImportError):
                pass
        self.write(eof)

    def closeStdout(self) -> None:
        """Nothing to do: a terminal is one channel (``loseConnection`` closes it)."""

    def closeStderr(self) -> None:
        """Nothing to do: a terminal is one channel (``loseConnection`` closes it)."""

    def closeChildFD(self, descriptor: int) -> None:
        """``closeStdin`` for 0; nothing for 1 and 2 (the terminal is one channel).

        Raises:
            KeyError: for a descriptor other than 0, 1 and 2.
        """
        if descriptor == 0:
            self.closeStdin()
        elif descriptor not in (1, 2):
            raise KeyError(f"a process on a pty has descriptors 0, 1 and 2, not {descriptor}")


def spawnProcess(
    reactor: Any,
    processProtocol: Any,
    executable: Any,
    args: Sequence[Any] = (),
    env: Mapping[Any, Any] | None = None,
    path: Any = None,
    uid: int | None = None,
    gid: int | None = None,
    usePTY: Any = False,
    childFDs: Mapping[int, str | int] | None = None,
) -> Process | PTYProcess:
    """Start a child on ``reactor``: the implementation of ``reactor.spawnProcess``.

    Raises:
        ValueError: for ``childFDs`` together with ``usePTY``, or bad arguments.
        OSError: if the child cannot start.
    """
    if usePTY:
        if childFDs is not None:
            raise ValueError(
                "childFDs cannot be used with usePTY: the child's descriptors 0, 1 and 2 "
                "are all the terminal"
            )
        return PTYProcess(reactor, executable, args, env, path, processProtocol, uid, gid, usePTY)
    return Process(reactor, executable, args, env, path, processProtocol, uid, gid, childFDs)
