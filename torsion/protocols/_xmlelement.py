"""XML elements for torsion.protocols.xmlstream: a small tree that knows its namespaces.

``Element`` is modelled on Twisted's ``domish.Element`` (what XMPP code is written
against): a name and a namespace URI, attributes, and children that are Elements or
text. ``toXml`` writes it back with everything escaped, declaring namespaces only
where they change. Import it from torsion.protocols.xmlstream.
Tests: tests/protocols/test_xmlstream.py.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Element", "escapeToXml"]

AttributeName = str | tuple[str, str]


def escapeToXml(text: str, isattrib: bool = False) -> str:
    """Escape ``text`` for XML character data (and for a double-quoted attribute)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isattrib:
        text = (
            text.replace('"', "&quot;")
            .replace("\n", "&#10;")
            .replace("\r", "&#13;")
            .replace("\t", "&#9;")
        )
    else:
        text = text.replace("\r", "&#13;")
    return text


class Element:
    """An XML element: ``name`` in namespace ``uri``, ``attributes``, ``children``.

    Attributes are keyed by name, or by ``(uri, name)`` for a namespaced attribute;
    ``element["type"]`` reads and writes them. Children are Elements and strings (the
    text between them), in document order.

    Args:
        qname: ``(uri, name)``; a uri of None means "the parent's default namespace"
            (``defaultUri``), as in Twisted.
        defaultUri: the default namespace this element declares for its children.
        attribs: the attributes to start with.
    """

    __slots__ = ("attributes", "children", "defaultUri", "name", "parent", "uri")

    def __init__(
        self,
        qname: tuple[str | None, str],
        defaultUri: str | None = None,
        attribs: dict[AttributeName, str] | None = None,
    ) -> None:
        uri, name = qname
        self.name = name
        self.defaultUri = defaultUri if defaultUri is not None else uri
        self.uri = uri if uri is not None else self.defaultUri
        self.attributes: dict[AttributeName, str] = dict(attribs or {})
        self.children: list[Element | str] = []
        self.parent: Element | None = None

    def __repr__(self) -> str:
        return f"<Element {self.uri or ''}:{self.name} with {len(self.children)} children>"

    def __str__(self) -> str:
        """The text directly inside this element (its string children, joined)."""
        return "".join(child for child in self.children if isinstance(child, str))

    def __getitem__(self, key: AttributeName) -> str:
        return self.attributes[key]

    def __setitem__(self, key: AttributeName, value: str) -> None:
        self.attributes[key] = value

    def __delitem__(self, key: AttributeName) -> None:
        del self.attributes[key]

    def getAttribute(self, attribname: AttributeName, default: str | None = None) -> str | None:
        """Return the attribute's value, or ``default``."""
        return self.attributes.get(attribname, default)

    def hasAttribute(self, attribname: AttributeName) -> bool:
        """Return whether the attribute is set."""
        return attribname in self.attributes

    def addChild(self, node: Element | str) -> Element | str:
        """Append ``node`` (an Element or text) and return it."""
        if isinstance(node, Element):
            node.parent = self
        elif not isinstance(node, str):
            raise TypeError(f"a child is an Element or text, not {type(node).__name__}")
        self.children.append(node)
        return node

    def addContent(self, text: str) -> str:
        """Append ``text``, joined to the last child if that is text too."""
        if not isinstance(text, str):
            raise TypeError(f"content is text, not {type(text).__name__}; decode it first")
        if self.children and isinstance(self.children[-1], str):
            self.children[-1] += text
        else:
            self.children.append(text)
        return text

    def addElement(
        self,
        name: str | tuple[str | None, str],
        defaultUri: str | None = None,
        content: str | None = None,
    ) -> Element:
        """Append a new child element and return it.

        ``name`` is a local name (the child is in this element's default namespace)
        or ``(uri, name)``.
        """
        if isinstance(name, tuple):
            uri = name[0] if name[0] is not None else self.defaultUri
            child = Element((uri, name[1]), defaultUri if defaultUri is not None else uri)
        else:
            uri = defaultUri if defaultUri is not None else self.defaultUri
            child = Element((uri, name), uri)
        self.addChild(child)
        if content is not None:
            child.addContent(content)
        return child

    def elements(self, uri: str | None = None, name: str | None = None) -> Iterator[Element]:
        """Iterate over the child elements (those with ``uri`` and ``name``, if given)."""
        for child in self.children:
            if (
                isinstance(child, Element)
                and (uri is None or child.uri == uri)
                and (name is None or child.name == name)
            ):
                yield child

    def firstChildElement(self) -> Element | None:
        """Return the first child element, or None."""
        return next(self.elements(), None)

    def toXml(self, closeElement: bool = True) -> str:
        """Return this element (and its children) as XML text.

        With ``closeElement=False`` only the start tag is written (a stream header).
        Namespaces are declared as default namespaces (``xmlns="..."``) where an
        element's namespace differs from its parent's; namespaced attributes get
        prefixes of their own.
        """
        out: list[str] = []
        self._write(out, None, closeElement)
        return "".join(out)

    def _write(self, out: list[str], parentUri: str | None, close: bool) -> None:
        out.append("<" + self.name)
        ns = self.uri if self.uri is not None else parentUri  # None: the parent's
        if ns != parentUri and (ns or parentUri):
            out.append(f' xmlns="{escapeToXml(ns or "", True)}"')
        prefixes: dict[str, str] = {}
        for key, value in self.attributes.items():
            if isinstance(key, tuple):
                uri, local = key
                if uri == "http://www.w3.org/XML/1998/namespace":
                    out.append(f' xml:{local}="{escapeToXml(value, True)}"')
                    continue
                prefix = prefixes.get(uri)
                if prefix is None:
                    prefix = prefixes[uri] = f"ns{len(prefixes)}"
                    out.append(f' xmlns:{prefix}="{escapeToXml(uri, True)}"')
                out.append(f' {prefix}:{local}="{escapeToXml(value, True)}"')
            else:
                out.append(f' {key}="{escapeToXml(value, True)}"')
        if not close:
            out.append(">")
            return
        if not self.children:
            out.append("/>")
            return
        out.append(">")
        for child in self.children:
            if isinstance(child, str):
                out.append(escapeToXml(child))
            else:
                child._write(out, ns, True)
        out.append(f"</{self.name}>")
