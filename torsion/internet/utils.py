"""Run a program and collect what it prints: getProcessOutput and its companions.

Each starts a child with ``reactor.spawnProcess`` and returns a Deferred:

- ``getProcessOutput`` fires with its stdout (bytes), and fails with IOError if it
  writes anything to stderr (unless ``errortoo``, which collects stderr with stdout);
- ``getProcessValue`` fires with its exit code (None if a signal killed it);
- ``getProcessOutputAndValue`` fires with ``(stdout, stderr, exitCode)``, and fails
  with SignalledProcessOutput (which unpacks as ``(stdout, stderr, signal)``) if a
  signal killed it.

As in Twisted, ``args`` are the arguments after the program's name, and ``env``
defaults to an empty environment (pass ``env=None`` to pass this process's on).
Cancelling the Deferred kills the child. A child that cannot start gives a failed
Deferred (with the OSError saying why) rather than an exception.
``runWithWarningsSuppressed`` and ``suppressWarnings`` run code with some warnings
filtered out.
Tests: tests/internet/test_utils.py.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from torsion.internet import error
from torsion.internet.defer import Deferred, fail
from torsion.internet.protocol import ProcessProtocol
from torsion.python.failure import Failure

__all__ = [
    "SignalledProcessOutput",
    "getProcessOutput",
    "getProcessOutputAndValue",
    "getProcessValue",
    "runWithWarningsSuppressed",
    "suppressWarnings",
]

_T = TypeVar("_T")

_Env = Mapping[Any, Any] | None


class _UnexpectedErrorOutput(IOError):
    """getProcessOutput's child wrote to stderr.

    ``processEnded`` is a Deferred that fails with the child's exit reason once it
    has ended (it is made to stop when this is raised).
    """

    def __init__(self, text: bytes, processEnded: Deferred[Any]) -> None:
        super().__init__(
            f"the program wrote to stderr: {text!r} (pass errortoo=True to collect "
            "stderr with the output)"
        )
        self.processEnded = processEnded


class SignalledProcessOutput(Exception):
    """getProcessOutputAndValue's child was killed by a signal.

    It unpacks as ``(stdout, stderr, signalNumber)``, the triple Twisted fails with.
    """

    def __init__(self, out: bytes, err: bytes, signal: int) -> None:
        super().__init__(out, err, signal)
        self.out = out
        self.err = err
        self.signal = signal

    def __iter__(self) -> Iterator[Any]:
        return iter(self.args)

    def __getitem__(self, index: int) -> Any:
        return self.args[index]

    def __len__(self) -> int:
        return 3

    def __str__(self) -> str:
        return f"the program was killed by signal {self.signal}"


class _Collector(ProcessProtocol):
    """Fires ``deferred`` once the child has ended (and not again after a cancel)."""

    def __init__(self, deferred: Deferred[Any]) -> None:
        self.deferred: Deferred[Any] | None = deferred

    def _finish(self) -> Deferred[Any] | None:
        deferred, self.deferred = self.deferred, None
        if deferred is None or deferred.called:
            return None
        return deferred

    def kill(self) -> None:
        try:
            self.transport.signalProcess("KILL")
        except error.ProcessExitedAlready:
            pass


class _BackRelay(_Collector):
    def __init__(self, deferred: Deferred[bytes], errortoo: bool = False) -> None:
        super().__init__(deferred)
        self.chunks: list[bytes] = []
        self.errortoo = errortoo
        self.onProcessEnded: Deferred[Any] | None = None

    def outReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def errReceived(self, data: bytes) -> None:
        if self.errortoo:
            self.chunks.append(data)
            return
        deferred = self._finish()
        if deferred is not None:
            self.onProcessEnded = Deferred()
            deferred.errback(_UnexpectedErrorOutput(data, self.onProcessEnded))
            self.transport.loseConnection()

    def processEnded(self, reason: Failure) -> None:
        deferred = self._finish()
        if deferred is not None:
            deferred.callback(b"".join(self.chunks))
        elif self.onProcessEnded is not None:
            self.onProcessEnded.errback(reason)


class _ValueGetter(_Collector):
    def processEnded(self, reason: Failure) -> None:
        deferred = self._finish()
        if deferred is not None:
            deferred.callback(getattr(reason.value, "exitCode", None))


class _EverythingGetter(_Collector):
    def __init__(self, deferred: Deferred[tuple[bytes, bytes, int]]) -> None:
        super().__init__(deferred)
        self.out: list[bytes] = []
        self.err: list[bytes] = []

    def outReceived(self, data: bytes) -> None:
        self.out.append(data)

    def errReceived(self, data: bytes) -> None:
        self.err.append(data)

    def processEnded(self, reason: Failure) -> None:
        deferred = self._finish()
        if deferred is None:
            return
        out, err = b"".join(self.out), b"".join(self.err)
        value = reason.value
        signal = getattr(value, "signal", None)
        if signal is not None:
            deferred.errback(SignalledProcessOutput(out, err, signal))
        else:
            deferred.callback((out, err, getattr(value, "exitCode", None)))


def _spawnCollecting(
    makeProtocol: Callable[[Deferred[Any]], _Collector],
    executable: str | bytes,
    args: Sequence[str | bytes],
    env: _Env,
    path: str | bytes | None,
    reactor: Any,
) -> Deferred[Any]:
    if reactor is None:
        from torsion.internet import reactor
    collector: _Collector | None = None

    def cancel(d: Deferred[Any]) -> None:
        if collector is not None:
            collector.kill()

    result: Deferred[Any] = Deferred(cancel)
    collector = makeProtocol(result)
    try:
        reactor.spawnProcess(collector, executable, (executable, *args), env, path)
    except Exception:
        return fail(Failure())
    return result


def getProcessOutput(
    executable: str | bytes,
    args: Sequence[str | bytes] = (),
    env: _Env = {},  # noqa: B006 (Twisted's default; never changed)
    path: str | bytes | None = None,
    reactor: Any = None,
    errortoo: bool = False,
) -> Deferred[bytes]:
    """Run ``executable args...``; fire with everything it writes to stdout.

    Args:
        executable: the program (a bare name is looked up in PATH).
        args: the arguments after the program's name.
        env: its environment ({}: empty, as in Twisted; None: this process's).
        path: the directory to run it in.
        reactor: the reactor to use (default: the global one).
        errortoo: collect stderr too (interleaved with stdout as it arrives); without
            it, anything on stderr fails the Deferred with IOError and closes the pipes.
    """
    return _spawnCollecting(
        lambda d: _BackRelay(d, errortoo=errortoo), executable, args, env, path, reactor
    )


def getProcessValue(
    executable: str | bytes,
    args: Sequence[str | bytes] = (),
    env: _Env = {},  # noqa: B006 (Twisted's default; never changed)
    path: str | bytes | None = None,
    reactor: Any = None,
) -> Deferred[int | None]:
    """Run ``executable args...``; fire with its exit code (None if a signal killed it)."""
    return _spawnCollecting(_ValueGetter, executable, args, env, path, reactor)


def getProcessOutputAndValue(
    executable: str | bytes,
    args: Sequence[str | bytes] = (),
    env: _Env = {},  # noqa: B006 (Twisted's default; never changed)
    path: str | bytes | None = None,
    reactor: Any = None,
) -> Deferred[tuple[bytes, bytes, int]]:
    """Run ``executable args...``; fire with ``(stdout, stderr, exitCode)``.

    If a signal kills it, the Deferred fails with SignalledProcessOutput, which
    unpacks as ``(stdout, stderr, signalNumber)``.
    """
    return _spawnCollecting(_EverythingGetter, executable, args, env, path, reactor)


def runWithWarningsSuppressed(
    suppressedWarnings: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
    f: Callable[..., _T],
    *a: Any,
    **kw: Any,
) -> _T:
    """Call ``f(*a, **kw)`` with the warnings filters ``suppressedWarnings`` applied.

    Each filter is ``(args, kwargs)`` for ``warnings.filterwarnings``, for example
    ``(("ignore",), {"category": DeprecationWarning})``. The filters are in force
    only during the call (warnings' filters are process-wide: not thread-safe).
    """
    with warnings.catch_warnings():
        for args, kwargs in suppressedWarnings:
            warnings.filterwarnings(*args, **kwargs)
        return f(*a, **kw)


def suppressWarnings(
    f: Callable[..., _T], *suppressedWarnings: tuple[Sequence[Any], Mapping[str, Any]]
) -> Callable[..., _T]:
    """Return ``f`` wrapped so that it runs with ``suppressedWarnings`` filtered out."""

    @functools.wraps(f)
    def wrapper(*a: Any, **kw: Any) -> _T:
        return runWithWarningsSuppressed(suppressedWarnings, f, *a, **kw)

    return wrapper
