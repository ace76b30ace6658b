"""Every form carries the same graph: pickle (.tap), source (.tas), XML (.tax), encrypted or not.

The same graphs go through every form, in memory and through files saved by
``sob.Persistent`` and read by ``sob.load``, and from one form to another; hypothesis
generates more graphs, with shared objects and cycles.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zope.interface import directlyProvides

from tests.persisted.graphs import (
    Node,
    Reduced,
    assertSameGraph,
    cycles,
    everyKind,
    hashables,
    plainData,
    seedLikeApplication,
)
from torsion.persisted import aot, marmalade, sob

GRAPHS: dict[str, Callable[[], Any]] = {
    "everyKind": everyKind,
    "cycles": cycles,
    "application": seedLikeApplication,
}

IN_MEMORY: dict[str, Callable[[Any], Any]] = {
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
    "source": lambda obj: aot.unjellyFromSource(aot.jellyToSource(obj)),
    "xml": lambda obj: marmalade.unjellyFromXML(marmalade.jellyToXML(obj)),
}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("form", sorted(IN_MEMORY))
def test_formsCarryTheGraph(form: str, graph: str) -> None:
    original = GRAPHS[graph]()
    assertSameGraph(original, IN_MEMORY[form](original))


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("style", sorted(sob.STYLES))
def test_filesCarryTheGraph(style: str, encrypted: bool, graph: str, tmp_path: Path) -> None:
    original = GRAPHS[graph]()
    persistent = sob.Persistent(original, str(tmp_path / "app"))
    persistent.setStyle(style)
    passphrase = "s3cret" if encrypted else None
    filename = persistent.save(passphrase=passphrase)
    extension = ("e" if encrypted else "") + sob.STYLES[style][0]
    assert filename == str(tmp_path / f"app.{extension}")
    assert sob.guessType(filename) == style
    assertSameGraph(original, sob.load(filename, style, passphrase))


def test_conversionsBetweenFormsKeepTheGraph(tmp_path: Path) -> None:
    original = [*cycles(), everyKind(), seedLikeApplication()]
    value = original
    path = ""
    for step, (style, passphrase) in enumerate(
        [
            ("pickle", None),
            ("source", "pw"),
            ("xml", None),
            ("pickle", "pw2"),
            ("source", None),
            ("xml", "pw3"),
            ("pickle", None),
        ]
    ):
        persistent = sob.Persistent(value, str(tmp_path / f"step{step}"))
        persistent.setStyle(style)
        path = persistent.save(passphrase=passphrase)
        value = sob.load(path, style, passphrase)
        assertSameGraph(original, value)
    assert path.endswith("step6.tap")


# -- generated graphs ----------------------------------------------------------------------


@st.composite
def sharedGraphs(draw: st.DrawFn) -> Any:
    """Nodes holding plain data and links to each other (cycles and sharing included)."""
    count = draw(st.integers(1, 6))
    nodes = [Node(f"n{i}", payload=draw(plainData)) for i in range(count)]
    sharedList: list[Any] = draw(st.lists(plainData, max_size=3))
    for node in nodes:
        node.links = draw(st.lists(st.sampled_from(nodes), max_size=3))
        if draw(st.booleans()):
            node.shared = sharedList
        if draw(st.booleans()):
            node.pair = (draw(st.sampled_from(nodes)), sharedList)
        if draw(st.booleans()):
            node.table = {draw(hashables): draw(st.sampled_from(nodes))}
        if draw(st.booleans()):
            # Shared objects as keys, and as parts of keys, with values that share them.
            key = draw(st.sampled_from(nodes))
            node.byNode = {key: [key, draw(st.sampled_from(nodes))], (key, 1): node}
        if draw(st.booleans()):
            # A cycle through a tuple, and an object made by a call from a node.
            holder: list[Any] = []
            pair = (holder, node)
            holder.append(pair)
            node.cycle = pair
            holder.append(Reduced(draw(st.sampled_from(nodes))))
    return draw(st.sampled_from([nodes, nodes[0], (nodes, sharedList)]))


roundTripSettings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("form", sorted(IN_MEMORY))
@roundTripSettings
@given(value=plainData)
def test_plainDataRoundTrips(form: str, value: Any) -> None:
    assertSameGraph(value, IN_MEMORY[form](value))


@pytest.mark.parametrize("form", sorted(IN_MEMORY))
@roundTripSettings
@given(graph=sharedGraphs())
def test_sharedGraphsRoundTrip(form: str, graph: Any) -> None:
    assertSameGraph(graph, IN_MEMORY[form](graph))


@settings(max_examples=40, deadline=None)
@given(value=plainData)
def test_sourceAndXMLAgree(value: Any) -> None:
    fromSource = aot.unjellyFromSource(aot.jellyToSource(value))
    fromXML = marmalade.unjellyFromXML(marmalade.jellyToXML(value))
    assertSameGraph(fromSource, fromXML)
    assert aot.jellyToSource(fromSource) == aot.jellyToSource(fromXML) or _hasNaNKeys(value)


def _hasNaNKeys(value: Any) -> bool:
    return isinstance(value, dict) and any(
        isinstance(key, float) and math.isnan(key) for key in value
    )


@pytest.mark.parametrize("form", sorted(IN_MEMORY))
def test_interfacesAndDirectDeclarationsRoundTrip(form: str) -> None:
    # Applications keep their adapters in dicts keyed by interface, and objects may
    # provide interfaces directly.
    node = Node("n")
    directlyProvides(node, sob.IPersistable)
    loaded = IN_MEMORY[form]({sob.IPersistable: node, "other": [node]})
    (key,) = [k for k in loaded if k != "other"]
    assert key is sob.IPersistable
    assert sob.IPersistable.providedBy(loaded[key])
    assert loaded["other"][0] is loaded[key]
