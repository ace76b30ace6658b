"""Tests for torsion.internet.error: the hierarchy Twisted users catch, and the messages."""

from __future__ import annotations

import builtins
import errno
import os
import socket

import pytest

from torsion.internet import error


def test_connectionDoneSaysCleanlyAndKeepsDetail() -> None:
    assert str(error.ConnectionDone()) == "Connection was closed cleanly."
    assert str(error.ConnectionDone("bye")).endswith(" bye")


def test_connectionLostSaysNonClean() -> None:
    assert "non-clean" in str(error.ConnectionLost())


def test_timeoutErrorIsTheBuiltinKind() -> None:
    exc = error.TimeoutError(5, "Deferred")
    assert isinstance(exc, builtins.TimeoutError)
    assert str(exc) == "User timeout caused connection failure. 5 Deferred"


def test_connectionDoneAndLostAreBothConnectionClosed() -> None:
    assert issubclass(error.ConnectionDone, error.ConnectionClosed)
    assert issubclass(error.ConnectionLost, error.ConnectionClosed)
    assert issubclass(error.ConnectionAborted, error.ConnectionLost)
    assert issubclass(error.ConnectionFdescWentAway, error.ConnectionLost)
    assert not issubclass(error.ConnectionDone, error.ConnectionLost)


def test_timeoutErrorIsAUserError() -> None:
    assert isinstance(error.TimeoutError(), error.UserError)


@pytest.mark.parametrize(
    "name",
    [
        "ConnectBindError",
        "UnknownHostError",
        "NoRouteError",
        "ConnectionRefusedError",
        "TCPTimedOutError",
        "ServiceNameUnknownError",
        "BadFileError",
    ],
)
def test_connectFailuresAreConnectErrors(name: str) -> None:
    assert issubclass(getattr(error, name), error.ConnectError)


def test_cannotListenErrorIsABindError() -> None:
    assert issubclass(error.CannotListenError, error.BindError)


def test_dnsLookupErrorIsAnOSError() -> None:
    assert issubclass(error.DNSLookupError, OSError)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.ECONNREFUSED, error.ConnectionRefusedError),
        (errno.ENETUNREACH, error.NoRouteError),
        (errno.EHOSTUNREACH, error.NoRouteError),
        (errno.ETIMEDOUT, error.TCPTimedOutError),
        (errno.EMFILE, error.ConnectError),
    ],
)
def test_getConnectErrorPicksSubclassByErrno(code: int, kind: type[Exception]) -> None:
    made = error.getConnectError(OSError(code, os.strerror(code)))
    assert type(made) is kind
    assert errno.errorcode[code] in str(made)
    assert os.strerror(code) in str(made)
    assert type(error.getConnectError((code, "text"))) is kind


def test_getConnectErrorForNameLookupIsUnknownHost() -> None:
    made = error.getConnectError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert isinstance(made, error.UnknownHostError)
    assert "looked up" in str(made) and "not known" in str(made)


def test_getConnectErrorForOtherExceptionIsPlainConnectError() -> None:
    made = error.getConnectError(ValueError("odd"))
    assert type(made) is error.ConnectError
    assert str(made) == "An error occurred while connecting: odd."


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (errno.EADDRINUSE, "choose another port"),
        (errno.EACCES, "ports below 1024"),
        (errno.EADDRNOTAVAIL, "choose one of its interfaces"),
        (errno.EMFILE, "ulimit -n"),
        (errno.EINVAL, "check the address and port"),
    ],
)
def test_cannotListenErrorSaysWhatToDo(code: int, hint: str) -> None:
    problem = error.CannotListenError("127.0.0.1", 80, OSError(code, os.strerror(code)))
    text = str(problem)
    assert text.startswith("Couldn't listen on 127.0.0.1:80: ")
    assert hint in text
    assert "all interfaces:80" in str(error.CannotListenError("", 80, OSError(code, "x")))


def test_invalidAddressErrorNamesAddress() -> None:
    problem = error.InvalidAddressError("300.1.1.1", "not an IPv4 address")
    assert isinstance(problem, ValueError)
    assert str(problem) == "Invalid address '300.1.1.1': not an IPv4 address"


def test_twistedNamesArePresent() -> None:
    for name in (
        "AlreadyCalled",
        "AlreadyCancelled",
        "AlreadyListened",
        "BindError",
        "CannotListenError",
        "ConnectError",
        "ConnectInProgressError",
        "ConnectingCancelledError",
        "ConnectionClosed",
        "DNSLookupError",
        "InvalidAddressError",
        "NoProtocol",
        "NotConnectingError",
        "NotListeningError",
        "ReactorAlreadyInstalledError",
        "ReactorAlreadyRunning",
        "ReactorNotRestartable",
        "ReactorNotRunning",
        "UnsupportedAddressFamily",
        "UnsupportedSocketType",
        "UserError",
        "errnoMapping",
        "getConnectError",
    ):
        assert hasattr(error, name), name
