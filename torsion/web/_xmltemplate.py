"""XML templates: XMLString and XMLFile parse XHTML into the tag tree of _stan.

The directives live in Twisted's namespace
(``http://twistedmatrix.com/ns/twisted.web.template/0.1``, so Twisted's templates
load unchanged) or in ours (``urn:torsion:template``): ``t:render="name"`` on any
element, ``<t:slot name="x" default="..."/>``, ``<t:attr name="href">...</t:attr>``
(an attribute whose value is markup: slots, renderers) and ``<t:transparent>`` (an
element that writes only its children). Parsing uses the standard library's expat
with every DTD facility refused: no internal subset, no entity declarations, no
external entities, so a template cannot expand entities or reach for files.

Tests: tests/web/template/test_xmltemplate.py.
"""

from __future__ import annotations

import os
from typing import Any
from xml.parsers import expat

from zope.interface import implementer

from torsion.web._stan import CDATA, Comment, Flattenable, Tag, slot
from torsion.web.iweb import ITemplateLoader

__all__ = ["TEMPLATE_NAMESPACE", "TORSION_NAMESPACE", "TemplateParseError", "XMLFile", "XMLString"]

TEMPLATE_NAMESPACE = "http://twistedmatrix.com/ns/twisted.web.template/0.1"
"""Twisted's namespace for the template directives (torsion reads it too)."""

TORSION_NAMESPACE = "urn:torsion:template"
"""torsion's own, shorter name for the same directives."""

_DIRECTIVES = frozenset((TEMPLATE_NAMESPACE, TORSION_NAMESPACE))


class TemplateParseError(ValueError):
    """A template is not well-formed XML or misuses a directive; says where and why."""


class _Refused(Exception):
    """Raised from an expat handler to stop the parse with our own message."""


class _Builder:
    """The expat handlers: they grow the tag tree as the elements arrive."""

    def __init__(self, parser: Any, filename: str | None) -> None:
        self.parser = parser
        self.filename = filename
        self.document: list[Flattenable] = []
        self.current: list[Flattenable] = self.document
        self.stack: list[Any] = []
        self.declarations: list[tuple[str, str]] = []
        self.cdata: list[str] | None = None
        parser.StartElementHandler = self.startElement
        parser.EndElementHandler = self.endElement
        parser.CharacterDataHandler = self.characters
        parser.StartNamespaceDeclHandler = self.startNamespace
        parser.CommentHandler = self.comment
        parser.StartCdataSectionHandler = self.startCDATA
        parser.EndCdataSectionHandler = self.endCDATA
        parser.StartDoctypeDeclHandler = self.doctype
        parser.EntityDeclHandler = self.entity
        parser.ExternalEntityRefHandler = self.externalEntity
        parser.SkippedEntityHandler = self.skippedEntity

    def where(self) -> tuple[int, int]:
        return self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber

    def refuse(self, message: str) -> None:
        raise _Refused(message)

    # -- DTD facilities: none -----------------------------------------------------

    def doctype(self, name: str, systemId: str | None, publicId: str | None, internal: int) -> None:
        if internal:
            self.refuse(
                "a DOCTYPE with an internal subset ([...]) is not allowed in a template: it "
                "could declare entities; write <!DOCTYPE html> or leave the doctype to "
                "renderElement"
            )

    def entity(self, name: str, *args: Any) -> None:
        self.refuse(f"the entity declaration {name!r} is not allowed in a template")

    def externalEntity(
        self, context: str | None, base: str | None, systemId: str | None, publicId: str | None
    ) -> int:
        self.refuse(f"the external entity {systemId!r} is not allowed in a template")
        return 0

    def skippedEntity(self, name: str, isParameter: int) -> None:
        # After an external DTD (which is never read) expat skips unknown entities
        # instead of failing: refuse them as it would without one.
        self.refuse(
            f"the entity &{name}; is not defined (templates do not read DTDs); XML knows "
            f"only &amp; &lt; &gt; &quot; &apos;: write other characters as themselves or "
            f"by number (&#160; for a no-break space)"
        )

    # -- the tree ----------------------------------------------------------------

    def startNamespace(self, prefix: str | None, uri: str) -> None:
        if uri in _DIRECTIVES:
            return
        self.declarations.append(("xmlns" if prefix is None else "xmlns:" + prefix, uri))

    def startElement(self, name: str, attributes: list[str]) -> None:
        line, column = self.where()
        namespace, local, prefix = _split(name)
        render: str | None = None
        plain: dict[str, Any] = {}
        for index in range(0, len(attributes), 2):
            attributeNamespace, attributeLocal, attributePrefix = _split(attributes[index])
            value = attributes[index + 1]
            if attributeNamespace in _DIRECTIVES:
                if attributeLocal != "render":
                    self.refuse(
                        f"unknown template attribute {attributePrefix}:{attributeLocal}; "
                        f"the only directive attribute is render"
                    )
                render = value
            elif attributePrefix:
                plain[attributePrefix + ":" + attributeLocal] = value
            else:
                plain[attributeLocal] = value
        if namespace in _DIRECTIVES:
            self.directive(local, prefix, plain, render, line, column)
            return
        if self.declarations:
            for key, uri in self.declarations:
                plain[key] = uri
            self.declarations = []
        tag = Tag(
            prefix + ":" + local if prefix else local,
            plain,
            None,
            render,
            self.filename,
            line,
            column,
        )
        self.current.append(tag)
        self.stack.append(tag)
        self.current = tag.children

    def directive(
        self,
        local: str,
        prefix: str,
        attributes: dict[str, Any],
        render: str | None,
        line: int,
        column: int,
    ) -> None:
        if render is None and "render" in attributes:
            render = attributes.pop("render")
        if local == "transparent":
            node: Any = Tag("", None, None, render, self.filename, line, column)
            self.current.append(node)
        elif local == "slot":
            if "name" not in attributes:
                self.refuse(f"<{prefix}:slot> needs a name attribute")
            node = slot(attributes["name"], attributes.get("default"), self.filename, line, column)
            self.current.append(node)
        elif local == "attr":
            if "name" not in attributes:
                self.refuse(f"<{prefix}:attr> needs a name attribute (the attribute it sets)")
            owner = self.stack[-1] if self.stack else None
            if type(owner) is not Tag or not owner.tagName:
                raise _Refused(
                    f"<{prefix}:attr> must be directly inside the element whose attribute it sets"
                )
            node = Tag("", None, None, render, self.filename, line, column)
            owner.attributes[attributes["name"]] = node
        else:
            self.refuse(
                f"unknown template element <{prefix}:{local}>; the directives are "
                f"transparent, slot and attr"
            )
        self.stack.append(node)
        self.current = node.children

    def endElement(self, name: str) -> None:
        self.stack.pop()
        self.current = self.stack[-1].children if self.stack else self.document

    def characters(self, data: str) -> None:
        if self.cdata is not None:
            self.cdata.append(data)
            return
        current = self.current
        if current and type(current[-1]) is str:
            current[-1] += data
        else:
            current.append(data)

    def comment(self, data: str) -> None:
        self.current.append(Comment(data))

    def startCDATA(self) -> None:
        self.cdata = []

    def endCDATA(self) -> None:
        data, self.cdata = self.cdata or [], None
        self.current.append(CDATA("".join(data)))


