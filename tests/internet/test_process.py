"""Tests for reactor.spawnProcess (torsion.internet.process) with real child processes.

Every test that takes ``reactor`` runs on each reactor of the conformance suite. The
children are coreutils programs (cat, sh, tty...) and small Python programs. The
SIGCHLD mechanism of torsion.internet._childwatch, which Linux does not need (it has
pidfds), is run here by switching pidfds off.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.internet import _childwatch, error, process
from torsion.internet.address import _ProcessAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IProcessTransport, IPushProducer, IReactorProcess
from torsion.internet.protocol import ProcessProtocol
from torsion.protocols.basic import FileSender
from torsion.python.failure import Failure

reactor = reactormixins.reactor
loggedErrors = reactormixins.loggedErrors

PYTHON = sys.executable


class Recorder(ProcessProtocol):
    """Keeps what the child writes per descriptor and the order of events."""

    def __init__(self) -> None:
        self.received: dict[int, bytearray] = {}
        self.events: list[Any] = []
        self.exited: Deferred[None] = Deferred()
        self.ended: Deferred[None] = Deferred()
        self.exitReason: Failure | None = None
        self.endReason: Failure | None = None

    def output(self, childFD: int = 1) -> bytes:
        return bytes(self.received.get(childFD, b""))

    def connectionMade(self) -> None:
        self.events.append("made")

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.received.setdefault(childFD, bytearray()).extend(data)
        super().childDataReceived(childFD, data)

    def childConnectionLost(self, childFD: int) -> None:
        self.events.append(("lost", childFD))
        super().childConnectionLost(childFD)

    def processExited(self, reason: Failure) -> None:
        self.events.append("exited")
        self.exitReason = reason
        self.exited.callback(None)

    def processEnded(self, reason: Failure) -> None:
        self.events.append("ended")
        self.endReason = reason
        self.ended.callback(None)


def spawn(reactor: Any, argv: list[str], proto: Recorder | None = None, **kw: Any) -> Recorder:
    proto = proto if proto is not None else Recorder()
    reactor.spawnProcess(proto, argv[0], argv, **kw)
    return proto


def python(code: str) -> list[str]:
    return [PYTHON, "-c", code]


def ended(reactor: Any, proto: Recorder, timeout: float = 10) -> Any:
    """Run until the child ended; return its end reason's exception."""
    runUntilFired(reactor, proto.ended, timeout)
    assert proto.endReason is not None
    return proto.endReason.value


@pytest.fixture
def sigchld(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Notice exits through SIGCHLD instead of pidfds; put the old handler back after."""
    monkeypatch.setattr(_childwatch, "usePidfd", False)
    try:
        yield
    finally:
        _childwatch._uninstallSigchldHandler()


def zombieChildren() -> list[int]:
    """The pids of this process's children that exited and were not waited for."""
    zombies = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == b"Z" and int(fields[1]) == os.getpid():
            zombies.append(int(entry))
    return zombies


def openDescriptors() -> set[int]:
    return {int(n) for n in os.listdir("/proc/self/fd")}


needsProc = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count descriptors"
)


# -- talking to a child -------------------------------------------------------------------


