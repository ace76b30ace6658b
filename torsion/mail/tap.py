"""``torsiond mail``: an SMTP, POP3 and IMAP4 server over maildirs.

    torsiond -n mail --maildirdbmdomain example.com=/srv/mail/example.com \\
        --user alice=secret --certificate mail.pem \\
        --smtp tcp:25 --smtp ssl:465 --pop3 tcp:110 --pop3 ssl:995 --imap tcp:143

Each ``--maildirdbmdomain DOMAIN=PATH`` (or ``--domain``) adds a domain whose users'
maildirs and password hashes are under PATH (torsion.mail.maildir.MaildirDirdbmDomain);
``--user NAME=PASSWORD``, ``--aliases FILE``, ``--bounce-to-postmaster`` and
``--default`` apply to the domain given last. ``--smtp``, ``--pop3`` and ``--imap``
take endpoint descriptions and may be repeated (a bare number is that TCP port);
SMTP and POP3 listen on Twisted's tcp:8025 and tcp:8110 unless told otherwise (or
``--no-smtp``/``--no-pop3``), IMAP4 only when asked. ``--certificate FILE`` (a PEM
file with the certificate and, unless ``--private-key`` names another file, its key)
offers STARTTLS (SMTP, IMAP4) and STLS (POP3) on plain endpoints, fills in the key and
certificate of ``ssl:`` endpoints that name none (``--smtp ssl:465``), and makes
every login wait for TLS, so that no password crosses the network in the clear.
``--auth TYPE:ARGS`` adds SMTP AUTH users (torsion.cred.strcred) besides the domains'
own; ``--relay QUEUEDIR`` relays mail from users who logged in to other domains,
through a queue on disk (to ``--smarthost HOST:PORT`` if given, else to each domain's
MX). ``--hostname`` is the name in the greeting and Received: headers.

Differences from Twisted, on purpose: passwords are stored hashed (argon2id); SMTP
AUTH PLAIN/LOGIN are offered only under TLS; relaying is for authenticated users
only (Twisted's also relays for every local connection); IMAP4 is there.
Tests: tests/mail/test_mailplugin.py, tests/mail/test_endtoend.py.
"""

from __future__ import annotations

import os
from typing import Any

from torsion.application import strports
from torsion.application.service import IService
from torsion.cred import strcred
from torsion.cred.credentials import IUsernameHashedPassword, IUsernamePassword
from torsion.python import usage

__all__ = ["DEFAULT_POP3", "DEFAULT_SMTP", "Options", "makeService"]

DEFAULT_SMTP = "tcp:8025"
DEFAULT_POP3 = "tcp:8110"


def _endpoint(value: str) -> str:
    return f"tcp:{value}" if value.isdigit() else value


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