def _split(name: str) -> tuple[str, str, str]:
    """expat's ``uri local prefix`` name as (namespace, local name, prefix)."""
    parts = name.split(" ")
    if len(parts) == 1:
        return "", name, ""
    if len(parts) == 2:
        return parts[0], parts[1], ""
    return parts[0], parts[1], parts[2]


def _parse(data: str | bytes, filename: str | None) -> list[Flattenable]:
    if isinstance(data, str):
        parser = expat.ParserCreate("utf-8", namespace_separator=" ")
        source: bytes = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, bytes):
        parser = expat.ParserCreate(namespace_separator=" ")
        source = data
    else:
        raise TypeError(f"a template is str or bytes, not {type(data).__name__}")
    parser.namespace_prefixes = True
    parser.ordered_attributes = True
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = _Builder(parser, filename)
    where = filename or "<template string>"
    try:
        parser.Parse(source, True)
    except _Refused as e:
        line, column = builder.where()
        raise TemplateParseError(f"{where}:{line}:{column}: {e}") from None
    except expat.ExpatError as e:
        message = expat.errors.messages[e.code]
        hint = ""
        if e.code == expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]:
            hint = (
                "; XML knows only &amp; &lt; &gt; &quot; &apos;: write other characters "
                "as themselves or by number (&#160; for a no-break space)"
            )
        elif e.code == expat.errors.codes[expat.errors.XML_ERROR_UNBOUND_PREFIX]:
            hint = f'; declare the prefix, e.g. xmlns:t="{TEMPLATE_NAMESPACE}" on the root element'
        raise TemplateParseError(f"{where}:{e.lineno}:{e.offset}: {message}{hint}") from None
    return builder.document


@implementer(ITemplateLoader)
class XMLString:
    """A template given as XML text (str, or bytes in the encoding its declaration
    names, UTF-8 by default); parsed at once, so a broken template fails early."""

    __slots__ = ("_loaded",)

    def __init__(self, s: str | bytes) -> None:
        self._loaded = _parse(s, None)

    def load(self) -> list[Flattenable]:
        return self._loaded


@implementer(ITemplateLoader)
class XMLFile:
    """A template in a file (a path as str or os.PathLike, or a FilePath), parsed on
    first use and kept."""

    __slots__ = ("_loaded", "_path")

    def __init__(self, path: Any) -> None:
        if hasattr(path, "path") and not isinstance(path, (str, bytes, os.PathLike)):
            path = path.path
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"XMLFile takes a path (str, os.PathLike or FilePath), not {path!r}")
        self._path = os.fspath(path)
        self._loaded: list[Flattenable] | None = None

    @property
    def path(self) -> str:
        return self._path

    def load(self) -> list[Flattenable]:
        loaded = self._loaded
        if loaded is None:
            try:
                with open(self._path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"the template file {self._path} does not exist (a relative path is "
                    f"taken from the current directory, {os.getcwd()})"
                ) from None
            loaded = self._loaded = _parse(data, self._path)
        return loaded

    def __repr__(self) -> str:
        return f"XMLFile({self._path!r})"
