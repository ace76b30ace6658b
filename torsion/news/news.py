"""The news server's factory: ``NNTPFactory(storage)`` makes an NNTPServer per connection.

    from torsion.news import database, news
    spool = database.NewsSpool("/srv/news")
    spool.addGroup("local.talk", "Talk about anything")
    reactor.listenTCP(1119, news.NNTPFactory(spool), interface="127.0.0.1")

``portal`` (a torsion.cred Portal whose realm gives ``nntp.INewsReader`` avatars;
``NewsRealm`` is one) turns on AUTHINFO USER/PASS; ``authRequired`` says for what a
login is needed: ``"post"`` (the default when there is a portal), ``"all"`` (reading
too), or None. ``postingAllowed=False`` makes a read-only server (201 greeting, 440
to POST). The limits (article size, idle time, refused passwords) are attributes.
``UsenetClientFactory`` is the client side's factory.
Tests: tests/news/test_nntpserver.py, tests/news/test_nntpclient.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from zope.interface import implementer

from torsion.cred.portal import IRealm, Portal
from torsion.internet.protocol import ClientFactory, ServerFactory
from torsion.news.database import NewsSpool
from torsion.news.nntp import INewsReader, NewsReader, NNTPClient, NNTPServer

__all__ = ["NNTPFactory", "NewsRealm", "UsenetClientFactory"]

AuthRequired = Literal["post", "all"] | None


@implementer(IRealm)
class NewsRealm:
    """A realm whose avatar is just the name a reader logged in with."""

    def requestAvatar(
        self, avatarId: bytes | str, mind: object, *interfaces: Any
    ) -> tuple[Any, Any, Callable[[], None]]:
        if INewsReader not in interfaces:
            raise NotImplementedError("NewsRealm only gives INewsReader avatars")
        name = avatarId.decode("utf-8", "replace") if isinstance(avatarId, bytes) else avatarId
        return INewsReader, NewsReader(name), lambda: None


class NNTPFactory(ServerFactory):
    """Serves the groups of ``storage`` (a NewsSpool) over NNTP.

    Args:
        storage: the spool.
        portal: a Cred portal for AUTHINFO, or None for no logins.
        authRequired: "post", "all" or None; defaults to "post" with a portal.
        postingAllowed: False for a read-only server.
        reactor: the reactor of the idle timers (the global one by default).
    """

    protocol = NNTPServer
    # An article larger than this is refused (441) after its terminating dot.
    maxArticleBytes = 1024 * 1024
    # A connection idle this long (seconds) is closed, as RFC 3977 3.1 allows.
    idleTimeout: float | None = 600.0
    # After this many refused passwords the connection is closed.
    maxLoginFailures = 3

    def __init__(
        self,
        storage: NewsSpool,
        portal: Portal | None = None,
        authRequired: AuthRequired | Literal["default"] = "default",
        postingAllowed: bool = True,
        reactor: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.portal = portal
        if authRequired == "default":
            authRequired = "post" if portal is not None else None
        if authRequired is not None and portal is None:
            raise ValueError(f"authRequired={authRequired!r} needs a portal to log in with")
        self.authRequired = authRequired
        self.postingAllowed = postingAllowed
        self.clock = clock
        self._reactor = reactor

    @property
    def reactor(self) -> Any:
        """The reactor of the idle timers: the one given, else the global one (looked
        up when first needed, so that a factory can be saved with ``torsion mktap``)."""
        if self._reactor is None:
            from torsion.internet import reactor as default

            return default
        return self._reactor


class UsenetClientFactory(ClientFactory):
    """Makes NNTPClient connections (Twisted's name)."""

    protocol = NNTPClient
