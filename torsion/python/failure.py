"""Failure: an exception captured as a value, so it can travel down an errback chain.

A ``Failure`` holds the type, value and traceback of an exception, either the one
being handled right now (``Failure()`` inside an ``except`` block) or one you hand
it (``Failure(exc)``). Deferreds pass Failures to errbacks; errbacks ``trap`` or
``check`` the kinds of error they can deal with and let the rest go on.

Construction is cheap on purpose: the traceback is kept as it is, and the
``frames`` summary is only worked out when somebody asks for it. ``cleanFailure``
turns the traceback into plain data and drops every frame reference, so a Failure
that waits in a long chain does not keep the locals of dead frames alive.

Differences from Twisted, on purpose:

- ``trap`` re-raises the original exception (with its traceback), not the Failure.
- ``stack`` is always empty: the frames above the ``except`` block are not recorded,
  because walking them on every Failure costs more than it ever gives back.
- ``cleanFailure`` also clears the ``__traceback__`` of the chained exceptions
  (``__cause__`` / ``__context__``), after saving what the traceback needs.
- ``getTracebackObject`` returns ``None`` once the Failure has been cleaned.

Tests: tests/python/test_failure.py.
"""

from __future__ import annotations

import itertools
import linecache
import os
import sys
from collections.abc import Callable, Coroutine, Generator, Iterator
from io import StringIO
from types import TracebackType
from typing import IO, Any, NoReturn

__all__ = ["Failure", "NoCurrentExceptionError"]

# (name, value) pairs; values are the live objects while the Failure is fresh and
# their repr() strings once it has been cleaned or pickled.
VarItems = tuple[tuple[str, object], ...]
# One frame of a traceback, in Twisted's layout:
# (function name, file name, line number, locals, globals).
Frame = tuple[str, str, int, VarItems, VarItems]
# Spelled out here because inside Failure the name ``type`` is an attribute.
ExceptionType = type[BaseException]
# What check and trap accept: an exception class or its fully qualified name.
ErrorType = type[BaseException] | str

_DETAILS = ("brief", "default", "verbose")
_CAUSE_SEPARATOR = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT_SEPARATOR = "\nDuring handling of the above exception, another exception occurred:\n\n"
_NO_VARS: VarItems = ()
# Frames from files under this directory are torsion's own machinery; they are left
# out when a traceback is asked for with elideFrameworkCode=True.
_FRAMEWORK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

_counter = itertools.count(1)


class NoCurrentExceptionError(Exception):
    """``Failure()`` was called with no exception given and none being handled.

    Call ``Failure()`` inside an ``except`` block, or pass the exception:
    ``Failure(exc)``.
    """


def _qual(cls: type | str) -> str:
    """Return the fully qualified name of ``cls``, as ``check`` and tracebacks use it.

    A string (the type of a Failure that came from elsewhere) is already a name.
    """
    if isinstance(cls, str):
        return cls
    return f"{cls.__module__}.{cls.__qualname__}"


def _typeRepr(qualName: str) -> str:
    """Return what ``repr()`` of the class named ``qualName`` usually looks like."""
    return f"<class '{qualName.removeprefix('builtins.')}'>"


def _broken(obj: object, method: str) -> str:
    """Describe ``obj`` when its ``method`` raised instead of returning text."""
    return f"<{_qual(type(obj))} instance at 0x{id(obj):x} with broken {method}>"


def _safeStr(obj: object) -> str:
    """Return ``str(obj)``, or a description of the object if its ``__str__`` fails."""
    try:
        return str(obj)
    except Exception:
        return _broken(obj, "__str__")


def _safeRepr(obj: object) -> str:
    """Return ``repr(obj)``, or a description of the object if its ``__repr__`` fails."""
    try:
        return repr(obj)
    except Exception:
        return _broken(obj, "__repr__")


def _varItems(namespace: dict[str, Any]) -> VarItems:
    """Copy a frame's locals or globals, leaving out the noisy ``__builtins__``."""
    return tuple((k, v) for k, v in namespace.items() if k != "__builtins__")


def _framesOf(tb: TracebackType | None, captureVars: bool = False) -> list[Frame]:
    """Summarise a traceback as Twisted-style frame tuples, oldest call first."""
    frames: list[Frame] = []
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        if captureVars:
            localsItems = _varItems(frame.f_locals)
            globalsItems = _varItems(frame.f_globals)
        else:
            localsItems = globalsItems = _NO_VARS
        frames.append((code.co_name, code.co_filename, tb.tb_lineno, localsItems, globalsItems))
        tb = tb.tb_next
    return frames


