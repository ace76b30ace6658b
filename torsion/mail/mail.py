"""The mail service: domains of users, the portals that log them in, and where mail goes.

A ``MailService`` holds the domains it receives mail for (``addDomain(name, domain)``;
a domain is an ``IDomain``, such as torsion.mail.maildir.MaildirDirdbmDomain), an
optional relay queue (``setQueue``) for mail to other domains, and an alias map.
It makes the factories that serve them: ``getSMTPFactory``/``getESMTPFactory``
(torsion.mail.protocols, whose deliveries ask the domains who exists) and
``getPOP3Factory``.

Logins name a user as ``user@domain`` or, for the default domain (the first added
unless ``setDefaultDomain`` says otherwise), as ``user``: POP3, IMAP4 and SMTP AUTH
all go through ``MailService.login``, which picks the domain's portal.
An unknown domain gets the service's default domain object, a ``BounceDomain``
(every recipient refused with 550) unless a relay is configured.
Tests: tests/mail/test_mailservice.py.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, MutableMapping
from typing import IO, Any

from zope.interface import Interface, implementer

from torsion.application import service
from torsion.cred.checkers import ANONYMOUS, AllowAnonymousAccess
from torsion.cred.credentials import IAnonymous
from torsion.cred.error import UnauthorizedLogin
from torsion.cred.portal import IRealm, Portal
from torsion.internet import defer
from torsion.logger import Logger
from torsion.mail import smtp

__all__ = [
    "BounceDomain",
    "DomainWithDefaultDict",
    "FileMessage",
    "FileMonitoringService",
    "IAliasableDomain",
    "IDomain",
    "MailService",
]

_log = Logger(namespace="torsion.mail")


def _domainKey(name: bytes | str) -> bytes:
    if isinstance(name, str):
        try:
            return name.encode("idna").lower().rstrip(b".")
        except UnicodeError:
            return name.encode("utf-8").lower().rstrip(b".")
    return bytes(name).lower().rstrip(b".")


class IDomain(Interface):
    """A domain the server receives mail for."""

    def exists(user: Any) -> Any:
        """Whether ``user`` (an smtp.User) can receive mail here: a callable that makes
        the IMessage for one message (or a Deferred of one).

        Raises:
            smtp.SMTPBadRcpt: no such recipient.
        """

    def addUser(user: bytes | str, password: bytes | str) -> None:
        """Add a user with a password."""

    def getCredentialsCheckers() -> Any:
        """The Cred checkers that check this domain's users' passwords."""


class IAliasableDomain(IDomain):
    """A domain whose recipients may be aliases (torsion.mail.alias)."""

    def setAliasGroup(aliases: Any) -> None:
        """Use ``aliases`` (local name -> IAlias) for names that are not users."""

    def exists(user: Any, memo: Any = None) -> Any:
        """As IDomain.exists; ``memo`` holds the aliases already followed (loops)."""


class DomainWithDefaultDict(MutableMapping[bytes, Any]):
    """The domains by name (case-insensitive; str or bytes), with a default for names
    that are not there."""

    def __init__(self, domains: dict[Any, Any], default: Any) -> None:
        self.domains = {_domainKey(k): v for k, v in domains.items()}
        self.default = default

    def setDefaultDomain(self, domain: Any) -> None:
        self.default = domain

    def __getitem__(self, name: bytes | str) -> Any:
        return self.domains.get(_domainKey(name), self.default)

    def get(self, name: bytes | str, default: Any = None) -> Any:
        return self.domains.get(_domainKey(name), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, bytes | str) and _domainKey(name) in self.domains

    has_key = __contains__

    def __setitem__(self, name: bytes | str, domain: Any) -> None:
        self.domains[_domainKey(name)] = domain

    def __delitem__(self, name: bytes | str) -> None:
        del self.domains[_domainKey(name)]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.domains)

    def __len__(self) -> int:
        return len(self.domains)

    def __repr__(self) -> str:
        return f"<DomainWithDefaultDict {sorted(self.domains)!r} default={self.default!r}>"


@implementer(IDomain)
class BounceDomain:
    """The domain of names nobody receives mail for: every recipient is refused (550)."""

    def exists(self, user: Any, memo: Any = None) -> Any:
        raise smtp.SMTPBadRcpt(user, 550, b"5.1.1 No such user or domain here")

    def willRelay(self, user: Any, protocol: Any) -> bool:
        return False

    def addUser(self, user: bytes | str, password: bytes | str) -> None:
        pass

    def getCredentialsCheckers(self) -> list[Any]:
        return []

    def startMessage(self, user: Any) -> Any:
        raise smtp.SMTPBadRcpt(user)


@implementer(smtp.IMessage)
class FileMessage:
    """An IMessage written to an open file ``fp`` at ``name`` and renamed to
    ``finalName`` when complete (Twisted's); removed if the message is abandoned."""

    def __init__(self, fp: IO[bytes], name: str, finalName: str) -> None:
        self.fp = fp
        self.name = name
        self.finalName = finalName

    def lineReceived(self, line: bytes) -> None:
        self.fp.write(line + b"\n")

    def eomReceived(self) -> defer.Deferred[str]:
        self.fp.close()
        os.rename(self.name, self.finalName)
        return defer.succeed(self.finalName)

    def connectionLost(self) -> None:
        self.fp.close()
        try:
            os.remove(self.name)
        except FileNotFoundError:
            pass


@implementer(IRealm)
class MailService(service.MultiService):
    """The domains, portals, aliases and relay queue of a mail server.

    The service is the realm of ``smtpPortal`` (SMTP's, which lets anyone in as
    anonymous and domain users in with AUTH): its avatars are the deliveries of
    torsion.mail.protocols, which may relay for users who logged in.

    Attributes:
        domains: name -> IDomain (a DomainWithDefaultDict; BounceDomain by default).
        portals: domain name -> the Portal of that domain's users.
        aliases: local name -> alias, given to every aliasable domain added.
        queue: the relay queue (torsion.mail.relaymanager.Queue), or None: no relay.
        smtpPortal: the portal of SMTP AUTH and anonymous SMTP.
        monitor: a FileMonitoringService (reloads an alias file when it changes).
    """

    queue: Any = None
    aliases: Any = None
    contextFactory: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.domains = DomainWithDefaultDict({}, BounceDomain())
        self.portals: dict[bytes, Portal] = {}
        self.defaultDomain: bytes | None = None
        self._router = _RoutingChecker(self)
        self.smtpPortal = Portal(self, [AllowAnonymousAccess()])
        self.monitor = FileMonitoringService()
        self.monitor.setServiceParent(self)

    # -- factories ------------------------------------------------------------------------

    def getPOP3Factory(self) -> Any:
        from torsion.mail import protocols

        return protocols.POP3Factory(self)

    def getSMTPFactory(self) -> Any:
        from torsion.mail import protocols

        return protocols.SMTPFactory(self, self.smtpPortal)

    def getESMTPFactory(self) -> Any:
        from torsion.mail import protocols

        return protocols.ESMTPFactory(self, self.smtpPortal)

    # -- domains --------------------------------------------------------------------------

    def addDomain(self, name: bytes | str, domain: Any) -> None:
        """Receive mail for ``name`` with ``domain``, whose checkers log its users in
        (``user@name``, or ``user`` if it is the default domain)."""
        key = _domainKey(name)
        portal = Portal(domain)
        for checker in domain.getCredentialsCheckers():
            portal.registerChecker(checker)
        self.domains[key] = domain
        self.portals[key] = portal
        if self.defaultDomain is None:
            self.defaultDomain = key
        if self.aliases is not None and IAliasableDomain.providedBy(domain):
            domain.setAliasGroup(self.aliases)
        self._updateSMTPPortal()

    def addSMTPChecker(self, checker: Any) -> None:
        """Let SMTP AUTH also log in the users ``checker`` knows (after the domains'
        users); they may relay."""
        self._router.extra.append(checker)
        self._updateSMTPPortal()

    def _updateSMTPPortal(self) -> None:
        checkers = self.smtpPortal.checkers
        for interface in [i for i, c in checkers.items() if c is self._router]:
            del checkers[interface]
        interfaces = self._router.credentialInterfaces()
        if interfaces:
            self.smtpPortal.registerChecker(self._router, *interfaces)

    def setDefaultDomain(self, name: bytes | str) -> None:
        """Users of domain ``name`` may log in without ``@name``."""
        key = _domainKey(name)
        if key not in self.portals:
            raise KeyError(f"{key.decode('ascii', 'replace')} is not a domain of this service")
        self.defaultDomain = key

    def setAliases(self, aliases: Any) -> None:
        """Use ``aliases`` in every aliasable domain (now and added later)."""
        self.aliases = aliases
        for domain in self.domains.values():
            if IAliasableDomain.providedBy(domain):
                domain.setAliasGroup(aliases)

    def setQueue(self, queue: Any) -> None:
        """Relay mail for other domains (from users who logged in) through ``queue``."""
        self.queue = queue

    def lookupPortal(self, name: bytes | str) -> Portal:
        return self.portals[_domainKey(name)]

    def defaultPortal(self) -> Portal:
        if self.defaultDomain is None:
            raise KeyError("this mail service has no domain yet; addDomain one")
        return self.portals[self.defaultDomain]

    def splitUser(self, username: bytes | str) -> tuple[bytes, bytes]:
        """``user@domain`` (or ``user`` of the default domain) as (user, domain).

        Raises:
            KeyError: the domain is not one of this service's.
        """
        name = username.encode("utf-8") if isinstance(username, str) else bytes(username)
        local, at, domain = name.rpartition(b"@")
        if not at:
            local, domain = name, self.defaultDomain or b""
        key = _domainKey(domain)
        if key not in self.portals:
            raise KeyError(domain)
        return local, key

    def login(self, credentials: Any, mind: Any, *interfaces: Any) -> defer.Deferred[Any]:
        """Log a user in with their domain's portal (Portal.login's contract)."""
        username = getattr(credentials, "username", None)
        if username is None:
            return defer.fail(UnauthorizedLogin())
        try:
            local, domain = self.splitUser(username)
        except KeyError:
            _log.warn(
                "Login failed for user {username!r}: no such domain",
                username=_text(username),
            )
            return defer.fail(UnauthorizedLogin())
        try:
            localized = _localized(credentials, local)
        except Exception:
            return defer.fail()
        d: defer.Deferred[Any] = self.portals[domain].login(localized, mind, *interfaces)
        return d

    def listCredentialsInterfaces(self) -> list[Any]:
        """What every domain's portal can check (so APOP is offered only if all can)."""
        if not self.portals:
            return []
        sets = [set(portal.listCredentialsInterfaces()) for portal in self.portals.values()]
        return list(set.intersection(*sets))

    # -- the SMTP realm -------------------------------------------------------------------

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        from torsion.mail import protocols

        if smtp.IMessageDelivery in interfaces:
            user = None if avatarId is ANONYMOUS else avatarId
            delivery = protocols.ESMTPDomainDelivery(self, user)
            return smtp.IMessageDelivery, delivery, lambda: None
        raise NotImplementedError(
            f"the mail service gives SMTP deliveries only, not {', '.join(map(str, interfaces))}"
        )


class _RoutingChecker:
    """SMTP AUTH's checker: the user's domain's checkers (``user@domain``, or ``user``
    in the default domain), whose avatar id is ``user@domain``; then the checkers added
    with ``MailService.addSMTPChecker`` (torsiond mail's --auth), whose ids are theirs."""

    def __init__(self, service: MailService) -> None:
        self.service = service
        self.extra: list[Any] = []

    def credentialInterfaces(self) -> list[Any]:
        interfaces = set(self.service.listCredentialsInterfaces())
        for checker in self.extra:
            interfaces.update(getattr(checker, "credentialInterfaces", ()))
        interfaces.discard(IAnonymous)
        return sorted(interfaces, key=lambda i: i.__name__)

    def _checkerFor(self, checkers: Any, credentials: Any) -> Any:
        for interface, checker in checkers:
            if interface.providedBy(credentials):
                return checker
        return None

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[Any]:
        username = getattr(credentials, "username", b"")
        try:
            local, domain = self.service.splitUser(username)
        except KeyError:
            return self._extra(credentials, None)
        portal = self.service.portals[domain]
        checker = self._checkerFor(portal.checkers.items(), credentials)
        if checker is None:
            return self._extra(credentials, None)
        try:
            localized = _localized(credentials, local)
        except Exception:
            return defer.fail()
        d = defer.maybeDeferred(checker.requestAvatarId, localized)
        d.addCallback(lambda avatarId: _atDomain(avatarId, domain))
        if self.extra:
            d.addErrback(lambda f: self._extra(credentials, f))
        return d

    def _extra(self, credentials: Any, reason: Any) -> defer.Deferred[Any]:
        for checker in self.extra:
            interfaces = getattr(checker, "credentialInterfaces", ())
            if any(i.providedBy(credentials) for i in interfaces):
                return defer.maybeDeferred(checker.requestAvatarId, credentials)
        if reason is not None:
            return defer.fail(reason)
        _log.warn(
            "Login failed for user {username!r}: no such domain here",
            username=_text(getattr(credentials, "username", b"")),
        )
        return defer.fail(UnauthorizedLogin())


def _localized(credentials: Any, local: bytes) -> Any:
    """``credentials`` for the user name within its domain (``alice@x`` -> ``alice``).

    Raises:
        TypeError: the credentials' user name cannot be changed.
    """
    localized = copy.copy(credentials)
    try:
        localized.username = local
    except AttributeError:
        raise TypeError(
            f"{type(credentials).__name__} credentials cannot be given a user name within "
            "a domain; give credentials with a settable username"
        ) from None
    return localized


def _atDomain(avatarId: Any, domain: bytes) -> bytes:
    name = avatarId.encode("utf-8") if isinstance(avatarId, str) else bytes(avatarId)
    return name + b"@" + domain


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


class FileMonitoringService(service.Service):
    """Calls a function when a file changes (its modification time or size): how an
    alias file is reloaded without a restart.

    ``monitorFile(name, callback, interval=10)`` checks ``name`` every ``interval``
    seconds while the service runs and calls ``callback(name)`` after each change.
    """

    def __init__(self, reactor: Any = None) -> None:
        self._reactor = reactor
        self.files: dict[str, list[Any]] = {}
        self._calls: dict[str, Any] = {}

    def _clock(self) -> Any:
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    @staticmethod
    def _stamp(name: str) -> tuple[float, int] | None:
        try:
            st = os.stat(name)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def monitorFile(
        self, name: str, callback: Callable[[str], object], interval: float = 10
    ) -> None:
        self.files[name] = [interval, self._stamp(name), callback]
        if self.running:
            self._schedule(name)

    def unmonitorFile(self, name: str) -> None:
        self.files.pop(name, None)
        call = self._calls.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def startService(self) -> None:
        super().startService()
        for name in self.files:
            self._schedule(name)

    def stopService(self) -> None:
        super().stopService()
        for call in self._calls.values():
            if call.active():
                call.cancel()
        self._calls.clear()

    def _schedule(self, name: str) -> None:
        interval = self.files[name][0]
        self._calls[name] = self._clock().callLater(interval, self._check, name)

    def _check(self, name: str) -> None:
        entry = self.files.get(name)
        if entry is None:
            return
        stamp = self._stamp(name)
        if stamp != entry[1]:
            entry[1] = stamp
            try:
                entry[2](name)
            except Exception:
                _log.failure("reloading {name} after it changed failed", name=name)
        if self.running:
            self._schedule(name)
