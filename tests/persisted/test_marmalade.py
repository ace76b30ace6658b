"""The XML form (.tax): torsion.persisted.marmalade."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.persisted.graphs import Node, assertSameGraph, plainData
from torsion.persisted.error import FormatError
from torsion.persisted.marmalade import jellyToXML, unjellyFromXML

HEAD = "<?xml version='1.0'?>\n<torsion-persisted version=\"1\">"
TAIL = "</torsion-persisted>"


def document(body: str) -> str:
    return f"{HEAD}{body}{TAIL}"


def test_documentIsWellFormedXML() -> None:
    node = Node("echo", port=7)
    node.me = node
    root = ET.fromstring(jellyToXML(node))
    assert root.tag == "torsion-persisted" and root.get("version") == "1"
    (ref,) = root
    assert ref.tag == "ref" and ref.get("id") == "1"
    instance = ref[0]
    assert instance.tag == "instance" and instance.get("class") == "tests.persisted.graphs.Node"
    entries = {entry.get("key"): entry[0] for entry in instance[0]}
    assert entries["name"].tag == "str" and entries["name"].text == "echo"
    assert entries["port"].tag == "int" and entries["port"].text == "7"
    assert entries["me"].tag == "deref" and entries["me"].get("id") == "1"


def test_layoutKeepsSingleValuesBesideTheirEntry() -> None:
    text = jellyToXML({"name": "echo", "items": [1, 2]})
    assert '<entry key="name"><str>echo</str></entry>' in text
    assert "<list>\n" in text


def test_plainStringsAreText() -> None:
    text = jellyToXML(["héllo <world> & friends", "tab\tand\nnewline"])
    assert "<str>héllo &lt;world&gt; &amp; friends</str>" in text
    assert "escaped" not in text


@pytest.mark.parametrize(
    "value",
    ["cr\r\n", "\x00nul", "\x1b[1m", "\ud800", "\ufffe", "back\\slash\r", "", "  ", "\n", " x "],
)
def test_stringsXMLCannotCarryRoundTrip(value: str) -> None:
    assert unjellyFromXML(jellyToXML([value])) == [value]


def test_nonStringAndUnusualKeysAreElements() -> None:
    mapping = {1: "one", (1, 2): "pair", "line\nbreak": "x", "\x01": "y", "plain key": "z"}
    text = jellyToXML(mapping)
    assert '<entry key="plain key">' in text
    assert unjellyFromXML(text) == mapping


def test_bytesAreBase64() -> None:
    text = jellyToXML(b"\x00\xffdata")
    assert "<bytes>AP9kYXRh</bytes>" in text
    assert unjellyFromXML(text) == b"\x00\xffdata"


def test_numbersKeepTheirValue() -> None:
    values = [0.1, -0.0, float("inf"), 1e-300, 2**200, complex(1.5, -0.0), True, None]
    loaded = unjellyFromXML(jellyToXML(values))
    assertSameGraph(values, loaded)
    nan = unjellyFromXML(jellyToXML(float("nan")))
    assert nan != nan


def test_fileArguments() -> None:
    out = io.StringIO()
    text = jellyToXML([1], out)
    assert out.getvalue() == text
    assert unjellyFromXML(io.StringIO(text)) == [1]
    assert unjellyFromXML(text.encode("utf-8")) == [1]


# -- what is refused ---------------------------------------------------------------------

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<torsion-persisted version="1"><str>&lol3;</str></torsion-persisted>
"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<torsion-persisted version="1"><str>&secret;</str></torsion-persisted>
"""

PLAIN_DOCTYPE = """<?xml version="1.0"?>
<!DOCTYPE torsion-persisted>
<torsion-persisted version="1"><none/></torsion-persisted>
"""


@pytest.mark.parametrize(
    "text", [LAUGHS, EXTERNAL, PLAIN_DOCTYPE], ids=["laughs", "external", "plain"]
)
def test_doctypeIsRefused(text: str) -> None:
    with pytest.raises(FormatError, match="line 2: a DOCTYPE is not allowed"):
        unjellyFromXML(text, "evil.tax")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<str>unclosed", "not well-formed XML"),
        ("<blob/>", "<blob> is not part of the torsion XML form"),
        ("<list>stray text<int>1</int></list>", "holds text 'stray text'"),
        ("<list><int>1</int>tail</list>", "holds text 'tail'"),
        ("<bool>maybe</bool>", "true or false"),
        ("<int>1.5</int>", "bad <int>"),
        ("<int><int>1</int></int>", "takes text only"),
        ("<bytes>!!!</bytes>", "not base64"),
        ("<ref id='x'><none/></ref>", "needs a number"),
        ("<ref id='1'/>", "exactly one element"),
        ("<deref/>", "needs a id= attribute"),
        ("<instance/>", "needs a class= attribute"),
        ("<instance class='m.C'><none/><none/></instance>", "at most one state"),
        ("<dict><item/></dict>", "holds <entry> elements"),
        ("<dict><entry><int>1</int></entry></dict>", "an <entry> holds"),
        ("<dict><entry><list/><int>1</int></entry></dict>", "cannot be a dict key"),
        ("<copyreg><args><tuple/></args></copyreg>", "needs <factory> and <args>"),
        (
            "<copyreg><factory><none/></factory><factory><none/></factory></copyreg>",
            "one <factory>",
        ),
        ("<copyreg><other/></copyreg>", "<other> is not a part"),
        ("<copyreg><factory><none/></factory><args><list/></args></copyreg>", "as a tuple"),
        ("<class/>", "needs a name= attribute"),
        ("<deref id='3'/>", r"Deref\(3\) comes before"),
        ("<none/><none/>", "exactly one element"),
    ],
)
def test_malformedDocumentsAreRefusedWithTheLine(body: str, message: str) -> None:
    with pytest.raises(FormatError, match=message) as caught:
        unjellyFromXML(document(body), "bad.tax")
    assert str(caught.value).startswith("bad.tax")


def test_otherDocumentElementIsRefused() -> None:
    with pytest.raises(FormatError, match="the document element is <html>"):
        unjellyFromXML("<html/>")


def test_unknownVersionIsRefused() -> None:
    with pytest.raises(FormatError, match="version '2' of the XML form is not known"):
        unjellyFromXML('<torsion-persisted version="2"><none/></torsion-persisted>')


def test_errorLineIsTheElementsLine() -> None:
    text = document("\n<list>\n<int>1</int>\n<oops/>\n</list>\n")
    with pytest.raises(FormatError, match="line 5: <oops>"):
        unjellyFromXML(text, "bad.tax")


def test_namesInTheDocumentAreTheOnlyImports(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    import importlib

    real = importlib.import_module

    def recording(name: str, package: Any = None) -> Any:
        imported.append(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", recording)
    unjellyFromXML(jellyToXML([Node("n"), {"a": (1, 2.5)}]))
    assert set(imported) <= {"tests.persisted.graphs.Node", "tests.persisted.graphs"}


# -- damaged files -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(value=plainData, data=st.data())
def test_damagedDocumentLoadsOrFailsCleanly(value: Any, data: st.DataObject) -> None:
    text = jellyToXML([value, Node("n")])
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(list("<>/=\"'&;!x1 \nabc")))
    damaged = text[:position] + replacement + text[position + 1 :]
    try:
        unjellyFromXML(damaged, "damaged.tax")
    except FormatError as e:
        assert str(e).startswith("damaged.tax")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitraryBytesLoadOrFailCleanly(data: bytes) -> None:
    try:
        unjellyFromXML(data, "random.tax")
    except FormatError:
        pass
