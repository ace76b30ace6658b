"""CGI (RFC 3875): run a program per request, the request in its environment and stdin.

`CGIScript(filename)` answers each request by starting `filename` with the request
described in its environment (REQUEST_METHOD, QUERY_STRING, PATH_INFO, SCRIPT_NAME,
CONTENT_TYPE, CONTENT_LENGTH, SERVER_*, REMOTE_*, and each request header as HTTP_*),
the request body on its stdin, and its stdout becoming the response: CGI header lines
(Status:, Location:, Content-Type: and any other header), a blank line, the body. The
body is streamed as the program writes it, with back-pressure: when the client reads
slowly, the program's output is no longer read, so it blocks instead of filling the
server's memory. `CGIDirectory(path)` serves every program in a directory tree;
`FilteredScript` runs its files through an interpreter (`filter`) instead of executing
them.

What torsion does for safety that a CGI program could not do for itself:
- A `Proxy:` request header does not become HTTP_PROXY (httpoxy: many HTTP libraries
  take that variable as their proxy), and headers whose names hold "_" are not passed
  (Foo_Bar would pose as Foo-Bar);
- the server's own environment is not handed on, only the variables named in
  `CGIScript.passEnvironment` (PATH and the locale by default; Twisted passes all of
  it): set it to None to pass everything;
- query words (RFC 3875 section 4.4, a query without "=") become command-line
  arguments only if none starts with "-", so a URL cannot pass options to the program;
- the CGI header block is limited (`maxHeaderBytes`); a malformed header line, or a
  program that ends (or dies) before its blank line, gives the 500 page and a logged
  error; a body longer than the Content-Length the program announced is cut to it,
  and a shorter one, or a program killed by a signal mid-body, closes the connection
  so that the client sees the response is incomplete;
- a program that writes nothing for `CGIScript.timeout` seconds (300 by default; time
  in which a slow client holds it back does not count) is killed, so a hung program
  does not hold its connection and process for ever.

Tests: tests/web/test_twcgi.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from zope.interface import implementer

from torsion.internet import error as ierror
from torsion.internet import protocol
from torsion.internet.interfaces import IPushProducer
from torsion.protocols.basic import FileSender
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web import http, resource, server
from torsion.web._fsname import childFileName

__all__ = ["CGIDirectory", "CGIProcessProtocol", "CGIScript", "FilteredScript"]

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade"})


class CGIError(Exception):
    """A CGI program did not answer as RFC 3875 asks (its headers, or its end)."""


class CGIDirectory(resource.Resource):
    """A directory whose files are CGI programs, and whose subdirectories are more.

    Names starting with a dot and names holding "/" are not served, so a request
    cannot reach outside the directory; a directory itself has no listing.
    """

    def __init__(self, pathname: str | bytes, reactor: Any = None) -> None:
        super().__init__()
        self.path = os.fsdecode(pathname)
        self.reactor = reactor

    def getChild(self, path: bytes, request: Any) -> Any:
        name = childFileName(path)
        if name is None:
            return resource.NoResource()
        target = os.path.join(self.path, name)
        if os.path.isdir(target):
            return CGIDirectory(target, self.reactor)
        if os.path.exists(target):
            return CGIScript(target, reactor=self.reactor)
        return resource.NoResource()

    def render(self, request: Any) -> bytes:
        return resource.NoResource("CGI directories do not support directory listing.").render(
            request
        )


def _joinValues(name: bytes, values: Sequence[bytes]) -> bytes:
    return (b"; " if name == b"cookie" else b", ").join(values)


class CGIScript(resource.Resource):
    """One CGI program, started for every request to this resource or below it.

    Args:
        filename: the program; it must be executable (FilteredScript: readable).
        registry: accepted for Twisted's processor signature; unused.
        reactor: the reactor to start it with (default: the site's, else the global).
    """

    isLeaf = True
    passEnvironment: tuple[str, ...] | None = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
    """Variables of the server's environment a program gets (None: all of them)."""
    maxHeaderBytes = 64 * 1024
    """The longest CGI header block a program may write before its blank line."""
    timeout: float | None = 300.0
    """Seconds a program may write nothing (unless the client is the one holding it
    back) before it is killed; None: wait for ever, as Twisted does."""

    def __init__(self, filename: str | bytes, registry: Any = None, reactor: Any = None) -> None:
        super().__init__()
        self.filename = os.fsdecode(filename)
        self.registry = registry
        self._reactor = reactor

    def _reactorFor(self, request: Any) -> Any:
        if self._reactor is not None:
            return self._reactor
        siteReactor = getattr(getattr(request.channel, "factory", None), "_reactor", None)
        if siteReactor is not None:
            return siteReactor
        from torsion.internet import reactor

        return reactor

    def render(self, request: Any) -> Any:
        env = self._environment(request)
        self.runProcess(env, request, self._queryArguments(request))
        return server.NOT_DONE_YET

    def _queryArguments(self, request: Any) -> list[bytes]:
        """RFC 3875 4.4: a query without "=" is search words, given as arguments."""
        query = request.uri.partition(b"?")[2]
        if not query or b"=" in query:
            return []
        words = [unquote_to_bytes(word) for word in query.split(b"+")]
        if any(word.startswith(b"-") or b"\x00" in word for word in words):
            return []
        return words

    def _environment(self, request: Any) -> dict[str, bytes]:
        host = request.getHost()
        env: dict[str, bytes] = {
            "GATEWAY_INTERFACE": b"CGI/1.1",
            "SERVER_SOFTWARE": server.version,
            "SERVER_NAME": request.getRequestHostname(),
            "SERVER_PROTOCOL": request.clientproto,
            "SERVER_PORT": str(getattr(host, "port", "")).encode("ascii"),
            "REQUEST_METHOD": request.method,
            "REQUEST_URI": request.uri,
            "SCRIPT_NAME": b"/" + b"/".join(request.prepath),
            "SCRIPT_FILENAME": os.fsencode(self.filename),
            "QUERY_STRING": request.uri.partition(b"?")[2],
        }
        if request.postpath:
            env["PATH_INFO"] = b"/" + b"/".join(request.postpath)
        if request.isSecure():
            env["HTTPS"] = b"on"
        peer = request.getClientAddress()
        if getattr(peer, "host", None) is not None:
            env["REMOTE_ADDR"] = str(peer.host).encode("ascii", "replace")
            env["REMOTE_PORT"] = str(getattr(peer, "port", "")).encode("ascii")
        length = _bodyLength(request)
        if length or request.getHeader(b"content-length") is not None:
            env["CONTENT_LENGTH"] = b"%d" % length
        for canonical, values in request.requestHeaders.getAllRawHeaders():
            name = canonical.lower()
            if name == b"content-type":
                env["CONTENT_TYPE"] = values[-1]
                continue
            if name == b"content-length" or b"_" in name:
                continue
            variable = "HTTP_" + name.decode("ascii").upper().replace("-", "_")
            if variable == "HTTP_PROXY":
                continue  # httpoxy
            value = _joinValues(name, values)
            if b"\x00" not in value:
                env[variable] = value
        inherited = os.environ if self.passEnvironment is None else self.passEnvironment
        for variable in inherited:
            if variable not in env and variable in os.environ:
                env[variable] = os.environb[os.fsencode(variable)]
        return env

    def runProcess(
        self, env: Mapping[str, bytes], request: Any, qargs: Sequence[bytes] = ()
    ) -> None:
        """Start the program for `request` with environment `env` and arguments `qargs`."""
        self._spawn(self.filename, [self.filename, *qargs], env, request)

    def _spawn(
        self, executable: str, argv: Sequence[Any], env: Mapping[str, bytes], request: Any
    ) -> None:
        processProtocol = CGIProcessProtocol(request)
        processProtocol.scriptName = self.filename
        processProtocol.maxHeaderBytes = self.maxHeaderBytes
        reactor = self._reactorFor(request)
        processProtocol.timeout = self.timeout
        processProtocol.clock = reactor
        try:
            reactor.spawnProcess(
                processProtocol,
                executable,
                argv,
                env,
                os.path.dirname(self.filename) or None,
            )
        except OSError as cannot:
            hint = ""
            if isinstance(cannot, PermissionError):
                hint = f"; make it executable (chmod +x {executable})"
            raise CGIError(
                f"cannot start the CGI program {executable}: {cannot.strerror or cannot}{hint}"
            ) from cannot


class FilteredScript(CGIScript):
    """A CGI script run by an interpreter: `filter` is started with the file's name.

    Subclass it and set `filter` (say "/usr/bin/php-cgi"); the file needs to be
    readable, not executable.
    """

    filter = "/usr/bin/cat"

    def runProcess(
        self, env: Mapping[str, bytes], request: Any, qargs: Sequence[bytes] = ()
    ) -> None:
        self._spawn(self.filter, [self.filter, self.filename, *qargs], env, request)


def _bodyLength(request: Any) -> int:
    content = request.content
    try:
        position = content.tell()
        content.seek(0, os.SEEK_END)
        length = content.tell()
        content.seek(position)
    except (OSError, ValueError):
        return 0
    return int(length)


@implementer(IPushProducer)
class CGIProcessProtocol(protocol.ProcessProtocol):
    """The server's side of one CGI program: request body in, CGI response out.

    It is the request's producer, so a client that reads slowly pauses reading the
    program's output; if the client goes away, the program's pipes are closed and it
    is sent SIGTERM.
    """

    scriptName = "CGI program"
    maxHeaderBytes = 64 * 1024
    timeout: float | None = None
    clock: Any = None

    def __init__(self, request: Any) -> None:
        self.request = request
        self.headersWritten = False
        self._headerBuffer = b""
        self._scanned = 0
        self._headerLines: list[bytes] = []
        self._remaining: int | None = None
        self._done = False
        self._gone = False
        self._producing = False
        self._paused = False
        self._timer: Any = None
        self._lastOutput = 0.0

    def connectionMade(self) -> None:
        self.request.registerProducer(self, True)
        self._producing = True
        self._startTimer()
        self.request.notifyFinish().addErrback(self._clientLost)
        content = self.request.content
        if _bodyLength(self.request):
            content.seek(0)
            sending = FileSender().beginFileTransfer(content, self.transport)
            sending.addBoth(self._bodySent)
        else:
            self.transport.closeStdin()

    def _bodySent(self, result: Any) -> None:
        # A failure here is the program closing its stdin before reading it all: its right.
        if not self._done:
            self.transport.closeStdin()

    def _clientLost(self, reason: Failure) -> None:
        self._gone = True
        self._stopProgram()

    # -- the program's output ---------------------------------------------------------

    def errReceived(self, data: bytes) -> None:
        log.msg(f"CGI program {self.scriptName} wrote to stderr: {data!r}")

    def outReceived(self, data: bytes) -> None:
        if self._done or self._gone:
            return
        if self._timer is not None:
            self._lastOutput = self.clock.seconds()
        if self.headersWritten:
            self._writeBody(data)
            return
        self._headerBuffer += data
        buffer = self._headerBuffer
        while True:
            end = buffer.find(b"\n", self._scanned)
            if end < 0:
                if len(buffer) > self.maxHeaderBytes:
                    self._fail(f"its CGI headers are longer than {self.maxHeaderBytes} bytes")
                return
            line = buffer[self._scanned : end]
            if line.endswith(b"\r"):
                line = line[:-1]
            self._scanned = end + 1
            if self._scanned > self.maxHeaderBytes:
                self._fail(f"its CGI headers are longer than {self.maxHeaderBytes} bytes")
                return
            if not line:
                break
            self._headerLines.append(line)
        body = buffer[self._scanned :]
        self._headerBuffer = b""
        try:
            self._applyHeaders(self._headerLines)
        except CGIError as malformed:
            self._fail(str(malformed))
            return
        self.headersWritten = True
        if body:
            self._writeBody(body)

    def _applyHeaders(self, lines: list[bytes]) -> None:
        """Turn the CGI header lines into the response's status and headers."""
        if not lines:
            raise CGIError("it wrote no CGI header before the blank line")
        request = self.request
        status: tuple[int, bytes | None] | None = None
        location = False
        headers: list[tuple[bytes, bytes]] = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise CGIError(f"it wrote a malformed CGI header line: {line[:200]!r}")
            value = value.strip()
            lowered = name.lower()
            if lowered == b"status":
                code, _, reason = value.partition(b" ")
                if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 599:
                    raise CGIError(f"its Status header is not a status code: {value[:200]!r}")
                status = (int(code), reason.strip() or None)
            elif lowered in _HOP_BY_HOP:
                continue
            else:
                if lowered == b"location":
                    location = True
                elif lowered == b"content-length":
                    if not value.isdigit():
                        raise CGIError(f"its Content-Length is not a number: {value[:200]!r}")
                    self._remaining = int(value)
                headers.append((name, value))
        try:
            for name, value in headers:
                request.responseHeaders.addRawHeader(name, value)
            if status is not None:
                request.setResponseCode(status[0], status[1])
            elif location:
                request.setResponseCode(http.FOUND)
        except ValueError as refused:
            raise CGIError(f"it wrote a header HTTP cannot carry: {refused}") from None

    def _writeBody(self, data: bytes) -> None:
        remaining = self._remaining
        if remaining is not None:
            if len(data) > remaining:
                if remaining >= 0:
                    log.msg(
                        f"CGI program {self.scriptName} wrote more than its Content-Length; "
                        "the excess is dropped"
                    )
                data = data[: max(remaining, 0)]
                self._remaining = remaining = -1  # logged once
            else:
                self._remaining = remaining - len(data)
        if data:
            self.request.write(data)

    def _fail(self, why: str, signal: str = "TERM") -> None:
        """The program broke the CGI protocol: answer 500 (logged) and stop it."""
        self._done = True
        self._cancelTimer()
        self._unregister()
        self._stopProgram(signal)
        if not self._gone:
            self.request.processingFailed(
                Failure(CGIError(f"the CGI program {self.scriptName} failed: {why}"))
            )

    # -- its end ------------------------------------------------------------------------

    def processEnded(self, reason: Failure) -> None:
        self._cancelTimer()
        if self._done:
            return
        self._done = True
        self._unregister()
        if self._gone:
            return
        died = reason.check(ierror.ProcessTerminated) is not None
        signalled = died and getattr(reason.value, "signal", None) is not None
        if not self.headersWritten:
            how = f" ({reason.value})" if died else ""
            self.request.processingFailed(
                Failure(
                    CGIError(
                        f"the CGI program {self.scriptName} ended before the blank line "
                        f"that ends its CGI headers{how}"
                    )
                )
            )
            return
        if signalled or (self._remaining is not None and self._remaining > 0):
            why = str(reason.value) if signalled else "it wrote less than its Content-Length"
            failure = Failure(CGIError(f"the CGI program {self.scriptName} ended early: {why}"))
            if not self.request.startedWriting:
                self.request.processingFailed(failure)
                return
            log.err(failure, "Cutting a CGI response short")
            self.request.channel.transport.loseConnection()
            return
        if died:
            log.msg(f"CGI program {self.scriptName} ended: {reason.value}")
        self.request.finish()

    def _unregister(self) -> None:
        if self._producing:
            self._producing = False
            if not self._gone:
                self.request.unregisterProducer()

    def _stopProgram(self, signal: str = "TERM") -> None:
        transport = self.transport
        if transport is None:
            return
        transport.loseConnection()
        try:
            transport.signalProcess(signal)
        except ierror.ProcessExitedAlready:
            pass
        except OSError:
            pass

    # -- IPushProducer (the client's connection pacing us) ------------------------------

    def pauseProducing(self) -> None:
        self._paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self._paused = False
        if self._timer is not None:
            self._lastOutput = self.clock.seconds()
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        self._gone = True
        self._producing = False
        self._cancelTimer()
        self._stopProgram()

    # -- the output timeout ---------------------------------------------------------------

    def _startTimer(self) -> None:
        if self.timeout is None or self.clock is None:
            return
        self._lastOutput = self.clock.seconds()
        self._timer = self.clock.callLater(self.timeout, self._checkTimeout)

    def _cancelTimer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _checkTimeout(self) -> None:
        # One timer per program, re-armed only when it fires early: output costs no timer call.
        assert self.timeout is not None
        if self._done:
            self._timer = None
            return
        now = self.clock.seconds()
        due = self._lastOutput + self.timeout
        if self._paused or now < due:
            self._timer = self.clock.callLater(
                max(due - now, 0.0) or self.timeout, self._checkTimeout
            )
            return
        self._timer = None
        why = f"it wrote nothing for {self.timeout:g} seconds (CGIScript.timeout)"
        if not self.headersWritten:
            self._fail(why, "KILL")
            return
        self._done = True
        self._unregister()
        self._stopProgram("KILL")
        log.err(
            Failure(CGIError(f"the CGI program {self.scriptName} timed out: {why}")),
            "Cutting a CGI response short",
        )
        self.request.channel.transport.loseConnection()
