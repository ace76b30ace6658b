"""The source form (.tas) and the abstract object tree: torsion.persisted.aot."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.persisted.graphs import (
    Factory,
    MyList,
    Node,
    Reduced,
    Slotted,
    assertSameGraph,
    cycles,
    plainData,
    seedLikeApplication,
)
from torsion.persisted import aot
from torsion.persisted.aot import (
    Class,
    Copyreg,
    Deref,
    FrozenSet,
    Function,
    Instance,
    InstanceMethod,
    Module,
    Ref,
    Set,
    jellyToAOT,
    jellyToSource,
    unjellyFromAOT,
    unjellyFromSource,
)
from torsion.persisted.error import FormatError, NotPersistableError


def test_sourceLooksLikeTheSeedListing() -> None:
    assert jellyToSource(seedLikeApplication()) == (
        "app = Ref(1, Instance('tests.persisted.graphs.Application',\n"
        "  name='echo',\n"
        "  services=[\n"
        "    Instance('tests.persisted.graphs.Server',\n"
        "      args=(\n"
        "        7,\n"
        "        Instance('tests.persisted.graphs.Factory',"
        " protocol=Class('tests.persisted.graphs.Node')),\n"
        "      ),\n"
        "      kwargs={},\n"
        "      parent=Deref(1),\n"
        "    ),\n"
        "  ],\n"
        "))\n"
    )


def test_sourceRebuildsTheApplication() -> None:
    app = unjellyFromSource(jellyToSource(seedLikeApplication()))
    (server,) = app.services
    assert server.parent is app
    assert server.args[0] == 7
    assert server.args[1].protocol is Node
    assert type(server.args[1]) is Factory


def test_aTwistedStyleListingLoads() -> None:
    # Written by hand in the seed's style: "app=", a positional state dict, odd spacing.
    text = (
        "app=Ref(2, Instance('tests.persisted.graphs.Application',{\n"
        "'name':'echo',\n"
        "  'services':[Instance('tests.persisted.graphs.Server',\n"
        "  args=(7,Instance('tests.persisted.graphs.Factory',numPorts=0,\n"
        "protocol=Class('tests.persisted.graphs.Node')),),\n"
        "  kwargs={}, parent=Deref(2),),],}))\n"
    )
    app = unjellyFromSource(text)
    assert app.services[0].parent is app
    assert app.services[0].args[1].numPorts == 0


def test_onlySharedObjectsGetReferences() -> None:
    shared = Node("shared")
    tree = jellyToAOT([shared, Node("alone"), shared])
    assert type(tree[0]) is Ref
    assert type(tree[1]) is Instance
    assert type(tree[2]) is Deref and tree[2].number == tree[0].number


def test_nodeKinds() -> None:
    node = Node("n")
    tree = jellyToAOT([node, node.method, Node, len, aot, {1, 2}, frozenset({3}), Reduced(1)])
    kinds = [type(item) for item in tree]
    assert kinds == [Ref, InstanceMethod, Class, Function, Module, Set, FrozenSet, Copyreg]


def test_stateThatIsNotKeywordsIsPositional() -> None:
    assert repr(Instance("m.C", {"a.b": 1})) == "Instance('m.C', {'a.b': 1})"
    assert repr(Instance("m.C", {"class": 1})) == "Instance('m.C', {'class': 1})"
    assert repr(Instance("m.C", a=1)) == "Instance('m.C', a=1)"
    assert repr(Instance("m.C")) == "Instance('m.C')"
    text = jellyToSource(Node("x", **{"not an identifier": 1}))
    assert "{'name': 'x', 'not an identifier': 1}" in text


def test_instanceStateMayBeNamedLikeTheParameters() -> None:
    node = Instance("m.C", className="x", stateObj=2)
    assert node.className == "m.C"
    assert node.state == {"className": "x", "stateObj": 2}


def test_aotTreeRoundTripsByItself() -> None:
    graph = cycles()
    assertSameGraph(graph, unjellyFromAOT(jellyToAOT(graph)))


def test_treeBuiltByHandRebuilds() -> None:
    tree = Ref(
        1,
        Instance(
            "tests.persisted.graphs.Node",
            name="me",
            me=Deref(1),
            items=Set([1, 2]),
            slotted=Instance("tests.persisted.graphs.Slotted", (None, {"a": 1})),
        ),
    )
    node = unjellyFromAOT(tree)
    assert node.me is node
    assert node.items == {1, 2}
    assert type(node.slotted) is Slotted and node.slotted.a == 1


def test_constructorsAreNotCalled(monkeypatch: pytest.MonkeyPatch) -> None:
    text = jellyToSource(Node("n"))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("__init__ was called")

    monkeypatch.setattr(Node, "__init__", refuse)
    assert unjellyFromSource(text).name == "n"


def test_subclassOfListKeepsItemsAndAttributes() -> None:
    mine = MyList([1, 2])
    mine.extra = "x"
    loaded = unjellyFromSource(jellyToSource(mine))
    assert type(loaded) is MyList and loaded == [1, 2] and loaded.extra == "x"


def test_fileArgumentsReadAndWrite() -> None:
    out = io.StringIO()
    text = jellyToSource({"a": 1}, out)
    assert out.getvalue() == text
    assert unjellyFromSource(io.StringIO(text)) == {"a": 1}
    assert unjellyFromSource(text.encode()) == {"a": 1}


def test_longLinesAreBroken() -> None:
    text = jellyToSource({f"key{i}": [Node(str(j)) for j in range(3)] for i in range(5)})
    assert max(map(len, text.splitlines())) <= 100
    text = jellyToSource(["x" * 1000, b"\xff" * 500])
    assert max(map(len, text.splitlines())) <= 100
    assert unjellyFromSource(text) == ["x" * 1000, b"\xff" * 500]


def test_setsAreWrittenInAStableOrder() -> None:
    assert jellyToSource({"b", "c", "a"}) == "app = Set(['a', 'b', 'c'])\n"


# -- what cannot be saved ----------------------------------------------------------------


def test_lambdaIsRefusedWithWhereItIs() -> None:
    app = seedLikeApplication()
    app.services[0].args[1].callback = lambda: None
    with pytest.raises(NotPersistableError) as caught:
        jellyToSource(app)
    message = str(caught.value)
    assert "lambda" in message
    assert "root.services[0].args[1].callback" in message.replace("['", ".").replace("']", "")


def test_unpicklableObjectIsRefused() -> None:
    import threading

    with pytest.raises(NotPersistableError, match="lock"):
        jellyToSource({"lock": threading.Lock()})


def test_tooDeepForTheSourceFormSaysSo() -> None:
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(NotPersistableError, match="nested"):
        jellyToSource(deep)


def test_deepestWritableSourceReadsBack() -> None:
    deep: list[Any] = []
    for _ in range(150):
        deep = [deep]
    assert unjellyFromSource(jellyToSource(deep)) == deep


# -- what cannot be loaded ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app = __import__('os').system('false')", r"line 1: only the node names"),
        ("app = __import__('os')", r"line 1: __import__\(\) is not part of"),
        ("import os\napp = 1", "line 1: the source form holds one assignment"),
        ("app = 1\nx = 2", "holds one assignment"),
        ("", "holds one assignment"),
        ("app = [1,\n  open('x')]", "line 2: open\\(\\) is not part of the source form"),
        ("app = Instance('m.C', *x)", r"\* and \*\* arguments"),
        ("app = {**x}", r"\*\* in a dict"),
        ("app = (1).real", "Attribute expression"),
        ("app = Ref('one', 1)", "reference number"),
        ("app = Instance(1)", "qualified name"),
        ("app = float('1.5')", "float\\(\\) is written only"),
        ("app = [1,", "line 1: "),
        ("app = {[]: 1}", "cannot be a dict key"),
        ("app = ...", "not part of the source form"),
    ],
)
def test_malformedSourceNamesTheLine(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        unjellyFromSource(text, "bad.tas")


def test_errorsNameTheFile() -> None:
    with pytest.raises(FormatError, match=r"^bad\.tas, line 1:"):
        unjellyFromSource("app = x", "bad.tas")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app = [Deref(1), Ref(1, [])]", r"Deref\(1\) comes before Ref\(1"),
        ("app = [Ref(1, []), Ref(1, [])]", "appears twice"),
        ("app = Instance('nosuchmodule.C')", "no module 'nosuchmodule'"),
        ("app = Instance('tests.persisted.graphs.helper')", "does not name a class"),
        ("app = Class('tests.persisted.graphs.helper')", "does not name a class"),
        ("app = Module('tests.persisted.graphs.Node')", "does not name a module"),
        ("app = Function('tests.persisted.graphs.Color.RED')", "does not name a function"),
        (
            "app = InstanceMethod('nope', 'x.Y', Instance('tests.persisted.graphs.Node'))",
            "has no attribute 'nope'",
        ),
        ("app = Ref(1, Copyreg(Function('builtins.tuple'), ([Deref(1)],)))", "cannot be rebuilt"),
        ("app = Ref(1, Copyreg(Function('builtins.list'), (Deref(1),)))", "cannot be rebuilt"),
        ("app = Copyreg(1, ())", "not callable"),
        ("app = Set([[1]])", r"\[1\] cannot be a set item: it is unhashable"),
        ("app = FrozenSet([{}])", "cannot be a set item"),
        ("app = [Ref(1, []), {Deref(1): 2}]", r"\[\] cannot be a dict key"),
        (
            "app = Instance('tests.persisted.graphs.Node', 5)",
            "setting the state of a Node failed: TypeError",
        ),
        (
            "app = Instance('tests.persisted.graphs.Slotted', (None, {'zz': 1}))",
            "setting the state of a Slotted failed: AttributeError",
        ),
        ("app = Copyreg(Class('builtins.list'), (1,))", r"calling list\(1,\) failed: TypeError"),
    ],
)
def test_badTreesAreRefused(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        unjellyFromSource(text)


def test_tupleCyclesRebuildWithTheirIdentity() -> None:
    inner: list[Any] = []
    outer = (inner, 1)
    inner.append(outer)
    loaded = unjellyFromSource(jellyToSource(outer))
    assert loaded[0][0] is loaded
    loaded = unjellyFromSource(jellyToSource(inner))
    assert loaded[0][0] is loaded


def test_stateWaitsForATupleCycleToClose() -> None:
    # The state's list holds a tuple that contains the list: the object still gets its
    # whole state, with the cycle in place.
    node = Node("n")
    items: list[Any] = []
    pair = (items, node)
    items.append(pair)
    node.items = items
    loaded = unjellyFromSource(jellyToSource(pair))
    assert loaded[1].items is loaded[0]
    assert loaded[0][0] is loaded


# -- damaged files -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(value=plainData, data=st.data())
def test_damagedSourceLoadsOrFailsCleanly(value: Any, data: st.DataObject) -> None:
    text = jellyToSource([value, Node("n")])
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(list("()[]{},:'\"=0123456789-+.jx \n\\")))
    damaged = text[:position] + replacement + text[position + 1 :]
    try:
        unjellyFromSource(damaged, "damaged.tas")
    except FormatError as e:
        assert str(e).startswith("damaged.tas")


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitraryTextLoadsOrFailsCleanly(text: str) -> None:
    try:
        unjellyFromSource(text, "random.tas")
    except FormatError:
        pass


def test_prettifyWritesATree() -> None:
    assert aot.prettify(jellyToAOT([1, (2,)])) == "[1, (2,)]"


def test_contentsOfAnObjectMadeLaterAreReadInOrder() -> None:
    # The Copyreg's argument is the tuple around it, so it is made only once the tuple
    # is; its state defines Ref(3), which a later item refers to.
    text = (
        "app = [Ref(1, ([Copyreg(Function('tests.persisted.graphs.rebuildReduced'),"
        " (Deref(1),), state={'extra': Ref(3, [7])})],)), Deref(3)]"
    )
    loaded = unjellyFromSource(text)
    reduced = loaded[0][0][0]
    assert reduced.value is loaded[0]
    assert reduced.extra is loaded[1] == [7]
