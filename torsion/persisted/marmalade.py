"""The XML form of an object graph (what a .tax file holds): ``jellyToXML``/``unjellyFromXML``.

The document is the abstract object tree of torsion.persisted.aot written as elements,
so the three file forms hold the same graph::

    <?xml version='1.0' encoding='utf-8'?>
    <torsion-persisted version="1">
      <ref id="1">
        <instance class="myapp.Server">
          <dict>
            <entry key="name"><str>echo</str></entry>
            <entry key="parent"><deref id="1" /></entry>
          </dict>
        </instance>
      </ref>
    </torsion-persisted>

Elements: ``none``, ``bool``, ``int``, ``float`` (``nan``/``inf`` too), ``complex``
(``real``/``imag``), ``str`` (text; ``escaped="1"`` when it holds characters XML cannot
carry, written with Python's backslash escapes), ``bytes`` (base64), ``list``,
``tuple``, ``set``, ``frozenset``, ``dict`` of ``entry`` (``key="..."`` for a plain
string key, else two children: key then value), ``instance class=`` with an optional
state child, ``ref id=``/``deref id=``, ``class``/``function``/``module``/``named``
``name=``, ``method name= class=`` around its object, and ``copyreg`` with ``factory``,
``args`` and optionally ``state``, ``listitems`` and ``dictitems`` children.

Parsing uses the standard library's expat through ElementTree, and refuses any DOCTYPE
(so no entity can be declared, let alone expanded). The XML itself runs nothing, but
rebuilding the graph imports the modules and calls the classes the document names:
load only files you trust.

Tests: tests/persisted/test_marmalade.py.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

from torsion.persisted._aotnodes import (
    Class,
    Copyreg,
    Deref,
    FrozenSet,
    Function,
    Instance,
    InstanceMethod,
    Module,
    Named,
    Ref,
    Set,
)
from torsion.persisted._jelly import jellyToAOT
from torsion.persisted._unjelly import unjellyFromAOT
from torsion.persisted.error import FormatError, NotPersistableError

__all__ = ["aotToXML", "jellyToXML", "unjellyFromXML", "xmlToAOT"]

ROOT = "torsion-persisted"
VERSION = "1"

# Characters XML 1.0 can carry in text; carriage returns are excluded too, because
# parsers turn them into line feeds.
_XML_TEXT = re.compile("[\t\n\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_PLAIN_KEY = re.compile("[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_NAMED_TAGS: dict[str, type[Class | Function | Module | Named]] = {
    "class": Class,
    "function": Function,
    "module": Module,
    "named": Named,
}


def jellyToXML(obj: object, file: Any = None) -> str:
    """Return the XML form of ``obj``'s graph; write it to ``file`` as well if given.

    Raises:
        NotPersistableError: something in the graph cannot be saved.
    """
    text = aotToXML(jellyToAOT(obj))
    if file is not None:
        file.write(text)
    return text


def unjellyFromXML(stringOrFile: Any, filename: str = "<xml>") -> Any:
    """Rebuild the graph of an XML document made by ``jellyToXML``.

    This imports and calls what the document names: use it only on files you trust.

    Raises:
        FormatError: the document is not well-formed, has a DOCTYPE, or is not the
            torsion XML form (the message names the line).
    """
    if hasattr(stringOrFile, "read"):
        filename = getattr(stringOrFile, "name", filename)
        stringOrFile = stringOrFile.read()
    return unjellyFromAOT(xmlToAOT(stringOrFile, filename), filename)


# -- writing ---------------------------------------------------------------------------


def aotToXML(tree: Any) -> str:
    """Return the XML document of an abstract object tree."""
    root = ET.Element(ROOT, version=VERSION)
    try:
        root.append(_element(tree))
        _indent(root, 0)
    except RecursionError:
        raise NotPersistableError(
            "the object graph is nested too deeply for the XML form; use the pickle form"
        ) from None
    body = ET.tostring(root, encoding="unicode")
    return f"<?xml version='1.0' encoding='utf-8'?>\n{body}\n"


def _indent(element: ET.Element, level: int) -> None:
    """Put each element on its own line, except a single leaf, kept beside its parent."""
    children = list(element)
    if not children or (len(children) == 1 and not len(children[0]) and level):
        return
    inner = "\n" + "  " * (level + 1)
    element.text = inner
    for child in children:
        _indent(child, level + 1)
        child.tail = inner
    children[-1].tail = "\n" + "  " * level


def _leaf(tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.Element(tag, attributes)
    element.text = text
    return element


def _parent(tag: str, children: Any, **attributes: str) -> ET.Element:
    element = ET.Element(tag, attributes)
    element.extend(children)
    return element


def _element(node: Any) -> ET.Element:
    kind = type(node)
    if node is None:
        return _leaf("none")
    if kind is bool:
        return _leaf("bool", "true" if node else "false")
    if kind is int:
        return _leaf("int", str(node))
    if kind is float:
        return _leaf("float", _floatText(node))
    if kind is complex:
        return _leaf("complex", real=_floatText(node.real), imag=_floatText(node.imag))
    if kind is str:
        if _XML_TEXT.fullmatch(node):
            return _leaf("str", node)
        return _leaf("str", node.encode("unicode_escape").decode("ascii"), escaped="1")
    if kind is bytes:
        return _leaf("bytes", base64.b64encode(node).decode("ascii"))
    if kind is list:
        return _parent("list", map(_element, node))
    if kind is tuple:
        return _parent("tuple", map(_element, node))
    if kind is dict:
        return _parent("dict", (_entry(k, v) for k, v in node.items()))
    if kind is Set:
        return _parent("set", map(_element, node.items))
    if kind is FrozenSet:
        return _parent("frozenset", map(_element, node.items))
    if kind is Ref:
        return _parent("ref", [_element(node.obj)], id=str(node.number))
    if kind is Deref:
        return _leaf("deref", id=str(node.number))
    if kind is Instance:
        state = [] if node.state is None else [_element(node.state)]
        return _parent("instance", state, **{"class": node.className})
    if kind in (Class, Function, Module, Named):
        return _leaf(kind.__name__.lower(), name=node.name)
    if kind is InstanceMethod:
        return _parent("method", [_element(node.instance)], name=node.name, **{"class": node.klass})
    if kind is Copyreg:
        parts = [("factory", node.factory), ("args", node.args), *node.options()]
        return _parent("copyreg", (_parent(tag, [_element(v)]) for tag, v in parts))
    raise NotPersistableError(f"{kind.__name__} is not part of an object tree")


def _entry(key: Any, value: Any) -> ET.Element:
    if type(key) is str and _PLAIN_KEY.fullmatch(key):
        return _parent("entry", [_element(value)], key=key)
    return _parent("entry", [_element(key), _element(value)])


def _floatText(value: float) -> str:
    return repr(value) if math.isfinite(value) else str(value)


# -- reading ---------------------------------------------------------------------------


def _parse(data: str | bytes, filename: str) -> tuple[ET.Element, dict[int, int]]:
    """Parse ``data`` into elements with expat, refusing DOCTYPEs; return the root and lines."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    lines: dict[int, int] = {}

    def refuse(*_: object) -> None:
        raise FormatError(
            f"{filename}, line {parser.CurrentLineNumber}: a DOCTYPE is not allowed in the"
            " torsion XML form (it could declare entities)"
        )

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = builder.start(tag, attributes)
        lines[id(element)] = parser.CurrentLineNumber

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise FormatError(
            f"{filename}, line {e.lineno}: not well-formed XML ({expat.ErrorString(e.code)})"
        ) from None
    return builder.close(), lines


