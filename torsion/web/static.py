"""Static files: a directory tree (or one file) served over HTTP, as twisted.web.static.

`File(path)` is a resource for a file or a directory; as a directory its children are
the entries in it, made on demand, so `Site(File("/srv/www"))` serves the whole tree.
What it does, in short (docs/web-static.md says it at length):

- Content-Type from the extension (`contentTypes`, made by `loadMimeTypes()`) and
  Content-Encoding from a second one (`a.tar.gz`: application/x-tar, gzip);
- conditional requests: ETag (size and modification time) and Last-Modified, so
  If-None-Match and If-Modified-Since get 304; If-Range;
- byte ranges: one range answers 206 with Content-Range, several a
  multipart/byteranges body, none satisfiable 416 with `Content-Range: bytes */size`;
  a malformed Range header is ignored (200);
- a directory answers with its index file (`indexNames`) or a listing
  (`DirectoryLister`, every name escaped); without its trailing slash it redirects to
  the slash form;
- path segments that could leave the directory (`..`, `.`, `/`, `\\`, NUL, and `:` on
  Windows) are refused with 404, and so is following a symbolic link whose target
  lies outside the served root with 403, unless `allowSymlinksOutside=True`;
- hidden files (dot files) are served, as Twisted does; subclass to refuse them;
- small files go out in one write; big ones are streamed, by the kernel (sendfile(2),
  through the transport's `sendfile`) on a plain TCP connection, else by a pull
  producer that reads a chunk each time the transport has sent the last one, so a
  slow client holds the file back instead of the server's memory filling up.

Tests: tests/web/test_static.py (over real sockets, with http.client and curl),
tests/web/test_byteranges.py (the Range parser).
"""

from __future__ import annotations

import errno
import html
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any
from urllib.parse import quote, unquote_to_bytes

from torsion.internet import error
from torsion.python import components, log
from torsion.python.failure import Failure
from torsion.web import http, resource, server
from torsion.web._byteranges import Unsatisfiable, parseRange
from torsion.web._mimetypes import getTypeAndEncoding, loadMimeTypes
from torsion.web._staticproducers import (
    MultipleRangeStaticProducer,
    NoRangeStaticProducer,
    SingleRangeStaticProducer,
    StaticProducer,
)

__all__ = [
    "Data",
    "DirectoryLister",
    "File",
    "MultipleRangeStaticProducer",
    "NoRangeStaticProducer",
    "Registry",
    "SingleRangeStaticProducer",
    "StaticProducer",
    "addSlash",
    "dangerousPathError",
    "formatFileSize",
    "getTypeAndEncoding",
    "isDangerous",
    "loadMimeTypes",
]

_UNSAFE_SEGMENT_BYTES = (b"/", b"\\", b"\x00") + ((b":",) if sys.platform == "win32" else ())


def isDangerous(path: bytes) -> bool:
    """True if the URL segment `path` could name something outside its directory.

    `..` and `.`, and anything holding a separator (`/`, or `\\` on every system, so
    a tree copied to Windows stays safe) or NUL; on Windows also `:` (drives and
    alternate data streams).
    """
    return path in (b"..", b".") or any(c in path for c in _UNSAFE_SEGMENT_BYTES)


dangerousPathError = resource.NoResource("Invalid request URL.")


def formatFileSize(size: int) -> str:
    """A size for people: "512B", "3K", "12M", "2G"."""
    for unit, scale in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if size >= scale:
            return f"{size // scale}{unit}"
    return f"{size}B"


def addSlash(request: Any) -> bytes:
    """A relative URL to the request's path with a slash after it (and its query).

    Relative ("./name/"), so that neither a Host header nor a path like `//host/x`
    can point the redirect elsewhere.
    """
    segment: bytes = request.path.rpartition(b"/")[2]
    _, question, query = request.uri.partition(b"?")
    return b"./" + segment + b"/" + (b"?" + query if question else b"")


def _asBytes(value: bytes | str) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


