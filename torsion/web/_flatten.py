"""The flattener of torsion.web.template: a page tree in, UTF-8 bytes out, as it goes.

One loop over an explicit stack (no recursion, so a deep tree cannot reach Python's
recursion limit, and no generator per element): the stack holds the nodes still to
write and markers for the work left when a node's children are done (a closing tag,
the end of a fillSlots scope, of an Element, of an attribute value). A Deferred or a
coroutine in the tree suspends the loop, after flushing what is ready, until it fires;
the reactor serves everybody else meanwhile. The flattener is also a push producer:
writing to a request that registered it, a slow client pauses it (a 10 MB page never
sits in memory).

Text and attribute values are escaped; bytes are taken as UTF-8 and refused with a
clear error when they are not; ``raw`` is the one way to write markup as it is.
Tests: tests/web/template/test_flatten.py, tests/web/template/test_escaping.py,
tests/web/template/test_streaming.py.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable, Iterator
from inspect import iscoroutine
from types import CoroutineType, GeneratorType
from typing import Any

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionLost
from torsion.internet.interfaces import IPushProducer
from torsion.python.failure import Failure
from torsion.web._stan import CDATA, CharRef, Comment, Flattenable, Tag, raw, slot, voidElements
from torsion.web.error import FlattenerError, UnfilledSlot, UnsupportedType
from torsion.web.iweb import IRenderable

__all__ = [
    "BUFFER_SIZE",
    "decodeUTF8",
    "escapeForAttribute",
    "escapeForCDATA",
    "escapeForComment",
    "escapeForContent",
    "flatten",
    "flattenString",
]

BUFFER_SIZE = 64 * 1024
"""About how many characters the flattener gathers before it hands them to ``write``."""

_contentSpecial = re.compile("[&<>\0]").search
_attributeSpecial = re.compile('[&<>"\0]').search
_commentDashes = re.compile("-(?=-)")


def escapeForContent(text: str) -> str:
    """Text as element content: ``& < >`` become entities, NUL becomes U+FFFD (what an
    HTML parser would make of it anyway)."""
    if _contentSpecial(text) is None:
        return text
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\0", "\ufffd")
    )


def escapeForAttribute(text: str) -> str:
    """Text as a double-quoted attribute value: ``& < > "`` become entities, NUL U+FFFD."""
    if _attributeSpecial(text) is None:
        return text
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\0", "\ufffd")
    )


def escapeForComment(text: str) -> str:
    """Text inside ``<!-- -->`` that cannot end the comment: dashes in a row are spaced
    apart, and a leading ``>``/``->`` or a trailing ``-`` gets a space."""
    text = _commentDashes.sub("- ", text.replace("\0", "\ufffd"))
    if text[:1] == ">" or text[:2] == "->":
        text = " " + text
    if text[-1:] == "-":
        text += " "
    return text


def escapeForCDATA(text: str) -> str:
    """Text inside ``<![CDATA[ ]]>``: a ``]]>`` is split across two sections."""
    return text.replace("]]>", "]]]]><![CDATA[>").replace("\0", "\ufffd")


