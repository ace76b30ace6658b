"""Reading a form submission from a request body, in chunks, uploads straight to disk.

`readSubmission` reads the request's body (which http.Request has already spooled
to memory or a temporary file) `CHUNK` bytes at a time, through the streaming
multipart parser or a streaming urlencoded splitter, so that memory holds one chunk
and the form's text values, never the whole body or a whole file. Text values are
bounded (`maxFieldSize` each, `maxFields` in all); a file goes to a file of its own
under a new temporary directory as it arrives and stops at its field's `maxSize`.
Every `yieldEvery` bytes it lets the reactor run, so a 100 MB upload does not stall
the other connections while it is copied.

Tests: tests/web/forms/test_process.py, tests/web/forms/test_uploads.py.
"""

from __future__ import annotations

import codecs
import html
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import IO, Any

from torsion.internet import task
from torsion.web._formfields import File, UploadedFile, _humanSize
from torsion.web._multipart import PART_END, MultipartError, MultipartParser, PartStart
from torsion.web.error import Error

__all__ = ["CHUNK", "Submission", "readSubmission", "refusal"]

CHUNK = 64 * 1024


def refusal(code: int, title: str, explanation: str) -> Error:
    """An HTTP error whose page says, in a sentence, what was wrong with the request."""
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{code} {html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(explanation)}</p></body></html>\n"
    )
    return Error(code, None, page.encode("utf-8"))


class Submission:
    """What a request sent to a form: text values, uploaded files, problems met reading.

    `texts` maps each known field name to the texts sent for it, `uploads` a file
    field's name to its UploadedFile, `problems` a field's name to why its value could
    not be read (too long, not in the declared charset, a file over its size).
    """

    __slots__ = ("directory", "problems", "texts", "uploads")

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.uploads: dict[str, UploadedFile] = {}
        self.problems: dict[str, str] = {}
        self.directory: Path | None = None

    def discard(self) -> None:
        """Remove the uploads not moved away, and their temporary directory."""
        for upload in self.uploads.values():
            upload.discard()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _charsetOf(contentType: bytes, default: str) -> str:
    for param in contentType.split(b";")[1:]:
        key, _, value = param.partition(b"=")
        if key.strip().lower() == b"charset":
            name = value.strip().strip(b'"').decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                raise refusal(
                    415,
                    "Unsupported charset",
                    f"The form was sent in the charset {name!r}, which this server does not "
                    "know; send it as UTF-8.",
                ) from None
    return default


