"""The document model of torsion.web.template: tags, slots and the special nodes.

A page is a tree of plain Python objects: ``Tag`` (an element with attributes and
children), ``slot`` (a named hole that an enclosing tag's ``fillSlots`` fills),
``Comment``, ``CDATA``, ``CharRef`` and ``raw`` (markup that is written as it is, the
one way past escaping). ``tags.div(class_="x")("text")`` builds them the "stan" way.
torsion/web/_flatten.py turns such a tree into bytes. Tests:
tests/web/template/test_stan.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from inspect import isgenerator
from typing import Any

__all__ = [
    "CDATA",
    "VALID_HTML_TAG_NAMES",
    "CharRef",
    "Comment",
    "Flattenable",
    "Tag",
    "raw",
    "slot",
    "tags",
    "voidElements",
]

Flattenable = Any
"""What flatten accepts: str, bytes (UTF-8), Tag, slot, Comment, CDATA, CharRef, raw,
an IRenderable (Element), a list, tuple or generator of Flattenables, a Deferred or a
coroutine whose result is one, or None (nothing)."""


class slot:  # noqa: N801 (Twisted's name)
    """A named place in a template that a ``Tag.fillSlots`` above it fills.

    ``default`` is used when no enclosing tag fills the slot; without one an unfilled
    slot fails the rendering with UnfilledSlot. ``filename``/``lineNumber``/
    ``columnNumber`` say where an XML template defined it, for error messages.
    """

    __slots__ = ("children", "columnNumber", "default", "filename", "lineNumber", "name")

    def __init__(
        self,
        name: str,
        default: Flattenable = None,
        filename: str | None = None,
        lineNumber: int | None = None,
        columnNumber: int | None = None,
    ) -> None:
        self.name = name
        self.default = default
        self.filename = filename
        self.lineNumber = lineNumber
        self.columnNumber = columnNumber
        self.children: list[Flattenable] = []

    def __repr__(self) -> str:
        return f"slot({self.name!r}){_where(self)}"


class Tag:
    """An element: a name, attributes, children, and perhaps a renderer to run.

    Call a tag to add children and attributes (``tag("text", href="/x")``; a trailing
    underscore is dropped so ``class_`` gives ``class``; ``render="name"`` names the
    renderer method that produces the tag instead of an attribute). A tag whose name
    is empty (``tags.transparent``) writes only its children.
    """

    __slots__ = (
        "attributes",
        "children",
        "columnNumber",
        "filename",
        "lineNumber",
        "render",
        "slotData",
        "tagName",
    )

    def __init__(
        self,
        tagName: str | bytes,
        attributes: dict[Any, Flattenable] | None = None,
        children: list[Flattenable] | None = None,
        render: str | None = None,
        filename: str | None = None,
        lineNumber: int | None = None,
        columnNumber: int | None = None,
    ) -> None:
        if isinstance(tagName, bytes):
            tagName = tagName.decode("ascii")
        self.tagName: str = tagName
        self.attributes: dict[Any, Flattenable] = {} if attributes is None else attributes
        self.children: list[Flattenable] = [] if children is None else children
        self.render = render
        self.filename = filename
        self.lineNumber = lineNumber
        self.columnNumber = columnNumber
        self.slotData: dict[str, Flattenable] | None = None

    def fillSlots(self, **slots: Flattenable) -> Tag:
        """Give values to the slots below this tag; returns the tag (``return
        tag.fillSlots(...)`` in a renderer)."""
        if self.slotData is None:
            self.slotData = slots
        else:
            self.slotData.update(slots)
        return self

    def __call__(self, *children: Flattenable, **attributes: Flattenable) -> Tag:
        """Add ``children`` and set ``attributes``; returns the tag, so calls nest."""
        if children:
            self.children.extend(children)
        if not attributes:
            return self
        for name, value in attributes.items():
            if name[-1:] == "_":
                name = name[:-1]
            if name == "render":
                if not isinstance(value, str):
                    raise TypeError(
                        f"render= names a renderer method and must be a str, not {value!r}"
                    )
                self.render = value
            else:
                self.attributes[name] = value
        return self

    def clone(self, deep: bool = True) -> Tag:
        """A copy of this tag that can be changed without changing the original.

        With ``deep`` false the children list is copied but the children are shared
        (what a renderer gets: it may add children, fill slots, set attributes).
        Generators and coroutines cannot be copied (they run once): they are shared.
        """
        # Renderers clone a row tag per row of a table: this is a hot path, so strings
        # (most children and attribute values) are copied without a call.
        if deep:
            children = [child if type(child) is str else _clone(child) for child in self.children]
        else:
            children = self.children[:]
        attributes = self.attributes
        if attributes:
            attributes = {
                name: value if type(value) is str else _clone(value)
                for name, value in attributes.items()
            }
        else:
            attributes = {}
        new = _newTag(Tag)
        new.tagName = self.tagName
        new.attributes = attributes
        new.children = children
        new.render = self.render
        new.filename = self.filename
        new.lineNumber = self.lineNumber
        new.columnNumber = self.columnNumber
        slotData = self.slotData
        new.slotData = (
            None if slotData is None else {name: _clone(value) for name, value in slotData.items()}
        )
        return new

    def __repr__(self) -> str:
        # Tags nested past a few levels are shown as "...": a repr of a deep tree
        # (error messages show the path to what failed) must neither recurse without
        # end nor fill the screen.
        global _reprDepth
        if _reprDepth >= 3:
            return f"Tag({self.tagName!r}, ...)"
        _reprDepth += 1
        try:
            parts = [repr(self.tagName)]
            if self.attributes:
                parts.append(f"attributes={self.attributes!r}")
            if self.children:
                parts.append(f"children={self.children!r}")
            if self.render is not None:
                parts.append(f"render={self.render!r}")
        finally:
            _reprDepth -= 1
        return f"Tag({', '.join(parts)}){_where(self)}"


_reprDepth = 0


_newTag = object.__new__


def _clone(value: Flattenable) -> Flattenable:
    if type(value) is str:
        return value
    if type(value) is Tag:
        return value.clone(True)
    if isinstance(value, (list, tuple)):
        return [_clone(item) for item in value]
    clone = getattr(value, "clone", None)
    if clone is not None and not isgenerator(value):
        return clone(True)
    return value


def _where(node: Tag | slot) -> str:
    if node.filename is None and node.lineNumber is None:
        return ""
    return f" at {node.filename or '<string>'}:{node.lineNumber}:{node.columnNumber}"


class CDATA:
    """A CDATA section (``<![CDATA[...]]>``); a ``]]>`` inside is split so it cannot end it."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"CDATA({self.data!r})"