def decodeUTF8(data: bytes) -> str:
    """``data`` as text; bytes in a page tree must be UTF-8.

    Raises:
        ValueError: naming the first byte that is not UTF-8, and what to do.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        context = data[max(0, e.start - 20) : e.end + 20]
        raise ValueError(
            f"bytes in a page must be UTF-8, but byte 0x{data[e.start]:02x} at offset "
            f"{e.start} is not ({context!r}); decode them to str with their real encoding "
            f"before putting them in the page"
        ) from None


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start : e.end]
        context = text[max(0, e.start - 30) : e.end + 30]
        raise ValueError(
            f"the page holds the lone surrogate {bad!r} (in {context!r}), which is not a "
            f"character and cannot be written as UTF-8; it comes from decoding bytes with "
            f"errors='surrogateescape': decode them with their real encoding (or "
            f"errors='replace') before putting them in the page"
        ) from None


# Tag and attribute names are checked once and their markup kept: names come from
# code, not from requests, so the caches stay small (and are bounded regardless).
_tagName = re.compile(r"[A-Za-z][-A-Za-z0-9_.:]*\Z").match
_attributeName = re.compile(r"[^\s\"'<>/=\x00-\x1f\x7f]+\Z").match
_openings: dict[str, str] = {}
_closings: dict[str, str] = {}
_attributePrefixes: dict[Any, str] = {}
_CACHE_LIMIT = 4096


def _checkTagName(name: str) -> str:
    if not isinstance(name, str) or _tagName(name) is None:
        raise ValueError(
            f"{name!r} cannot be an element name (a letter, then letters, digits, "
            f"'-', '_', '.' or ':')"
        )
    opening = "<" + name
    if len(_openings) < _CACHE_LIMIT:
        _openings[name] = opening
        _closings[name] = "</" + name + ">"
    return opening


def _closing(name: str) -> str:
    return _closings.get(name) or "</" + name + ">"


def _checkAttributeName(name: Any) -> str:
    key = name
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    if not isinstance(name, str) or _attributeName(name) is None:
        raise ValueError(
            f"{name!r} cannot be an attribute name (no spaces, quotes, '<', '>', '/', '=' "
            f"or control characters)"
        )
    prefix = " " + name + '="'
    if len(_attributePrefixes) < _CACHE_LIMIT:
        _attributePrefixes[key] = prefix
    return prefix


class _Marker:
    """Work left on the stack for after a node's children (see the module docstring)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_CLOSE = _Marker("end of element")  # below it: the Tag
_POP_SLOTS = _Marker("end of fillSlots")
_POP_RENDERER = _Marker("end of Element")  # below it: the IRenderable
_END_ATTRIBUTE = _Marker("end of attribute value")  # below: the outer buffer, its mode
_MORE_ATTRIBUTES = _Marker("rest of the attributes")  # below: the Tag, the next index
_ATTRIBUTE_MODE = _Marker("back in an attribute value")


class _Raise:
    """A failed Deferred of the tree: raises its failure where the result would go."""

    __slots__ = ("failure",)

    def __init__(self, failure: Failure) -> None:
        self.failure = failure


def _renderClone(tag: Tag) -> Tag:
    """The copy of ``tag`` a renderer gets: its own attributes and children lists."""
    clone = Tag(
        tag.tagName,
        {
            name: (value.clone() if type(value) is Tag else value)
            for name, value in tag.attributes.items()
        },
        tag.children[:],
        None,
        tag.filename,
        tag.lineNumber,
        tag.columnNumber,
    )
    if tag.slotData is not None:
        clone.slotData = dict(tag.slotData)
    return clone


