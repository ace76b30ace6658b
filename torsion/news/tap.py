"""``torsiond news``: an NNTP news server over a spool directory.

    torsiond -n news --spool /srv/news --group local.talk --group "local.test=For tests"
    torsiond -n news --spool news --auth file:news.passwd             # log in to post
    torsiond -n news --spool news --auth file:news.passwd --auth-required all
    torsiond -n news --spool news --read-only --listen tcp:119 --listen ssl:563:...

``--listen`` takes an endpoint description and may be given several times (``--port``
is Twisted's name; a bare number is that TCP port of 127.0.0.1); without either the
server listens on 127.0.0.1:1119 (NNTP's port 119 needs root). ``--spool DIR``
(Twisted's ``--datadir``) holds the groups and articles and is made if missing; what
was posted is there after a restart. ``--group NAME[=DESCRIPTION]`` adds a group (or
sets its description); groups already in the spool stay. ``--auth`` (torsion.cred.strcred)
turns on AUTHINFO USER/PASS; a login is then needed to post, or for everything with
``--auth-required all``. Passwords cross the network as they are: serve ``ssl:``
endpoints where that matters. ``--read-only`` refuses POST (the greeting says 201).
Tests: tests/news/test_newsplugin.py, tests/news/test_nntplib.py.
"""

from __future__ import annotations

import socket
from typing import Any

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.cred import credentials, portal, strcred
from torsion.python import usage

__all__ = ["DEFAULT_LISTEN", "Options", "makeService"]

DEFAULT_LISTEN = "tcp:1119:interface=127.0.0.1"


def _positive(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise usage.UsageError(f"--{name} {value!r}: give a positive whole number")
    return number


class Options(usage.Options, strcred.AuthOptionMixin, strports.ListenOptionMixin):
    """The options of the news plugin."""

    defaultListen = DEFAULT_LISTEN

    synopsis = "[--listen DESCRIPTION ...] [--spool DIR] [--group NAME[=DESCRIPTION] ...]"
    longdesc = (
        "An NNTP (RFC 3977) news server. Articles are kept in --spool (made if "
        f"missing); --group adds groups. --listen (default {DEFAULT_LISTEN}) may be "
        "repeated. --auth turns on AUTHINFO logins (see --help-auth)."
    )
    supportedInterfaces = (credentials.IUsernamePassword,)
    optFlags = [["read-only", None, "Refuse POST: readers may only read."]]
    optParameters = [
        ["spool", "s", "news-spool", "The spool directory (made if missing)."],
        ["hostname", None, socket.gethostname(), "The name in Message-IDs and Path headers."],
        [
            "auth-required",
            None,
            "post",
            "With --auth: log in to 'post' (the default) or for 'all' commands.",
        ],
        ["max-article-size", None, "1048576", "The largest article accepted, in bytes."],
        ["idle-timeout", None, "600", "Close connections idle this many seconds."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["groups"] = []

    def opt_port(self, description: str) -> None:
        """Twisted's name for --listen."""
        self.opt_listen(description)

    opt_p = opt_port

    def opt_datadir(self, path: str) -> None:
        """Twisted's name for --spool."""
        self["spool"] = path

    def opt_group(self, spec: str) -> None:
        """NAME[=DESCRIPTION]: a newsgroup; may be given several times."""
        from torsion.news.database import isGroupName

        name, _, description = spec.partition("=")
        name = name.strip().lower()
        if not isGroupName(name):
            raise usage.UsageError(
                f"--group {spec!r}: a newsgroup name is letters, digits, + - _ and dots "
                "between parts, such as local.talk"
            )
        self["groups"].append((name, description.strip()))

    opt_g = opt_group

    def postOptions(self) -> None:
        """Check what can be checked now, so that a mistake is a usage error."""

        self.checkListen()
        if self["auth-required"] not in ("post", "all"):
            raise usage.UsageError(
                f"--auth-required {self['auth-required']!r}: give 'post' or 'all'"
            )
        self["max-article-size"] = _positive("max-article-size", str(self["max-article-size"]))
        self["idle-timeout"] = _positive("idle-timeout", str(self["idle-timeout"]))


def makeService(options: Any) -> IService:
    """A MultiService listening on each --listen, serving one spool."""
    from torsion.news.database import NewsSpool
    from torsion.news.news import NewsRealm, NNTPFactory

    try:
        spool = NewsSpool(options["spool"], hostname=options["hostname"])
    except OSError as e:
        raise usage.UsageError(f"--spool {options['spool']!r}: {e}") from None
    for name, description in options["groups"]:
        spool.addGroup(name, description)
    checkers = list(options.get("credCheckers") or [])
    thePortal = portal.Portal(NewsRealm(), checkers) if checkers else None
    factory = NNTPFactory(
        spool,
        thePortal,
        authRequired=options["auth-required"] if thePortal is not None else None,
        postingAllowed=not options["read-only"],
    )
    factory.maxArticleBytes = options["max-article-size"]
    factory.idleTimeout = options["idle-timeout"]
    made = service.MultiService()
    for description in options["listen"]:
        strports.service(description, factory).setServiceParent(made)
    return made
