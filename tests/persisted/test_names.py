"""Naming classes, functions and modules, and finding them again (torsion.persisted._names)."""

from __future__ import annotations

import collections
import math
import os.path
from typing import Any

import pytest

from tests.persisted.graphs import Node, Outer, helper
from torsion.persisted._names import namedObject, qualifiedName
from torsion.persisted.error import FormatError, NotPersistableError


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        (Node, "tests.persisted.graphs.Node"),
        (Outer.Inner, "tests.persisted.graphs.Outer.Inner"),
        (helper, "tests.persisted.graphs.helper"),
        (math, "math"),
        (os.path, os.path.__name__),
        (len, "builtins.len"),
        (collections.OrderedDict, "collections.OrderedDict"),
    ],
)
def test_qualifiedNameFindsTheObjectAgain(obj: object, name: str) -> None:
    assert qualifiedName(obj) == name
    assert namedObject(name) is obj


def test_localClassIsRefusedWithTheReason() -> None:
    class Local:
        pass

    with pytest.raises(NotPersistableError, match="top level of a module"):
        qualifiedName(Local)


def test_lambdaIsRefused() -> None:
    with pytest.raises(NotPersistableError, match="lambda"):
        qualifiedName(lambda: None)


def test_classOfATacFileIsRefused() -> None:
    namespace: dict[str, Any] = {"__name__": "__tac__"}
    exec("class Thing: pass", namespace)
    with pytest.raises(NotPersistableError, match=r"\.tac file"):
        qualifiedName(namespace["Thing"])


def test_replacedObjectIsRefused() -> None:
    def impostor() -> None:
        pass

    impostor.__module__ = "tests.persisted.graphs"
    impostor.__qualname__ = "helper"
    with pytest.raises(NotPersistableError, match="different object"):
        qualifiedName(impostor)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nosuchmodule.thing", "no module 'nosuchmodule'"),
        ("tests.persisted.graphs.Missing", "has no attribute 'Missing'"),
        ("", "not a qualified name"),
        ("a..b", "not a qualified name"),
    ],
)
def test_namedObjectErrorsSayWhatIsMissing(name: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        namedObject(name)


def test_brokenModuleIsNotMistakenForAMissingOne(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "brokenmodule_for_names.py").write_text("import nosuchdependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(FormatError, match="importing brokenmodule_for_names"):
        namedObject("brokenmodule_for_names.thing")
