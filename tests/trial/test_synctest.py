"""Tests for torsion.trial.unittest.SynchronousTestCase, run through unittest directly."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

from torsion.internet.defer import Deferred, fail, succeed
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure
from torsion.trial.unittest import SynchronousTestCase


class Asserts(SynchronousTestCase):
    """A concrete case whose test method is never run; used for its assertions."""

    def test_nothing(self) -> None:
        pass


@pytest.fixture
def case() -> Asserts:
    return Asserts("test_nothing")


def test_successResultOfReturnsResultAndLeavesItInChain(case: Asserts) -> None:
    d = succeed(7)
    assert case.successResultOf(d) == 7
    seen: list[object] = []
    d.addCallback(seen.append)
    assert seen == [7]


def test_successResultOfWithoutResultSaysSo(case: Asserts) -> None:
    d: Deferred[int] = Deferred()
    with pytest.raises(AssertionError, match=r"Success result expected on .*found no result"):
        case.successResultOf(d)


def test_successResultOfOnFailureShowsTraceback(case: Asserts) -> None:
    with pytest.raises(AssertionError, match=r"found failure result instead:\n(.|\n)*KeyError"):
        case.successResultOf(fail(KeyError("k")))


def test_failureResultOfReturnsExpectedFailure(case: Asserts) -> None:
    failure = case.failureResultOf(fail(ValueError("v")), ValueError)
    assert failure.check(ValueError)


def test_failureResultOfHandlesTheFailure(case: Asserts) -> None:
    d = fail(ValueError("v"))
    case.failureResultOf(d)
    seen: list[object] = []
    d.addBoth(seen.append)
    assert seen == [None]


def test_failureResultOfOnSuccessShowsResult(case: Asserts) -> None:
    with pytest.raises(AssertionError, match=r"found success result \('ok'\) instead"):
        case.failureResultOf(succeed("ok"))


def test_failureResultOfWithoutResultSaysSo(case: Asserts) -> None:
    with pytest.raises(AssertionError, match=r"Failure result expected on .*found no result"):
        case.failureResultOf(Deferred())


def test_failureResultOfWrongTypeNamesBothTypes(case: Asserts) -> None:
    with pytest.raises(
        AssertionError, match=r"\(builtins.KeyError\) expected .*found type builtins.ValueError"
    ):
        case.failureResultOf(fail(ValueError("v")), KeyError)


def test_assertNoResultPassesForUnfiredDeferred(case: Asserts) -> None:
    case.assertNoResult(Deferred())


def test_assertNoResultOnSuccessShowsResult(case: Asserts) -> None:
    with pytest.raises(AssertionError, match=r"No result expected on .*found 3 instead"):
        case.assertNoResult(succeed(3))


def test_assertNoResultOnFailureShowsTracebackAndHandlesIt(case: Asserts) -> None:
    d = fail(ZeroDivisionError())
    with pytest.raises(AssertionError, match=r"found failure result(.|\n)*ZeroDivisionError"):
        case.assertNoResult(d)
    seen: list[object] = []
    d.addBoth(seen.append)
    assert seen == [None]


def test_assertFailureGivesExceptionForExpectedType(case: Asserts) -> None:
    error = ValueError("x")
    assert case.successResultOf(case.assertFailure(fail(error), ValueError)) is error


def test_assertFailureFailsOnSuccess(case: Asserts) -> None:
    failure = case.failureResultOf(case.assertFailure(succeed(1), ValueError))
    assert failure.check(AssertionError)
    assert "did not catch an error, instead got 1" in str(failure.value)


def test_assertFailureFailsOnOtherType(case: Asserts) -> None:
    failure = case.failureResultOf(case.assertFailure(fail(KeyError()), ValueError))
    assert failure.check(AssertionError)
    assert "Expected: (builtins.ValueError)" in str(failure.value)


def test_assertRaisesReturnsTheException(case: Asserts) -> None:
    def boom(x: int) -> None:
        raise ValueError(x)

    raised = case.assertRaises(ValueError, boom, 4)
    assert raised.args == (4,)


def test_assertRaisesFailsWhenNothingRaised(case: Asserts) -> None:
    with pytest.raises(AssertionError, match=r"ValueError not raised \(5 returned\)"):
        case.assertRaises(ValueError, lambda: 5)


def test_assertRaisesFailsOnOtherException(case: Asserts) -> None:
    with pytest.raises(AssertionError, match="ValueError raised instead of KeyError"):
        case.failUnlessRaises(ValueError, lambda: {}[1])


def test_assertRaisesWorksAsContextManager(case: Asserts) -> None:
    with case.assertRaises(KeyError) as caught:
        raise KeyError("z")
    assert caught.exception.args == ("z",)


def test_assertApproximates(case: Asserts) -> None:
    case.assertApproximates(1.0, 1.05, 0.1)
    with pytest.raises(AssertionError, match="tolerance"):
        case.failUnlessApproximates(1.0, 1.5, 0.1)


def test_assertSubstringAndNotSubstring(case: Asserts) -> None:
    case.assertSubstring("ell", "hello")
    case.assertNotSubstring("xyz", "hello")
    with pytest.raises(AssertionError, match="not found"):
        case.failUnlessSubstring("xyz", "hello")
    with pytest.raises(AssertionError, match="found in"):
        case.failIfSubstring("ell", "hello")


def test_trialAliasesAssertAsTheirModernNames(case: Asserts) -> None:
    case.failUnlessEqual(1, 1)
    case.assertEquals(1, 1)
    case.failIfEqual(1, 2)
    case.failUnlessIdentical(None, None)
    case.assertNotIdentical([], [])
    case.failUnlessIn(1, [1])
    case.failIfIn(2, [1])
    case.failUnless(True)
    case.failIf(False)
    with pytest.raises(AssertionError):
        case.failUnlessEqual(1, 2)
    with pytest.raises(AssertionError):
        case.assertIdentical([], [])


def test_failRaisesFailureException(case: Asserts) -> None:
    with pytest.raises(AssertionError, match="because"):
        case.fail("because")


def emitDeprecation() -> int:
    warnings.warn("old thing", DeprecationWarning, stacklevel=1)
    return 3


def test_assertWarnsTrialStyleReturnsResult(case: Asserts) -> None:
    assert case.assertWarns(DeprecationWarning, "old thing", __file__, emitDeprecation) == 3


def test_assertWarnsTrialStyleChecksMessage(case: Asserts) -> None:
    with pytest.raises(AssertionError):
        case.assertWarns(DeprecationWarning, "other text", __file__, emitDeprecation)


def test_assertWarnsTrialStyleFailsWithoutWarning(case: Asserts) -> None:
    with pytest.raises(AssertionError, match="No DeprecationWarning emitted"):
        case.assertWarns(DeprecationWarning, "old thing", __file__, lambda: None)


def test_assertWarnsUnittestStyleStillWorks(case: Asserts) -> None:
    with case.assertWarns(DeprecationWarning):
        emitDeprecation()


def test_passingTestPasses(runCase: Any) -> None:
    class Passing(SynchronousTestCase):
        def test_ok(self) -> None:
            self.assertEqual(1, 1)

    run = runCase(Passing("test_ok"))
    assert run.result.wasSuccessful() and run.result.testsRun == 1


def test_loggedErrorFailsTheTest(runCase: Any) -> None:
    class Logs(SynchronousTestCase):
        def test_logs(self) -> None:
            globalLogPublisher({"log_failure": Failure(RuntimeError("oops"))})

    run = runCase(Logs("test_logs"))
    assert not run.result.wasSuccessful()
    assert "1 error(s) logged during the test and not flushed" in run.text
    assert "RuntimeError" in run.text and "oops" in run.text


def test_flushedLoggedErrorDoesNotFailTheTest(runCase: Any) -> None:
    class Flushes(SynchronousTestCase):
        def test_logs(self) -> None:
            globalLogPublisher({"log_failure": Failure(RuntimeError("oops"))})
            self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    assert runCase(Flushes("test_logs")).result.wasSuccessful()


def test_flushLoggedErrorsKeepsOtherTypes(runCase: Any) -> None:
    class FlushesOne(SynchronousTestCase):
        def test_logs(self) -> None:
            globalLogPublisher({"log_failure": Failure(RuntimeError("a"))})
            globalLogPublisher({"log_failure": Failure(KeyError("b"))})
            self.flushLoggedErrors(KeyError)

    text = runCase(FlushesOne("test_logs")).text
    assert "RuntimeError" in text and "KeyError" not in text


def test_eventsWithoutFailureAreIgnoredAndObserverRemoved(runCase: Any) -> None:
    seenObservers: list[object] = []

    class Quiet(SynchronousTestCase):
        def test_logs(self) -> None:
            globalLogPublisher({"log_format": "just talk"})
            seenObservers.append(self._observer)

    assert runCase(Quiet("test_logs")).result.wasSuccessful()
    # Logged after the test: must not reach the finished test's observer.
    globalLogPublisher({"log_failure": Failure(RuntimeError("after"))})
    assert seenObservers and seenObservers[0] is not None


def test_flushWarningsReturnsAndRemovesWarnings(runCase: Any) -> None:
    flushed: list[list[dict[str, object]]] = []

    class Warns(SynchronousTestCase):
        def test_warns(self) -> None:
            emitDeprecation()
            flushed.append(self.flushWarnings())
            flushed.append(self.flushWarnings())

    assert runCase(Warns("test_warns")).result.wasSuccessful()
    assert [w["message"] for w in flushed[0]] == ["old thing"]
    assert flushed[0][0]["category"] is DeprecationWarning
    assert flushed[1] == []


def test_flushWarningsFiltersByOffendingFunction(runCase: Any) -> None:
    flushed: list[list[dict[str, object]]] = []

    class Warns(SynchronousTestCase):
        def test_warns(self) -> None:
            emitDeprecation()
            flushed.append(self.flushWarnings([Asserts.test_nothing]))
            flushed.append(self.flushWarnings([emitDeprecation]))

    runCase(Warns("test_warns"))
    assert flushed[0] == []
    assert len(flushed[1]) == 1


def test_unflushedWarningsAreReemittedAfterTheTest(runCase: Any) -> None:
    class Warns(SynchronousTestCase):
        def test_warns(self) -> None:
            emitDeprecation()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runCase(Warns("test_warns"))
    assert [str(w.message) for w in caught] == ["old thing"]


class Target:
    value = "original"


def test_patchIsUndoneAfterTheTest(runCase: Any) -> None:
    during: list[str] = []

    class Patches(SynchronousTestCase):
        def test_patch(self) -> None:
            self.patch(Target, "value", "patched")
            during.append(Target.value)

    runCase(Patches("test_patch"))
    assert during == ["patched"]
    assert Target.value == "original"


def test_patchOfMissingAttributeRemovesItAfterwards(runCase: Any) -> None:
    class Patches(SynchronousTestCase):
        def test_patch(self) -> None:
            self.patch(Target, "extra", 1)

    runCase(Patches("test_patch"))
    assert not hasattr(Target, "extra")


def test_patchRestoreUndoesEarly(case: Asserts) -> None:
    patched = case.patch(Target, "value", "patched")
    patched.restore()
    assert Target.value == "original"
    case.doCleanups()
    assert Target.value == "original"


def test_mktempGivesUniqueUncreatedPathsAndRemovesDirectory(runCase: Any) -> None:
    paths: list[str] = []

    class Temps(SynchronousTestCase):
        def test_temp(self) -> None:
            paths.extend([self.mktemp(), self.mktemp()])
            assert not os.path.exists(paths[0])
            assert os.path.isdir(os.path.dirname(paths[0]))
            with open(paths[0], "w") as f:
                f.write("x")

    assert runCase(Temps("test_temp")).result.wasSuccessful()
    assert paths[0] != paths[1]
    assert os.path.dirname(paths[0]) == os.path.dirname(paths[1])
    assert not os.path.exists(os.path.dirname(paths[0]))


def test_skipAttributeOnClassSkipsWithoutSetUp(runCase: Any) -> None:
    calls: list[str] = []

    class Skipped(SynchronousTestCase):
        skip = "not today"

        def setUp(self) -> None:
            calls.append("setUp")

        def test_x(self) -> None:
            calls.append("test")

    run = runCase(Skipped("test_x"))
    assert [reason for _, reason in run.result.skipped] == ["not today"]
    assert calls == []


def test_skipAttributeOnMethodSkipsOnlyThatMethod(runCase: Any) -> None:
    class Some(SynchronousTestCase):
        def test_skipped(self) -> None:
            pass

        test_skipped.skip = "broken"  # type: ignore[attr-defined]

        def test_run(self) -> None:
            pass

    assert len(runCase(Some("test_skipped")).result.skipped) == 1
    assert runCase(Some("test_run")).result.skipped == []


def test_todoTestThatFailsIsExpectedFailure(runCase: Any) -> None:
    class Todo(SynchronousTestCase):
        todo = "not written yet"

        def test_x(self) -> None:
            self.fail("no")

    run = runCase(Todo("test_x"))
    assert len(run.result.expectedFailures) == 1 and run.result.wasSuccessful()


def test_todoTestThatPassesIsUnexpectedSuccess(runCase: Any) -> None:
    class Todo(SynchronousTestCase):
        def test_x(self) -> None:
            pass

        test_x.todo = "should fail"  # type: ignore[attr-defined]

    run = runCase(Todo("test_x"))
    assert len(run.result.unexpectedSuccesses) == 1
