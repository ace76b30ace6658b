"""Tests for torsion.python.failure: capturing, matching, formatting and cleaning."""

from __future__ import annotations

import gc
import io
import pickle
import sys
import traceback
import weakref
from collections.abc import Generator
from typing import Any

import pytest

from torsion.python import failure
from torsion.python.failure import Failure, NoCurrentExceptionError


class Boom(ValueError):
    """A picklable exception of our own, below ValueError."""


class Unrelated(Exception):
    """An exception that Boom is not."""


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Marker:
    """A local object whose lifetime the cleaning tests watch."""


def raiseBoom(message: str = "boom") -> None:
    localMarker = "marker-value"  # noqa: F841 (captured by captureVars tests)
    raise Boom(message)


def failureOf(f: Any, *args: Any, captureVars: bool = False) -> Failure:
    """Call ``f(*args)``, which must raise, and return the Failure made in the except."""
    try:
        f(*args)
    except BaseException:
        return Failure(captureVars=captureVars)
    raise AssertionError(f"{f!r} did not raise")


def chainedFailure() -> Failure:
    def outer() -> None:
        try:
            raiseBoom("inner")
        except Boom as e:
            raise KeyError("outer") from e

    return failureOf(outer)


def contextFailure() -> Failure:
    def outer() -> None:
        try:
            raiseBoom("first")
        except Boom:
            raise KeyError("second")  # noqa: B904 (implicit chaining is the point)

    return failureOf(outer)


# Construction


def test_failureInExceptBlockCapturesCurrentException() -> None:
    try:
        raiseBoom()
    except Boom as e:
        f = Failure()
        assert f.value is e
        assert f.tb is e.__traceback__
    assert f.type is Boom
    assert f.tb is not None


def test_failureWithNoCurrentExceptionRaises() -> None:
    with pytest.raises(NoCurrentExceptionError, match="except block"):
        Failure()


def test_failureOfNonExceptionRaisesTypeError() -> None:
    with pytest.raises(TypeError, match="exception instance"):
        Failure("just a string")


def test_givenRaisedExceptionUsesItsOwnTraceback() -> None:
    try:
        raiseBoom()
    except Boom as e:
        caught = e
    f = Failure(caught)
    assert f.tb is caught.__traceback__
    assert [frame[0] for frame in f.frames][-1] == "raiseBoom"


def test_givenUnraisedExceptionHasNoFrames() -> None:
    f = Failure(Boom("never raised"))
    assert f.tb is None
    assert f.frames == []
    assert f.type is Boom


def test_explicitTypeAndTracebackOverrideTheValues() -> None:
    try:
        raiseBoom()
    except Boom as e:
        tb = e.__traceback__
    f = Failure(Boom("other"), ValueError, tb)
    assert f.type is ValueError
    assert f.tb is tb


def test_failureOfFailureIsTheSameObject() -> None:
    f = Failure(Boom())
    assert Failure(f) is f


def test_failureOfFailureKeepsItsState() -> None:
    f = failureOf(raiseBoom)
    count, frames = f.count, f.frames
    assert Failure(f, KeyError) is f
    assert f.type is Boom
    assert f.count == count
    assert f.frames == frames


def test_failureOfSubclassInstanceIsTheSameObject() -> None:
    class MyFailure(Failure):
        pass

    f = MyFailure(Boom())
    assert Failure(f) is f
    assert type(f) is MyFailure


def test_eachFailureHasItsOwnCount() -> None:
    first, second = Failure(Boom()), Failure(Boom())
    assert second.count > first.count


def test_stackIsAlwaysEmpty() -> None:
    assert failureOf(raiseBoom).stack == []


def test_parentsAreQualifiedNamesOfTheMro() -> None:
    f = Failure(Boom())
    assert f.parents == [
        f"{__name__}.Boom",
        "builtins.ValueError",
        "builtins.Exception",
        "builtins.BaseException",
        "builtins.object",
    ]


# Frames


def test_framesListTheTracebackOldestCallFirst() -> None:
    f = failureOf(raiseBoom)
    names = [frame[0] for frame in f.frames]
    assert names == ["failureOf", "raiseBoom"]
    _, fileName, lineNumber, localsItems, globalsItems = f.frames[-1]
    assert fileName == __file__
    assert lineNumber == raiseBoom.__code__.co_firstlineno + 2
    assert (localsItems, globalsItems) == ((), ())