class Data(resource.Resource):
    """A resource holding one fixed body and its type (a favicon, robots.txt)."""

    def __init__(self, data: bytes, type: bytes | str) -> None:
        super().__init__()
        if not isinstance(data, bytes):
            raise TypeError(f"Data holds bytes, not {data.__class__.__name__}; encode it first")
        self.data = data
        self.type = type

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", _asBytes(self.type))
        request.setHeader(b"content-length", b"%d" % len(self.data))
        if request.method == b"HEAD":
            return b""
        return self.data


class Registry(components.Componentized):
    """What the resources of one File tree share: a cache, for processors to use.

    torsion.web.script's ResourceScript keeps the resource an `.rpy` file made here
    (`cachePath`), so that the file runs once rather than on every request.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pathCache: dict[str, Any] = {}

    def cachePath(self, path: str, rsrc: Any) -> None:
        self._pathCache[path] = rsrc

    def getCachedPath(self, path: str) -> Any:
        return self._pathCache.get(path)


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
# What opening a file that is not there (any more) fails with.
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP})
# Where an entry of a directory is (File._lookup).
_MISSING, _INSIDE, _OUTSIDE = range(3)


class _NotARegularFile(OSError):
    """The path names a FIFO, a device or a socket: nothing to serve as a file."""


_httpDates: dict[int, bytes] = {}


def _httpDate(when: int) -> bytes:
    """The HTTP date of a modification time, formatted once per time (of a few)."""
    date = _httpDates.get(when)
    if date is None:
        if len(_httpDates) >= 512:
            _httpDates.clear()
        date = _httpDates[when] = http.datetimeToString(when)
    return date


def _etag(st: os.stat_result) -> bytes:
    return b'"%x-%x"' % (st.st_size, st.st_mtime_ns)


class File(resource.Resource):
    """A file or a directory on disk as a web resource (see the module docstring).

    Args:
        path: the file or directory (str, bytes or a path object); it need not exist
            yet (a missing file answers 404).
        defaultType: the Content-Type of names whose extension is unknown. Twisted's
            default, text/html, lets a browser run an unknown file as a page: serve
            files others upload with "application/octet-stream".
        ignoredExts: extensions a URL may leave out (`[".html"]` serves `about.html`
            at `/about`); "*" allows any.
        registry: the Registry shared by the tree (one is made if not given).
        allowExt: Twisted's old switch for `ignoredExts=["*"]`.
        allowSymlinksOutside: follow symbolic links to anywhere; by default a link
            whose target is outside the root directory is refused (403) and left out
            of listings.
    """

    contentTypes: dict[str, str] = loadMimeTypes()
    contentEncodings: dict[str, str] = {".gz": "gzip", ".br": "br", ".bz2": "bzip2"}
    processors: dict[str, Callable[[str, Registry], Any]] = {}
    indexNames: list[str] = ["index", "index.html", "index.htm", "index.rpy"]
    type: str | None = None
    encoding: str | None = None
    childNotFound: Any = resource.NoResource("File not found.")
    forbidden: Any = resource.ForbiddenResource()
    allowedMethods = (b"GET", b"HEAD")
    useSendfile = True
    """Send big files with the transport's sendfile where it has one (plain TCP)."""
    inlineSize = 2**16
    """Bodies up to this size are read whole and sent in one write."""

    def __init__(
        self,
        path: str | bytes | os.PathLike[str],
        defaultType: str = "text/html",
        ignoredExts: Iterable[str] = (),
        registry: Registry | None = None,
        allowExt: int = 0,
        *,
        allowSymlinksOutside: bool = False,
    ) -> None:
        super().__init__()
        self.path: str = os.path.abspath(os.fsdecode(path))
        self.defaultType = defaultType
        if isinstance(ignoredExts, str):
            raise TypeError("ignoredExts is a list of extensions, like ['.html'], not a string")
        self.ignoredExts = list(ignoredExts)
        if allowExt and "*" not in self.ignoredExts:
            self.ignoredExts.append("*")
        self.registry = registry if registry is not None else Registry()
        self.allowSymlinksOutside = allowSymlinksOutside
        # The served root's path, as given (made real only to check a link's target,
        # so a root that is a link may be repointed, as deployments do, while serving).
        self._root = self.path
        self._stat: os.stat_result | None = None
        self._statted = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    # -- the file system -----------------------------------------------------------

    def restat(self, reraise: bool = True) -> None:
        """Look at the file again (it may have changed since this resource was made)."""
        self._statted = True
        try:
            self._stat = os.stat(self.path)
        except (OSError, ValueError):
            self._stat = None
            if reraise:
                raise

    def _st(self) -> os.stat_result | None:
        if not self._statted:
            self.restat(False)
        return self._stat

    def exists(self) -> bool:
        return self._st() is not None

    def isdir(self) -> bool:
        st = self._st()
        return st is not None and stat.S_ISDIR(st.st_mode)

    def isfile(self) -> bool:
        st = self._st()
        return st is not None and stat.S_ISREG(st.st_mode)

    def basename(self) -> str:
        return os.path.basename(self.path)

    def getFileSize(self) -> int:
        st = self._st()
        return st.st_size if st is not None else 0

    getsize = getFileSize

    def getModificationTime(self) -> float:
        st = self._st()
        return st.st_mtime if st is not None else 0.0

    def openForReading(self) -> IO[bytes]:
        """Open the file to send it.

        Opened without blocking (a FIFO put in its place would otherwise hang the
        server until someone writes to it) and checked to be a regular file.

        Raises:
            OSError: PermissionError if it cannot be read, FileNotFoundError if it is
                gone, IsADirectoryError for a directory, and an OSError of its own if
                it is not a regular file.
        """
        fd = os.open(self.path, _OPEN_FLAGS)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", self.path)
            if not stat.S_ISREG(mode):
                raise _NotARegularFile(errno.EINVAL, "not a regular file", self.path)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _lookup(self, path: str) -> int:
        """Whether the entry `path` of this directory is there, and inside the root.

        This directory is inside the root (it was reached from the root through
        entries that are), so an entry is too unless it is a symbolic link: only a
        link costs resolving, which keeps the common case to one lstat.
        """
        try:
            st = os.lstat(path)
        except (OSError, ValueError):
            return _MISSING
        if not stat.S_ISLNK(st.st_mode):
            return _INSIDE
        if not os.path.exists(path):
            return _MISSING
        if self.allowSymlinksOutside:
            return _INSIDE
        real = os.path.realpath(path)
        root = os.path.realpath(self._root)
        inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
        return _INSIDE if inside else _OUTSIDE

    def listNames(self) -> list[bytes]:
        """The names in the directory, sorted, less links that lead outside the root."""
        if not self.isdir():
            return []
        try:
            names = sorted(os.listdir(self.path))
        except OSError:
            return []
        return [
            os.fsencode(name)
            for name in names
            if self._lookup(os.path.join(self.path, name)) != _OUTSIDE
        ]

    def listEntities(self) -> list[tuple[bytes, Any]]:
        return [
            (name, self.createSimilarFile(os.path.join(self.path, os.fsdecode(name))))
            for name in self.listNames()
        ]

    # -- the resource tree ---------------------------------------------------------

    def ignoreExt(self, ext: str) -> None:
        """Let URLs leave out the extension `ext` (".html"); "*" allows any."""
        self.ignoredExts.append(ext)

    def getChild(self, path: bytes, request: Any) -> Any:
        """The resource for the entry `path` of this directory (b"": the index)."""
        self.restat(False)
        if not self.isdir():
            return self.childNotFound
        if path:
            if isDangerous(path):
                return dangerousPathError
            childPath: str | None = os.path.join(self.path, os.fsdecode(path))
        else:
            childPath = self._index()
            if childPath is None:
                return self.directoryListing()
        assert childPath is not None
        where = self._lookup(childPath)
        if where == _MISSING:
            childPath = self._withIgnoredExtension(childPath)
            if childPath is None:
                return self.childNotFound
            where = self._lookup(childPath)
        if where == _OUTSIDE:
            return self.forbidden
        if where == _MISSING:
            return self.childNotFound
        processor = self.processors.get(os.path.splitext(childPath)[1])
        if processor is not None:
            return resource.IResource(processor(childPath, self.registry))
        return self.createSimilarFile(childPath)

    def _index(self) -> str | None:
        for name in self.indexNames:
            candidate = os.path.join(self.path, name)
            try:
                if not stat.S_ISDIR(os.stat(candidate).st_mode):
                    return candidate
            except OSError:
                pass
        return None

    def _withIgnoredExtension(self, path: str) -> str | None:
        for ext in self.ignoredExts:
            if ext == "*":
                directory, base = os.path.split(path)
                try:
                    names = sorted(os.listdir(directory))
                except OSError:
                    continue
                for name in names:
                    if name.startswith(base + "."):
                        return os.path.join(directory, name)
            elif ext and os.path.exists(path + ext):
                return path + ext
        return None

    def createSimilarFile(self, path: str) -> File:
        """A File for `path` that serves it as this one would (same settings)."""
        similar = type(self)(path, self.defaultType, self.ignoredExts, self.registry)
        similar.processors = self.processors
        similar.indexNames = self.indexNames[:]
        similar.childNotFound = self.childNotFound
        similar.forbidden = self.forbidden
        similar.contentTypes = self.contentTypes
        similar.contentEncodings = self.contentEncodings
        similar.useSendfile = self.useSendfile
        similar.allowSymlinksOutside = self.allowSymlinksOutside
        similar._root = self._root
        return similar

    def directoryListing(self) -> DirectoryLister:
        """The page for a directory without an index file (override to refuse it)."""
        return DirectoryLister(
            self.path, self.listNames(), self.contentTypes, self.contentEncodings, self.defaultType
        )

    # -- rendering -----------------------------------------------------------------

    def redirect(self, request: Any) -> bytes:
        """A directory asked for without its trailing slash: send the client there."""
        location = addSlash(request)
        request.setResponseCode(http.MOVED_PERMANENTLY)
        request.setHeader(b"location", location)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        link = html.escape(location.decode("latin-1"))
        return f'<!DOCTYPE html>\n<p>Moved to <a href="{link}">{link}</a>.</p>\n'.encode()

    def render_GET(self, request: Any) -> Any:
        if self.type is None:
            self.type, self.encoding = getTypeAndEncoding(
                self.basename(), self.contentTypes, self.contentEncodings, self.defaultType
            )
        try:
            fileForReading = self.openForReading()
        except IsADirectoryError:
            return self.redirect(request)
        except PermissionError:
            if os.path.isdir(self.path):  # Windows cannot open a directory
                return self.redirect(request)
            return self.forbidden.render(request)
        except _NotARegularFile:
            return self.forbidden.render(request)
        except (OSError, ValueError) as e:
            if isinstance(e, ValueError) or e.errno in _NOT_THERE:
                return self.childNotFound.render(request)
            raise
        try:
            return self._renderOpen(request, fileForReading)
        except BaseException:
            fileForReading.close()
            raise

    render_HEAD = render_GET

    def _renderOpen(self, request: Any, fileForReading: IO[bytes]) -> Any:
        st = os.fstat(fileForReading.fileno())
        request.setHeader(b"accept-ranges", b"bytes")
        request.setHeader(b"last-modified", _httpDate(int(st.st_mtime)))
        if (
            request.setETag(_etag(st)) is http.CACHED
            or request.setLastModified(st.st_mtime) is http.CACHED
        ):
            fileForReading.close()
            return b""
        producer = self._makeProducer(request, fileForReading, st)
        if request.method == b"HEAD" or not producer.segments:
            fileForReading.close()
            producer.fileObject = None
            return b"" if request.method == b"HEAD" else producer.trailer
        if producer.length <= self.inlineSize:
            return self._sendWhole(request, producer)
        if (
            len(producer.segments) == 1
            and not producer.trailer
            and self._trySendfile(request, producer)
        ):
            return server.NOT_DONE_YET
        producer.start()
        return server.NOT_DONE_YET

    def makeProducer(self, request: Any, fileForReading: IO[bytes]) -> StaticProducer:
        """Set the status and the body's headers; return what will send the body."""
        return self._makeProducer(request, fileForReading, os.fstat(fileForReading.fileno()))

    def _makeProducer(
        self, request: Any, fileForReading: IO[bytes], st: os.stat_result
    ) -> StaticProducer:
        size = st.st_size
        ranges = self._wantedRanges(request, st)
        if ranges is Unsatisfiable:
            request.setResponseCode(http.REQUESTED_RANGE_NOT_SATISFIABLE)
            request.setHeader(b"content-range", b"bytes */%d" % size)
            page = resource.ErrorPage(
                http.REQUESTED_RANGE_NOT_SATISFIABLE,
                "Range Not Satisfiable",
                f"The file has {size} bytes; no range asked for is within them.",
            ).render(request)
            request.setHeader(b"content-length", b"%d" % len(page))
            return StaticProducer(request, None, [], page)
        assert self.type is not None
        if not isinstance(ranges, list):
            producer: StaticProducer = NoRangeStaticProducer(request, fileForReading, size)
            self._setContentHeaders(request, producer.length)
            return producer
        if len(ranges) == 1:
            start, end = ranges[0]
            request.setResponseCode(http.PARTIAL_CONTENT)
            request.setHeader(b"content-range", b"bytes %d-%d/%d" % (start, end, size))
            producer = SingleRangeStaticProducer(request, fileForReading, start, end - start + 1)
            self._setContentHeaders(request, producer.length)
            return producer
        boundary = secrets.token_hex(16).encode("ascii")
        partType = _asBytes(self.type)
        parts = []
        for i, (start, end) in enumerate(ranges):
            parts.append(
                (
                    (b"\r\n" if i else b"")
                    + b"--"
                    + boundary
                    + b"\r\nContent-Type: "
                    + partType
                    + b"\r\nContent-Range: bytes %d-%d/%d\r\n\r\n" % (start, end, size),
                    start,
                    end - start + 1,
                )
            )
        producer = MultipleRangeStaticProducer(
            request, fileForReading, parts, b"\r\n--" + boundary + b"--\r\n"
        )
        request.setResponseCode(http.PARTIAL_CONTENT)
        request.setHeader(b"content-type", b"multipart/byteranges; boundary=" + boundary)
        if self.encoding:
            request.setHeader(b"content-encoding", self.encoding.encode("ascii"))
        request.setHeader(b"content-length", b"%d" % producer.length)
        return producer

    def _setContentHeaders(self, request: Any, size: int) -> None:
        assert self.type is not None
        request.setHeader(b"content-type", _asBytes(self.type))
        if self.encoding:
            request.setHeader(b"content-encoding", self.encoding.encode("ascii"))
        request.setHeader(b"content-length", b"%d" % size)

    def _wantedRanges(self, request: Any, st: os.stat_result) -> Any:
        """The Range header's ranges, None to send everything, or Unsatisfiable."""
        header = request.getHeader(b"range")
        if header is None:
            return None
        ifRange = request.getHeader(b"if-range")
        if ifRange is not None and not self._ifRangeHolds(ifRange.strip(), st):
            return None
        try:
            return parseRange(header, st.st_size)
        except Unsatisfiable:
            return Unsatisfiable

    @staticmethod
    def _ifRangeHolds(validator: bytes, st: os.stat_result) -> bool:
        """If-Range: the file must be the client's version (a strong ETag or exact date)."""
        if validator.startswith((b'"', b"W/")):
            return validator == _etag(st)
        try:
            return http.stringToDatetime(validator) == int(st.st_mtime)
        except ValueError:
            return False

    def _sendWhole(self, request: Any, producer: StaticProducer) -> bytes:
        # A file that cannot be read (or shrank) raises: nothing is sent yet, so the
        # server answers 500 and logs it.
        try:
            if len(producer.segments) == 1 and not producer.trailer:
                _, offset, size = producer.segments[0]
                fileObject = producer.fileObject
                assert fileObject is not None
                if offset:
                    fileObject.seek(offset)
                body = fileObject.read(size)
                if len(body) != size:
                    raise EOFError(f"{self.path} has {len(body)} bytes, not {size} (it shrank)")
                return body
            return producer._readAll()
        finally:
            producer.stopProducing()

    def _trySendfile(self, request: Any, producer: StaticProducer) -> bool:
        """Have the kernel send the body, if the connection can; False if not."""
        transport = request.channel.transport
        sendfile = getattr(transport, "sendfile", None)
        if not self.useSendfile or sendfile is None or request.isSecure():
            return False
        _, offset, size = producer.segments[0]
        fileObject = producer.fileObject
        assert fileObject is not None
        request.write(b"")  # the head, which sendfile sends first
        try:
            d = sendfile(fileObject, offset, size)
        except (NotImplementedError, RuntimeError):
            return False
        path = self.path

        def sent(count: int) -> None:
            fileObject.close()
            request.sentLength += count
            if not request._disconnected and not request.finished:
                request.finish()

        def failed(reason: Failure) -> None:
            fileObject.close()
            if request._disconnected or reason.check(error.ConnectionLost, error.ConnectionDone):
                return
            log.err(reason, f"Cannot go on sending {path}")
            transport.loseConnection()

        d.addCallbacks(sent, failed)
        return True