class _Reader:
    """The state of one submission being read."""

    def __init__(
        self,
        request: Any,
        fields: Mapping[str, Any],
        maxFields: int,
        maxFieldSize: int,
        uploadDirectory: str | None,
        yieldEvery: int,
        alsoRead: Collection[str],
    ) -> None:
        self.request = request
        self.fields = fields
        self.alsoRead = alsoRead
        self.maxFields = maxFields
        self.maxFieldSize = maxFieldSize
        self.uploadDirectory = uploadDirectory
        self.yieldEvery = yieldEvery
        self.submission = Submission()
        self.count = 0
        # The reactor the request's connection runs on (the channel's clock).
        self.reactor = getattr(getattr(request, "channel", None), "_clock", None)
        self.sinceYield = 0

    def tooLong(self) -> str:
        return f"This value is longer than {_humanSize(self.maxFieldSize)}."

    def counted(self) -> None:
        self.count += 1
        if self.count > self.maxFields:
            raise refusal(
                413,
                "Too many fields",
                f"The form sent more than {self.maxFields} fields; this form has "
                f"{len(self.fields)}.",
            )

    def problem(self, name: str, message: str) -> None:
        """Note why a field's value could not be read (the first reason counts).

        Only the form's own fields have problems: anything else sent is ignored.
        """
        if name in self.fields:
            self.submission.problems.setdefault(name, message)

    def addText(self, name: str, raw: bytes, charset: str) -> None:
        field = self.fields.get(name)
        if (field is None or field.isFile) and name not in self.alsoRead:
            return
        try:
            text = raw.decode(charset)
        except UnicodeDecodeError:
            self.problem(name, f"This value is not valid {charset.upper()} text; type it again.")
            return
        self.submission.texts.setdefault(name, []).append(text)

    async def chunks(self, body: IO[bytes]) -> Any:
        """The body's chunks, letting the reactor run every `yieldEvery` bytes."""
        while chunk := body.read(CHUNK):
            yield chunk
            self.sinceYield += len(chunk)
            if self.sinceYield >= self.yieldEvery and self.reactor is not None:
                self.sinceYield = 0
                await task.deferLater(self.reactor, 0, lambda: None)

    # -- urlencoded ---------------------------------------------------------------------

    def pairs(self, data: bytes, charset: str) -> None:
        for piece in data.split(b"&"):
            self.pair(piece, charset)

    def pair(self, piece: bytes, charset: str) -> None:
        if not piece:
            return
        self.counted()
        rawName, _, rawValue = piece.partition(b"=")
        name = _unquote(rawName).decode("utf-8", "replace")
        value = _unquote(rawValue)
        if len(value) > self.maxFieldSize:
            self.problem(name, self.tooLong())
            return
        self.addText(name, value, charset)

    async def readUrlencoded(self, body: IO[bytes], charset: str) -> None:
        # A pair may be percent-encoded: three bytes a byte, plus its name.
        limit = 3 * self.maxFieldSize + 1024
        buffer = b""
        skipping: str | None = None
        async for chunk in self.chunks(body):
            if skipping is not None:
                end = chunk.find(b"&")
                if end < 0:
                    continue
                self.problem(skipping, self.tooLong())
                skipping, chunk = None, chunk[end + 1 :]
            buffer += chunk
            complete, separator, buffer = buffer.rpartition(b"&")
            if separator:
                self.pairs(complete, charset)
            if len(buffer) > limit:
                self.counted()
                rawName = buffer[:1024].partition(b"=")[0]
                skipping = _unquote(rawName).decode("utf-8", "replace")
                buffer = b""
        if skipping is not None:
            self.problem(skipping, self.tooLong())
        self.pairs(buffer, charset)

    def readQuery(self, query: bytes, charset: str) -> None:
        self.pairs(query, charset)

    # -- multipart ----------------------------------------------------------------------

    def newUploadFile(self) -> tuple[Path, IO[bytes]]:
        submission = self.submission
        if submission.directory is None:
            submission.directory = Path(
                tempfile.mkdtemp(prefix="torsion-upload-", dir=self.uploadDirectory)
            )
        fd, name = tempfile.mkstemp(prefix="upload-", dir=submission.directory)
        return Path(name), os.fdopen(fd, "wb")

    async def readMultipart(self, body: IO[bytes], contentType: bytes, charset: str) -> None:
        try:
            # One part more than allowed reaches `counted`, which answers 413 as for
            # too many urlencoded fields.
            parser = MultipartParser.fromContentType(contentType, maxParts=self.maxFields + 1)
        except MultipartError as malformed:
            raise refusal(400, "Malformed form", str(malformed)) from None
        part = _PartSink(self, charset)
        try:
            async for chunk in self.chunks(body):
                for event in parser.feed(chunk):
                    part.handle(event)
            for event in parser.close():
                part.handle(event)
        except MultipartError as malformed:
            part.abandon()
            raise refusal(400, "Malformed form", str(malformed)) from None
        except BaseException:
            part.abandon()
            raise