def _reprFrames(frames: list[Frame]) -> list[Frame]:
    """Replace captured variable values by their reprs, so no object is pinned."""
    return [
        (
            name,
            fileName,
            lineNumber,
            tuple((k, _safeRepr(v)) for k, v in localsItems),
            tuple((k, _safeRepr(v)) for k, v in globalsItems),
        )
        for name, fileName, lineNumber, localsItems, globalsItems in frames
    ]


# An exception that led to the Failure's own (through __cause__ or __context__), kept
# as plain data: (qualified type name, message, notes, frames, separator). The
# separator is the sentence printed between it and the exception it led to.
ChainLink = tuple[str, str, tuple[str, ...], list[Frame], str]


def _notesOf(exc: BaseException) -> tuple[str, ...]:
    """Return the notes added to ``exc`` with ``add_note``, as strings."""
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list | tuple):
        return ()
    return tuple(_safeStr(note) for note in notes)


def _chainOf(value: BaseException) -> list[ChainLink]:
    """Summarise the exceptions that led to ``value``, oldest first.

    Follows ``__cause__``, else ``__context__`` unless suppressed, like Python's own
    traceback printing, and stops at a loop.
    """
    links: list[ChainLink] = []
    seen = {id(value)}
    exc = value
    while True:
        if exc.__cause__ is not None:
            antecedent, separator = exc.__cause__, _CAUSE_SEPARATOR
        elif exc.__context__ is not None and not exc.__suppress_context__:
            antecedent, separator = exc.__context__, _CONTEXT_SEPARATOR
        else:
            break
        if id(antecedent) in seen:
            break
        seen.add(id(antecedent))
        links.append(
            (
                _qual(type(antecedent)),
                _safeStr(antecedent),
                _notesOf(antecedent),
                _framesOf(antecedent.__traceback__),
                separator,
            )
        )
        exc = antecedent
    links.reverse()
    return links


def _chainedExceptions(value: BaseException) -> Iterator[BaseException]:
    """Yield ``value`` and every exception reachable through its cause and context."""
    seen: set[int] = set()
    pending = [value]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        pending.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)


def _writeFrames(
    write: Callable[[str], object],
    frames: list[Frame],
    detail: str,
    elideFrameworkCode: bool,
    varsAreReprs: bool,
) -> None:
    """Write ``frames`` in the layout of ``detail``."""
    showValue = str if varsAreReprs else _safeRepr
    elided = False
    for name, fileName, lineNumber, localsItems, globalsItems in frames:
        if elideFrameworkCode and fileName.startswith(_FRAMEWORK_DIR):
            if not elided:
                write("  [torsion framework frames elided]\n")
            elided = True
            continue
        elided = False
        if detail == "brief":
            write(f"{fileName}:{lineNumber}:{name}\n")
            continue
        write(f'  File "{fileName}", line {lineNumber}, in {name}\n')
        line = linecache.getline(fileName, lineNumber).strip()
        if line:
            write(f"    {line}\n")
        if detail == "verbose":
            for title, items in (
                ("    [ Locals ]\n", localsItems),
                ("    ( Globals )\n", globalsItems),
            ):
                if items:
                    write(title)
                    for key, value in items:
                        write(f"      {key} : {showValue(value)}\n")


def _writeException(
    write: Callable[[str], object],
    qualName: str,
    message: str,
    notes: tuple[str, ...],
    frames: list[Frame],
    detail: str,
    elideFrameworkCode: bool,
    varsAreReprs: bool,
) -> None:
    """Write one exception of a chain: header, frames and closing line."""
    if not frames:
        write(f"Traceback (failure with no frames): {_typeRepr(qualName)}: {message}\n")
    elif detail == "brief":
        write(f"Traceback: {_typeRepr(qualName)}: {message}\n")
    else:
        write("Traceback (most recent call last):\n")
    _writeFrames(write, frames, detail, elideFrameworkCode, varsAreReprs)
    if frames and detail != "brief":
        write(f"{qualName}: {message}\n")
    for note in notes:
        write(f"{note}\n")