@implementer(IPushProducer)
class _Flattener:
    """One flattening: the stack of work, the output gathered so far, and its state."""

    __slots__ = (
        "attributeMode",
        "buffer",
        "done",
        "finished",
        "hold",
        "limit",
        "out",
        "paused",
        "registeredWith",
        "renderers",
        "request",
        "running",
        "size",
        "slots",
        "stack",
        "waiting",
        "write",
    )

    def __init__(
        self, request: Any, root: Flattenable, write: Callable[[bytes], object] | None
    ) -> None:
        self.request = request
        self.write = write
        self.stack: list[Any] = [root]
        self.slots: list[dict[str, Any]] = []
        self.renderers: list[Any] = []
        self.out: list[str] = []
        self.buffer = self.out
        self.attributeMode = False
        self.size = 0
        self.limit = BUFFER_SIZE if write is not None else sys.maxsize
        self.paused = False
        self.waiting: Deferred[Any] | None = None
        self.hold = False
        self.running = False
        self.finished = False
        self.registeredWith: Any = None
        self.done: Deferred[Any] = Deferred(self._cancel)

    # -- IPushProducer (the request's transport paces a streamed page) -------------

    def pauseProducing(self) -> None:
        self.paused = True
        self.hold = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.hold = self.waiting is not None
        if not self.hold:
            self._run()

    def stopProducing(self) -> None:
        """The client went away: stop, and fail ``done`` with ConnectionLost."""
        if self.finished:
            return
        self._stop()
        self.registeredWith = None  # the request dropped us already
        self.done.errback(
            Failure(ConnectionLost("the client's connection was lost before the page was written"))
        )

    def _cancel(self, _: Deferred[Any]) -> None:
        if not self.finished:
            self._stop()
            self._unregister()

    def _stop(self) -> None:
        self.finished = True
        self.hold = True
        self.stack.clear()
        self.out.clear()

    def _unregister(self) -> None:
        request, self.registeredWith = self.registeredWith, None
        if request is not None:
            request.unregisterProducer()

    # -- the loop ------------------------------------------------------------------

    def _run(self) -> None:
        if self.finished or self.hold or self.running:
            return
        self.running = True
        try:
            self._loop()
            if self.stack or self.waiting is not None or self.finished:
                return
            if self.write is None:
                result: Any = _encode("".join(self.out))
            else:
                self._flush()
                result = None
        except FlattenerError:
            self._fail(Failure())
            return
        except Exception as e:
            try:
                raise FlattenerError(e, [], traceback.extract_tb(e.__traceback__)) from e
            except FlattenerError:
                self._fail(Failure())
            return
        finally:
            self.running = False
        self.finished = True
        self.out.clear()
        self._unregister()
        self.done.callback(result)

    def _fail(self, failure: Failure) -> None:
        if self.finished:
            return
        self._stop()
        self._unregister()
        self.done.errback(failure)

    def _loop(self) -> None:
        # The common node kinds are handled inline (a call per node is a good part of
        # the cost of a page); ``buffer`` is re-read after the calls that may swap it.
        stack = self.stack
        pop = stack.pop
        push = stack.append
        slots = self.slots
        buffer = self.buffer
        item: Any = None
        try:
            while stack:
                if self.hold:
                    return
                item = pop()
                kind = type(item)
                if kind is str:
                    buffer.append(item if self.attributeMode else escapeForContent(item))
                    self.size += len(item)
                    if self.size >= self.limit:
                        self._flush()
                elif kind is Tag:
                    if item.render is not None:
                        self._render(item)
                        continue
                    if item.slotData is not None:
                        slots.append(item.slotData)
                        push(_POP_SLOTS)
                    name = item.tagName
                    children = item.children
                    if not name:
                        if len(children) == 1:
                            push(children[0])
                        else:
                            stack.extend(reversed(children))
                        continue
                    if self.attributeMode:
                        # A tag inside an attribute value: its own text is escaped as
                        # content, and the whole value again when the attribute ends.
                        push(_ATTRIBUTE_MODE)
                        self.attributeMode = False
                    buffer.append(_openings.get(name) or _checkTagName(name))
                    # Markup counts towards a chunk too (a page of bare tags must be
                    # written in chunks as well), roughly: a tag's two ends.
                    self.size += 16
                    if self.size >= self.limit:
                        self._flush()
                    if item.attributes:
                        self._attributes(item, 0)
                        buffer = self.buffer
                    elif children:
                        buffer.append(">")
                        push(item)
                        push(_CLOSE)
                        if len(children) == 1:
                            push(children[0])
                        else:
                            stack.extend(reversed(children))
                    elif name in voidElements:
                        buffer.append(" />")
                    else:
                        buffer.append("></" + name + ">")
                elif kind is _Marker:
                    if item is _CLOSE:
                        name = pop().tagName
                        buffer.append(_closings.get(name) or _closing(name))
                    else:
                        self._marker(item)
                        buffer = self.buffer
                elif kind is slot:
                    name = item.name
                    if slots and name in slots[-1]:
                        push(slots[-1][name])
                    else:
                        push(self._slotValue(item))
                elif kind is GeneratorType:
                    for value in item:
                        push(item)
                        push(value)
                        break
                elif kind is list or kind is tuple:
                    stack.extend(reversed(item))
                elif item is None:
                    pass
                else:
                    self._other(item, kind)
                    buffer = self.buffer
                    if self.size >= self.limit:
                        self._flush()
        except Exception as e:
            roots = self._roots(item)
            raise FlattenerError(e, roots, traceback.extract_tb(e.__traceback__)) from e

    def _other(self, item: Any, kind: type) -> None:
        """Everything less common than text, tags, markers, slots and sequences."""
        if kind is bytes:
            self.stack.append(decodeUTF8(item))
        elif isinstance(item, Deferred):
            if (
                item.called
                and not item.paused
                and not item._runningCallbacks
                and item._chainedTo is None
                and not isinstance(item.result, Failure)
            ):
                # Fired already (a cached value, a finished query): take its result
                # as it is, leaving it there for the Deferred's other users.
                self.stack.append(item.result)
            else:
                self._wait(item)
        elif kind is CoroutineType or iscoroutine(item):
            self._wait(Deferred.fromCoroutine(item))
        elif kind is raw:
            self.buffer.append(item.data)
            self.size += len(item.data)
        elif kind is CharRef:
            self.buffer.append(chr(item.ordinal) if self.attributeMode else f"&#{item.ordinal};")
            self.size += 8
        elif kind is Comment:
            text = escapeForComment(_text(item.data))
            self.buffer.append("<!--" + text + "-->")
            self.size += len(text) + 7
        elif kind is CDATA:
            text = escapeForCDATA(_text(item.data))
            self.buffer.append("<![CDATA[" + text + "]]>")
            self.size += len(text) + 12
        elif kind is _Raise:
            item.failure.raiseException()
        elif IRenderable.providedBy(item):
            result = item.render(self.request)
            self.renderers.append(item)
            self.stack.extend((item, _POP_RENDERER, result))
        elif isinstance(item, str):
            self.stack.append(str.__str__(item))
        elif isinstance(item, bytes):
            self.stack.append(bytes(item))
        elif isinstance(item, Iterator):
            for value in item:
                self.stack.extend((item, value))
                break
        else:
            raise UnsupportedType(item)

    def _attributes(self, tag: Tag, start: int) -> None:
        """Write the attributes of ``tag`` from the ``start``-th on, then its children.

        A value that is not text (a Tag, a Deferred, ...) is flattened into a buffer
        of its own and escaped as a whole; the rest of the tag waits on the stack. A
        transparent tag of text and slots (what ``t:attr`` makes) is joined at once.
        """
        stack = self.stack
        buffer = self.buffer
        attributes = tag.attributes
        items: Any = attributes.items() if start == 0 else list(attributes.items())[start:]
        index = start
        for key, value in items:
            index += 1
            prefix = _attributePrefixes.get(key) or _checkAttributeName(key)
            kind = type(value)
            if kind is slot:
                value = self._slotValue(value)
                kind = type(value)
            elif kind is Tag and not value.tagName:
                joined = self._joinText(value)
                if joined is not None:
                    value = joined
                    kind = str
            if kind is bytes:
                value = decodeUTF8(value)
                kind = str
            if kind is str:
                buffer.append(prefix)
                buffer.append(escapeForAttribute(value))
                buffer.append('"')
                self.size += len(value)
                continue
            buffer.append(prefix)
            stack.extend((tag, index, _MORE_ATTRIBUTES, buffer, self.attributeMode, _END_ATTRIBUTE))
            stack.append(value)
            self.buffer = []
            self.attributeMode = True
            return
        children = tag.children
        if children:
            buffer.append(">")
            stack.append(tag)
            stack.append(_CLOSE)
            if len(children) == 1:
                stack.append(children[0])
            else:
                stack.extend(reversed(children))
        elif tag.tagName in voidElements:
            buffer.append(" />")
        else:
            buffer.append(">")
            buffer.append(_closing(tag.tagName))

    def _joinText(self, tag: Tag) -> str | None:
        """The text of a plain transparent tag of strings and slots, else None."""
        if tag.render is not None or tag.slotData is not None:
            return None
        parts = []
        for child in tag.children:
            kind = type(child)
            if kind is slot:
                child = self._slotValue(child)
                kind = type(child)
            if kind is not str:
                return None
            parts.append(child)
        return "".join(parts)

    def _marker(self, marker: _Marker) -> None:
        stack = self.stack
        if marker is _POP_SLOTS:
            self.slots.pop()
        elif marker is _END_ATTRIBUTE:
            self.attributeMode = stack.pop()
            outer = stack.pop()
            outer.append(escapeForAttribute("".join(self.buffer)))
            outer.append('"')
            self.buffer = outer
        elif marker is _MORE_ATTRIBUTES:
            index = stack.pop()
            self._attributes(stack.pop(), index)
        elif marker is _POP_RENDERER:
            stack.pop()
            self.renderers.pop()
        elif marker is _ATTRIBUTE_MODE:
            self.attributeMode = True

    def _render(self, tag: Tag) -> None:
        if not self.renderers:
            raise ValueError(
                f"{tag!r} asks for the renderer {tag.render!r}, but it is not inside an "
                f"Element to look that renderer up on; render it as part of an Element"
            )
        method = self.renderers[-1].lookupRenderMethod(tag.render)
        slotData = tag.slotData
        if slotData is not None:
            self.slots.append(slotData)
            self.stack.append(_POP_SLOTS)
        self.stack.append(method(self.request, _renderClone(tag)))

    def _slotValue(self, node: slot) -> Any:
        name = node.name
        for data in reversed(self.slots):
            if name in data:
                return data[name]
        if node.default is not None:
            return node.default
        raise UnfilledSlot(name)

    def _wait(self, d: Deferred[Any]) -> None:
        """Go on with the tree once ``d`` fires (at once if it has)."""
        self.waiting = d
        self.hold = True
        d.addCallbacks(self._gotResult, self._gotFailure)
        if self.waiting is d:
            self._flush()

    def _gotResult(self, result: Any) -> Any:
        self._resume(result)
        return result

    def _gotFailure(self, failure: Failure) -> None:
        # The flattener takes the failure: it reports it (as its own failure).
        self._resume(_Raise(failure))

    def _resume(self, value: Any) -> None:
        self.waiting = None
        if self.finished:
            return
        self.stack.append(value)
        self.hold = self.paused
        if not self.running:
            self._run()

    def _flush(self) -> None:
        out = self.out
        self.size = 0
        if out and self.write is not None:
            data = _encode("".join(out))
            out.clear()
            self.write(data)

    def _roots(self, item: Any) -> list[Any]:
        """The path from the tree's root down to ``item``, read off the stack."""
        stack = self.stack
        roots = []
        for index, entry in enumerate(stack):
            if entry is _CLOSE or entry is _POP_RENDERER:
                roots.append(stack[index - 1])
            elif entry is _MORE_ATTRIBUTES:
                roots.append(stack[index - 2])
        if type(item) is not _Raise:
            roots.append(item)
        return roots