class _PartSink:
    """Where the content of the multipart part being read goes: memory, a file or nowhere."""

    def __init__(self, reader: _Reader, charset: str) -> None:
        self.reader = reader
        self.charset = charset
        self.name = ""
        self.kind = "none"
        self.pieces: list[bytes] = []
        self.size = 0
        self.partCharset = charset
        self.file: IO[bytes] | None = None
        self.path: Path | None = None
        self.field: File | None = None
        self.start: PartStart | None = None

    def handle(self, event: Any) -> None:
        if isinstance(event, PartStart):
            self.begin(event)
        elif event is PART_END:
            self.end()
        elif self.kind == "text":
            self.size += len(event)
            if self.size > self.reader.maxFieldSize:
                self.reader.problem(self.name, self.reader.tooLong())
                self.pieces = []
                self.kind = "none"
            else:
                self.pieces.append(event)
        elif self.kind == "file":
            assert self.file is not None and self.field is not None
            self.size += len(event)
            if self.size > self.field.maxSize:
                self.reader.submission.problems[self.name] = self.field.tooLargeMessage
                self.abandon()
            else:
                self.file.write(event)

    def begin(self, start: PartStart) -> None:
        reader = self.reader
        reader.counted()
        self.name = start.name.decode("utf-8", "replace")
        self.start = start
        self.size = 0
        self.pieces = []
        field = reader.fields.get(self.name)
        if self.name in reader.submission.problems:
            self.kind = "none"
        elif field is None:
            self.kind = "text" if self.name in reader.alsoRead else "none"
        elif field.isFile:
            if self.name in reader.submission.uploads:
                self.kind = "none"  # one file a field: the first one counts
                return
            self.kind = "file"
            self.field = field
            self.path, self.file = reader.newUploadFile()
        else:
            self.kind = "text"
        if self.kind == "text":
            self.partCharset = _charsetOf(start.contentType or b"", self.charset)

    def end(self) -> None:
        reader = self.reader
        if self.kind == "text":
            reader.addText(self.name, b"".join(self.pieces), self.partCharset)
        elif self.kind == "file":
            assert self.file is not None and self.path is not None and self.start is not None
            self.file.close()
            self.file = None
            filename = (self.start.filename or b"").decode("utf-8", "replace")
            filename = filename.replace("\\", "/").rpartition("/")[2]
            if not filename and self.size == 0:
                self.path.unlink(missing_ok=True)  # the browser's "no file chosen"
            else:
                contentType = (self.start.contentType or b"application/octet-stream").decode(
                    "latin-1"
                )
                reader.submission.uploads[self.name] = UploadedFile(
                    filename, contentType, self.path, self.size
                )
            self.path = None
        self.kind = "none"
        self.pieces = []

    def abandon(self) -> None:
        """Stop writing the part being read and remove what was written of it."""
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
        self.kind = "none"


def _unquote(raw: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" "))


async def readSubmission(
    request: Any,
    fields: Mapping[str, Any],
    *,
    maxFields: int,
    maxFieldSize: int,
    uploadDirectory: str | None = None,
    yieldEvery: int = 1024 * 1024,
    fromQuery: bool = False,
    alsoRead: Collection[str] = (),
) -> Submission:
    """Read what `request` sent for `fields` (name -> Field), from its body or query.

    Text sent under the names in `alsoRead` (the CSRF token's) is kept too; text
    under other names is not.

    Raises:
        torsion.web.error.Error: a 400, 413 or 415 with a page saying what was wrong,
            for a body that is not a form or goes over a limit.
    """
    reader = _Reader(
        request, fields, maxFields, maxFieldSize, uploadDirectory, yieldEvery, alsoRead
    )
    if fromQuery:
        reader.readQuery(request.uri.partition(b"?")[2], "utf-8")
        return reader.submission
    contentType = request.getHeader(b"content-type") or b""
    mimeType = contentType.partition(b";")[0].strip().lower()
    body = request.content
    body.seek(0)
    try:
        if mimeType == b"application/x-www-form-urlencoded":
            await reader.readUrlencoded(body, _charsetOf(contentType, "utf-8"))
        elif mimeType == b"multipart/form-data":
            await reader.readMultipart(body, contentType, _charsetOf(contentType, "utf-8"))
        elif not mimeType and not body.read(1):
            pass  # an empty POST: every field missing
        else:
            shown = mimeType.decode("latin-1") or "no Content-Type"
            raise refusal(
                415,
                "Not a form",
                f"A form is sent as application/x-www-form-urlencoded or "
                f"multipart/form-data, not {shown}.",
            )
    except BaseException:
        reader.submission.discard()
        raise
    finally:
        body.seek(0)
    return reader.submission