def test_captureVarsCopiesLocalsAndGlobalsWhenCreated() -> None:
    f = failureOf(raiseBoom, captureVars=True)
    localsItems = dict(f.frames[-1][3])
    globalsItems = dict(f.frames[-1][4])
    assert localsItems == {"message": "boom", "localMarker": "marker-value"}
    assert globalsItems["Boom"] is Boom
    assert "__builtins__" not in globalsItems


def test_framesCanBeReplaced() -> None:
    f = Failure(Boom())
    f.frames = [("fake", "fake.py", 3, (), ())]
    assert "fake.py:3:fake" in f.getBriefTraceback()


# check and trap


def test_checkReturnsTheMatchingClass() -> None:
    f = Failure(Boom())
    assert f.check(KeyError, ValueError, Boom) is ValueError


def test_checkReturnsNoneWhenNothingMatches() -> None:
    assert Failure(Boom()).check(KeyError, Unrelated) is None


def test_checkAcceptsQualifiedNames() -> None:
    f = Failure(Boom())
    assert f.check("builtins.KeyError", "builtins.ValueError") == "builtins.ValueError"
    assert f.check(f"{__name__}.Boom") == f"{__name__}.Boom"
    assert f.check("ValueError") is None


def test_checkMatchesClassesByNameWhenTheTypeIsRemote() -> None:
    f = Failure(Boom())
    f.parents = ["remote.Error", "builtins.Exception"]
    f.type = "remote.Error"  # type: ignore[assignment]
    assert f.check(Exception) is Exception
    assert f.check(ValueError) is None


def test_checkRejectsWhatIsNeitherClassNorName() -> None:
    with pytest.raises(TypeError, match="exception classes or their qualified names"):
        Failure(Boom()).check((KeyError, ValueError))  # type: ignore[arg-type]


def test_checkMatchesBaseExceptionSubclasses() -> None:
    f = failureOf(sys.exit, 3)
    assert f.check(SystemExit) is SystemExit
    assert f.check(Exception) is None


def test_trapReturnsTheMatchingType() -> None:
    assert Failure(Boom()).trap(KeyError, ValueError) is ValueError


def test_trapReraisesTheOriginalExceptionWithItsTraceback() -> None:
    f = failureOf(raiseBoom)
    with pytest.raises(Boom) as info:
        f.trap(KeyError, Unrelated)
    assert info.value is f.value
    names = [entry.name for entry in traceback.extract_tb(info.value.__traceback__)]
    assert names[-1] == "raiseBoom"


def test_trapAfterCleaningStillRaisesTheValue() -> None:
    f = failureOf(raiseBoom)
    f.cleanFailure()
    with pytest.raises(Boom) as info:
        f.trap(KeyError)
    assert info.value is f.value


# Messages and tracebacks


def test_getErrorMessageIsStrOfTheValue() -> None:
    assert Failure(Boom("it broke")).getErrorMessage() == "it broke"


def test_getErrorMessageSurvivesABrokenStr() -> None:
    message = Failure(BrokenStr()).getErrorMessage()
    assert "BrokenStr" in message
    assert "broken __str__" in message


def test_defaultTracebackShowsFramesSourceAndException() -> None:
    text = failureOf(raiseBoom).getTraceback()
    lineNumber = raiseBoom.__code__.co_firstlineno + 2
    assert text.startswith("Traceback (most recent call last):\n")
    assert f'  File "{__file__}", line {lineNumber}, in raiseBoom\n' in text
    assert "    raise Boom(message)\n" in text
    assert text.endswith(f"{__name__}.Boom: boom\n")


def test_briefTracebackHasOneLinePerFrame() -> None:
    f = failureOf(raiseBoom)
    lineNumber = raiseBoom.__code__.co_firstlineno + 2
    lines = f.getTraceback(detail="brief").splitlines()
    assert lines[0] == f"Traceback: <class '{__name__}.Boom'>: boom"
    assert lines[-1] == f"{__file__}:{lineNumber}:raiseBoom"
    assert len(lines) == 3
    assert f.getBriefTraceback() == f.getTraceback(detail="brief")


