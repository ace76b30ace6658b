"""How PB sends an exception to the peer, and how it rebuilds one that arrives.

An error travels as a Copyable of Twisted's type name ``twisted.spread.pb.CopyableFailure``
(so Twisted peers understand it too): the exception's qualified type name, its message,
the names of its classes (``parents``, which ``check`` matches) and, only if the
sending side allows it (``unsafeTracebacks``), the traceback. The receiving side gets a
CopiedFailure whose ``value`` is a RemoteError.

What a peer may learn is torsion's choice, not Twisted's: the message of a pb.Error (or
of the few errors that are about the call itself: NoSuchMethod, InsecureJelly, a failed
login) is sent; any other exception is logged here and the peer gets its type name
and a generic message. Class names under ``torsion.`` are also announced under
``twisted.`` so that a Twisted peer's ``check(twisted.spread.pb.Error)`` matches, and
our ``check`` accepts either spelling from a Twisted peer.

Public names are re-exported by torsion.spread.pb. Tests: tests/spread/test_pb_errors.py.
"""

from __future__ import annotations

from typing import IO, Any

from torsion.logger import Logger, LogLevel
from torsion.python.failure import Failure
from torsion.spread.flavors import Copyable, NoSuchMethod, RemoteCopy
from torsion.spread.jelly import setUnjellyableForClass

__all__ = ["CopiedFailure", "CopyableFailure", "Error", "RemoteError", "failureForPeer"]

_log = Logger()

WIRE_NAME = b"twisted.spread.pb.CopyableFailure"
_PARENTS_LIMIT = 64
_TEXT_LIMIT = 64 * 1024


class Error(Exception):
    """An error meant for the peer: raise it (or a subclass) in a remote method.

    Its message and type name reach the caller as they are; other exceptions arrive
    without their message unless the side raising them sets ``unsafeTracebacks``.
    """


Error.__module__ = "torsion.spread.pb"


class RemoteError(Exception):
    """An exception raised by the peer, as this side knows it: type name, message, traceback.

    ``str(e)`` is the remote message. Raised by ``await``/``raiseException()`` on a
    CopiedFailure.

    Attributes:
        remoteType: the remote exception's qualified type name (bytes, as in Twisted).
        remoteTraceback: the remote traceback text, if the peer sent one.
    """

    def __init__(self, remoteType: bytes | str, value: str, remoteTraceback: str) -> None:
        super().__init__(value)
        self.remoteType = remoteType.encode() if isinstance(remoteType, str) else remoteType
        self.remoteTraceback = remoteTraceback


RemoteError.__module__ = "torsion.spread.pb"