def _text(data: str | bytes) -> str:
    return decodeUTF8(data) if isinstance(data, bytes) else data


def flatten(request: Any, root: Flattenable, write: Callable[[bytes], object]) -> Deferred[None]:
    """Write ``root`` as UTF-8 markup by calling ``write(bytes)`` as it goes.

    The Deferred fires with None once all is written, or fails with FlattenerError
    (its ``_exception`` the cause, ``_roots`` the path to what failed). ``request`` is
    handed to every renderer. When ``write`` is ``request.write`` and the request has
    no producer yet, the flattener registers itself as the request's streaming
    producer until it is done, so a slow client pauses it; if the client goes away,
    the Deferred fails with ConnectionLost.
    """
    flattener = _Flattener(request, root, write)
    if (
        getattr(write, "__self__", None) is request
        and request is not None
        and getattr(request, "producer", False) is None
        and hasattr(request, "registerProducer")
    ):
        request.registerProducer(flattener, True)
        flattener.registeredWith = request
    flattener._run()
    return flattener.done


def flattenString(request: Any, root: Flattenable) -> Deferred[bytes]:
    """The whole of ``root`` as UTF-8 bytes (a Deferred: the tree may wait on others).

    It fails with FlattenerError as ``flatten`` does.
    """
    flattener = _Flattener(request, root, None)
    flattener._run()
    return flattener.done