class DirectoryLister(resource.Resource):
    """An HTML page listing a directory: names (links), sizes, types and encodings.

    Every name is HTML-escaped where shown and percent-encoded in its link, so a
    file called `<script>` or `a"b` is only text.
    """

    template = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{header}</title>\n'
        "<style>body{{font-family:sans-serif}}td,th{{padding:0 1em;text-align:left}}"
        ".even{{background:#eee}}</style></head>\n"
        "<body><h1>{header}</h1>\n<table>\n<thead><tr><th>Filename</th><th>Size</th>"
        "<th>Content type</th><th>Content encoding</th></tr></thead>\n"
        "<tbody>\n{tableContent}</tbody>\n</table>\n</body></html>\n"
    )
    linePattern = (
        '<tr class="{cssClass}"><td><a href="{href}">{text}</a></td><td>{size}</td>'
        "<td>{type}</td><td>{encoding}</td></tr>\n"
    )

    def __init__(
        self,
        pathname: str,
        dirs: Sequence[bytes | str] | None = None,
        contentTypes: dict[str, str] = File.contentTypes,
        contentEncodings: dict[str, str] = File.contentEncodings,
        defaultType: str = "text/html",
    ) -> None:
        super().__init__()
        self.path = os.fsdecode(pathname)
        self.dirs = dirs
        self.contentTypes = contentTypes
        self.contentEncodings = contentEncodings
        self.defaultType = defaultType

    def _getFilesAndDirectories(
        self, directory: Iterable[bytes | str]
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """The rows of the table, directories and files apart, escaped and quoted."""
        files: list[dict[str, str]] = []
        dirs: list[dict[str, str]] = []
        for entry in directory:
            name = os.fsdecode(entry)
            raw = os.fsencode(entry)
            text = html.escape(raw.decode("utf-8", "replace"))
            href = html.escape(quote(raw, safe=""))
            try:
                st = os.stat(os.path.join(self.path, name))
            except (OSError, ValueError):
                continue
            if stat.S_ISDIR(st.st_mode):
                dirs.append(
                    {
                        "text": text + "/",
                        "href": href + "/",
                        "size": "",
                        "type": "[Directory]",
                        "encoding": "",
                    }
                )
            else:
                mimeType, encoding = getTypeAndEncoding(
                    name, self.contentTypes, self.contentEncodings, self.defaultType
                )
                files.append(
                    {
                        "text": text,
                        "href": href,
                        "size": formatFileSize(st.st_size),
                        "type": f"[{html.escape(mimeType)}]",
                        "encoding": f"[{html.escape(encoding)}]" if encoding else "",
                    }
                )
        return dirs, files

    def _buildTableContent(self, elements: Sequence[dict[str, str]]) -> list[str]:
        return [
            self.linePattern.format(cssClass="even" if i % 2 else "odd", **element)
            for i, element in enumerate(elements)
        ]

    def render(self, request: Any) -> bytes:
        if self.dirs is None:
            try:
                entries: Sequence[bytes | str] = sorted(os.listdir(self.path))
            except PermissionError:
                return resource.ForbiddenResource().render(request)
            except OSError:
                return resource.NoResource("File not found.").render(request)
        else:
            entries = self.dirs
        dirs, files = self._getFilesAndDirectories(entries)
        where = unquote_to_bytes(request.path).decode("utf-8", "replace")
        header = html.escape(f"Directory listing for {where}")
        page = self.template.format(
            header=header, tableContent="".join(self._buildTableContent(dirs + files))
        )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return page.encode("utf-8")

    def __repr__(self) -> str:
        return f"<DirectoryLister of {self.path!r}>"
