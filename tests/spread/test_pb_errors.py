"""Tests for errors across PB: what the caller learns, what the callee logs.

pb.Error subclasses (and NoSuchMethod, InsecureJelly, failed logins) arrive with their
type name and message; other exceptions are logged where they happened and arrive with
their type name only, unless that side sets ``unsafeTracebacks``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet import reactormixins
from tests.spread.pbtesting import PBPair
from torsion.internet.defer import fail
from torsion.spread import pb
from torsion.spread.jelly import InsecureJelly, jelly, unjelly

loggedErrors = reactormixins.loggedErrors


class Busy(pb.Error):
    """The server is busy (a pb.Error: its message is meant for the caller)."""


class Root(pb.Root):
    def remote_busy(self) -> None:
        raise Busy("try again in 5 seconds")

    def remote_secret(self) -> None:
        raise KeyError("/etc/secret-path")

    def remote_failedDeferred(self) -> Any:
        return fail(Busy("later"))

    def remote_failedSecretDeferred(self) -> Any:
        return fail(ZeroDivisionError("internal"))

    async def remote_failedCoroutine(self) -> None:
        raise Busy("async busy")

    def remote_badArguments(self, a: int) -> int:
        return a


@pytest.fixture
def pair() -> PBPair:
    return PBPair(Root())


def test_pbErrorArrivesWithTypeAndMessage(pair: PBPair, loggedErrors: list[Any]) -> None:
    failure = pair.callFailure(pair.root(), "busy")
    assert isinstance(failure, pb.CopiedFailure)
    assert failure.check(Busy) is Busy
    assert failure.check(pb.Error) is pb.Error
    assert failure.check(KeyError) is None
    assert failure.type == f"{__name__}.Busy"
    assert failure.getErrorMessage() == "try again in 5 seconds"
    assert isinstance(failure.value, pb.RemoteError)
    assert failure.value.remoteType == f"{__name__}.Busy".encode()
    assert loggedErrors == []


def test_raisingACopiedFailureRaisesRemoteError(pair: PBPair) -> None:
    failure = pair.callFailure(pair.root(), "busy")
    with pytest.raises(pb.RemoteError, match="try again"):
        failure.raiseException()
    assert failure.trap(Busy) is Busy


def test_otherErrorsArriveWithoutDetailsAndAreLoggedByTheCallee(
    pair: PBPair, loggedErrors: list[Any]
) -> None:
    failure = pair.callFailure(pair.root(), "secret")
    assert failure.check(KeyError) is KeyError
    assert "secret-path" not in failure.getErrorMessage()
    assert "builtins.KeyError" in failure.getErrorMessage()
    assert "secret-path" not in failure.getTraceback()
    (event,) = loggedErrors
    assert event["log_failure"].check(KeyError)
    assert "secret-path" in event["log_failure"].getErrorMessage()


def test_unsafeTracebacksSendMessageAndTraceback(loggedErrors: list[Any]) -> None:
    pair = PBPair(Root(), serverFactory=pb.PBServerFactory(Root(), unsafeTracebacks=True))
    failure = pair.callFailure(pair.root(), "secret")
    assert "secret-path" in failure.getErrorMessage()
    assert "remote_secret" in failure.traceback
    assert "Traceback from the peer" in failure.getTraceback()
    assert loggedErrors == []


def test_errorsFromDeferredsAndCoroutines(pair: PBPair, loggedErrors: list[Any]) -> None:
    root = pair.root()
    assert pair.callFailure(root, "failedDeferred").getErrorMessage() == "later"
    assert pair.callFailure(root, "failedCoroutine").getErrorMessage() == "async busy"
    hidden = pair.callFailure(root, "failedSecretDeferred")
    assert hidden.check(ZeroDivisionError)
    assert "internal" not in hidden.getErrorMessage()
    assert len(loggedErrors) == 1


def test_wrongArgumentsAreATypeErrorForTheCaller(pair: PBPair, loggedErrors: list[Any]) -> None:
    failure = pair.callFailure(pair.root(), "badArguments", 1, 2, 3)
    assert failure.check(TypeError)
    assert len(loggedErrors) == 1


def test_forbiddenArgumentIsInsecureJellyForTheCaller(pair: PBPair) -> None:
    class NotAllowed:
        pass

    from torsion.spread.jelly import DummySecurityOptions

    root = pair.root()
    pair.client.security = DummySecurityOptions()
    failure = pair.callFailure(root, "badArguments", NotAllowed())
    assert failure.check(InsecureJelly)
    assert "NotAllowed" in failure.getErrorMessage()


def test_checkMatchesTwistedAndTorsionSpellings() -> None:
    broker = pb.Broker()
    state = {
        "type": b"twisted.spread.pb.Error",
        "value": "from twisted",
        "parents": ["twisted.spread.pb.Error", "builtins.Exception"],
        "traceback": "Traceback unavailable\n",
    }
    copied = pb.CopiedFailure.__new__(pb.CopiedFailure)
    copied.setCopyableState(state)
    assert copied.check(pb.Error) is pb.Error
    assert copied.check("twisted.spread.pb.Error") == "twisted.spread.pb.Error"
    assert copied.check(Exception) is Exception
    assert copied.check(KeyError) is None
    del broker


def test_sentFailureNamesTorsionClassesUnderTwistedToo(pair: PBPair) -> None:
    copyable = pb.CopyableFailure(pb.NoSuchMethod("x"))
    parents = copyable.getStateToCopy()["parents"]
    assert "torsion.spread.flavors.NoSuchMethod" in parents
    assert "twisted.spread.flavors.NoSuchMethod" in parents
    assert copyable.getTypeToCopy() == b"twisted.spread.pb.CopyableFailure"


@pytest.mark.parametrize(
    "state",
    [5, {}, {"type": 5, "value": object(), "parents": "notalist"}, {"parents": [1, b"x"] * 100}],
)
def test_hostileFailureStatesAreTamed(state: Any) -> None:
    copied = pb.CopiedFailure.__new__(pb.CopiedFailure)
    if not isinstance(state, dict):
        with pytest.raises(ValueError):
            copied.setCopyableState(state)
        return
    copied.setCopyableState(state)
    assert isinstance(copied.value, pb.RemoteError)
    assert len(copied.parents) <= 65
    copied.getTraceback()


def test_errorThatIsNotAFailureCopyArrivesAsRemoteError(pair: PBPair) -> None:
    root = pair.root()
    d = root.callRemote("later")
    requestID = max(pair.client.waitingForAnswers)
    pair.sendRaw(pair.server, [b"error", requestID, b"plain text error"])
    failure = []
    d.addErrback(failure.append)
    assert failure[0].check(pb.RemoteError)


def test_copiedFailureJelliesWithoutABroker() -> None:
    copyable = pb.CopyableFailure(Busy("x"))
    sexp = jelly(copyable)
    assert isinstance(sexp, list)
    with pytest.raises(InsecureJelly):
        unjelly([b"os.system", [b"dictionary"]])
