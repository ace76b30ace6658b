"""Content types by file name, for torsion.web.static (which re-exports these names).

Tests: tests/web/test_static.py.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["getTypeAndEncoding", "loadMimeTypes"]

# What the web relies on, whatever the system's mime.types says (some still map .js to
# application/x-javascript, or know nothing of .wasm and .woff2).
_WEB_TYPES = {
    ".css": "text/css",
    ".csv": "text/csv",
    ".htm": "text/html",
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".jsonld": "application/ld+json",
    ".wasm": "application/wasm",
    ".xml": "application/xml",
    ".xhtml": "application/xhtml+xml",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".conf": "text/plain",
    ".diff": "text/plain",
    ".patch": "text/plain",
    ".log": "text/plain",
    ".py": "text/plain",
    ".rst": "text/plain",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".gz": "application/gzip",
}


def loadMimeTypes(
    mimetype_locations: Sequence[str] | None = None, init: Callable[..., Any] | None = None
) -> dict[str, str]:
    """The extension -> MIME type map that `File.contentTypes` starts from.

    Python's own table, then the system's files (`mimetypes.knownfiles`, or
    `mimetype_locations` if given), then the web's types above, which win. Python's
    global `mimetypes` state is left alone, unless `init` is given (Twisted's
    signature): then `init(mimetype_locations)` is called and its `mimetypes.types_map`
    is used instead of the system's files.
    """
    if init is not None:
        init(mimetype_locations)
        table = dict(mimetypes.types_map)
    else:
        locations = mimetypes.knownfiles if mimetype_locations is None else mimetype_locations
        table = dict(mimetypes.MimeTypes([p for p in locations if os.path.isfile(p)]).types_map[1])
    table.update(_WEB_TYPES)
    return table


def getTypeAndEncoding(
    filename: str,
    types: dict[str, str],
    encodings: dict[str, str],
    defaultType: str,
) -> tuple[str, str | None]:
    """The Content-Type and Content-Encoding of a file by its name's extensions.

    `page.html.gz` is text/html, gzip; a name whose extension is unknown gets
    `defaultType`.
    """
    base, ext = os.path.splitext(filename)
    ext = ext.lower()
    encoding = encodings.get(ext)
    if encoding is not None:
        ext = os.path.splitext(base)[1].lower()
    return types.get(ext, defaultType), encoding
