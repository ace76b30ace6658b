"""Tests for torsion.web.vhost: name-based virtual hosts and the reverse-proxy rewriting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet.reactormixins import loggedErrors
from tests.web.livesite import fetch, oneReactor, rawExchange, serve
from torsion.web import resource, vhost

__all__ = ["loggedErrors", "oneReactor"]


class Named(resource.Resource):
    """A leaf that says its name and the path it was asked for."""

    isLeaf = True

    def __init__(self, name: bytes) -> None:
        super().__init__()
        self.name = name

    def render_GET(self, request: Any) -> bytes:
        return self.name + b" " + b"/".join(request.postpath)


class Tree(resource.Resource):
    """A non-leaf root whose child 'page' says the tree's name."""

    def __init__(self, name: bytes) -> None:
        super().__init__()
        self.putChild(b"page", Named(name))


class WhereAmI(resource.Resource):
    """Reports what the request believes about where the client went."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        host = request.getHost()
        return b"|".join(
            [
                request.prePathURL(),
                b"secure" if request.isSecure() else b"plain",
                request.getRequestHostname(),
                b"%d" % host.port,
                request.uri,
                b"/".join(request.postpath),
                str(request.URLPath().child(b"next")).encode(),
            ]
        )


def hostsSite() -> vhost.NameVirtualHost:
    hosts = vhost.NameVirtualHost()
    hosts.addHost(b"example.com", Tree(b"example"))
    hosts.addHost("Other.Example", Tree(b"other"))
    hosts.addHost("::1", Tree(b"v6"))
    return hosts


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", b"example "),
        ("EXAMPLE.com:8080", b"example "),
        ("example.com.", b"example "),
        ("other.example", b"other "),
        ("OTHER.EXAMPLE:1", b"other "),
        ("[::1]:8080", b"v6 "),
    ],
)
def test_hostChosenIgnoringCasePortAndFinalDot(oneReactor: Any, host: str, expected: bytes) -> None:
    port, _ = serve(oneReactor, hostsSite())
    answer = fetch(oneReactor, port, "/page", headers={"Host": host})
    assert answer.status == 200
    assert answer.body == expected


def test_unknownHostGetsTheDefault(oneReactor: Any) -> None:
    hosts = hostsSite()
    hosts.default = Tree(b"fallback")
    port, _ = serve(oneReactor, hosts)
    assert fetch(oneReactor, port, "/page", headers={"Host": "nope.test"}).body == b"fallback "


def test_unknownHostWithoutDefaultIs404NamingIt(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, hostsSite())
    answer = fetch(oneReactor, port, "/page", headers={"Host": "nope.example"})
    assert answer.status == 404
    assert b"nope.example" in answer.body


class HeaderOnly:
    def __init__(self, host: bytes) -> None:
        self.host = host

    def getHeader(self, name: bytes) -> bytes:
        return self.host


def test_unknownHostIsNamedEscaped() -> None:
    page = hostsSite()._getResourceForRequest(HeaderOnly(b"<b>evil"))
    assert isinstance(page, resource.NoResource)
    assert "<b>evil" in page.detail  # ErrorPage escapes its detail when rendering


def test_malformedHostHeaderIsRefusedByTheServer(oneReactor: Any) -> None:
    port, _ = serve(oneReactor, hostsSite())
    assert fetch(oneReactor, port, "/page", headers={"Host": "<b>evil"}).status == 400


def test_requestWithoutHostHeader(oneReactor: Any) -> None:
    hosts = hostsSite()
    port, _ = serve(oneReactor, hosts)
    answer = rawExchange(oneReactor, port, b"GET /page HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 ")
    hosts.default = Tree(b"fallback")
    answer = rawExchange(oneReactor, port, b"GET /page HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"fallback ")


def test_removeHost(oneReactor: Any) -> None:
    hosts = hostsSite()
    hosts.default = Tree(b"fallback")
    hosts.removeHost("EXAMPLE.COM")
    port, _ = serve(oneReactor, hosts)
    assert fetch(oneReactor, port, "/page", headers={"Host": "example.com"}).body == b"fallback "
    with pytest.raises(KeyError, match=r"example\.com"):
        hosts.removeHost(b"example.com")


def test_leafHostResourceGetsTheWholePath(oneReactor: Any) -> None:
    hosts = vhost.NameVirtualHost()
    hosts.addHost(b"leaf.test", Named(b"leaf"))
    port, _ = serve(oneReactor, hosts)
    assert fetch(oneReactor, port, "/a/b", headers={"Host": "leaf.test"}).body == b"leaf a/b"


def test_hostNamesAreCheckedWhenAdded() -> None:
    hosts = vhost.NameVirtualHost()
    with pytest.raises(TypeError, match="host name"):
        hosts.addHost(42, Named(b"x"))  # type: ignore[arg-type]
    hosts.addHost("b\u00fccher.example", Named(b"idn"))
    assert b"xn--bcher-kva.example" in hosts.hosts


def test_nestedUnderAChild(oneReactor: Any) -> None:
    root = resource.Resource()
    root.putChild(b"sites", hostsSite())
    port, _ = serve(oneReactor, root)
    answer = fetch(oneReactor, port, "/sites/page", headers={"Host": "example.com"})
    assert answer.body == b"example "


def test_virtualHostCollection() -> None:
    hosts = hostsSite()
    collection = vhost.VirtualHostCollection(hosts)
    assert sorted(collection.listStaticNames()) == [b"::1", b"example.com", b"other.example"]
    collection.reallyPutEntity(b"new.test", Named(b"n"))
    assert collection.getStaticEntity(b"NEW.test") is hosts.hosts[b"new.test"]
    collection.delEntity(b"new.test")
    assert b"new.test" not in hosts.hosts
    assert (b"example.com", hosts.hosts[b"example.com"]) in hosts.listStaticEntities()


# -- VHostMonsterResource -------------------------------------------------------------------


def monsterSite(reactor: Any) -> int:
    root = resource.Resource()
    root.putChild(b"vhost.rpy", vhost.VHostMonsterResource())
    root.putChild(b"app", WhereAmI())
    port, _ = serve(reactor, root)
    return port


def test_vhostMonsterRewritesSchemeHostAndPath(oneReactor: Any) -> None:
    port = monsterSite(oneReactor)
    answer = fetch(oneReactor, port, "/vhost.rpy/http/example.com:8080/app/x/y?q=1")
    assert answer.status == 200
    assert answer.body.split(b"|") == [
        b"http://example.com:8080/app",
        b"plain",
        b"example.com",
        b"8080",
        b"/app/x/y?q=1",
        b"x/y",
        b"http://example.com:8080/app/next",
    ]


def test_vhostMonsterHttpsWithDefaultPort(oneReactor: Any) -> None:
    port = monsterSite(oneReactor)
    body = fetch(oneReactor, port, "/vhost.rpy/https/secure.example/app").body.split(b"|")
    assert body[:4] == [b"https://secure.example/app", b"secure", b"secure.example", b"443"]


def test_vhostMonsterIPv6Host(oneReactor: Any) -> None:
    port = monsterSite(oneReactor)
    body = fetch(oneReactor, port, "/vhost.rpy/http/[::1]:81/app").body.split(b"|")
    assert body[:4] == [b"http://[::1]:81/app", b"plain", b"::1", b"81"]


def test_vhostMonsterEncodedSegmentsStayEncoded(oneReactor: Any) -> None:
    port = monsterSite(oneReactor)
    body = fetch(oneReactor, port, "/vhost.rpy/http/h.test/app/a%20b").body.split(b"|")
    assert body[4] == b"/app/a%20b"
    assert body[5] == b"a b"


def test_vhostMonsterRedirectsPointAtTheProxy(oneReactor: Any) -> None:
    from torsion.web import util

    root = resource.Resource()
    root.putChild(b"vhost.rpy", vhost.VHostMonsterResource())
    section = resource.Resource()
    root.putChild(b"section", section)
    section.putChild(b"page", util.ParentRedirect())
    port, _ = serve(oneReactor, root)
    answer = fetch(oneReactor, port, "/vhost.rpy/https/public.example:8443/section/page")
    assert answer.header("Location") == "https://public.example:8443/section/"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/vhost.rpy/gopher/example.com/app", 404),
        ("/vhost.rpy/http/example.com:http/app", 400),
        ("/vhost.rpy/http/example.com:70000/app", 400),
        ("/vhost.rpy/http/:80/app", 400),
        ("/vhost.rpy/http/evil%0d%0aX-Injected:%201/app", 400),
        ("/vhost.rpy/http/a%20b/app", 400),
        ("/vhost.rpy/http/example.com/nothing", 404),
    ],
)
def test_vhostMonsterBadPaths(oneReactor: Any, path: str, status: int) -> None:
    port = monsterSite(oneReactor)
    assert fetch(oneReactor, port, path).status == status


def test_vhostMonsterServesTheNextRequestNormally(oneReactor: Any) -> None:
    port = monsterSite(oneReactor)
    fetch(oneReactor, port, "/vhost.rpy/https/example.com/app")
    body = fetch(oneReactor, port, "/app", headers={"Host": "127.0.0.1"}).body.split(b"|")
    assert body[:2] == [b"http://127.0.0.1/app", b"plain"]
