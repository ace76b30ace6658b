"""SynchronousTestCase: trial's assertions and test hygiene on a unittest.TestCase.

Re-exported by torsion.trial.unittest, which is where users import it from. Being a
real ``unittest.TestCase`` lets pytest and ``python -m unittest`` both run it; the
trial behaviours (logged-error checking, captured warnings, ``skip``/``todo``
attributes, ``patch``, ``mktemp``) hook into unittest's per-test steps.
Tests: tests/trial/test_synctest.py and tests/trial/test_plugin.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    from torsion.internet.defer import Deferred
    from torsion.python.failure import Failure

_T = TypeVar("_T")
_E = TypeVar("_E", bound=BaseException)
_MISSING = object()


class _Patch:
    """An attribute replaced by ``SynchronousTestCase.patch``; ``restore`` undoes it early."""

    __slots__ = ("_attribute", "_obj", "_original")

    def __init__(self, obj: object, attribute: str, original: object) -> None:
        self._obj = obj
        self._attribute = attribute
        self._original = original

    def restore(self) -> None:
        """Put the original value back (or remove the attribute if there was none)."""
        if self._obj is None:
            return
        if self._original is _MISSING:
            delattr(self._obj, self._attribute)
        else:
            setattr(self._obj, self._attribute, self._original)
        self._obj = None


def _peekResult(deferred: Deferred[Any]) -> list[object]:
    """The Deferred's current result in a one-item list, or an empty list if none yet."""
    seen: list[object] = []

    def look(result: object) -> object:
        seen.append(result)
        return result

    deferred.addBoth(look)
    return seen


def _consumeFailure(deferred: Deferred[Any]) -> None:
    """Handle the Deferred's failure so it is not logged as unhandled later."""
    deferred.addErrback(lambda failure: None)