def test_catEchoesWhatIsWrittenAndEndsCleanly(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"])
    proto.transport.write(b"hello ")
    proto.transport.writeSequence([b"cat", b"\n"])
    proto.transport.closeStdin()
    reason = ended(reactor, proto)
    assert isinstance(reason, error.ProcessDone)
    assert (reason.exitCode, reason.signal, reason.status) == (0, None, 0)
    assert proto.output() == b"hello cat\n"
    assert proto.events[0] == "made"
    assert proto.events.index("exited") < proto.events.index("ended") == len(proto.events) - 1
    assert {("lost", 0), ("lost", 1), ("lost", 2)} <= set(proto.events)


def test_stdoutAndStderrAreSeparate(reactor: Any) -> None:
    proto = Recorder()
    out: list[bytes] = []
    err: list[bytes] = []
    proto.outReceived = out.append  # type: ignore[method-assign]
    proto.errReceived = err.append  # type: ignore[method-assign]
    spawn(reactor, ["sh", "-c", "echo to-out; echo to-err >&2"], proto)
    ended(reactor, proto)
    assert b"".join(out) == b"to-out\n"
    assert b"".join(err) == b"to-err\n"


def test_exitCodeIsReportedAsProcessTerminated(reactor: Any) -> None:
    proto = spawn(reactor, ["sh", "-c", "exit 3"])
    reason = ended(reactor, proto)
    assert isinstance(reason, error.ProcessTerminated)
    assert (reason.exitCode, reason.signal) == (3, None)
    assert os.waitstatus_to_exitcode(reason.status) == 3
    assert "exited with code 3" in str(reason)
    assert proto.exitReason is not None and proto.exitReason.value is reason


def test_signalProcessKillsWithThatSignal(reactor: Any) -> None:
    proto = spawn(reactor, ["sleep", "30"])
    proto.transport.signalProcess("TERM")
    reason = ended(reactor, proto)
    assert isinstance(reason, error.ProcessTerminated)
    assert (reason.exitCode, reason.signal) == (None, signal.SIGTERM)
    assert "SIGTERM" in str(reason)


@pytest.mark.parametrize("signalID", ["KILL", "SIGINT", "hup", int(signal.SIGKILL)])
def test_signalNamesAndNumbersAreAccepted(reactor: Any, signalID: str | int) -> None:
    proto = spawn(reactor, ["sleep", "30"])
    proto.transport.signalProcess(signalID)
    reason = ended(reactor, proto)
    expected = signalID if isinstance(signalID, int) else process._signalNumber(signalID)
    assert reason.signal == expected


def test_unknownSignalNameIsAClearError(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"])
    with pytest.raises(ValueError, match="unknown signal 'BOGUS'"):
        proto.transport.signalProcess("BOGUS")
    proto.transport.closeStdin()
    ended(reactor, proto)


def test_signalProcessAfterExitRaisesProcessExitedAlready(reactor: Any) -> None:
    proto = spawn(reactor, ["true"])
    ended(reactor, proto)
    assert proto.transport.pid is None
    with pytest.raises(error.ProcessExitedAlready):
        proto.transport.signalProcess("TERM")


def test_closeStdinMakesCatExit(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"])
    runUntil(reactor, lambda: proto.events)  # connected
    proto.transport.closeStdin()
    assert isinstance(ended(reactor, proto), error.ProcessDone)
    assert proto.events.index(("lost", 0)) < proto.events.index("exited")


def test_childClosingItsStdinIsReported(reactor: Any) -> None:
    proto = spawn(reactor, ["sh", "-c", "exec 0<&-; exec sleep 30"])
    runUntil(reactor, lambda: ("lost", 0) in proto.events)
    assert "exited" not in proto.events
    proto.transport.signalProcess("KILL")
    ended(reactor, proto)


def test_loseConnectionClosesEveryPipe(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"])
    proto.transport.loseConnection()
    assert isinstance(ended(reactor, proto), error.ProcessDone)
    assert {("lost", 0), ("lost", 1), ("lost", 2)} <= set(proto.events)


def test_closingStdoutGivesTheWriterSigpipe(reactor: Any) -> None:
    # Python ignores SIGPIPE; the child must get the default action back.
    proto = spawn(reactor, ["yes"])
    runUntil(reactor, lambda: proto.output())
    proto.transport.closeStdout()
    reason = ended(reactor, proto)
    assert reason.signal == signal.SIGPIPE


def test_processTransportProvidesTheInterfaces(reactor: Any) -> None:
    assert verifyObject(IReactorProcess, reactor)
    proto = spawn(reactor, ["cat"])
    transport = proto.transport
    assert verifyObject(IProcessTransport, transport)
    assert verifyObject(IPushProducer, transport)
    assert isinstance(transport.pid, int) and transport.pid > 0
    assert transport.getHost() == transport.getPeer() == _ProcessAddress()
    assert f"pid={transport.pid}" in repr(transport)
    assert not hasattr(transport, "__dict__")
    transport.closeStdin()
    ended(reactor, proto)
    assert "exited, status=0" in repr(transport)


def test_writeToChildNeedsAWritePipe(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"])
    with pytest.raises(KeyError, match="descriptor 1"):
        proto.transport.writeToChild(1, b"x")
    proto.transport.closeStdin()
    ended(reactor, proto)
    proto.transport.write(b"dropped: there is no stdin any more")


def test_pauseProducingStopsReadingUntilResumed(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"])
    proto.transport.pauseProducing()
    proto.transport.write(b"held back")
    proto.transport.closeStdin()
    runUntil(reactor, lambda: "exited" in proto.events)
    for _ in range(5):
        reactor.iterate(0.01)
    assert proto.output() == b""
    assert "ended" not in proto.events
    proto.transport.resumeProducing()
    ended(reactor, proto)
    assert proto.output() == b"held back"


# -- no output is lost -----------------------------------------------------------------------


def test_outputWaitingInThePipeWhenTheChildExitsIsDelivered(reactor: Any) -> None:
    # The child fills its pipes and exits while we are not reading: processExited
    # comes first, and processEnded only once everything was read.
    size = 60_000
    proto = spawn(
        reactor,
        python(f"import os; os.write(1, b'o' * {size}); os.write(2, b'e' * {size}); os._exit(0)"),
    )
    proto.transport.pauseProducing()
    runUntilFired(reactor, proto.exited, 10)
    assert "ended" not in proto.events
    proto.transport.resumeProducing()
    ended(reactor, proto)
    assert proto.output(1) == b"o" * size
    assert proto.output(2) == b"e" * size


def test_aChildWritingALotAndExitingAtOnceLosesNothing(reactor: Any) -> None:
    size = 4 * 2**20
    proto = spawn(
        reactor,
        python(
            f"import os, sys; sys.stdout.buffer.write(b'x' * {size}); "
            "sys.stdout.flush(); os._exit(0)"
        ),
    )
    reason = ended(reactor, proto, timeout=30)
    assert isinstance(reason, error.ProcessDone)
    assert len(proto.output()) == size


def test_afterTheExitStdinIsClosedOnceDrained(reactor: Any) -> None:
    proto = spawn(reactor, ["true"])
    proto.transport.write(b"nobody reads this")
    assert isinstance(ended(reactor, proto), error.ProcessDone)
    assert ("lost", 0) in proto.events


# -- flow control ----------------------------------------------------------------------------


@implementer(IPushProducer)
class ChunkProducer:
    """Writes ``total`` bytes in ``chunk``-sized writes while not paused."""

    def __init__(self, transport: Any, total: int, chunk: int = 32768) -> None:
        self.transport = transport
        self.remaining = total
        self.chunk = chunk
        self.paused = False
        self.pauses = 0
        self.maxBuffered = 0
        self.pipe = transport.pipes[0]

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.remaining:
            size = min(self.chunk, self.remaining)
            self.remaining -= size
            self.transport.write(b"p" * size)
            self.maxBuffered = max(self.maxBuffered, self.pipe.bufferedSize())
        if not self.remaining:
            self.transport.unregisterProducer()
            self.transport.closeStdin()

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def stopProducing(self) -> None:
        self.remaining = 0


def test_aPushProducerFeedsStdinWithABoundedBuffer(reactor: Any) -> None:
    total = 4 * 2**20
    proto = spawn(reactor, ["cat"])
    producer = ChunkProducer(proto.transport, total)
    proto.transport.registerProducer(producer, True)
    producer.resumeProducing()
    ended(reactor, proto, timeout=30)
    assert proto.output() == b"p" * total
    assert producer.pauses > 0
    limit = proto.transport.pipes.get(0, producer.pipe).bufferSize + producer.chunk
    assert producer.maxBuffered <= limit


def test_fileSenderSendsAFileThroughAChild(reactor: Any) -> None:
    data = os.urandom(2**20)
    proto = spawn(reactor, ["cat"])
    done = FileSender().beginFileTransfer(io.BytesIO(data), proto.transport)
    done.addCallback(lambda _: proto.transport.closeStdin())
    ended(reactor, proto, timeout=30)
    assert done.called
    assert proto.output() == data


def test_registerProducerWithoutStdinStopsTheProducer(reactor: Any) -> None:
    proto = spawn(reactor, ["true"], childFDs={1: "r"})
    producer = ChunkProducer.__new__(ChunkProducer)
    producer.remaining = 10
    proto.transport.registerProducer(producer, True)
    assert producer.remaining == 0
    ended(reactor, proto)


# -- descriptors, environment, directory, user --------------------------------------------


def test_childFDsGiveTheChildAnExtraOutputPipe(reactor: Any) -> None:
    proto = spawn(
        reactor, ["sh", "-c", "echo three >&3; echo one"], childFDs={0: "w", 1: "r", 3: "r"}
    )
    ended(reactor, proto)
    assert proto.output(3) == b"three\n"
    assert proto.output(1) == b"one\n"
    assert ("lost", 3) in proto.events


def test_childFDsGiveTheChildAnExtraInputPipe(reactor: Any) -> None:
    proto = spawn(reactor, ["sh", "-c", "cat <&3"], childFDs={1: "r", 3: "w"})
    proto.transport.writeToChild(3, b"via three")
    proto.transport.closeChildFD(3)
    ended(reactor, proto)
    assert proto.output() == b"via three"


def test_childFDsPassOnOneOfOurDescriptors(reactor: Any) -> None:
    readEnd, writeEnd = os.pipe()
    try:
        proto = spawn(reactor, ["sh", "-c", "echo passed >&4"], childFDs={1: "r", 4: writeEnd})
        ended(reactor, proto)
        os.close(writeEnd)
        writeEnd = -1
        assert os.read(readEnd, 100) == b"passed\n"
    finally:
        os.close(readEnd)
        if writeEnd != -1:
            os.close(writeEnd)


def test_childFDsCanSwapDescriptors(reactor: Any) -> None:
    # The child's stdout is our pipe for its 2, and the other way round: placing one
    # must not overwrite the other.
    proto = spawn(reactor, ["sh", "-c", "echo out; echo err >&2"], childFDs={1: "r", 2: "r"})
    ended(reactor, proto)
    assert (proto.output(1), proto.output(2)) == (b"out\n", b"err\n")


@needsProc
@pytest.mark.parametrize("viaFork", [False, True], ids=["posix_spawn", "fork"])
def test_onlyTheNamedDescriptorsReachTheChild(reactor: Any, tmp_path: Path, viaFork: bool) -> None:
    readEnd, writeEnd = os.pipe()
    os.set_inheritable(writeEnd, True)
    try:
        extra = {"path": str(tmp_path)} if viaFork else {}
        proto = spawn(
            reactor, python("import os; print(sorted(os.listdir('/proc/self/fd')))"), **extra
        )
        ended(reactor, proto)
    finally:
        os.close(readEnd)
        os.close(writeEnd)
    # 0, 1, 2 and the descriptor of the listing itself.
    assert proto.output().strip() == b"['0', '1', '2', '3']"


def test_theEnvironmentIsExactlyTheOneGiven(reactor: Any) -> None:
    proto = spawn(reactor, ["env"], env={"FOO": "bar", b"RAW": b"\xff"})
    ended(reactor, proto)
    assert sorted(proto.output().splitlines()) == [b"FOO=bar", b"RAW=\xff"]


def test_theDefaultEnvironmentIsEmpty(reactor: Any) -> None:
    proto = spawn(reactor, ["/usr/bin/env"] if os.path.exists("/usr/bin/env") else ["env"])
    ended(reactor, proto)
    assert proto.output() == b""


def test_envNoneInheritsOurs(reactor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORSION_PROCESS_TEST", "inherited")
    proto = spawn(reactor, ["env"], env=None)
    ended(reactor, proto)
    assert b"TORSION_PROCESS_TEST=inherited" in proto.output().splitlines()


def test_aBareNameIsLookedUpInTheGivenPath(reactor: Any, tmp_path: Path) -> None:
    program = tmp_path / "torsion-test-program"
    program.write_text("#!/bin/sh\necho found\n")
    program.chmod(0o755)
    proto = spawn(reactor, ["torsion-test-program"], env={"PATH": str(tmp_path)})
    ended(reactor, proto)
    assert proto.output() == b"found\n"


def test_pathIsTheChildsDirectory(reactor: Any, tmp_path: Path) -> None:
    proto = spawn(reactor, ["pwd"], path=str(tmp_path))
    ended(reactor, proto)
    assert proto.output() == os.fsencode(os.path.realpath(tmp_path)) + b"\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="running a child as another user needs root")
def test_uidAndGidAreTheChilds(reactor: Any) -> None:
    proto = spawn(reactor, ["sh", "-c", "id -u; id -g; id -G"], uid=65534, gid=65534)
    ended(reactor, proto)
    assert proto.output().split() == [b"65534", b"65534", b"65534"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may switch to any user")
def test_switchingUserWithoutRootIsAClearError(reactor: Any) -> None:
    with pytest.raises(PermissionError, match="only root can start processes as another"):
        spawn(reactor, ["true"], uid=0 if os.geteuid() else 1)


def test_aUidAloneTakesThatUsersGroups(reactor: Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("running a child as another user needs root")
    import pwd

    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' here")
    proto = spawn(reactor, ["id", "-g"], uid=user.pw_uid)
    ended(reactor, proto)
    assert proto.output().strip() == str(user.pw_gid).encode()


# -- failures to start -----------------------------------------------------------------------


def test_aMissingProgramIsAClearErrorAndHarmsNothing(reactor: Any) -> None:
    before = openDescriptors() if os.path.isdir("/proc/self/fd") else None
    proto = Recorder()
    with pytest.raises(FileNotFoundError, match=r"cannot run 'no-such-program-here'.*PATH"):
        reactor.spawnProcess(proto, "no-such-program-here", ["no-such-program-here"])
    assert proto.events == []  # never connected
    with pytest.raises(FileNotFoundError, match="no such file"):
        reactor.spawnProcess(proto, "/no/such/program")
    if before is not None:
        assert openDescriptors() == before
    # The reactor goes on as before.
    proto = spawn(reactor, ["true"])
    assert isinstance(ended(reactor, proto), error.ProcessDone)


def test_aFileThatIsNotExecutableIsAClearError(reactor: Any, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("not a program\n")
    with pytest.raises(PermissionError, match="is it executable"):
        reactor.spawnProcess(Recorder(), str(data))
    data.chmod(0o755)
    with pytest.raises(OSError, match="needs a #! line"):
        reactor.spawnProcess(Recorder(), str(data))


def test_aMissingDirectoryIsAClearError(reactor: Any, tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(FileNotFoundError, match=f"in directory '{missing}'"):
        reactor.spawnProcess(Recorder(), "true", ["true"], path=str(missing))
    # The child that failed was reaped at once.
    if os.path.isdir("/proc/self"):
        assert zombieChildren() == []


@pytest.mark.parametrize(
    ("kwargs", "problem", "match"),
    [
        ({"args": "ls -l"}, TypeError, r"not one string: write \['ls', '-l'\]"),
        ({"args": ["ls", 3]}, TypeError, "must be str or bytes, not int"),
        ({"args": ["a\0b"]}, ValueError, "NUL"),
        ({"env": {"A=B": "c"}}, ValueError, "invalid environment variable name"),
        ({"env": {"A": 1}}, TypeError, "must be str or bytes"),
        ({"childFDs": {1: "x"}}, ValueError, r"childFDs\[1\] must be 'r'"),
        ({"childFDs": {-1: "r"}}, ValueError, "descriptor numbers"),
        ({"childFDs": {3: 987654}}, ValueError, "987654 is not open here"),
        ({"usePTY": True, "childFDs": {1: "r"}}, ValueError, "cannot be used with usePTY"),
        ({"uid": -5}, ValueError, "uid must be"),
    ],
)
def test_badArgumentsAreClearErrors(
    reactor: Any, kwargs: dict[str, Any], problem: type[Exception], match: str
) -> None:
    kwargs = dict(kwargs)
    args = kwargs.pop("args", ["true"])
    before = openDescriptors() if os.path.isdir("/proc/self/fd") else None
    with pytest.raises(problem, match=match):
        reactor.spawnProcess(Recorder(), "true", args, **kwargs)
    if before is not None:
        assert openDescriptors() == before


def test_emptyArgsRunTheProgramByItsName(reactor: Any) -> None:
    proto = Recorder()
    reactor.spawnProcess(proto, PYTHON, (), env=None)
    proto.transport.write(b"import sys; print(sys.argv)\n")
    proto.transport.closeStdin()
    ended(reactor, proto)
    assert proto.output() == b"['']\n"


# -- protocols that raise ---------------------------------------------------------------------


def test_aProtocolRaisingInConnectionMadeLosesOnlyItsPipes(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Recorder):
        def connectionMade(self) -> None:
            raise RuntimeError("broken protocol")

    proto = spawn(reactor, ["cat"], Broken())
    assert isinstance(ended(reactor, proto), error.ProcessDone)  # cat saw its stdin end
    assert any("connectionMade" in str(e.get("why")) for e in loggedErrors)
    loggedErrors.clear()


def test_aProtocolRaisingInOutReceivedLosesThatPipe(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Recorder):
        def outReceived(self, data: bytes) -> None:
            raise RuntimeError("broken protocol")

    proto = spawn(reactor, ["yes"], Broken())
    reason = ended(reactor, proto)
    assert reason.signal == signal.SIGPIPE
    assert ("lost", 1) in proto.events
    assert loggedErrors
    loggedErrors.clear()


def test_aProtocolRaisingInProcessExitedStillGetsProcessEnded(
    reactor: Any, loggedErrors: list[dict[str, Any]]
) -> None:
    class Broken(Recorder):
        def processExited(self, reason: Failure) -> None:
            super().processExited(reason)
            raise RuntimeError("broken protocol")

    proto = spawn(reactor, ["true"], Broken())
    ended(reactor, proto)
    assert any("processExited" in str(e.get("why")) for e in loggedErrors)
    loggedErrors.clear()


# -- many processes, leaks, zombies -------------------------------------------------------


def isZombieOrGone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # reaped already
    return False


@needsProc
def test_manySpawnsLeakNoDescriptorAndLeaveNoZombie(reactor: Any) -> None:
    # One round first, so that what the reactor makes once (its watcher) is there.
    ended(reactor, spawn(reactor, ["true"]))
    before = openDescriptors()
    pids = []
    for _ in range(10):
        batch = [spawn(reactor, ["true"]) for _ in range(20)]
        pids += [p.transport.pid for p in batch]
        for proto in batch:
            ended(reactor, proto)
    assert len(pids) == 200
    assert openDescriptors() == before
    assert not set(pids) & set(zombieChildren())
    assert all(isZombieOrGone(pid) for pid in pids)


def test_manyChildrenExitingAtOnceAreAllReported(reactor: Any) -> None:
    protos = [spawn(reactor, ["sh", "-c", f"exit {n}"]) for n in range(40)]
    for proto in protos:
        runUntilFired(reactor, proto.ended, 10)
    codes = [p.endReason.value.exitCode for p in protos if p.endReason is not None]
    assert codes == list(range(40))


def test_aChildReapedBySomeoneElseIsReportedAsUnknown(reactor: Any) -> None:
    proto = spawn(reactor, ["true"])
    assert proto.transport.pid is not None
    os.waitpid(proto.transport.pid, 0)  # what code that waits for every child does
    reason = ended(reactor, proto)
    assert isinstance(reason, error.ProcessTerminated)
    assert (reason.exitCode, reason.signal, reason.status) == (None, None, None)
    assert "exit status is unknown" in str(reason)


def test_childrenLeftRunningAtShutdownAreReapedLater(reactor: Any) -> None:
    proto = spawn(reactor, ["sleep", "0.1"])
    pid = proto.transport.pid
    reactor.disconnectAll()  # what shutdown does: the child is no longer watched
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # wait for its exit, keep the zombie
    assert not isZombieOrGone(pid)
    ended(reactor, spawn(reactor, ["true"]))
    assert isZombieOrGone(pid)


# -- the SIGCHLD mechanism --------------------------------------------------------------------


def test_aStoppedReactorLeavesItsSigchldChildrenToLaterChecks(reactor: Any, sigchld: None) -> None:
    proto = spawn(reactor, ["sleep", "0.1"])
    pid = proto.transport.pid
    reactor.fireSystemEvent("shutdown")  # what reactor.stop() does once running
    assert pid in _childwatch._orphans or isZombieOrGone(pid)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    _childwatch._reapOrphans()
    assert isZombieOrGone(pid)
    assert "exited" not in proto.events


def test_sigchldNoticesExitsToo(reactor: Any, sigchld: None) -> None:
    proto = spawn(reactor, ["cat"])
    proto.transport.write(b"via sigchld")
    proto.transport.closeStdin()
    assert isinstance(ended(reactor, proto), error.ProcessDone)
    assert proto.output() == b"via sigchld"
    assert signal.getsignal(signal.SIGCHLD) is _childwatch._onSigchld


def test_sigchldReportsManyExitsAndCodes(reactor: Any, sigchld: None) -> None:
    protos = [spawn(reactor, ["sh", "-c", f"exit {n % 4}"]) for n in range(30)]
    for proto in protos:
        runUntilFired(reactor, proto.ended, 10)
    codes = [p.endReason.value.exitCode for p in protos if p.endReason is not None]
    assert codes == [n % 4 for n in range(30)]


def test_withoutASignalHandlerTheTimerStillNoticesExits(
    reactor: Any, sigchld: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_childwatch, "_installSigchldHandler", lambda: False)
    proto = spawn(reactor, ["sh", "-c", "sleep 0.05; exit 7"])
    assert ended(reactor, proto).exitCode == 7


def test_sigchldChainsToTheHandlerItReplaced(reactor: Any, sigchld: None) -> None:
    seen: list[int] = []
    # Ours goes first (an earlier test in this process may have left it installed), or
    # putting it back afterwards would replace the handler this test installs.
    _childwatch._uninstallSigchldHandler()
    previous = signal.signal(signal.SIGCHLD, lambda n, f: seen.append(n))
    try:
        proto = spawn(reactor, ["true"])
        ended(reactor, proto)
        runUntil(reactor, lambda: seen)
        assert seen[0] == signal.SIGCHLD
    finally:
        _childwatch._uninstallSigchldHandler()
        signal.signal(signal.SIGCHLD, previous)


# -- pseudo-terminals -------------------------------------------------------------------------


def test_onAPtyTheChildHasATerminal(reactor: Any) -> None:
    proto = spawn(reactor, ["tty"], usePTY=True)
    assert isinstance(ended(reactor, proto), error.ProcessDone)
    assert proto.output().startswith(b"/dev/")
    assert proto.output().endswith(b"\r\n")
    assert isinstance(proto.transport, process.PTYProcess)
    assert verifyObject(IProcessTransport, proto.transport)


def test_aPtyChildsOutputArrivesWhole(reactor: Any) -> None:
    lines = 2000
    proto = spawn(reactor, python(f"import sys\nfor i in range({lines}): print(i)\n"), usePTY=True)
    ended(reactor, proto)
    assert proto.output().split(b"\r\n")[:-1] == [str(i).encode() for i in range(lines)]


def test_onAPtyCloseStdinEndsTheInput(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"], usePTY=True)
    proto.transport.write(b"typed\n")
    proto.transport.closeStdin()
    assert isinstance(ended(reactor, proto), error.ProcessDone)
    assert proto.output().count(b"typed\r\n") == 2  # the terminal's echo, and cat's


def test_onAPtyTheWindowSizeCanBeSet(reactor: Any) -> None:
    proto = spawn(reactor, ["sh", "-c", "read line; stty size"], usePTY=True)
    proto.transport.setWindowSize(33, 101)
    proto.transport.write(b"go\n")
    ended(reactor, proto)
    assert proto.output().endswith(b"33 101\r\n")


def test_onAPtySignalsAndExitCodesAreReported(reactor: Any) -> None:
    proto = spawn(reactor, ["sleep", "30"], usePTY=True)
    proto.transport.signalProcess("KILL")
    assert ended(reactor, proto).signal == signal.SIGKILL
    with pytest.raises(error.ProcessExitedAlready):
        proto.transport.signalProcess("KILL")
    proto = spawn(reactor, ["sh", "-c", "exit 5"], usePTY=True)
    assert ended(reactor, proto).exitCode == 5


def test_onAPtyLoseConnectionHangsUp(reactor: Any) -> None:
    proto = spawn(reactor, ["sleep", "30"], usePTY=True)
    proto.transport.loseConnection()
    assert ended(reactor, proto).signal == signal.SIGHUP


def test_aPtyMayBeGiven(reactor: Any) -> None:
    master, slave = os.openpty()
    proto = spawn(reactor, ["tty"], usePTY=(master, slave, os.ttyname(slave)))
    ended(reactor, proto)
    assert proto.output().startswith(b"/dev/")
    with pytest.raises(OSError):
        os.fstat(master)  # the transport owned it, and closed it


def test_onAPtyOnlyDescriptorZeroIsWritable(reactor: Any) -> None:
    proto = spawn(reactor, ["cat"], usePTY=True)
    with pytest.raises(KeyError):
        proto.transport.writeToChild(1, b"x")
    with pytest.raises(KeyError):
        proto.transport.closeChildFD(3)
    proto.transport.closeStdout()
    proto.transport.closeStderr()
    proto.transport.closeChildFD(0)
    assert isinstance(ended(reactor, proto), error.ProcessDone)


def test_aPtyChildThatCannotStartLeavesNothingOpen(reactor: Any) -> None:
    before = openDescriptors() if os.path.isdir("/proc/self/fd") else None
    with pytest.raises(FileNotFoundError):
        reactor.spawnProcess(Recorder(), "/no/such/program", usePTY=True)
    if before is not None:
        assert openDescriptors() == before