class _Domain:
    """A domain as the command line gives it; made into a MaildirDirdbmDomain later."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        self.users: list[tuple[str, str]] = []
        self.aliases: str | None = None
        self.postmaster = False


class Options(usage.Options, strcred.AuthOptionMixin):
    """The options of the mail plugin."""

    synopsis = (
        "--maildirdbmdomain DOMAIN=PATH [--user NAME=PASSWORD ...] [--smtp DESCRIPTION] "
        "[--pop3 DESCRIPTION] [--imap DESCRIPTION] [options]"
    )
    longdesc = (
        "Runs a mail server: SMTP receives mail for the domains given with "
        "--maildirdbmdomain into the users' maildirs, POP3 and IMAP4 serve them. "
        "--user, --aliases, --bounce-to-postmaster and --default apply to the domain "
        "given last. --smtp, --pop3 and --imap take endpoint descriptions (tcp:25, "
        "ssl:995) and may be repeated; --certificate offers STARTTLS."
    )
    optFlags = [
        ["no-smtp", None, "Do not serve SMTP."],
        ["no-pop3", None, "Do not serve POP3."],
        [
            "bounce-to-postmaster",
            "b",
            "Deliver mail for unknown users of the last domain to its postmaster.",
        ],
        ["default", "D", "Let the users of the last domain log in without @domain."],
    ]
    optParameters = [
        [
            "hostname",
            "H",
            None,
            "The name of this server in the SMTP greeting and Received: headers "
            "(default: this host's name).",
        ],
        [
            "certificate",
            "c",
            None,
            "A PEM file with the TLS certificate (and its key, unless --private-key): "
            "offers STARTTLS and STLS, and serves ssl: endpoints that name no key.",
        ],
        ["private-key", None, None, "The PEM file of the --certificate's private key."],
        [
            "relay",
            "R",
            None,
            "Relay mail from users who logged in to other domains, queued in this directory.",
        ],
        [
            "smarthost",
            None,
            None,
            "With --relay: send all relayed mail to this HOST:PORT instead of to MX hosts.",
        ],
        [
            "relay-retry-delays",
            None,
            None,
            "With --relay: seconds to wait after each failed attempt, comma-separated, the "
            "last repeating (default 60,300,900,1800,3600,7200,14400).",
        ],
        [
            "relay-deadline",
            None,
            None,
            "With --relay: seconds after which undelivered mail is bounced (default 5 days).",
        ],
    ]
    supportedInterfaces = (IUsernamePassword, IUsernameHashedPassword)

    def __init__(self) -> None:
        super().__init__()
        self["smtp"] = []
        self["pop3"] = []
        self["imap"] = []
        self["domains"] = []
        self["defaultDomain"] = None

    def opt_smtp(self, description: str) -> None:
        """Serve SMTP (ESMTP) here, an endpoint description; may be repeated."""
        self["smtp"].append(_endpoint(description))

    opt_s = opt_smtp

    def opt_pop3(self, description: str) -> None:
        """Serve POP3 here, an endpoint description; may be repeated."""
        self["pop3"].append(_endpoint(description))

    opt_p = opt_pop3

    def opt_imap(self, description: str) -> None:
        """Serve IMAP4 here, an endpoint description; may be repeated."""
        self["imap"].append(_endpoint(description))

    opt_i = opt_imap

    def opt_maildirdbmdomain(self, spec: str) -> None:
        """DOMAIN=PATH: receive mail for DOMAIN into maildirs under PATH; repeatable
        (--domain is the same)."""
        name, equals, path = spec.partition("=")
        name = name.strip().lower()
        if not equals or not name or not path:
            raise usage.UsageError(
                f"--maildirdbmdomain {spec!r}: give DOMAIN=PATH, such as "
                "example.com=/srv/mail/example.com"
            )
        if any(d.name == name for d in self["domains"]):
            raise usage.UsageError(f"--maildirdbmdomain {spec!r}: {name} is given twice")
        if os.path.exists(path) and not os.path.isdir(path):
            raise usage.UsageError(f"--maildirdbmdomain {spec!r}: {path} is not a directory")
        self["domains"].append(_Domain(name, os.path.abspath(path)))

    opt_d = opt_maildirdbmdomain
    opt_domain = opt_maildirdbmdomain

    def _last(self, option: str) -> _Domain:
        if not self["domains"]:
            raise usage.UsageError(f"{option} applies to a domain: give --maildirdbmdomain first")
        last: _Domain = self["domains"][-1]
        return last

    def opt_user(self, spec: str) -> None:
        """NAME=PASSWORD: a user of the last domain (the password is stored hashed)."""
        domain = self._last("--user")
        name, equals, password = spec.partition("=")
        if not equals or not password:
            raise usage.UsageError("--user: give NAME=PASSWORD")
        from torsion.mail._maildirdomains import _userName

        try:
            _userName(name)
        except ValueError as e:
            raise usage.UsageError(f"--user: {e}") from None
        domain.users.append((name, password))

    opt_u = opt_user

    def opt_aliases(self, filename: str) -> None:
        """An aliases(5) file for the last domain (reloaded when it changes)."""
        domain = self._last("--aliases")
        if not os.path.isfile(filename):
            raise usage.UsageError(f"--aliases {filename!r}: no such file")
        domain.aliases = os.path.abspath(filename)

    opt_A = opt_aliases

    def opt_bounce_to_postmaster(self) -> None:
        """Mail for unknown users of the last domain goes to its postmaster."""
        self._last("--bounce-to-postmaster").postmaster = True

    opt_b = opt_bounce_to_postmaster

    def opt_default(self) -> None:
        """Users of the last domain log in without @domain."""
        self["defaultDomain"] = self._last("--default").name

    opt_D = opt_default

    def _tlsFiles(self) -> tuple[str, str] | None:
        certificate = self["certificate"]
        if certificate is None:
            if self["private-key"] is not None:
                raise usage.UsageError("--private-key goes with --certificate")
            return None
        return (self["private-key"] or certificate, certificate)

    def _withCertificate(self, description: str) -> str:
        files = self._tlsFiles()
        if not description.startswith("ssl:") or "privateKey=" in description:
            return description
        if files is None:
            raise usage.UsageError(
                f"{description!r}: an ssl: endpoint needs a key and certificate; give "
                "--certificate FILE, or privateKey=KEY.pem:certKey=CERT.pem in it"
            )
        key, certificate = files
        return f"{description}:privateKey={_escape(key)}:certKey={_escape(certificate)}"

    def postOptions(self) -> None:
        """Check that the options fit together, and that the files and endpoints are
        usable, so that a mistake is a usage error rather than a server that fails."""
        from torsion.internet import endpoints

        if not self["smtp"] and not self["no-smtp"]:
            self["smtp"] = [DEFAULT_SMTP]
        if not self["pop3"] and not self["no-pop3"]:
            self["pop3"] = [DEFAULT_POP3]
        if self["no-smtp"] and self["smtp"]:
            raise usage.UsageError("--no-smtp and --smtp contradict each other")
        if self["no-pop3"] and self["pop3"]:
            raise usage.UsageError("--no-pop3 and --pop3 contradict each other")
        if not (self["smtp"] or self["pop3"] or self["imap"]):
            raise usage.UsageError("nothing to serve: give --smtp, --pop3 or --imap")
        if not self["domains"] and self["relay"] is None:
            raise usage.UsageError(
                "give a domain to receive mail for: --maildirdbmdomain DOMAIN=PATH"
            )
        files = self._tlsFiles()
        self["contextFactory"] = None
        if files is not None:
            from torsion.internet import ssl

            key, certificate = files
            try:
                self["contextFactory"] = ssl.CertificateOptions(
                    privateKey=key, certificate=certificate
                )
            except Exception as e:
                raise usage.UsageError(
                    f"--certificate {certificate!r}: the TLS certificate cannot be used: {e}"
                ) from None
        for option in ("smtp", "pop3", "imap"):
            self[option] = [self._withCertificate(d) for d in self[option]]
            for description in self[option]:
                try:
                    endpoints.serverFromString(None, description)
                except ValueError as e:
                    raise usage.UsageError(f"--{option} {description!r}: {e}") from None
        if self["imap"]:
            try:
                from torsion.mail import imap4  # noqa: F401
            except ImportError as e:
                raise usage.UsageError(
                    f"--imap: torsion.mail.imap4 cannot be imported: {e}"
                ) from None
        if self["smarthost"] is not None:
            if self["relay"] is None:
                raise usage.UsageError("--smarthost goes with --relay QUEUEDIR")
            host, colon, port = self["smarthost"].rpartition(":")
            if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise usage.UsageError(
                    f"--smarthost {self['smarthost']!r}: give HOST:PORT, such as "
                    "smtp.example.net:25"
                )
            self["smarthost"] = (host.strip("[]"), int(port))
        if self["relay"] is not None:
            relay = self["relay"]
            if os.path.exists(relay) and not os.path.isdir(relay):
                raise usage.UsageError(f"--relay {relay!r} is not a directory")
        for name in ("relay-retry-delays", "relay-deadline"):
            if self[name] is not None and self["relay"] is None:
                raise usage.UsageError(f"--{name} goes with --relay QUEUEDIR")
        if self["relay-retry-delays"] is not None:
            try:
                delays = [float(d) for d in self["relay-retry-delays"].split(",")]
                if not delays or any(not 0 < d < 10**7 for d in delays):
                    raise ValueError
            except ValueError:
                raise usage.UsageError(
                    f"--relay-retry-delays {self['relay-retry-delays']!r}: give positive "
                    "seconds separated by commas, such as 60,300,3600"
                ) from None
            self["relay-retry-delays"] = delays
        if self["relay-deadline"] is not None:
            try:
                deadline = float(self["relay-deadline"])
                if not deadline > 0:
                    raise ValueError
            except ValueError:
                raise usage.UsageError(
                    f"--relay-deadline {self['relay-deadline']!r}: give seconds, such as 86400"
                ) from None
            self["relay-deadline"] = deadline


def _makeDomain(svc: Any, domain: _Domain) -> Any:
    from torsion.mail.maildir import MaildirDirdbmDomain

    store = MaildirDirdbmDomain(svc, domain.path, postmaster=domain.postmaster)
    for name, password in domain.users:
        store.addUser(name, password)
    svc.addDomain(domain.name, store)
    if domain.aliases is not None:
        load = _AliasLoader(store, svc.domains, domain.aliases)
        load()
        svc.monitor.monitorFile(domain.aliases, load)
    return store


class _AliasLoader:
    """Reads a domain's alias file again (a class, not a closure, so that ``torsion
    mktap mail`` can save it)."""

    def __init__(self, store: Any, domains: Any, filename: str) -> None:
        self.store = store
        self.domains = domains
        self.filename = filename

    def __call__(self, _: object = None) -> None:
        from torsion.mail import alias

        self.store.setAliasGroup(alias.loadAliasFile(self.domains, self.filename))


def _setUpRelay(svc: Any, options: Any, host: bytes) -> None:
    from torsion.mail import relaymanager

    queueDirectory = os.path.abspath(options["relay"])
    os.makedirs(queueDirectory, mode=0o700, exist_ok=True)
    svc.setQueue(relaymanager.Queue(queueDirectory))
    settings: dict[str, Any] = {"smartHostAddr": options["smarthost"], "heloName": host}
    if options["relay-retry-delays"] is not None:
        settings["retryDelays"] = options["relay-retry-delays"]
    if options["relay-deadline"] is not None:
        settings["deadline"] = options["relay-deadline"]
    manager = relaymanager.SmartHostESMTPRelayingManager(svc.queue, **settings)
    relaymanager.RelayStateHelper(manager, 1).setServiceParent(svc)
    svc.relayManager = manager


def makeService(options: Any) -> IService:
    """A MailService with its domains, and one listening service per endpoint."""
    from torsion.mail.mail import MailService
    from torsion.mail.protocols import IMAP4Factory
    from torsion.mail.smtp import DNSNAME

    svc = MailService()
    for domain in options["domains"]:
        _makeDomain(svc, domain)
    if options["defaultDomain"] is not None:
        svc.setDefaultDomain(options["defaultDomain"])
    for checker in options.get("credCheckers", []):
        svc.addSMTPChecker(checker)
    context = options["contextFactory"]
    hostname = options["hostname"]
    host = hostname.encode("idna") if hostname else DNSNAME
    if options["relay"] is not None:
        _setUpRelay(svc, options, host)
    if options["smtp"]:
        smtpFactory = svc.getESMTPFactory()
        smtpFactory.domain = host
        smtpFactory.contextFactory = context
        for description in options["smtp"]:
            strports.service(description, smtpFactory).setServiceParent(svc)
    if context is None and (options["pop3"] or options["imap"]):
        from torsion.logger import Logger

        Logger("torsion.mail.tap").warn(
            "torsiond mail has no --certificate: POP3 and IMAP4 passwords cross the "
            "network in the clear; give --certificate FILE to offer (and require) TLS"
        )
    if options["pop3"]:
        pop3Factory = svc.getPOP3Factory()
        pop3Factory.contextFactory = context
        pop3Factory.requireTransportSecurity = context is not None
        for description in options["pop3"]:
            strports.service(description, pop3Factory).setServiceParent(svc)
    if options["imap"]:
        imapFactory = IMAP4Factory(svc, contextFactory=context)
        imapFactory.requireTransportSecurity = context is not None
        for description in options["imap"]:
            strports.service(description, imapFactory).setServiceParent(svc)
    return svc