class SynchronousTestCase(unittest.TestCase):
    """A test case with Twisted trial's assertions, for tests that need no reactor.

    Beyond ``unittest.TestCase``:

    - a test fails if it logged an error (an event with ``log_failure`` published to
      ``torsion.logger.globalLogPublisher``) that it did not ``flushLoggedErrors``;
    - warnings emitted during the test are captured for ``flushWarnings`` and the
      ones not flushed are re-emitted when the test ends;
    - a ``skip`` attribute (a reason string) on the class or method skips the test,
      and a ``todo`` attribute marks it as expected to fail;
    - ``successResultOf``, ``failureResultOf`` and ``assertNoResult`` inspect a
      Deferred without a reactor.
    """

    failureException = AssertionError

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self._loggedErrors: list[Failure] = []
        self._observer: Callable[[dict[str, Any]], None] | None = None
        self._capturedWarnings: list[warnings.WarningMessage] = []
        self._tempDir: str | None = None
        self._tempCount = 0

    # -- lifecycle -----------------------------------------------------------------

    def _getTestAttribute(self, name: str) -> object:
        method = getattr(self, self._testMethodName, None)
        value = getattr(method, name, None)
        return value if value is not None else getattr(self, name, None)

    def run(self, result: Any = None) -> Any:
        """Run the test, honouring ``todo`` as unittest's expected failure."""
        if self._getTestAttribute("todo") is not None:
            self.__unittest_expecting_failure__ = True
        return super().run(result)

    def _callSetUp(self) -> None:
        skip = self._getTestAttribute("skip")
        if skip is not None:
            raise unittest.SkipTest(str(skip))
        # Cleanups run last-in first-out, so these checks run after the user's own.
        self.addCleanup(self._checkLoggedErrors)
        self._startCapturingWarnings()
        self._startObservingLog()
        self._setUp()

    def _setUp(self) -> None:
        self.setUp()

    def _startObservingLog(self) -> None:
        from torsion.logger import globalLogPublisher

        def observe(event: dict[str, Any]) -> None:
            failure = event.get("log_failure")
            if failure is not None:
                self._loggedErrors.append(failure)

        self._observer = observe
        globalLogPublisher.addObserver(observe)

    def _checkLoggedErrors(self) -> None:
        from torsion.logger import globalLogPublisher

        if self._observer is not None:
            globalLogPublisher.removeObserver(self._observer)
            self._observer = None
        errors, self._loggedErrors = self._loggedErrors, []
        if errors:
            details = "\n".join(failure.getTraceback() for failure in errors)
            self.fail(
                f"{len(errors)} error(s) logged during the test and not flushed"
                f" (call self.flushLoggedErrors(...) if they are expected):\n{details}"
            )

    def _startCapturingWarnings(self) -> None:
        catcher = warnings.catch_warnings(record=True)
        captured = catcher.__enter__()
        # Appended, so explicit filters (pytest's "error" ones included) still win;
        # everything else is recorded every time rather than once per location.
        warnings.simplefilter("always", append=True)
        self._capturedWarnings = captured if captured is not None else []

        def stop() -> None:
            catcher.__exit__(None, None, None)
            leftovers, self._capturedWarnings = self._capturedWarnings, []
            for w in leftovers:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

        self.addCleanup(stop)

    def flushLoggedErrors(self, *errorTypes: type[BaseException]) -> list[Failure]:
        """Remove and return the logged failures of the given types (all if none given).

        A test that expects its code to log an error calls this so the error does not
        fail the test.
        """
        if not errorTypes:
            flushed, self._loggedErrors = self._loggedErrors, []
            return flushed
        flushed = [f for f in self._loggedErrors if f.check(*errorTypes)]
        self._loggedErrors = [f for f in self._loggedErrors if not f.check(*errorTypes)]
        return flushed

    def flushWarnings(
        self, offendingFunctions: Iterable[Callable[..., object]] | None = None
    ) -> list[dict[str, object]]:
        """Remove and return the warnings emitted so far during this test.

        Each warning is a dict with ``message``, ``category``, ``filename`` and
        ``lineno``. With ``offendingFunctions``, only warnings whose location lies in
        one of those functions' source are flushed.
        """
        keep: list[warnings.WarningMessage] = []
        flushed: list[dict[str, object]] = []
        spans = None
        if offendingFunctions is not None:
            spans = [_sourceSpan(function) for function in offendingFunctions]
        for w in self._capturedWarnings:
            if spans is not None and not any(
                os.path.normcase(w.filename) == filename and first <= w.lineno <= last
                for filename, first, last in spans
            ):
                keep.append(w)
                continue
            flushed.append(
                {
                    "message": str(w.message),
                    "category": w.category,
                    "filename": w.filename,
                    "lineno": w.lineno,
                }
            )
        self._capturedWarnings[:] = keep
        return flushed

    def patch(self, obj: object, attribute: str, value: object) -> _Patch:
        """Set ``obj.attribute = value`` for the rest of this test; undone afterwards.

        Returns an object whose ``restore()`` undoes the patch earlier.
        """
        patched = _Patch(obj, attribute, getattr(obj, attribute, _MISSING))
        setattr(obj, attribute, value)
        self.addCleanup(patched.restore)
        return patched

    def mktemp(self) -> str:
        """A new unique path, not yet created, in a directory private to this test.

        The directory is removed when the test ends.
        """
        if self._tempDir is None:
            prefix = self.id().rsplit(".", 2)[-1][:60] + "-"
            self._tempDir = tempfile.mkdtemp(prefix=prefix)
            self.addCleanup(shutil.rmtree, self._tempDir, True)
        self._tempCount += 1
        return os.path.join(self._tempDir, f"temp{self._tempCount}")

    # -- Deferred inspection ------------------------------------------------------

    def successResultOf(self, deferred: Deferred[_T]) -> _T:
        """Return the result the Deferred already has; fail if it has none or failed."""
        from torsion.python.failure import Failure

        seen = _peekResult(deferred)
        if not seen:
            self.fail(f"Success result expected on {deferred!r}, found no result instead")
        result = seen[0]
        if isinstance(result, Failure):
            _consumeFailure(deferred)
            self.fail(
                f"Success result expected on {deferred!r}, found failure result instead:\n"
                f"{result.getTraceback()}"
            )
        return result  # type: ignore[return-value]

    def failureResultOf(
        self, deferred: Deferred[Any], *expectedTypes: type[BaseException]
    ) -> Failure:
        """Return (and handle) the Failure the Deferred already has.

        Fails if the Deferred has no result, succeeded, or failed with a type not in
        ``expectedTypes`` (any type is accepted when none are given).
        """
        from torsion.python.failure import Failure

        seen = _peekResult(deferred)
        if not seen:
            self.fail(f"Failure result expected on {deferred!r}, found no result instead")
        result = seen[0]
        if not isinstance(result, Failure):
            self.fail(
                f"Failure result expected on {deferred!r}, found success result"
                f" ({result!r}) instead"
            )
        _consumeFailure(deferred)
        if expectedTypes and not result.check(*expectedTypes):
            names = ", ".join(_qualName(t) for t in expectedTypes)
            self.fail(
                f"Failure of type ({names}) expected on {deferred!r}, found type"
                f" {_qualName(result.type)} instead:\n{result.getTraceback()}"
            )
        return result

    def assertNoResult(self, deferred: Deferred[Any]) -> None:
        """Fail if the Deferred already has a result (a failure found is handled)."""
        from torsion.python.failure import Failure

        seen = _peekResult(deferred)
        if seen:
            result = seen[0]
            if isinstance(result, Failure):
                _consumeFailure(deferred)
                self.fail(
                    f"No result expected on {deferred!r}, found failure result instead:\n"
                    f"{result.getTraceback()}"
                )
            self.fail(f"No result expected on {deferred!r}, found {result!r} instead")

    def assertFailure(
        self, deferred: Deferred[Any], *expectedFailures: type[BaseException]
    ) -> Deferred[Any]:
        """Return a Deferred that succeeds with the exception if ``deferred`` fails
        with one of ``expectedFailures``, and fails the test otherwise."""

        def succeeded(result: object) -> NoReturn:
            raise self.failureException(f"did not catch an error, instead got {result!r}")

        def failed(failure: Failure) -> BaseException:
            if failure.check(*expectedFailures):
                return failure.value
            names = ", ".join(_qualName(t) for t in expectedFailures)
            raise self.failureException(f"Expected: ({names})\nGot:\n{failure.getTraceback()}")

        return deferred.addCallbacks(succeeded, failed)

    # -- assertions -------------------------------------------------------------

    def assertRaises(  # type: ignore[override]
        self,
        exception: type[_E] | tuple[type[_E], ...],
        f: Callable[..., object] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Assert that ``f(*args, **kwargs)`` raises ``exception`` and return it.

        Without ``f``, return a context manager, as unittest does.
        """
        if f is None:
            return super().assertRaises(exception, **kwargs)
        try:
            result = f(*args, **kwargs)
        except exception as raised:
            return raised
        except BaseException as other:
            self.fail(f"{_names(exception)} raised instead of {type(other).__name__}: {other}")
        self.fail(f"{_names(exception)} not raised ({result!r} returned)")

    failUnlessRaises = assertRaises  # type: ignore[assignment]

    def assertWarns(  # type: ignore[override]
        self, category: type[Warning], *args: Any, **kwargs: Any
    ) -> Any:
        """Trial's ``assertWarns(category, message, filename, f, *args, **kwargs)``.

        Calls ``f``, asserts it emitted a ``category`` warning with exactly that
        ``message`` attributed to ``filename``, and returns ``f``'s result. Called as
        unittest's ``assertWarns(category[, callable, ...])`` it behaves as unittest's.
        """
        if not args or not isinstance(args[0], str):
            return super().assertWarns(category, *args, **kwargs)
        message, filename, f, *rest = args
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = f(*rest, **kwargs)
        matching = [w for w in caught if issubclass(w.category, category)]
        if not matching:
            self.fail(f"No {category.__name__} emitted (saw {[str(w.message) for w in caught]})")
        first = matching[0]
        self.assertEqual(str(first.message), message)
        self.assertEqual(_sourceFile(first.filename), _sourceFile(filename))
        return result

    def assertApproximates(
        self, first: float, second: float, tolerance: float, msg: str | None = None
    ) -> float:
        """Assert that ``first`` and ``second`` differ by at most ``tolerance``."""
        if abs(first - second) > tolerance:
            self.fail(msg or f"{first!r} ~== {second!r} (tolerance {tolerance!r})")
        return first

    def assertSubstring(self, substring: str, astring: str, msg: str | None = None) -> None:
        """Assert that ``substring`` occurs in ``astring``."""
        if substring not in astring:
            self.fail(msg or f"{substring!r} not found in {astring!r}")

    def assertNotSubstring(self, substring: str, astring: str, msg: str | None = None) -> None:
        """Assert that ``substring`` does not occur in ``astring``."""
        if substring in astring:
            self.fail(msg or f"{substring!r} found in {astring!r}")

    def fail(self, msg: object = None) -> NoReturn:
        """Fail the test with ``msg``."""
        raise self.failureException(msg)

    def assertIdentical(self, first: object, second: object, msg: str | None = None) -> object:
        """Assert ``first is second``; returns ``first``."""
        self.assertIs(first, second, msg)
        return first

    def assertNotIdentical(self, first: object, second: object, msg: str | None = None) -> object:
        """Assert ``first is not second``; returns ``first``."""
        self.assertIsNot(first, second, msg)
        return first

    # Trial's historical names, kept so ported tests run unchanged.
    failUnlessEqual = assertEquals = unittest.TestCase.assertEqual
    failIfEqual = assertNotEquals = unittest.TestCase.assertNotEqual
    failUnless = assert_ = unittest.TestCase.assertTrue
    failIf = unittest.TestCase.assertFalse
    failUnlessIdentical = assertIdentical
    failIfIdentical = assertNotIdentical
    failUnlessIn = unittest.TestCase.assertIn
    failIfIn = unittest.TestCase.assertNotIn
    failUnlessIsInstance = unittest.TestCase.assertIsInstance
    failIfIsInstance = unittest.TestCase.assertNotIsInstance
    failUnlessApproximates = assertApproximates
    failUnlessAlmostEqual = unittest.TestCase.assertAlmostEqual
    failIfAlmostEqual = unittest.TestCase.assertNotAlmostEqual
    failUnlessSubstring = assertSubstring
    failIfSubstring = assertNotSubstring
    failUnlessFailure = assertFailure


def _qualName(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _names(exception: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    if isinstance(exception, tuple):
        return " or ".join(e.__name__ for e in exception)
    return exception.__name__


def _sourceFile(filename: str) -> str:
    if filename.endswith((".pyc", ".pyo")):
        filename = filename[:-1]
    return os.path.normcase(os.path.abspath(filename))


def _sourceSpan(function: Callable[..., object]) -> tuple[str, int, int]:
    import inspect

    lines, first = inspect.getsourcelines(function)
    return os.path.normcase(inspect.getsourcefile(function) or ""), first, first + len(lines) - 1