def xmlToAOT(data: str | bytes, filename: str = "<xml>") -> Any:
    """Parse a torsion XML document and return its abstract object tree.

    Raises:
        FormatError: the document is not well-formed or not the torsion XML form.
    """
    root, lines = _parse(data, filename)
    reader = _Reader(filename, lines)
    if root.tag != ROOT:
        raise reader.fail(root, f"the document element is <{root.tag}>, not <{ROOT}>")
    if root.get("version") != VERSION:
        raise reader.fail(
            root,
            f"version {root.get('version')!r} of the XML form is not known here"
            f" (this torsion reads version {VERSION})",
        )
    try:
        return reader.node(reader.only(root))
    except RecursionError:
        raise FormatError(f"{filename}: the document is nested too deeply") from None


class _Reader:
    def __init__(self, filename: str, lines: dict[int, int]) -> None:
        self.filename = filename
        self.lines = lines

    def fail(self, element: ET.Element, message: str) -> FormatError:
        line = self.lines.get(id(element), "?")
        return FormatError(f"{self.filename}, line {line}: {message}")

    def children(self, element: ET.Element) -> list[ET.Element]:
        for text in (element.text, *(child.tail for child in element)):
            if text and text.strip():
                raise self.fail(element, f"<{element.tag}> holds text {text.strip()[:30]!r}")
        return list(element)

    def only(self, element: ET.Element) -> ET.Element:
        children = self.children(element)
        if len(children) != 1:
            raise self.fail(element, f"<{element.tag}> must hold exactly one element")
        return children[0]

    def attribute(self, element: ET.Element, name: str) -> str:
        value = element.get(name)
        if value is None:
            raise self.fail(element, f"<{element.tag}> needs a {name}= attribute")
        return value

    def number(self, element: ET.Element) -> int:
        text = self.attribute(element, "id")
        if not text.isdigit():
            raise self.fail(element, f"<{element.tag} id={text!r}> needs a number")
        return int(text)

    def text(self, element: ET.Element) -> str:
        if len(element):
            raise self.fail(element, f"<{element.tag}> holds elements; it takes text only")
        return element.text or ""

    def node(self, element: ET.Element) -> Any:
        tag = element.tag
        method = getattr(self, f"read_{tag}", None)
        if method is None:
            named = _NAMED_TAGS.get(tag)
            if named is None:
                raise self.fail(element, f"<{tag}> is not part of the torsion XML form")
            self.children(element)
            return named(self.attribute(element, "name"))
        try:
            return method(element)
        except (ValueError, TypeError) as e:
            if isinstance(e, FormatError):
                raise
            raise self.fail(element, f"bad <{tag}>: {e}") from None

    def nodes(self, element: ET.Element) -> list[Any]:
        return [self.node(child) for child in self.children(element)]

    def read_none(self, element: ET.Element) -> None:
        self.children(element)

    def read_bool(self, element: ET.Element) -> bool:
        text = self.text(element).strip()
        if text not in ("true", "false"):
            raise self.fail(element, f"<bool> is true or false, not {text!r}")
        return text == "true"

    def read_int(self, element: ET.Element) -> int:
        return int(self.text(element).strip())

    def read_float(self, element: ET.Element) -> float:
        return float(self.text(element).strip())

    def read_complex(self, element: ET.Element) -> complex:
        self.children(element)
        real = float(self.attribute(element, "real"))
        return complex(real, float(self.attribute(element, "imag")))

    def read_str(self, element: ET.Element) -> str:
        text = self.text(element)
        if element.get("escaped") == "1":
            return text.encode("ascii").decode("unicode_escape")
        return text

    def read_bytes(self, element: ET.Element) -> bytes:
        try:
            return base64.b64decode(self.text(element), validate=True)
        except binascii.Error as e:
            raise self.fail(element, f"<bytes> is not base64: {e}") from None

    def read_list(self, element: ET.Element) -> list[Any]:
        return self.nodes(element)

    def read_tuple(self, element: ET.Element) -> tuple[Any, ...]:
        return tuple(self.nodes(element))

    def read_set(self, element: ET.Element) -> Set:
        return Set(self.nodes(element))

    def read_frozenset(self, element: ET.Element) -> FrozenSet:
        return FrozenSet(self.nodes(element))

    def read_dict(self, element: ET.Element) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for entry in self.children(element):
            if entry.tag != "entry":
                raise self.fail(entry, f"a <dict> holds <entry> elements, not <{entry.tag}>")
            parts = self.children(entry)
            key = entry.get("key")
            if key is not None and len(parts) == 1:
                result[key] = self.node(parts[0])
            elif key is None and len(parts) == 2:
                keyNode = self.node(parts[0])
                try:
                    result[keyNode] = self.node(parts[1])
                except TypeError:
                    raise self.fail(parts[0], "this key cannot be a dict key") from None
            else:
                raise self.fail(
                    entry, "an <entry> holds key= and a value, or a key element and a value"
                )
        return result

    def read_instance(self, element: ET.Element) -> Instance:
        className = self.attribute(element, "class")
        children = self.children(element)
        if len(children) > 1:
            raise self.fail(element, "an <instance> holds at most one state element")
        if not children:
            return Instance(className)
        return Instance(className, self.node(children[0]))

    def read_ref(self, element: ET.Element) -> Ref:
        return Ref(self.number(element), self.node(self.only(element)))

    def read_deref(self, element: ET.Element) -> Deref:
        self.children(element)
        return Deref(self.number(element))

    def read_method(self, element: ET.Element) -> InstanceMethod:
        name = self.attribute(element, "name")
        klass = self.attribute(element, "class")
        return InstanceMethod(name, klass, self.node(self.only(element)))

    def read_copyreg(self, element: ET.Element) -> Copyreg:
        parts: dict[str, Any] = {}
        for child in self.children(element):
            if child.tag not in ("factory", "args", "state", "listitems", "dictitems"):
                raise self.fail(child, f"<{child.tag}> is not a part of a <copyreg>")
            if child.tag in parts:
                raise self.fail(child, f"a <copyreg> has one <{child.tag}>")
            parts[child.tag] = self.node(self.only(child))
        if "factory" not in parts or "args" not in parts:
            raise self.fail(element, "a <copyreg> needs <factory> and <args>")
        return Copyreg(**parts)
