"""Tests for ProcessProtocol, the process errors and addresses, and MemoryProcess.

No child process here: ProcessProtocol's dispatch and a protocol's life are played
through MemoryReactor.spawnProcess (torsion.internet._processtesting.MemoryProcess).
Real children are in test_process.py.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet import error
from torsion.internet.address import PipeAddress, _ProcessAddress
from torsion.internet.interfaces import IAddress, IProcessProtocol, IProcessTransport
from torsion.internet.process import _exitReason
from torsion.internet.protocol import ProcessProtocol
from torsion.internet.testing import MemoryReactor
from torsion.python.failure import Failure


class Dispatched(ProcessProtocol):
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def outReceived(self, data: bytes) -> None:
        self.calls.append(("out", data))

    def errReceived(self, data: bytes) -> None:
        self.calls.append(("err", data))

    def inConnectionLost(self) -> None:
        self.calls.append("in lost")

    def outConnectionLost(self) -> None:
        self.calls.append("out lost")

    def errConnectionLost(self) -> None:
        self.calls.append("err lost")

    def processExited(self, reason: Failure) -> None:
        self.calls.append(("exited", reason.value))

    def processEnded(self, reason: Failure) -> None:
        self.calls.append(("ended", reason.value))


def test_processProtocolDispatchesByDescriptor() -> None:
    proto = Dispatched()
    proto.childDataReceived(1, b"o")
    proto.childDataReceived(2, b"e")
    proto.childDataReceived(3, b"ignored")
    for fd in (0, 1, 2, 3):
        proto.childConnectionLost(fd)
    assert proto.calls == [("out", b"o"), ("err", b"e"), "in lost", "out lost", "err lost"]


def test_theDefaultProcessProtocolIgnoresEverything() -> None:
    proto = ProcessProtocol()
    assert verifyObject(IProcessProtocol, proto)
    proto.childDataReceived(1, b"x")
    proto.childConnectionLost(0)
    proto.processExited(Failure(error.ProcessDone(0)))
    proto.processEnded(Failure(error.ProcessDone(0)))
    assert proto.transport is None and not proto.connected


# -- the errors -------------------------------------------------------------------------------


def test_processDoneIsAConnectionDone() -> None:
    done = error.ProcessDone(0)
    assert isinstance(done, error.ConnectionDone)
    assert (done.exitCode, done.signal, done.status) == (0, None, 0)
    assert "exited with code 0" in str(done)


def test_processTerminatedIsAConnectionLost() -> None:
    terminated = error.ProcessTerminated(exitCode=2, status=512)
    assert isinstance(terminated, error.ConnectionLost)
    assert (terminated.exitCode, terminated.signal, terminated.status) == (2, None, 512)
    assert "exited with code 2" in str(terminated)
    killed = error.ProcessTerminated(signal=signal.SIGKILL, status=9)
    assert "killed by signal 9 (SIGKILL)" in str(killed)
    assert "signal 200" in str(error.ProcessTerminated(signal=200))
    assert "os.waitpid(-1" in str(error.ProcessTerminated())


def test_exitStatusesBecomeTheRightReasons() -> None:
    assert isinstance(_exitReason(0), error.ProcessDone)
    three = _exitReason(3 << 8)
    assert isinstance(three, error.ProcessTerminated) and three.exitCode == 3
    term = _exitReason(signal.SIGTERM)
    assert isinstance(term, error.ProcessTerminated)
    assert (term.exitCode, term.signal) == (None, signal.SIGTERM)
    unknown = _exitReason(None)
    assert isinstance(unknown, error.ProcessTerminated) and unknown.status is None


def test_processExitedAlreadyIsAnException() -> None:
    assert issubclass(error.ProcessExitedAlready, Exception)
    from torsion.internet import process

    assert process.ProcessExitedAlready is error.ProcessExitedAlready


def test_processAndPipeAddresses() -> None:
    for address in (_ProcessAddress(), PipeAddress()):
        assert verifyObject(IAddress, address)
    assert _ProcessAddress() == _ProcessAddress()
    assert hash(PipeAddress()) == hash(PipeAddress())
    assert PipeAddress() != _ProcessAddress()
    assert repr(PipeAddress()) == "PipeAddress()"


# -- MemoryReactor.spawnProcess ---------------------------------------------------------------


def test_memoryReactorRecordsTheSpawn() -> None:
    memory = MemoryReactor()
    proto = Dispatched()
    transport = memory.spawnProcess(proto, "prog", ["prog", "-x"], {"A": "b"}, "/tmp", 1, 2)
    assert memory.spawnedProcesses == [
        (proto, "prog", ["prog", "-x"], {"A": "b"}, "/tmp", 1, 2, False, None)
    ]
    assert proto.transport is transport
    assert verifyObject(IProcessTransport, transport)
    assert isinstance(transport.pid, int)
    assert transport.getHost() == transport.getPeer() == _ProcessAddress()


def test_memoryProcessRecordsWhatTheProtocolDoes() -> None:
    memory = MemoryReactor()
    proto = Dispatched()
    child = memory.spawnProcess(proto, "prog", childFDs={0: "w", 1: "r", 3: "w"})
    child.write(b"a")
    child.writeSequence([b"b", b"c"])
    child.writeToChild(3, b"three")
    assert child.value() == b"abc"
    assert child.value(3) == b"three"
    with pytest.raises(TypeError):
        child.write("text")  # type: ignore[arg-type]
    child.signalProcess("TERM")
    child.signalProcess(9)
    assert child.signals == [signal.SIGTERM, 9]
    child.registerProducer("producer", True)
    assert (child.producer, child.streaming) == ("producer", True)
    child.unregisterProducer()
    assert child.producer is None
    child.closeStdin()
    child.write(b"after close")
    assert child.value() == b"abc"
    assert child.openFDs == {1, 3}
    assert "in lost" in proto.calls


def test_memoryProcessPlaysTheChild() -> None:
    memory = MemoryReactor()
    proto = Dispatched()
    child = memory.spawnProcess(proto, "prog")
    child.childWrites(1, b"output")
    child.childWrites(2, b"errors")
    child.closeStdout()
    child.exit(4)
    assert proto.calls == [
        ("out", b"output"),
        ("err", b"errors"),
        "out lost",
        ("exited", proto.calls[3][1]),
        "in lost",
        "err lost",
        ("ended", proto.calls[3][1]),
    ]
    reason = proto.calls[3][1]
    assert isinstance(reason, error.ProcessTerminated) and reason.exitCode == 4
    assert child.pid is None
    with pytest.raises(error.ProcessExitedAlready):
        child.signalProcess("KILL")
    assert "pid=None" in repr(child)


def test_memoryProcessEndsByASignalAfterTheLastPipeCloses() -> None:
    memory = MemoryReactor()
    proto = Dispatched()
    child = memory.spawnProcess(proto, "prog")
    child.loseConnection()
    assert proto.calls == ["in lost", "out lost", "err lost"]
    child.exit(signal=signal.SIGKILL)
    assert proto.calls[-1][0] == "ended"
    assert proto.calls[-1][1].signal == signal.SIGKILL
    assert os.WIFSIGNALED(proto.calls[-1][1].status)