def test_verboseTracebackShowsCapturedVariables() -> None:
    f = failureOf(raiseBoom, captureVars=True)
    text = f.getTraceback(detail="verbose")
    assert text.startswith(f"*--- Failure #{f.count} ---\n")
    assert "    [ Locals ]\n" in text
    assert "      localMarker : 'marker-value'\n" in text
    assert "    ( Globals )\n" in text
    assert text.endswith(f"*--- End of Failure #{f.count} ---\n")


def test_verboseTracebackWithoutCapturedVariablesHasNoVariableSections() -> None:
    text = failureOf(raiseBoom).getTraceback(detail="verbose")
    assert "[ Locals ]" not in text
    assert "raise Boom(message)" in text


def test_tracebackOfFailureWithoutFramesSaysSo() -> None:
    text = Failure(Boom("lonely")).getTraceback()
    assert text == (f"Traceback (failure with no frames): <class '{__name__}.Boom'>: lonely\n")


@pytest.mark.parametrize("detail", ["short", "", "VERBOSE"])
def test_unknownDetailRaisesValueError(detail: str) -> None:
    f = Failure(Boom())
    with pytest.raises(ValueError, match="'brief', 'default' or 'verbose'"):
        f.getTraceback(detail=detail)
    with pytest.raises(ValueError, match="'brief', 'default' or 'verbose'"):
        f.printTraceback(io.StringIO(), detail=detail)


def test_tracebackShowsTheCauseFirstLikePython() -> None:
    text = chainedFailure().getTraceback()
    cause, effect = text.split(
        "\nThe above exception was the direct cause of the following exception:\n\n"
    )
    assert cause.endswith(f"{__name__}.Boom: inner\n")
    assert "in raiseBoom" in cause
    assert effect.startswith("Traceback (most recent call last):\n")
    assert effect.endswith("builtins.KeyError: 'outer'\n")


def test_tracebackShowsTheContextOfAnExceptionRaisedWhileHandling() -> None:
    text = contextFailure().getTraceback()
    assert "During handling of the above exception, another exception occurred:" in text
    assert text.index("Boom: first") < text.index("KeyError: 'second'")


def test_tracebackLeavesOutSuppressedContext() -> None:
    def outer() -> None:
        try:
            raiseBoom()
        except Boom:
            raise KeyError("clean") from None

    text = failureOf(outer).getTraceback()
    assert "Boom" not in text
    assert "During handling" not in text


def test_tracebackStopsAtAChainLoop() -> None:
    first, second = Boom("first"), KeyError("second")
    first.__context__ = second
    second.__context__ = first
    text = Failure(first).getTraceback()
    assert text.count("KeyError") == 1
    assert text.count("Boom") == 1


def test_tracebackShowsNotes() -> None:
    error = Boom("noted")
    error.add_note("while reading config.ini")
    assert Failure(error).getTraceback().endswith("while reading config.ini\n")


def test_elideFrameworkCodeCollapsesTorsionFrames() -> None:
    frameworkFile = failure.__file__
    f = Failure(Boom())
    f.frames = [
        ("user", "/app/user.py", 1, (), ()),
        ("_runCallbacks", frameworkFile, 10, (), ()),
        ("_other", frameworkFile, 20, (), ()),
        ("handler", "/app/handler.py", 2, (), ()),
    ]
    brief = f.getTraceback(elideFrameworkCode=True, detail="brief")
    assert "_runCallbacks" not in brief
    assert brief.count("[torsion framework frames elided]") == 1
    assert "/app/user.py:1:user\n" in brief
    assert "/app/handler.py:2:handler\n" in brief
    assert "_runCallbacks" in f.getTraceback(detail="brief")


def test_printTracebackWritesToTheGivenFile() -> None:
    f = failureOf(raiseBoom)
    out = io.StringIO()
    f.printTraceback(out)
    assert out.getvalue() == f.getTraceback()


def test_printTracebackDefaultsToStandardError(capsys: pytest.CaptureFixture[str]) -> None:
    f = failureOf(raiseBoom)
    f.printTraceback()
    assert capsys.readouterr().err == f.getTraceback()


def test_printBriefAndDetailedTracebacks() -> None:
    f = failureOf(raiseBoom, captureVars=True)
    brief, detailed = io.StringIO(), io.StringIO()
    f.printBriefTraceback(brief)
    f.printDetailedTraceback(detailed)
    assert brief.getvalue() == f.getTraceback(detail="brief")
    assert detailed.getvalue() == f.getTraceback(detail="verbose")