def _qual(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _alias(name: str) -> str | None:
    if name.startswith("torsion."):
        return "twisted." + name[len("torsion.") :]
    if name.startswith("twisted."):
        return "torsion." + name[len("twisted.") :]
    return None


def _withAliases(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        out.append(name)
        alias = _alias(name)
        if alias is not None and name.startswith("torsion."):
            out.append(alias)
    return out


# Errors whose message is safe and useful to the caller: about the call, not the server.
_SAFE_ERRORS: tuple[type | str, ...] = (
    Error,
    NoSuchMethod,
    "torsion.spread.jelly.InsecureJelly",
    "torsion.cred.error.UnauthorizedLogin",
    "twisted.spread.pb.Error",
    "twisted.cred.error.UnauthorizedLogin",
)


class CopyableFailure(Failure, Copyable):
    """A Failure on its way to the peer (jellied with Twisted's type name for it).

    Attributes:
        unsafeTracebacks: send the message and traceback whatever the exception.
    """

    unsafeTracebacks = False

    def _detailed(self) -> bool:
        return self.unsafeTracebacks or self.check(*_SAFE_ERRORS) is not None

    def getStateToCopy(self) -> dict[str, Any]:
        """The state Twisted's CopiedFailure expects, with details only where allowed."""
        typeName = self.type if isinstance(self.type, str) else _qual(self.type)
        if self.unsafeTracebacks:
            message = self.getErrorMessage()
            traceback = self.getTraceback()
        elif self._detailed():
            message = self.getErrorMessage()
            traceback = "Traceback unavailable\n"
        else:
            message = f"{typeName} raised remotely; the details are in the log over there"
            traceback = "Traceback unavailable\n"
        return {
            "count": self.count,
            "type": typeName.encode(),
            "value": message,
            "captureVars": False,
            "tb": None,
            "unsafeTracebacks": bool(self.unsafeTracebacks),
            "parents": _withAliases(self.parents),
            "frames": [],
            "stack": [],
            "traceback": traceback,
        }

    def getTypeToCopy(self) -> bytes:
        """Twisted's name, so that either kind of peer rebuilds it."""
        return WIRE_NAME


CopyableFailure.__module__ = "torsion.spread.pb"


def _text(value: object, default: str = "") -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return default if value is None else repr(value)[:_TEXT_LIMIT]
    return value[:_TEXT_LIMIT]


class CopiedFailure(RemoteCopy, Failure):
    """A Failure that happened on the peer: ``check`` it by class or qualified name.

    ``type`` is the remote type's qualified name (a str), ``value`` a RemoteError,
    ``traceback`` the remote traceback text (when the peer sent it), ``parents`` the
    names of the remote type's classes.
    """

    traceback: str = ""
    remoteType: bytes = b""

    def setCopyableState(self, state: Any) -> None:
        """Rebuild from the state sent (checked: it came from the network)."""
        if not isinstance(state, dict):
            raise ValueError(f"a copied failure's state is a dict, not {type(state).__name__}")
        typeName = _text(state.get("type"), "unknown") or "unknown"
        message = _text(state.get("value"))
        traceback = _text(state.get("traceback"))
        rawParents = state.get("parents")
        parents = [
            _text(p)
            for p in (rawParents if isinstance(rawParents, list) else [])[:_PARENTS_LIMIT]
            if isinstance(p, (str, bytes))
        ]
        if typeName not in parents:
            parents.insert(0, typeName)
        count = state.get("count")
        self.type = typeName  # type: ignore[assignment]
        self.value = RemoteError(typeName, message, traceback)
        self.tb = None
        self.count = count if type(count) is int else 0
        self.captureVars = False
        self.pickled = False
        self._frames = []
        self._parents = parents
        self._chain = []
        self.traceback = traceback
        self.remoteType = typeName.encode()
        self.unsafeTracebacks = state.get("unsafeTracebacks") is True

    def check(self, *errorTypes: Any) -> Any:
        """Return the first of ``errorTypes`` the remote exception is (by class name), else None.

        ``torsion.X`` and ``twisted.X`` count as one name, so a Twisted peer's
        ``twisted.spread.pb.Error`` matches ``torsion.spread.pb.Error``.
        """
        parents = self.parents
        for errorType in errorTypes:
            if isinstance(errorType, str):
                name = errorType
            elif isinstance(errorType, type):
                name = _qual(errorType)
            else:
                raise TypeError(
                    f"check takes exception classes or their qualified names, not {errorType!r}"
                )
            if name in parents or _alias(name) in parents:
                return errorType
        return None

    def printTraceback(
        self,
        file: IO[str] | None = None,
        elideFrameworkCode: bool = False,
        detail: str = "default",
    ) -> None:
        """Write the remote traceback (if sent) and the remote error."""
        import sys

        write = (sys.stderr if file is None else file).write
        if self.traceback and self.traceback != "Traceback unavailable\n":
            write("Traceback from the peer:\n")
            write(self.traceback if self.traceback.endswith("\n") else self.traceback + "\n")
        write(f"{self.type}: {self.getErrorMessage()}\n")


CopiedFailure.__module__ = "torsion.spread.pb"

setUnjellyableForClass(WIRE_NAME, CopiedFailure)
setUnjellyableForClass(b"torsion.spread.pb.CopyableFailure", CopiedFailure)


def failureForPeer(broker: Any, fail: Failure, unsafeTracebacks: bool) -> Any:
    """Return the jellied error to send for ``fail``, logging it if the peer gets no details."""
    copyable = CopyableFailure(fail.value, fail.type, fail.tb)
    copyable.count = fail.count
    copyable.unsafeTracebacks = unsafeTracebacks
    if isinstance(fail.type, str):
        copyable.parents = fail.parents
    if not copyable._detailed():
        _log.failure(
            "{protocol}: a remote call failed; the peer gets only the type of this error",
            fail,
            level=LogLevel.error,
            protocol=broker.logPrefix(),
        )
    try:
        return broker.serialize(copyable)
    except Exception:
        _log.failure(
            "{protocol}: could not jelly an error",
            level=LogLevel.error,
            protocol=broker.logPrefix(),
        )
        fallback = CopyableFailure(Error("the remote error could not be sent"))
        return broker.serialize(fallback)
