"""Tests for torsion.spread.jelly's safety: the taster, hostile and fuzzed expressions.

The point proved here: an expression from the wire never imports a module, builds an
instance or returns a function that the SecurityOptions did not name, and a malformed
or hostile expression fails with InsecureJelly (MalformedJelly for bad structure),
never with another exception, a crash or an unbounded loop.
"""

from __future__ import annotations

import builtins
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torsion.spread import jelly
from torsion.spread.jelly import (
    MAX_DEPTH,
    DummySecurityOptions,
    InsecureJelly,
    MalformedJelly,
    SecurityOptions,
    Unjellyable,
    globalSecurity,
    setUnjellyableForClass,
    unjellyableRegistry,
)


class Allowed:
    pass


class Registered(Unjellyable):
    pass


@pytest.fixture(autouse=True)
def registered() -> Any:
    setUnjellyableForClass("test.Registered", Registered)
    yield
    unjellyableRegistry.pop(b"test.Registered", None)


JELLY_MODULES = {"torsion.spread.jelly", "torsion.spread._jellybase", "torsion.spread._unjellier"}


def _fromJelly() -> bool:
    """Whether the caller of the spied function is jelly's code."""
    return sys._getframe(2).f_globals.get("__name__") in JELLY_MODULES


@pytest.fixture
def noImports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every import jelly makes, and every call of os.system or Popen."""
    attempts: list[str] = []
    realImport = builtins.__import__
    realImportModule = importlib.import_module

    def spyImport(name: str, *args: Any, **kwargs: Any) -> Any:
        if _fromJelly():
            attempts.append(f"import {name}")
        return realImport(name, *args, **kwargs)

    def spyImportModule(name: str, package: str | None = None) -> Any:
        if _fromJelly():
            attempts.append(f"import_module {name}")
        return realImportModule(name, package)

    def spySystem(command: str) -> int:
        attempts.append(f"os.system {command}")
        return 0

    class SpyPopen:
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            attempts.append(f"Popen {args}")
            raise AssertionError("unjelly made a Popen")

    monkeypatch.setattr(importlib, "import_module", spyImportModule)
    monkeypatch.setattr(os, "system", spySystem)
    monkeypatch.setattr(subprocess, "Popen", SpyPopen)
    monkeypatch.setattr(builtins, "__import__", spyImport)
    return attempts


HOSTILE = [
    [b"os.system", [b"unicode", b"touch /tmp/pwned"]],
    [b"subprocess.Popen", [b"dictionary", [[b"unicode", b"args"], [b"unicode", b"sh"]]]],
    [b"class", b"subprocess.Popen"],
    [b"class", "subprocess.Popen"],
    [b"module", b"os"],
    [b"module", b"subprocess"],
    [b"function", b"os.system"],
    [b"function", b"builtins.eval"],
    [b"function", "posix.system"],
    [b"instance", [b"class", b"subprocess.Popen"], [b"dictionary"]],
    [b"method", b"system", [b"module", b"os"], [b"class", b"os.Popen"]],
    [b"list", [b"reference", 1, [b"os.system", [b"None"]]]],
    [b"tuple", 1, [b"dictionary", [1, [b"builtins.exec", [b"None"]]]]],
    [b"collections.OrderedDict", [b"None"]],
    [b"torsion.spread.jelly.DummySecurityOptions", [b"None"]],
    [b"instance", [b"unicode", b"x"], [b"None"]],
]


@pytest.mark.parametrize("sexp", HOSTILE, ids=[repr(s)[:50] for s in HOSTILE])
def test_hostileExpressionsImportAndCallNothing(sexp: Any, noImports: list[str]) -> None:
    tasters = [globalSecurity, SecurityOptions()]
    permissive = SecurityOptions()
    permissive.allowInstancesOf(Allowed)
    permissive.allowTypes("method")
    tasters.append(permissive)
    for taster in tasters:
        with pytest.raises(InsecureJelly):
            jelly.unjelly(sexp, taster)
    assert noImports == []


def test_theSpiesSeeWhatAPermissiveTasterDoes(noImports: list[str]) -> None:
    # The test above would fail if unjelly imported or instantiated: the spies work.
    with pytest.raises(AssertionError, match="made a Popen"):
        jelly.unjelly([b"subprocess.Popen", [b"None"]], DummySecurityOptions())
    jelly.unjelly([b"module", b"email.mime.audio"], DummySecurityOptions())
    assert noImports[0].startswith("Popen")
    assert "import_module email.mime.audio" in noImports


def test_refusalsNameWhatWasRefused() -> None:
    cases = {
        b"subprocess.Popen": [b"subprocess.Popen", [b"dictionary"]],
        b"os.system": [b"function", b"os.system"],
        b"'module'": [b"module", b"os"],
        b"'class'": [b"class", b"os.Popen"],
        b"frob": [b"frob", 1],
    }
    for name, sexp in cases.items():
        with pytest.raises(InsecureJelly) as caught:
            jelly.unjelly(sexp)
        assert name.decode() in str(caught.value)


def test_aNewSecurityOptionsAllowsScalarsOnly() -> None:
    bare = SecurityOptions()
    assert jelly.unjelly([b"unicode", b"x"], bare) == "x"
    assert jelly.unjelly([b"boolean", b"true"], bare) is True
    with pytest.raises(InsecureJelly, match="'list' is not allowed"):
        jelly.unjelly([b"list", 1], bare)
    bare.allowBasicTypes()
    assert jelly.unjelly([b"list", 1], bare) == [1]


def test_securityOptionsQueries() -> None:
    taster = SecurityOptions()
    assert not taster.isTypeAllowed("list") and taster.isTypeAllowed(b"unicode")
    taster.allowTypes("list")
    assert taster.isTypeAllowed("list") and taster.isTypeAllowed(b"list")
    taster.allowInstancesOf(Allowed)
    assert taster.isClassAllowed(Allowed) and not taster.isClassAllowed(Registered)
    assert not taster.isModuleAllowed(__name__)  # naming a class is not naming its module
    taster.allowModules(os, "os.path")
    assert taster.isModuleAllowed("os") and taster.isModuleAllowed(b"os.path")
    with pytest.raises(TypeError):
        taster.allowInstancesOf(Allowed())  # type: ignore[arg-type]


def test_allowModulesAllowsModulesAndOnlyThenFunctions(noImports: list[str]) -> None:
    taster = SecurityOptions()
    taster.allowModules("os")
    assert jelly.unjelly([b"module", b"os"], taster) is os
    with pytest.raises(InsecureJelly, match="'function' is not allowed"):
        jelly.unjelly([b"function", b"os.system"], taster)
    taster.allowTypes("function")
    function = jelly.unjelly([b"function", b"os.system"], taster)
    assert function is os.system  # returned, never called
    with pytest.raises(InsecureJelly, match="not allowed"):
        jelly.unjelly([b"function", b"subprocess.call"], taster)
    with pytest.raises(InsecureJelly, match="not a function"):
        jelly.unjelly([b"function", b"os.environ"], taster)
    assert noImports == []


def test_nothingIsImportedInAFreshInterpreter(tmp_path: Path) -> None:
    """A module the wire names is not imported: its import would leave a file behind."""
    marker = tmp_path / "imported"
    (tmp_path / "canarymod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "class Thing:\n    pass\n"
        "def boom():\n    open(" + repr(str(marker)) + " + '.called', 'w').close()\n"
    )
    program = textwrap.dedent(
        """
        import sys
        from torsion.spread import jelly
        expressions = [
            [b"canarymod.Thing", [b"dictionary"]],
            [b"class", b"canarymod.Thing"],
            [b"module", b"canarymod"],
            [b"function", b"canarymod.boom"],
            [b"instance", [b"class", b"canarymod.Thing"], [b"None"]],
            [b"list", [b"reference", 1, [b"canarymod.Thing", [b"None"]]]],
        ]
        tasters = [jelly.globalSecurity, jelly.SecurityOptions()]
        refused = 0
        for taster in tasters:
            for sexp in expressions:
                try:
                    jelly.unjelly(sexp, taster)
                except jelly.InsecureJelly:
                    refused += 1
        assert "canarymod" not in sys.modules
        print(refused)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "12"
    assert not marker.exists()

    # The same expressions with the permissive taster do import it: the test can fail.
    permissive = program.replace(
        "[jelly.globalSecurity, jelly.SecurityOptions()]", "[jelly.DummySecurityOptions()]"
    ).replace('assert "canarymod" not in sys.modules', "")
    done = subprocess.run(
        [sys.executable, "-c", permissive], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert marker.exists()


def test_dummySecurityOptionsIsPermissive() -> None:
    sexp = [f"{__name__}.Allowed".encode(), [b"dictionary", [[b"unicode", b"k"], 1]]]
    back = jelly.unjelly(sexp, DummySecurityOptions())
    assert type(back) is Allowed and back.k == 1
    with pytest.raises(InsecureJelly):
        jelly.unjelly(sexp)


def test_aDuckTypedTasterIsConsulted() -> None:
    asked: list[Any] = []

    class Taster:
        def isTypeAllowed(self, typeName: bytes) -> bool:
            asked.append(typeName)
            return typeName in (b"list", b"unicode", b"None")

        def isModuleAllowed(self, moduleName: str) -> bool:
            return moduleName == __name__

        def isClassAllowed(self, klass: type) -> bool:
            return klass is Allowed

    taster = Taster()
    assert jelly.unjelly([b"list", [b"unicode", b"a"]], taster) == ["a"]
    assert b"list" in asked
    with pytest.raises(InsecureJelly):
        jelly.unjelly([b"tuple"], taster)
    assert type(jelly.unjelly([f"{__name__}.Allowed".encode(), [b"None"]], taster)) is Allowed
    with pytest.raises(InsecureJelly):
        jelly.unjelly([f"{__name__}.Registered".encode(), [b"None"]], taster)


def test_registeredTagsNeedNoTaster() -> None:
    taster = SecurityOptions()
    taster.allowBasicTypes()
    back = jelly.unjelly([b"test.Registered", [b"dictionary"]], taster)
    assert type(back) is Registered


MALFORMED = [
    [],
    [b"None", 1],
    [b"boolean"],
    [b"boolean", b"maybe"],
    [b"unicode"],
    [b"unicode", 5],
    [b"unicode", b"a", b"b"],
    [b"dictionary", [1]],
    [b"dictionary", 5],
    [b"dictionary", [[b"list"], 1]],
    [b"set", [b"list"]],
    [b"frozenset", [b"dictionary"]],
    [b"dereference", 5],
    [b"dereference", [b"list"]],
    [b"dereference"],
    [b"reference", b"x", [b"list"]],
    [b"reference", True, [b"list"]],
    [b"reference", 1, [b"list"], 4],
    [b"list", [b"reference", 1, [b"list"]], [b"reference", 1, [b"list"]]],
    [b"list", [b"dereference", 1], [b"reference", 1, [b"list"]]],
    [b"reference", 1, [b"tuple", [b"dereference", 1]]],
    [b"reference", 1, [b"set", [b"dereference", 1]]],
    [b"reference", 1, [b"dictionary", [[b"dereference", 1], 1]]],
    [b"datetime", b"a b"],
    [b"datetime", b"2020 13 1 0 0 0 0"],
    [b"datetime", b"2020 1 1"],
    [b"date", 5],
    [b"date", b"1 " * 1000],
    [b"timedelta", b"1 2"],
    [b"timedelta", b"999999999999 0 0"],
    [b"time", b"25 0 0 0"],
    [b"decimal", b"x", 1],
    [b"decimal", 1, 1.5],
    [b"decimal", 10**5000, 0],
    [b"decimal", 1],
    [5],
    [[b"list"]],
    [b"list", {}],
    [b"list", object()],
    [b"test.Registered", 5],
    [b"test.Registered"],
]


@pytest.mark.parametrize("sexp", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformedExpressionsFailCleanly(sexp: Any) -> None:
    with pytest.raises(MalformedJelly) as caught:
        jelly.unjelly(sexp)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, InsecureJelly)
    assert str(caught.value)


def test_typeTagsAreBytes() -> None:
    with pytest.raises(MalformedJelly, match="must be bytes"):
        jelly.unjelly(["list", 1])


def nested(depth: int, tag: bytes = b"list") -> Any:
    value: Any = [tag]
    for _ in range(depth - 1):
        value = [tag, value] if tag != b"dictionary" else [tag, [1, value]]
    return value


@pytest.mark.parametrize("tag", [b"list", b"tuple", b"set", b"dictionary"])
def test_nestingIsBounded(tag: bytes) -> None:
    if tag == b"set":
        ok = [b"set", nested(MAX_DEPTH - 1, b"frozenset")]
        deep = [b"set", nested(MAX_DEPTH, b"frozenset")]
    else:
        ok, deep = nested(MAX_DEPTH, tag), nested(MAX_DEPTH + 1, tag)
    jelly.unjelly(ok)
    with pytest.raises(MalformedJelly, match=f"deeper than {MAX_DEPTH}"):
        jelly.unjelly(deep)


def test_veryDeepNestingFailsWithoutRecursionError() -> None:
    with pytest.raises(MalformedJelly, match="deeper than"):
        jelly.unjelly(nested(200_000))


def test_deepReferencesAndInstancesAreBounded() -> None:
    value: Any = [b"None"]
    for refId in range(1, MAX_DEPTH + 2):
        value = [b"reference", refId, [b"test.Registered", [b"dictionary", [1, value]]]]
    with pytest.raises(MalformedJelly, match="deeper than"):
        jelly.unjelly(value)


def test_theDepthLimitIsPerUnjellier() -> None:
    depths: list[int] = []

    def build(unjellier: Any, jellyList: Any) -> Any:
        depths.append(unjellier.maxDepth)
        unjellier.maxDepth = 3
        return unjellier.unjelly(jellyList[1])

    setUnjellyableForClass("shallow", build)
    try:
        with pytest.raises(MalformedJelly):
            jelly.unjelly([b"shallow", nested(5)])
        assert jelly.unjelly(nested(5)) == [[[[[]]]]]
    finally:
        unjellyableRegistry.pop(b"shallow")
    assert depths == [MAX_DEPTH]


def test_manyDereferencesDoNotMultiplyWork() -> None:
    # A "billion laughs": each level refers to the previous one twice. Unjelly shares,
    # so the work is linear in the expression's size.
    value: Any = [b"reference", 1, [b"list", 1]]
    for refId in range(2, 60):
        value = [b"reference", refId, [b"list", value, [b"dereference", refId - 1]]]
    back = jelly.unjelly(value)
    assert back[0] is back[1] and back[0][0] is back[0][1]


# -- fuzzing ----------------------------------------------------------------------

TAGS = [
    b"None", b"boolean", b"unicode", b"list", b"tuple", b"dictionary", b"set",
    b"frozenset", b"reference", b"dereference", b"persistent", b"unpersistable",
    b"datetime", b"date", b"time", b"timedelta", b"decimal", b"instance", b"class",
    b"module", b"function", b"method", b"test.Registered", b"os.system",
    f"{__name__}.Allowed".encode(), b"true", b"false", b"", b"x.y",
]  # fmt: skip

atoms = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=5),
    st.floats(allow_nan=True),
    st.binary(max_size=12),
    st.sampled_from(TAGS),
    st.sampled_from([b"2020 1 2", b"1 2 3 4", b"2020 1 2 3 4 5 6", b"1 2 3", b"\xff"]),
)
sexps = st.recursive(
    atoms,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(st.sampled_from(TAGS), st.lists(children, max_size=4)).map(
            lambda pair: [pair[0], *pair[1]]
        ),
    ),
    max_leaves=40,
)