def test_reprNamesTheFailureTypeAndMessage() -> None:
    assert repr(Failure(Boom("bad"))) == (f"<torsion.python.failure.Failure {__name__}.Boom: bad>")


def test_strIsTheBriefTracebackInBrackets() -> None:
    f = failureOf(raiseBoom)
    assert str(f) == f"[Failure instance: {f.getBriefTraceback()}]"
    assert str(f).startswith(f"[Failure instance: Traceback: <class '{__name__}.Boom'>: boom\n")


# Raising again


def test_raiseExceptionRaisesTheValueWithItsOriginalTraceback() -> None:
    f = failureOf(raiseBoom)
    with pytest.raises(Boom) as info:
        f.raiseException()
    assert info.value is f.value
    names = [entry.name for entry in traceback.extract_tb(info.value.__traceback__)]
    assert names[-2:] == ["failureOf", "raiseBoom"]


def test_raiseExceptionUsesTheTracebackGivenToTheFailure() -> None:
    tb = failureOf(raiseBoom).tb
    f = Failure(Unrelated("elsewhere"), exc_tb=tb)
    with pytest.raises(Unrelated) as info:
        f.raiseException()
    names = [entry.name for entry in traceback.extract_tb(info.value.__traceback__)]
    assert names[-1] == "raiseBoom"


def test_throwExceptionIntoGeneratorUsesTheTracebackGivenToTheFailure() -> None:
    def gen() -> Generator[str, None, None]:
        yield "waiting"

    g = gen()
    next(g)
    f = Failure(Unrelated("elsewhere"), exc_tb=failureOf(raiseBoom).tb)
    with pytest.raises(Unrelated) as info:
        f.throwExceptionIntoGenerator(g)
    names = [entry.name for entry in traceback.extract_tb(info.value.__traceback__)]
    assert "raiseBoom" in names


def test_throwExceptionIntoGeneratorLetsTheGeneratorHandleIt() -> None:
    seen: list[BaseException] = []

    def gen() -> Generator[str, None, None]:
        try:
            yield "waiting"
        except Boom as e:
            seen.append(e)
            yield "handled"

    g = gen()
    next(g)
    f = failureOf(raiseBoom)
    assert f.throwExceptionIntoGenerator(g) == "handled"
    assert seen == [f.value]
    names = [entry.name for entry in traceback.extract_tb(seen[0].__traceback__)]
    assert "raiseBoom" in names


def test_throwExceptionIntoGeneratorPropagatesWhatTheGeneratorDoesNotHandle() -> None:
    def gen() -> Generator[str, None, None]:
        yield "waiting"

    g = gen()
    next(g)
    f = Failure(Boom())
    with pytest.raises(Boom) as info:
        f.throwExceptionIntoGenerator(g)
    assert info.value is f.value


def test_throwExceptionIntoCoroutineLetsItHandleIt() -> None:
    class Suspend:
        def __await__(self) -> Generator[str, None, None]:
            yield "suspended"

    async def waiter() -> str:
        try:
            await Suspend()
        except Boom as e:
            return f"handled {e}"
        return "not thrown"

    coroutine = waiter()
    assert coroutine.send(None) == "suspended"
    with pytest.raises(StopIteration) as info:
        Failure(Boom("late")).throwExceptionIntoGenerator(coroutine)
    assert info.value.value == "handled late"


def test_getTracebackObjectIsTheTraceback() -> None:
    f = failureOf(raiseBoom)
    assert f.getTracebackObject() is f.tb
    assert f.getTracebackObject() is not None


# Cleaning


def test_cleanFailureDropsTracebackReferences() -> None:
    f = chainedFailure()
    cause = f.value.__cause__
    assert cause is not None
    f.cleanFailure()
    assert f.tb is None
    assert f.getTracebackObject() is None
    assert f.value.__traceback__ is None
    assert cause.__traceback__ is None


def test_cleanFailureKeepsTheTracebackText() -> None:
    f = chainedFailure()
    before = [f.getTraceback(detail=detail) for detail in ("brief", "default", "verbose")]
    f.cleanFailure()
    after = [f.getTraceback(detail=detail) for detail in ("brief", "default", "verbose")]
    assert after == before


