"""Virtual hosting: one server answering for several host names, and living behind a proxy.

`NameVirtualHost` picks a resource tree by the request's Host header (ignoring case,
the port and a trailing dot), falling back to its `default`:

    hosts = NameVirtualHost()
    hosts.addHost("example.com", exampleRoot)
    hosts.default = NoResource()
    Site(hosts)

`VHostMonsterResource` serves a site behind a reverse proxy that forwards
http://example.com/a/b to http://backend/vhost.rpy/http/example.com:80/a/b: it takes the
scheme and host:port from the path, makes the request believe it came there
(Request.setHost) and serves the rest of the path from the site's root, so the URLs
the site builds point at the proxy. Any client that can reach it can claim any host,
so only the proxy should be able to reach the backend.

Tests: tests/web/test_vhost.py.
"""

from __future__ import annotations

import re
from typing import Any

from torsion.web import resource
from torsion.web.error import Error

__all__ = ["NameVirtualHost", "VHostMonsterResource", "VirtualHostCollection"]

_HOST = re.compile(rb"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]+")  # a name or address, or an IPv6 address


def _hostKey(name: bytes | str) -> bytes:
    """A host name as NameVirtualHost keys it: IDNA-encoded, lowercase, no final dot."""
    if isinstance(name, str):
        try:
            name = name.encode("idna") if not name.isascii() else name.encode("ascii")
        except UnicodeError as bad:
            raise ValueError(f"{name!r} is not a host name: {bad}") from None
    elif not isinstance(name, bytes):
        raise TypeError(f"a host name is bytes or str, not {type(name).__name__}")
    return name.lower().strip(b"[]").rstrip(b".")


def _splitHostPort(value: bytes) -> tuple[bytes, bytes | None]:
    """host and port (None if absent) of b"host", b"host:port", b"[v6]" or b"[v6]:port"."""
    if value.startswith(b"["):
        end = value.find(b"]")
        if end < 0:
            return value, None
        rest = value[end + 1 :]
        return value[1:end], rest[1:] if rest.startswith(b":") else None
    if value.count(b":") == 1:
        host, _, port = value.partition(b":")
        return host, port
    return value, None


class NameVirtualHost(resource.Resource):
    """Serve a different resource tree for each host name the clients ask for.

    `hosts` maps each name (lowercase bytes) to its tree; `default` answers for any
    other name and for requests without a Host header (a 404 page if it is None).
    """

    default: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[bytes, Any] = {}

    def addHost(self, name: bytes | str, resrc: Any) -> None:
        """Serve `resrc` for requests to host `name` (bytes or str, any case)."""
        self.hosts[_hostKey(name)] = resrc

    def removeHost(self, name: bytes | str) -> None:
        """Stop serving host `name`.

        Raises:
            KeyError: if `name` was never added.
        """
        key = _hostKey(name)
        if key not in self.hosts:
            raise KeyError(f"no virtual host {key!r} to remove; the hosts are {sorted(self.hosts)}")
        del self.hosts[key]

    def listStaticEntities(self) -> list[tuple[bytes, Any]]:
        return [*self.hosts.items(), *super().listStaticEntities()]

    def getStaticEntity(self, name: bytes) -> Any:
        if name in self.hosts:
            return self.hosts[name]
        return super().getStaticEntity(name)

    def _getResourceForRequest(self, request: Any) -> Any:
        header = request.getHeader(b"host")
        if header is None:
            found = self.default
            if found is None:
                return resource.NoResource("The request names no host and there is no default.")
            return found
        name = _hostKey(_splitHostPort(header.strip())[0])
        found = self.hosts.get(name, self.default)
        if found is None:
            host = name.decode("ascii", "replace")
            return resource.NoResource(f"No site named {host} is served here.")
        return found

    def render(self, request: Any) -> Any:
        return self._getResourceForRequest(request).render(request)

    def getChild(self, path: bytes, request: Any) -> Any:
        found = self._getResourceForRequest(request)
        if found.isLeaf:
            # The host's tree is one leaf: it answers for the whole path, this segment too.
            request.postpath.insert(0, request.prepath.pop())
            return found
        return found.getChildWithDefault(path, request)


class VirtualHostCollection(resource.Resource):
    """The hosts of a NameVirtualHost seen as a collection of named entities."""

    def __init__(self, nvh: NameVirtualHost) -> None:
        super().__init__()
        self.nvh = nvh

    def listStaticEntities(self) -> list[tuple[bytes, Any]]:
        return list(self.nvh.hosts.items())

    def listStaticNames(self) -> list[bytes]:
        return list(self.nvh.hosts)

    def getStaticEntity(self, name: bytes) -> Any:
        return self.nvh.hosts.get(_hostKey(name))

    def reallyPutEntity(self, name: bytes, entity: Any) -> None:
        self.nvh.addHost(name, entity)

    def delEntity(self, name: bytes) -> None:
        self.nvh.removeHost(name)


class VHostMonsterResource(resource.Resource):
    """Take the scheme and host:port the client used from the path (behind a proxy).

    /<this>/http/example.com:8080/a/b is served as http://example.com:8080/a/b would
    be: from the site's root, with the Host header, getHost(), isSecure() and every
    URL the request builds saying example.com:8080.
    """

    def getChild(self, path: bytes, request: Any) -> Any:
        if path == b"http":
            return _HostResource(False)
        if path == b"https":
            return _HostResource(True)
        return resource.NoResource(
            "A virtual-host path continues with the scheme, http or https: "
            "/vhost.rpy/http/host:port/path."
        )


class _HostResource(resource.Resource):
    """The host:port segment after the scheme: rewrites the request, then re-traverses."""

    def __init__(self, secure: bool) -> None:
        super().__init__()
        self.secure = secure

    def getChild(self, path: bytes, request: Any) -> Any:
        host, portText = _splitHostPort(path)
        if not _HOST.fullmatch(host):
            raise Error(400, b"Bad Request", b"The virtual-host path names no valid host.\n")
        port = 443 if self.secure else 80
        if portText is not None:
            if not portText.isdigit() or not 0 < int(portText) < 65536:
                raise Error(400, b"Bad Request", b"The virtual-host path has a bad port.\n")
            port = int(portText)
        request.setHost(host, port, self.secure)
        request._forceSSL = self.secure  # "http" means plain, even over a TLS backend link
        consumed = len(request.prepath)
        request.path = b"/" + b"/".join(request.path[1:].split(b"/")[consumed:])
        _, question, query = request.uri.partition(b"?")
        request.uri = request.path + question + query
        request.prepath = []
        return request.site.getResourceFor(request)