class Failure:
    """An exception, with its traceback, captured as a value.

    ``Failure()`` inside an ``except`` block captures the exception being handled.
    ``Failure(exc)`` captures ``exc`` (with ``exc.__traceback__`` if it was raised);
    ``exc_type`` and ``exc_tb`` override the type and traceback. ``Failure(f)`` for a
    Failure ``f`` returns ``f`` itself. With ``captureVars=True`` the locals and
    globals of every frame are copied too, for the ``verbose`` traceback.

    Attributes:
        type: the exception's class.
        value: the exception itself.
        tb: the traceback, or ``None`` (none given, or cleaned).
        frames: the traceback as (funcName, fileName, lineNumber, localsItems,
            globalsItems) tuples, oldest call first.
        stack: always empty (kept for Twisted compatibility).
        count: a number unique to this Failure in this process.
        parents: the fully qualified names of the type's MRO, matched by ``check``.
        captureVars: whether frames hold captured variables as live objects (false
            again once cleaning or pickling has turned them into reprs).
        pickled: whether this Failure came out of ``pickle``.

    Raises:
        NoCurrentExceptionError: no exception was given and none is being handled.
        TypeError: the value given is not an exception.
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_chain",
        "_frames",
        "_parents",
        "captureVars",
        "count",
        "pickled",
        "tb",
        "type",
        "value",
    )

    type: ExceptionType
    value: BaseException
    tb: TracebackType | None
    count: int
    captureVars: bool
    pickled: bool
    _frames: list[Frame] | None
    _parents: list[str] | None
    _chain: list[ChainLink] | None

    def __new__(
        cls,
        exc_value: object = None,
        exc_type: ExceptionType | None = None,
        exc_tb: TracebackType | None = None,
        captureVars: bool = False,
    ) -> Failure:
        if isinstance(exc_value, Failure):
            return exc_value
        return object.__new__(cls)

    def __init__(
        self,
        exc_value: object = None,
        exc_type: ExceptionType | None = None,
        exc_tb: TracebackType | None = None,
        captureVars: bool = False,
    ) -> None:
        if exc_value is self:
            # __new__ handed back an existing Failure; it is already set up.
            return
        if exc_value is None:
            current = sys.exception()
            if current is None:
                raise NoCurrentExceptionError(
                    "Failure() needs an exception: call it inside an except block "
                    "or pass the exception, as in Failure(exc)"
                )
            exc_value = current
            if exc_type is None:
                exc_type = type(current)
            if exc_tb is None:
                exc_tb = current.__traceback__
        elif not isinstance(exc_value, BaseException):
            raise TypeError(
                f"Failure needs an exception instance, not {_safeRepr(exc_value)}; "
                "wrap the value in an exception first"
            )
        else:
            if exc_type is None:
                exc_type = type(exc_value)
            if exc_tb is None:
                exc_tb = exc_value.__traceback__
        self.type = exc_type
        self.value = exc_value
        self.tb = exc_tb
        self.count = next(_counter)
        self.captureVars = captureVars
        self.pickled = False
        self._parents = None
        self._chain = None
        # Frames are summarised lazily, except when their variables must be copied
        # now, before the code that owns them changes them.
        self._frames = _framesOf(exc_tb, True) if captureVars else None

    @property
    def frames(self) -> list[Frame]:
        """The traceback as Twisted-style frame tuples, oldest call first."""
        if self._frames is None:
            self._frames = _framesOf(self.tb)
        return self._frames

    @frames.setter
    def frames(self, frames: list[Frame]) -> None:
        self._frames = frames

    @property
    def parents(self) -> list[str]:
        """Fully qualified names of the exception type and its bases, most derived first."""
        if self._parents is None:
            self._parents = [_qual(cls) for cls in self.type.__mro__]
        return self._parents

    @parents.setter
    def parents(self, parents: list[str]) -> None:
        self._parents = parents

    @property
    def stack(self) -> list[Frame]:
        """Always empty: frames above the ``except`` block are not recorded."""
        return []

    def check(self, *errorTypes: ErrorType) -> ErrorType | None:
        """Return the first of ``errorTypes`` that this Failure's exception is, else None.

        Each error type is an exception class or the fully qualified name of one
        (``"builtins.KeyError"``, ``"myapp.errors.Busy"``); a name matches when the
        exception's class or one of its bases has it.

        Raises:
            TypeError: an error type is neither a class nor a string.
        """
        for errorType in errorTypes:
            if isinstance(errorType, str):
                if errorType in self.parents:
                    return errorType
            elif not isinstance(errorType, type):
                raise TypeError(
                    "check and trap take exception classes or their qualified names, "
                    f"not {_safeRepr(errorType)}"
                )
            elif isinstance(self.type, type):
                if issubclass(self.type, errorType):
                    return errorType
            elif _qual(errorType) in self.parents:
                # The type is a name (a Failure from elsewhere): match by name.
                return errorType
        return None

    def trap(self, *errorTypes: ErrorType) -> ErrorType:
        """Return the matching error type, or re-raise the exception if none matches.

        Use it first thing in an errback, to handle only the errors you know about:
        the others propagate on down the chain. Unlike some Twisted versions, the
        original exception is re-raised (with its traceback), not the Failure.

        Raises:
            BaseException: this Failure's exception, when no error type matches.
        """
        matched = self.check(*errorTypes)
        if matched is None:
            self.raiseException()
        return matched

    def getErrorMessage(self) -> str:
        """Return the exception's message, ``str(value)``, without raising."""
        return _safeStr(self.value)

    def raiseException(self) -> NoReturn:
        """Raise the exception again, with its original traceback (if not cleaned)."""
        raise self.value.with_traceback(self.tb)

    def throwExceptionIntoGenerator(
        self, g: Generator[Any, Any, Any] | Coroutine[Any, Any, Any]
    ) -> Any:
        """Throw the exception, with its traceback, into generator (or coroutine) ``g``.

        Returns:
            What ``g`` yields next.

        Raises:
            BaseException: whatever ``g`` raises, such as StopIteration when it returns.
        """
        return g.throw(self.value.with_traceback(self.tb))

    def getTracebackObject(self) -> TracebackType | None:
        """Return the traceback object, or ``None`` if there is none or it was cleaned."""
        return self.tb

    def cleanFailure(self) -> None:
        """Drop every reference to frames and tracebacks, keeping what formatting needs.

        After this, ``getTraceback`` still shows the same frames (from the saved
        summary), captured variables are kept as their reprs, and ``raiseException``
        still raises the value, without a traceback. The ``__traceback__`` of the
        value and of the exceptions chained to it is cleared as well.
        """
        value = self.value
        if self._chain is None:
            self._chain = _chainOf(value)
        frames = self.frames
        if self.captureVars:
            self._frames = _reprFrames(frames)
            self.captureVars = False
        self.tb = None
        if value.__cause__ is None and value.__context__ is None:
            value.__traceback__ = None
        else:
            for exc in _chainedExceptions(value):
                exc.__traceback__ = None

    def getTraceback(self, elideFrameworkCode: bool = False, detail: str = "default") -> str:
        """Return the traceback as text, chained exceptions first, like Python's.

        Args:
            elideFrameworkCode: replace runs of frames from torsion's own code by one line.
            detail: ``"brief"`` (one line per frame), ``"default"`` (like Python's own
                tracebacks) or ``"verbose"`` (with captured locals and globals).

        Raises:
            ValueError: ``detail`` is none of those.
        """
        out = StringIO()
        self.printTraceback(out, elideFrameworkCode, detail)
        return out.getvalue()

    def getBriefTraceback(self) -> str:
        """Return the traceback with one ``file:line:function`` line per frame."""
        return self.getTraceback(detail="brief")

    def printTraceback(
        self,
        file: IO[str] | None = None,
        elideFrameworkCode: bool = False,
        detail: str = "default",
    ) -> None:
        """Write the traceback to ``file`` (standard error by default).

        Args and errors are those of ``getTraceback``.
        """
        if detail not in _DETAILS:
            raise ValueError(f"detail must be 'brief', 'default' or 'verbose', not {detail!r}")
        write = (sys.stderr if file is None else file).write
        varsAreReprs = not self.captureVars
        if detail == "verbose":
            pickled = " (pickled) " if self.pickled else " "
            write(f"*--- Failure #{self.count}{pickled}---\n")
        chain = self._chain if self._chain is not None else _chainOf(self.value)
        for qualName, message, notes, frames, separator in chain:
            _writeException(
                write, qualName, message, notes, frames, detail, elideFrameworkCode, True
            )
            write(separator)
        _writeException(
            write,
            _qual(self.type),
            self.getErrorMessage(),
            _notesOf(self.value),
            self.frames,
            detail,
            elideFrameworkCode,
            varsAreReprs,
        )
        if detail == "verbose":
            write(f"*--- End of Failure #{self.count} ---\n")

    def printBriefTraceback(
        self, file: IO[str] | None = None, elideFrameworkCode: bool = False
    ) -> None:
        """Write the brief traceback to ``file`` (standard error by default)."""
        self.printTraceback(file, elideFrameworkCode, detail="brief")

    def printDetailedTraceback(
        self, file: IO[str] | None = None, elideFrameworkCode: bool = False
    ) -> None:
        """Write the verbose traceback to ``file`` (standard error by default)."""
        self.printTraceback(file, elideFrameworkCode, detail="verbose")

    def __repr__(self) -> str:
        return f"<{_qual(type(self))} {_qual(self.type)}: {self.getErrorMessage()}>"

    def __str__(self) -> str:
        return f"[Failure instance: {self.getBriefTraceback()}]"

    def __getstate__(self) -> dict[str, Any]:
        """Return this Failure as picklable data: no frames, variables as reprs.

        The value itself is pickled as it is, so it must be picklable.
        """
        chain = self._chain if self._chain is not None else _chainOf(self.value)
        frames = self.frames
        state = dict(getattr(self, "__dict__", {}))
        state.update(
            type=self.type,
            value=self.value,
            tb=None,
            count=self.count,
            captureVars=False,
            pickled=True,
            _frames=_reprFrames(frames) if self.captureVars else frames,
            _parents=self.parents,
            _chain=chain,
        )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