FUZZ_TASTER = SecurityOptions()
FUZZ_TASTER.allowInstancesOf(Allowed)
FUZZ_TASTER.allowTypes("method")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sexps)
def test_randomExpressionsEitherUnjellyOrFailCleanly(sexp: Any) -> None:
    for taster in (globalSecurity, FUZZ_TASTER):
        try:
            jelly.unjelly(sexp, taster)
        except InsecureJelly as e:
            assert str(e)


hashables = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.binary(max_size=8),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(st.tuples(children, children), st.frozensets(children, max_size=3)),
    max_leaves=8,
)
values = st.recursive(
    hashables,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(hashables, children, max_size=4),
        st.sets(hashables, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(values)
def test_randomValuesRoundTrip(value: Any) -> None:
    sexp = jelly.jelly(value)
    assert jelly.unjelly(sexp) == value
    # The expression is made of ints, floats, bytes and lists only: what Banana carries.
    stack = [sexp]
    while stack:
        item = stack.pop()
        assert type(item) in (int, float, bytes, list)
        if type(item) is list:
            stack.extend(item)


class Guarded:
    __slots__ = ("__private", "value")

    def __init__(self) -> None:
        self.value = 1
        self.__private = 2

    @property
    def trap(self) -> int:
        raise AssertionError("a property ran")

    @trap.setter
    def trap(self, value: int) -> None:
        raise AssertionError("a property setter ran")

    def method(self) -> int:
        return self.value


def test_slotStateReachesOnlyDeclaredSlots() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(Guarded)
    back = jelly.unjelly(jelly.jelly(Guarded(), taster), taster)
    assert back.value == 1 and back._Guarded__private == 2
    tag = f"{__name__}.Guarded".encode()
    for name in (b"trap", b"__class__", b"other"):
        sexp = [tag, [b"tuple", [b"None"], [b"dictionary", [[b"unicode", name], 5]]]]
        with pytest.raises(MalformedJelly, match="not a slot"):
            jelly.unjelly(sexp, taster)
    with pytest.raises(MalformedJelly, match="no __dict__"):
        jelly.unjelly([tag, [b"dictionary", [[b"unicode", b"trap"], 5]]], taster)


def test_methodNamesNeverRunDescriptors() -> None:
    taster = SecurityOptions()
    taster.allowInstancesOf(Guarded)
    taster.allowTypes("method")
    owner = jelly.jelly(Guarded(), taster)
    klass = [b"class", f"{__name__}.Guarded".encode()]
    assert jelly.unjelly([b"method", b"method", owner, klass], taster)() == 1
    for name in (b"trap", b"__init_subclass__", b"value", b"__class__"):
        with pytest.raises(InsecureJelly, match="not a method"):
            jelly.unjelly([b"method", name, owner, klass], taster)


def test_badModuleNamesAreRefusedBeforeImport() -> None:
    for name in (b"..x", b"os..path", b"", b"1x"):
        with pytest.raises(MalformedJelly, match="not a module name"):
            jelly.unjelly([b"module", name], DummySecurityOptions())


@settings(max_examples=100, deadline=None)
@given(values)
def test_expressionsCrossBanana(value: Any) -> None:
    # What PB does with every argument: jelly, Banana bytes, back, unjelly.
    from torsion.spread import banana

    assert jelly.unjelly(banana.decode(banana.encode(jelly.jelly(value)))) == value


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
def test_randomBananaBytesFailCleanlyThroughJelly(data: bytes) -> None:
    from torsion.spread import banana

    try:
        sexp = banana.decode(data)
    except banana.BananaError:
        return
    try:
        jelly.unjelly(sexp)
    except InsecureJelly:
        pass
