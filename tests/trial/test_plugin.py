"""Tests for torsion.trial.pytestplugin and for TestCase as pytest runs it.

Each test writes a small test module and runs an inner pytest session on it with the
``pytester`` fixture, then checks the outcomes that session reported. The inner
sessions run in subprocesses: in-process runs would share (and, through pytester's
sys.modules snapshot, half-forget) this process's global reactor.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

REACTOR_STEP = """
from torsion.internet.defer import Deferred
from torsion.trial._spin import getReactor

def later(value):
    d = Deferred()
    getReactor().callLater(0, d.callback, value)
    return d
"""


def test_deferredReturningFunctionIsWaitedFor(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        REACTOR_STEP
        + """
seen = []

def test_returnsDeferred():
    return later(1).addCallback(seen.append)

def test_sawResult():
    assert seen == [1]
"""
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=2)


def test_failingDeferredFailsWithItsTraceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        REACTOR_STEP
        + """
def explode(value):
    raise ValueError("exploded with " + repr(value))

def test_fails():
    return later(3).addCallback(explode)
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*raise ValueError*", "*ValueError: exploded with 3*"])


def test_asyncDefFunctionRuns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        REACTOR_STEP
        + """
async def test_awaits():
    assert await later("x") == "x"

async def test_awaitFails():
    await later(None)
    raise KeyError("after await")
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*KeyError: 'after await'*"])


def test_timeoutMarkerFailsHangingTest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest
from torsion.internet.defer import Deferred

@pytest.mark.torsion_timeout(0.05)
def test_hangs():
    return Deferred()
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_hangs did not finish within 0.05 seconds*"])


def test_badTimeoutMarkerIsAUsageError(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest
from torsion.internet.defer import succeed

@pytest.mark.torsion_timeout("soon")
def test_x():
    return succeed(None)
"""
    )
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*torsion_timeout takes one number of seconds*"])
    assert result.ret != 0


def test_markerIsRegistered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.torsion_timeout(5)
def test_x():
    pass
"""
    )
    pytester.runpytest_subprocess("--strict-markers").assert_outcomes(passed=1)


def test_plainFunctionReturningValueStillWarns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    return 5\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*PytestReturnNotNoneWarning*"])


def test_coroutineClaimedByAsyncioMarkerIsLeftAlone(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    asyncio: claimed elsewhere\n")
    pytester.makepyfile(
        """
import pytest

@pytest.mark.asyncio
async def test_x():
    pass
"""
    )
    result = pytester.runpytest_subprocess()
    # No asyncio plugin is installed here, so pytest's own refusal shows through.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_torsionClockFixtureIsAFreshClock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_clock(torsionClock):
    fired = []
    torsionClock.callLater(2, fired.append, True)
    torsionClock.advance(2)
    assert fired == [True]
    assert torsionClock.seconds() == 2
"""
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_testCaseFailingDeferredFails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        REACTOR_STEP
        + """
from torsion.trial.unittest import TestCase

class T(TestCase):
    def test_fails(self):
        return later(0).addCallback(lambda _: 1 / 0)

    async def test_passes(self):
        self.assertEqual(await later(2), 2)
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ZeroDivisionError*"])


def test_testCaseLoggedErrorFailsUnlessFlushed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure
from torsion.trial.unittest import SynchronousTestCase

def logError():
    globalLogPublisher({"log_failure": Failure(RuntimeError("logged"))})

class T(SynchronousTestCase):
    def test_unflushed(self):
        logError()

    def test_flushed(self):
        logError()
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED*test_unflushed*"])


def test_testCaseTimeoutFails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
from torsion.internet.defer import Deferred
from torsion.trial.unittest import TestCase

class T(TestCase):
    timeout = 0.05

    def test_hangs(self):
        return Deferred()
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*did not finish within*timeout = 0.05*"])


def test_skipAndTodoAttributes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
from torsion.trial.unittest import SynchronousTestCase

class Skipped(SynchronousTestCase):
    skip = "no network here"

    def test_x(self):
        raise AssertionError("should not run")

class Todo(SynchronousTestCase):
    def test_knownBroken(self):
        self.fail("not yet")
    test_knownBroken.todo = "fix later"

    def test_unexpectedlyPasses(self):
        pass
    test_unexpectedlyPasses.todo = "fix later"
"""
    )
    result = pytester.runpytest_subprocess("-rsx")
    result.assert_outcomes(skipped=1, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*no network here*"])


def test_patchIsUndoneBetweenTests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import os
from torsion.trial.unittest import SynchronousTestCase

class T(SynchronousTestCase):
    def test_a_patches(self):
        self.patch(os, "sep", "!")
        self.assertEqual(os.sep, "!")

    def test_b_seesOriginal(self):
        self.assertNotEqual(os.sep, "!")
"""
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=2)


def test_testCaseOnRealReactorWaitsAndReportsLeftoverDelayedCalls(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
from torsion.internet import reactor
from torsion.internet.defer import Deferred
from torsion.trial.unittest import TestCase

class T(TestCase):
    def test_waitsForReactor(self):
        d = Deferred()
        reactor.callLater(0.01, d.callback, None)
        return d

    def test_leavesCallBehind(self):
        reactor.callLater(100, lambda: None)

    def test_after(self):
        self.assertEqual([c for c in reactor.getDelayedCalls() if c.active()], [])
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*left 1 delayed call(s) in the reactor*"])
