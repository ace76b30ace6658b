"""The interfaces of torsion.web: the roles that requests, bodies, agents and policies play.

They are zope.interface interfaces with Twisted's names, so code that declares or
adapts to `IRequest`, `IBodyProducer`, `IAgent` or `IPolicyForHTTPS` ports by renaming.

Tests: tests/web/test_server.py and tests/web/test_client.py verify the providers.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Attribute, Interface

from torsion.internet.interfaces import IPushProducer

__all__ = [
    "UNKNOWN_LENGTH",
    "IAccessLogFormatter",
    "IAgent",
    "IAgentEndpointFactory",
    "IBodyProducer",
    "ICredentialFactory",
    "IPolicyForHTTPS",
    "IRenderable",
    "IRequest",
    "IResponse",
    "ISession",
    "ITemplateLoader",
]

UNKNOWN_LENGTH = "torsion.web.iweb.UNKNOWN_LENGTH"


class IRequest(Interface):
    """One HTTP request being answered: what the client asked and the reply being built."""

    method = Attribute("The request method, bytes (b'GET').")
    uri = Attribute("The request target as sent, bytes (b'/a/b?x=1').")
    path = Attribute("The path part of uri, bytes, still percent-encoded.")
    args = Attribute("dict[bytes, list[bytes]]: query arguments and form fields.")
    requestHeaders = Attribute("The request's Headers.")
    responseHeaders = Attribute("The response's Headers, sent with the first write.")
    content = Attribute("The request body, a binary file object positioned at 0.")
    code = Attribute("The response status code, an int.")
    prepath = Attribute("The path segments consumed by traversal so far.")
    postpath = Attribute("The path segments left to traverse.")

    def getHeader(key: bytes | str) -> bytes | str | None:
        """The last value of the request header `key`, or None."""

    def getCookie(key: bytes) -> bytes | None:
        """The value of the request cookie `key`, or None."""

    def getAllHeaders() -> dict[bytes, bytes]:
        """Every request header, one (last) value per lowercased name."""

    def getRequestHostname() -> bytes:
        """The host the client addressed (from Host, without the port)."""

    def getHost() -> Any:
        """The server's address of this connection."""

    def getClientAddress() -> Any:
        """The client's address of this connection."""

    def isSecure() -> bool:
        """Whether the request came over TLS."""

    def setHeader(name: bytes | str, value: bytes | str) -> None:
        """Set a response header, replacing earlier values."""

    def setResponseCode(code: int, message: bytes | None = None) -> None:
        """Set the response status."""

    def write(data: bytes) -> None:
        """Write part of the response body (the head goes first)."""

    def finish() -> None:
        """End the response."""

    def notifyFinish() -> Any:
        """A Deferred that fires when the response is finished, or errbacks if the
        connection is lost first."""

    def redirect(url: bytes | str) -> None:
        """Answer with a 302 to `url`."""

    def addCookie(
        k: bytes | str,
        v: bytes | str,
        expires: bytes | str | None = None,
        domain: bytes | str | None = None,
        path: bytes | str | None = None,
        max_age: bytes | str | int | None = None,
        comment: bytes | str | None = None,
        secure: bool | None = None,
        httpOnly: bool = False,
        sameSite: str | None = None,
    ) -> None:
        """Set a response cookie."""

    def setLastModified(when: float) -> Any:
        """Set Last-Modified; returns http.CACHED when the client's copy is current."""

    def setETag(etag: bytes) -> Any:
        """Set ETag; returns http.CACHED when the client's copy is current."""

    def registerProducer(producer: Any, streaming: bool) -> None:
        """Stream the body from `producer`, with back-pressure."""

    def unregisterProducer() -> None:
        """The producer is done."""


class ISession(Interface):
    """A browser's session: state kept on the server, found again through a cookie."""

    uid = Attribute("The session's identifier (also the cookie value).")

    def expire() -> None:
        """End the session now."""

    def touch() -> None:
        """Mark the session as used, postponing its expiry."""

    def notifyOnExpire(callback: Any) -> None:
        """Call `callback()` when the session expires."""


class IAccessLogFormatter(Interface):
    """A callable(timestamp, request) -> str making one access-log line."""

    def __call__(timestamp: str, request: Any) -> str:
        """The log line for `request`, finished at `timestamp` (CLF date form)."""


class IBodyProducer(IPushProducer):
    """The body of a client request, produced into a consumer."""

    length = Attribute("The body's length in bytes, or UNKNOWN_LENGTH (sent chunked).")

    def startProducing(consumer: Any) -> Any:
        """Write the body to `consumer`; return a Deferred that fires when done."""

    def stopProducing() -> None:
        """Stop: the request was abandoned."""


class IResponse(Interface):
    """A response received by a client."""

    version = Attribute("(b'HTTP', 1, 1)")
    code = Attribute("The status code, an int.")
    phrase = Attribute("The reason phrase, bytes.")
    headers = Attribute("The response's Headers.")
    length = Attribute("The body length, or UNKNOWN_LENGTH.")
    request = Attribute("The IClientRequest this answers.")
    previousResponse = Attribute("The response redirected from, or None.")

    def deliverBody(protocol: Any) -> None:
        """Feed the body to `protocol` (dataReceived, then connectionLost(ResponseDone))."""


class IAgent(Interface):
    """Makes HTTP requests."""

    def request(method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        """A Deferred firing with the IResponse."""


class IPolicyForHTTPS(Interface):
    """Chooses the TLS settings of each HTTPS connection an Agent makes."""

    def creatorForNetloc(hostname: bytes, port: int) -> Any:
        """The client TLS connection creator for hostname:port."""


class IAgentEndpointFactory(Interface):
    """Makes the endpoint an Agent connects to for a URI."""

    def endpointForURI(uri: Any) -> Any:
        """An IStreamClientEndpoint for the URI's scheme, host and port."""


class ICredentialFactory(Interface):
    """Turns an HTTP Authorization header into cred credentials."""

    scheme = Attribute("The authentication scheme, bytes (b'basic').")

    def getChallenge(request: Any) -> dict[str, Any]:
        """The WWW-Authenticate parameters."""

    def decode(response: bytes, request: Any) -> Any:
        """The credentials in `response`, or raise LoginFailed."""


class IRenderable(Interface):
    """Something a template can render: torsion.web.template's Element is one."""

    def lookupRenderMethod(name: str) -> Any:
        """The renderer a tag with ``render=name`` inside this renderable is handed to:
        a callable ``(request, tag)`` returning something flattenable."""

    def render(request: Any) -> Any:
        """The renderable's tag tree (anything flattenable)."""


class ITemplateLoader(Interface):
    """Loads a template: XMLString, XMLFile and TagLoader of torsion.web.template."""

    def load() -> Any:
        """The template's tag tree (a list of flattenables)."""