def test_cleanFailureTurnsCapturedVariablesIntoReprs() -> None:
    f = failureOf(raiseBoom, captureVars=True)
    before = f.getTraceback(detail="verbose")
    f.cleanFailure()
    localsItems = dict(f.frames[-1][3])
    assert localsItems["localMarker"] == "'marker-value'"
    assert all(isinstance(value, str) for _, value in f.frames[-1][4])
    assert f.getTraceback(detail="verbose") == before


def test_cleanFailureSurvivesABrokenRepr() -> None:
    def holdBroken(broken: BrokenRepr) -> None:
        raise Boom("holding")

    f = failureOf(holdBroken, BrokenRepr(), captureVars=True)
    f.cleanFailure()
    shown = dict(f.frames[-1][3])["broken"]
    assert isinstance(shown, str)
    assert "BrokenRepr instance at 0x" in shown
    assert "broken __repr__" in shown


def test_tracebackOfFailureFromElsewhereUsesTheTypeName() -> None:
    f = Failure(Boom("remote"))
    f.type = "remote.Error"  # type: ignore[assignment]
    assert f.getTraceback() == (
        "Traceback (failure with no frames): <class 'remote.Error'>: remote\n"
    )
    assert repr(f) == "<torsion.python.failure.Failure remote.Error: remote>"


def test_cleanFailureLetsFrameLocalsDie() -> None:
    def holdMarker(marker: Marker) -> None:
        raise Boom("holding")

    marker = Marker()
    ref = weakref.ref(marker)
    f = failureOf(holdMarker, marker)
    del marker
    gc.collect()
    assert ref() is not None, "the traceback should keep the frame's locals alive"
    f.cleanFailure()
    gc.collect()
    assert ref() is None


def test_cleanFailureLetsLocalsOfChainedFramesDie() -> None:
    def holdMarker(marker: Marker) -> None:
        raise Boom("holding")

    def outer(marker: Marker) -> None:
        try:
            holdMarker(marker)
        except Boom as e:
            raise KeyError("outer") from e

    marker = Marker()
    ref = weakref.ref(marker)
    f = failureOf(outer, marker)
    del marker
    f.cleanFailure()
    gc.collect()
    assert ref() is None


def test_cleanFailureTwiceIsHarmless() -> None:
    f = chainedFailure()
    f.cleanFailure()
    text = f.getTraceback()
    f.cleanFailure()
    assert f.getTraceback() == text


def test_raiseExceptionAfterCleaningRaisesTheValue() -> None:
    f = failureOf(raiseBoom)
    f.cleanFailure()
    with pytest.raises(Boom) as info:
        f.raiseException()
    assert info.value is f.value


# Pickling


def test_pickledFailureKeepsTypeValueAndTraceback() -> None:
    f = chainedFailure()
    text = f.getTraceback()
    copy = pickle.loads(pickle.dumps(f))
    assert copy is not f
    assert copy.type is KeyError
    assert copy.getErrorMessage() == "'outer'"
    assert copy.count == f.count
    assert copy.tb is None
    assert copy.getTraceback() == text
    assert copy.check("builtins.LookupError") == "builtins.LookupError"


def test_pickledFailureIsMarkedPickled() -> None:
    f = failureOf(raiseBoom)
    copy = pickle.loads(pickle.dumps(f))
    assert not f.pickled
    assert copy.pickled
    assert copy.getTraceback(detail="verbose").startswith(
        f"*--- Failure #{f.count} (pickled) ---\n"
    )


def test_picklingTurnsCapturedVariablesIntoReprs() -> None:
    f = failureOf(raiseBoom, captureVars=True)
    copy = pickle.loads(pickle.dumps(f))
    assert dict(copy.frames[-1][3])["localMarker"] == "'marker-value'"
    assert "      localMarker : 'marker-value'\n" in copy.getTraceback(detail="verbose")


def test_picklingKeepsExtraAttributes() -> None:
    f = Failure(Boom())
    f.remoteNote = "kept"  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(f))
    assert copy.remoteNote == "kept"


def test_picklingLeavesTheOriginalUsable() -> None:
    f = failureOf(raiseBoom)
    pickle.dumps(f)
    assert f.tb is not None
    with pytest.raises(Boom):
        f.raiseException()
