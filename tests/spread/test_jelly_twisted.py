"""torsion.spread.jelly against Twisted's own jelly, run as a black box in its venv.

For a table of values (every basic type, shared and cyclic structures, instances)
Twisted's jelly and ours write the same s-expressions; each side unjellies the
other's and jellies the result back to the same expression. Skipped, with the reason,
where no interpreter with Twisted is found ($TORSION_TWISTED_PYTHON, else
bench/.venv-twisted/bin/python under the repository root).
"""

from __future__ import annotations

import pickle
import subprocess
from typing import Any

import pytest

from tests.spread.peers import NO_TWISTED, twistedPython
from torsion.spread import jelly

# Run in both interpreters: the values of the table, built the same way on each side.
VALUES = """
import datetime, decimal


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = 1
        self.b = [2]


class WithState:
    def __init__(self):
        self.hidden = 1

    def __getstate__(self):
        return {"shown": 2}

    def __setstate__(self, state):
        self.__dict__.update(state)


def values():
    shared = {"x": 1}
    cyclic = [1]
    cyclic.append(cyclic)
    selfDict = {}
    selfDict["me"] = selfDict
    inner = []
    tupleCycle = (inner,)
    inner.append(tupleCycle)
    a, b = [1], [2]
    point = Point(1, "two")
    selfPoint = Point(3, 4)
    selfPoint.me = selfPoint
    selfPoint.ring = [selfPoint, (selfPoint,)]
    pair = (1, 2)
    return [
        None, True, False, 0, 1, -1, 255, 2**31, -2**63, 2**100, -2**100,
        1.5, -0.0, 1e300, float("inf"), float("-inf"),
        b"", b"bytes\\x00\\xff", "", "text", "h\\xe9llo \\u2603 \\U0001f600",
        [], [1, [2, [3, []]]], (), (1, ("a", None)), {}, {"a": 1, 2: "b", (1, 2): [3]},
        {1, 2, 3}, set(), frozenset({4, 5}), frozenset(),
        datetime.datetime(2026, 12, 2, 1, 2, 3, 456789), datetime.date(1999, 12, 31),
        datetime.time(23, 59, 59, 999999), datetime.timedelta(-3, 5, 7),
        decimal.Decimal("1.25"), decimal.Decimal("-0.001"), decimal.Decimal("100"),
        decimal.Decimal("1.000"), decimal.Decimal("1E+5"), decimal.Decimal("-0"),
        [shared, shared], cyclic, selfDict, tupleCycle, [a, b, b, a], [pair, pair, {pair: 1}],
        point, [point, point], selfPoint, Slotted(), WithState(), Point,
        {"k": [shared, (shared,)], "n": shared},
    ]
"""

CHILD = (
    VALUES
    + """
import pickle, sys
from twisted.spread import jelly
ours = pickle.load(sys.stdin.buffer)
theirs = [jelly.jelly(value) for value in values()]
strict = [jelly.jelly(value, jelly.globalSecurity) for value in values()]
rejellied = [jelly.jelly(jelly.unjelly(sexp)) for sexp in ours]
pickle.dump((theirs, strict, rejellied), sys.stdout.buffer)
"""
)


def ourValues() -> tuple[list[Any], dict[str, Any]]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(VALUES, namespace)
    return namespace["values"](), namespace


@pytest.fixture(scope="module")
def twistedRun() -> tuple[list[Any], list[Any], list[Any], list[Any], Any]:
    python = twistedPython()
    if python is None:
        pytest.skip(NO_TWISTED)
    values, namespace = ourValues()
    ours = [jelly.jelly(value, jelly.DummySecurityOptions()) for value in values]
    done = subprocess.run(
        [python, "-c", CHILD], input=pickle.dumps(ours), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    theirs, strict, rejellied = pickle.loads(done.stdout)
    taster = jelly.SecurityOptions()
    taster.allowInstancesOf(namespace["Point"], namespace["Slotted"], namespace["WithState"])
    return ours, theirs, strict, rejellied, taster


def test_theSameExpressionsAsTwisted(twistedRun: Any) -> None:
    ours, theirs, _, _, _ = twistedRun
    assert len(ours) == len(theirs)
    for mine, twisted in zip(ours, theirs, strict=True):
        assert repr(mine) == repr(twisted)


def test_theSameRefusalsAsTwistedWithGlobalSecurity(twistedRun: Any) -> None:
    _, _, strict, _, _ = twistedRun
    values, _ = ourValues()
    ours = [jelly.jelly(value, jelly.globalSecurity) for value in values]
    for index, (mine, twisted) in enumerate(zip(ours, strict, strict=True)):
        if values[index] is values[-2]:  # a class: Twisted sends it, we refuse it
            assert mine[0] == b"unpersistable" and twisted[0] == b"class"
            continue
        assert repr(mine) == repr(twisted)


def test_twistedReadsOurExpressions(twistedRun: Any) -> None:
    ours, _, _, rejellied, _ = twistedRun
    values, namespace = ourValues()
    for value, mine, back in zip(values, ours, rejellied, strict=True):
        if type(value) is namespace["Slotted"]:
            # Twisted cannot unjelly the state of a class with __slots__ (its own
            # expression for it): it loses the state. We read it (see below).
            assert back == [b"__main__.Slotted", [b"None"]]
            continue
        assert repr(back) == repr(mine)


def test_weReadTwistedsExpressions(twistedRun: Any) -> None:
    _, theirs, _, _, taster = twistedRun
    for twisted in theirs:
        value = jelly.unjelly(twisted, taster)
        assert repr(jelly.jelly(value, jelly.DummySecurityOptions())) == repr(twisted)
