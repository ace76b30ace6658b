"""HTML templates: stan tags, XML templates, Elements, and flattening them to bytes.

The names are Twisted's (twisted.web.template), so a Twisted template ports by
renaming the import; ``raw`` is ours, the one explicit way to write unescaped
markup. Build a tree with ``tags`` (``tags.p(class_="x")("text")``) or load it from
XML (``XMLString``, ``XMLFile``, with the ``t:render``, ``t:slot`` and ``t:attr``
directives), put the renderers in an ``Element``, and write it with ``flatten``,
``flattenString`` or, from a resource, ``renderElement`` (streamed, paced by the
client). The guide is docs/web-templates.md.

Tests: tests/web/template/.
"""

from __future__ import annotations

from typing import Any

from torsion.internet.error import ConnectionLost
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web._element import Element, TagLoader, renderer
from torsion.web._flatten import flatten, flattenString
from torsion.web._stan import (
    CDATA,
    VALID_HTML_TAG_NAMES,
    CharRef,
    Comment,
    Flattenable,
    Tag,
    raw,
    slot,
    tags,
)
from torsion.web._xmltemplate import (
    TEMPLATE_NAMESPACE,
    TORSION_NAMESPACE,
    TemplateParseError,
    XMLFile,
    XMLString,
)
from torsion.web.iweb import IRenderable

__all__ = [
    "CDATA",
    "TEMPLATE_NAMESPACE",
    "TORSION_NAMESPACE",
    "VALID_HTML_TAG_NAMES",
    "CharRef",
    "Comment",
    "Element",
    "Flattenable",
    "Tag",
    "TagLoader",
    "TemplateParseError",
    "XMLFile",
    "XMLString",
    "flatten",
    "flattenString",
    "raw",
    "renderElement",
    "renderer",
    "slot",
    "tags",
]

_log = Logger(namespace="torsion.web.template")


def renderElement(
    request: Any,
    element: IRenderable | Flattenable,
    doctype: bytes | None = b"<!DOCTYPE html>",
    _failElement: Any = None,
) -> int:
    """Write ``element`` as the response to ``request``, streamed; return NOT_DONE_YET.

    ``return renderElement(request, MyElement())`` from a resource's render. The
    doctype (None for none) goes first; the content type is HTML in UTF-8 unless the
    resource set one. The page is written as it is flattened, paced by the client (a
    slow one pauses the flattener), and the request is finished at the end.

    If rendering fails before anything was sent, the client gets a 500 page (the
    traceback in it only if the site's displayTracebacks is on); once part of the page
    is out, the connection is dropped instead, so the client never takes a cut page
    for a whole one. The traceback is logged either way.
    """
    from torsion.web.server import NOT_DONE_YET

    if not request.responseHeaders.hasHeader(b"content-type"):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
    root: Flattenable = element if doctype is None else [raw(doctype + b"\n"), element]
    d = flatten(request, root, request.write)

    def rendered(_: object) -> None:
        if not request.finished and not getattr(request, "_disconnected", False):
            request.finish()

    def failed(failure: Failure) -> None:
        # The flattener fails with ConnectionLost itself when the client goes away
        # (a renderer's own errors come wrapped in FlattenerError): nothing to report.
        if failure.check(ConnectionLost) or getattr(request, "_disconnected", False):
            return
        if request.finished:
            return
        _renderFailed(request, element, failure)

    d.addCallbacks(rendered, failed)
    return NOT_DONE_YET


def _renderFailed(request: Any, element: object, failure: Failure) -> None:
    if not request.startedWriting:
        processingFailed = getattr(request, "processingFailed", None)
        if processingFailed is not None:
            processingFailed(failure)
            return
        _log.failure("Rendering {element!r} failed", failure, element=element)
        request.setResponseCode(500)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.write(
            b"<!DOCTYPE html>\n<html><head><title>500 - Internal Server Error</title></head>"
            b"<body><h1>Internal Server Error</h1><p>An error occurred while rendering "
            b"this page; it has been logged.</p></body></html>\n"
        )
        request.finish()
        return
    _log.failure(
        "Rendering {element!r} failed after part of the page was sent; dropping the connection",
        failure,
        element=element,
    )
    transport = getattr(getattr(request, "channel", None), "transport", None)
    if transport is None:
        transport = request.transport
    abort = getattr(transport, "abortConnection", None)
    if abort is not None:
        abort()
    else:
        transport.loseConnection()
