"""``torsiond words``: an IRC server that any IRC client can join.

    torsiond -n words                                   # tcp:6667 on 127.0.0.1; anyone may join
    torsiond -n words --group lobby --group dev --motd motd.txt
    torsiond -n words --auth file:irc.passwd            # only these accounts (PASS or SASL PLAIN)
    torsiond -n words --auth file:irc.passwd --auth anonymous   # and guests
    torsiond -n words --listen tcp:6667 --listen ssl:6697:privateKey=key.pem:certKey=cert.pem

``--irc-port`` is Twisted's name for the endpoint; ``--listen`` does the same and may
be given several times (a bare number is that TCP port of 127.0.0.1). Without either
the server listens on port 6667 of this machine only: name an interface, or all of
them (``--listen tcp:6667``), to serve others, and prefer ``ssl:`` when passwords
travel (PASS and SASL PLAIN send them as they are).

``--group NAME`` makes a channel (``#NAME``; the ``#`` may be given) that exists from
the start and stays when empty; clients make others by joining them, unless
``--no-create-groups``. ``--motd FILE`` is the message of the day. ``--auth``
(torsion.cred.strcred) says who may log in; without it anyone may, with any free
nick. With accounts, a client logs in with SASL PLAIN or with PASS (the nick is then
the account name), and ``--auth anonymous`` lets others in as guests too.
``--passwd FILE`` is Twisted's older spelling of ``--auth file:FILE``. Everything
made is picklable (``torsion mktap words``), the channels given with ``--group`` too.

Tests: tests/words/test_wordsplugin.py.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.cred import checkers, credentials, portal, strcred
from torsion.logger import Logger
from torsion.python import usage
from torsion.python.failure import Failure
from torsion.words import service as words

__all__ = ["DEFAULT_LISTEN", "Options", "makeService"]

DEFAULT_LISTEN = "tcp:6667:interface=127.0.0.1"
MAX_MOTD_BYTES = 64 * 1024

_log = Logger(namespace="torsion.words.tap")


class Options(usage.Options, strcred.AuthOptionMixin, strports.ListenOptionMixin):
    """The options of the words plugin."""

    defaultListen = DEFAULT_LISTEN

    synopsis = "[--listen DESCRIPTION ...] [--group NAME ...] [--auth TYPE:ARGS ...] [--motd FILE]"
    longdesc = (
        "An IRC server. --listen (or Twisted's --irc-port) takes an endpoint description "
        f"and may be given several times (default {DEFAULT_LISTEN}: this machine only). "
        "--group makes a channel that is always there; --auth says who may log in (see "
        "--help-auth); without it anyone may, with any free nick."
    )
    supportedInterfaces = (credentials.IUsernamePassword, credentials.IAnonymous)
    optFlags = [
        ["no-create-groups", None, "Only the --group channels exist; JOIN of another is refused."],
    ]
    optParameters = [
        ["hostname", None, socket.gethostname(), "The server's name, as clients see it."],
        ["motd", None, None, "A text file: the message of the day."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["groups"] = []

    def opt_irc_port(self, description: str) -> None:
        """Twisted's name for --listen."""
        self.opt_listen(description)

    def opt_group(self, name: str) -> None:
        """A channel that exists from the start (#NAME); may be given several times."""
        bare = name[1:] if name.startswith("#") else name
        if not bare or len(bare) > 49 or any(c in bare for c in " ,\x07\0\r\n"):
            raise usage.UsageError(
                f"--group {name!r}: a channel name is 1 to 49 characters without spaces or commas"
            )
        self["groups"].append(bare)

    def opt_passwd(self, filename: str) -> None:
        """A file of USER:PASSWORD lines (Twisted's older form of --auth file:FILE)."""
        self.opt_auth(f"file:{filename}")

    def postOptions(self) -> None:
        """Check the endpoints and read the MOTD now, so that a mistake is a usage error."""

        self.checkListen()
        self["motdText"] = None
        if self["motd"] is not None:
            path = Path(self["motd"])
            try:
                data = path.read_bytes()[: MAX_MOTD_BYTES + 1]
            except OSError as e:
                raise usage.UsageError(
                    f"--motd {self['motd']!r}: cannot read it ({e.strerror}); give a text file"
                ) from None
            if len(data) > MAX_MOTD_BYTES:
                raise usage.UsageError(f"--motd {self['motd']!r} is over {MAX_MOTD_BYTES} bytes")
            self["motdText"] = data.decode("utf-8", "replace")


def _groupFailed(reason: Failure, name: str) -> None:
    _log.failure("could not make the group {name}", reason, name=name)


def makePortal(options: Any, realm: Any) -> portal.Portal:
    """The Portal of ``--auth``'s checkers (anonymous access alone when none was given)."""
    given = list(options.get("credCheckers") or [])
    return portal.Portal(realm, given or [checkers.AllowAnonymousAccess()])


def makeService(options: Any) -> IService:
    """A MultiService with one listening service per --listen, sharing one realm."""
    realm = words.InMemoryWordsRealm(options["hostname"])
    realm.createGroupOnRequest = not options["no-create-groups"]
    for name in options["groups"]:
        realm.createGroup(name).addErrback(_groupFailed, name)
    factory = words.IRCFactory(realm, makePortal(options, realm), motd=options.get("motdText"))
    made = service.MultiService()
    for description in options["listen"]:
        strports.service(description, factory).setServiceParent(made)
    return made