class Comment:
    """A comment (``<!--...-->``); text that could end it early is spaced apart."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Comment({self.data!r})"


class CharRef:
    """A numeric character reference (``&#160;``), for characters written by number."""

    __slots__ = ("ordinal",)

    def __init__(self, ordinal: int) -> None:
        if not isinstance(ordinal, int) or not 0 < ordinal <= 0x10FFFF:
            raise ValueError(f"CharRef needs a Unicode code point (1 to 0x10FFFF), not {ordinal!r}")
        if 0xD800 <= ordinal <= 0xDFFF:
            raise ValueError(
                f"CharRef(0x{ordinal:X}) is a surrogate, not a character; give the code point "
                f"of the character itself"
            )
        self.ordinal = ordinal

    def __repr__(self) -> str:
        return f"CharRef({self.ordinal!r})"


class raw:  # noqa: N801 (lower case like slot: a marker, not a node kind)
    """Markup written exactly as given, without escaping: the one way to put markup
    from a string into a page.

    Only wrap text you made or checked yourself (never text from a request): whatever
    it contains reaches the browser as markup. Bytes must be UTF-8.
    """

    __slots__ = ("data",)

    def __init__(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            from torsion.web._flatten import decodeUTF8

            data = decodeUTF8(data)
        elif not isinstance(data, str):
            raise TypeError(f"raw() takes str or UTF-8 bytes, not {type(data).__name__}")
        self.data: str = data

    def __repr__(self) -> str:
        return f"raw({self.data!r})"


voidElements = frozenset(
    (
        "area", "base", "basefont", "br", "col", "command", "embed", "frame", "hr", "img",
        "input", "isindex", "keygen", "link", "meta", "param", "source", "track", "wbr",
    )
)  # fmt: skip
"""Elements that have no end tag in HTML: written ``<br />`` when they have no children."""

VALID_HTML_TAG_NAMES = frozenset(
    """a abbr acronym address applet area article aside audio b base basefont bdi bdo
    big blockquote body br button canvas caption center cite code col colgroup command
    data datalist dd del details dfn dialog dir div dl dt em embed fieldset figcaption
    figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html
    i iframe img input ins isindex kbd keygen label legend li link main map mark math
    menu meta meter nav noframes noscript object ol optgroup option output p param
    picture pre progress q rp rt ruby s samp script search section select small source
    span strike strong style sub summary sup svg table tbody td template textarea tfoot
    th thead time title tr track tt u ul var video wbr""".split()  # noqa: SIM905
)
"""The names ``tags`` knows; a typo (``tags.dvi``) is an AttributeError, not a tag."""


class _NewTag:
    """``tags.NAME``: a new Tag of that name at each access."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Tag:
        return Tag(self.name)


class _TagFactory:
    """``tags.div`` is ``Tag("div")``, for every name in VALID_HTML_TAG_NAMES;
    ``tags.transparent`` is a tag that writes only its children. (Each known name is a
    descriptor of the class, so the common case is one call; other names reach
    ``__getattr__``, which says what is wrong.)"""

    __slots__ = ()

    def __getattr__(self, name: str) -> Tag:
        if name == "transparent":
            return Tag("")
        if name.endswith("_"):
            name = name[:-1]
        if name not in VALID_HTML_TAG_NAMES:
            raise AttributeError(
                f"tags.{name}: {name!r} is not an HTML element name; "
                f"for another element write Tag({name!r})"
            )
        return Tag(name)

    def __dir__(self) -> Iterable[str]:
        return sorted(VALID_HTML_TAG_NAMES | {"transparent"})


for _name in VALID_HTML_TAG_NAMES:
    setattr(_TagFactory, _name, _NewTag(_name))
del _name
_TagFactory.transparent = _NewTag("")  # type: ignore[attr-defined]

tags = _TagFactory()
