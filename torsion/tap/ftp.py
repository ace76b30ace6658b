"""``torsiond ftp``: an FTP server of a directory, for anonymous users and accounts.

    torsiond -n ftp --root /srv/ftp                       # anonymous, read-only, port 2121
    torsiond -n ftp --root /srv/ftp --password-file ftp.passwd --home /srv/ftp-users
    torsiond -n ftp --root /srv/ftp --auth file:ftp.passwd --no-anonymous \\
        --certificate ftp.pem --require-tls

``--root`` is what anonymous users see, read-only (as ``--userAnonymous``, by
default "anonymous", or "ftp"; ``--no-anonymous`` refuses them). Accounts come from
``--auth`` (torsion.cred.strcred: ``file:``, ``memory:``) or Twisted's
``--password-file FILE`` (the same as ``--auth file:FILE``); an account NAME works in
``--home``/NAME, writable unless ``--read-only``, or in ``--root`` itself when
``--home`` is not given. Without ``--listen`` (Twisted's ``--port``) the server is on
port 2121 of this machine only. ``--certificate`` (a PEM file with the key, unless
``--private-key`` names another) offers AUTH TLS; ``--require-tls`` refuses logins
and data connections without it. ``--passive-ports LOW-HIGH`` confines passive data
connections to those ports (for a firewall), and ``--passive-address`` is the
address PASV replies name (for a server behind NAT).
Tests: tests/protocols/test_ftpplugin.py.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.cred import checkers, credentials, portal, strcred
from torsion.protocols import ftp
from torsion.python import usage

__all__ = ["DEFAULT_LISTEN", "CertificateFiles", "Options", "makeService"]

DEFAULT_LISTEN = "tcp:2121:interface=127.0.0.1"


def _listenCoerce(value: str) -> str:
    return f"tcp:{value}:interface=127.0.0.1" if value.isdigit() else value


def _directory(value: str, option: str) -> str:
    if not os.path.isdir(value):
        raise usage.UsageError(f"{option} {value!r} is not a directory; make it first")
    return os.path.abspath(value)


class CertificateFiles:
    """TLS options read from PEM files when first used: what ``--certificate`` gives
    the factory. It is saved as the two file names (``torsion mktap ftp``), since a
    loaded certificate cannot be pickled, and read again after loading."""

    def __init__(self, privateKey: str, certificate: str) -> None:
        self.privateKey = os.path.abspath(privateKey)
        self.certificate = os.path.abspath(certificate)
        self._options: Any = None

    def options(self) -> Any:
        if self._options is None:
            from torsion.internet import ssl

            self._options = ssl.CertificateOptions(
                privateKey=self.privateKey, certificate=self.certificate
            )
        return self._options

    def serverConnectionForTLS(self, tlsProtocol: Any) -> Any:
        return self.options().serverConnectionForTLS(tlsProtocol)

    def __getstate__(self) -> dict[str, Any]:
        return {"privateKey": self.privateKey, "certificate": self.certificate, "_options": None}


class Options(usage.Options, strcred.AuthOptionMixin):
    """The options of the ftp plugin."""

    synopsis = "--root DIR [--listen DESCRIPTION ...] [--auth TYPE:ARGS ...] [--home DIR]"
    longdesc = (
        "An FTP server (RFC 959, with TLS, EPSV/EPRT, MLSD, REST). --root is the "
        "anonymous users' read-only directory; accounts (--auth, --password-file) work in "
        f"--home/NAME or in --root. Default endpoint: {DEFAULT_LISTEN}."
    )
    supportedInterfaces = (credentials.IUsernamePassword, credentials.IAnonymous)
    optFlags = [
        ["no-anonymous", None, "Refuse anonymous logins."],
        ["read-only", None, "Accounts may not change anything either."],
        ["require-tls", None, "Refuse logins and data connections without AUTH TLS."],
    ]
    optParameters = [
        ["root", "r", None, "The directory anonymous users see (read-only)."],
        ["userAnonymous", None, "anonymous", "The user name of anonymous logins."],
        ["home", None, None, "The directory of the accounts' homes (NAME under it)."],
        ["certificate", None, None, "A PEM file with the TLS certificate (and key): AUTH TLS."],
        ["private-key", None, None, "The PEM file of --certificate's key, if separate."],
        ["passive-ports", None, None, "LOW-HIGH: the ports passive data connections use."],
        ["passive-address", None, None, "The IPv4 address PASV names (behind NAT)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """Listen here (an endpoint description); may be given several times."""
        self["listen"].append(_listenCoerce(description))

    def opt_port(self, description: str) -> None:
        """Twisted's name for --listen."""
        self.opt_listen(description)

    def opt_password_file(self, filename: str) -> None:
        """A file of USER:PASSWORD lines (Twisted's older form of --auth file:FILE)."""
        self.opt_auth(f"file:{filename}")

    def postOptions(self) -> None:
        """Check everything now, so that a mistake is a usage error, not a crash later."""
        from torsion.internet import endpoints

        if self["root"] is None:
            raise usage.UsageError("give --root DIR: the directory the server serves")
        self["root"] = _directory(self["root"], "--root")
        if self["home"] is not None:
            self["home"] = _directory(self["home"], "--home")
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        for description in self["listen"]:
            try:
                endpoints.serverFromString(None, description)
            except ValueError as e:
                raise usage.UsageError(f"--listen {description!r}: {e}") from None
        self["tlsOptions"] = None
        if self["certificate"] is not None:
            files = CertificateFiles(
                self["private-key"] or self["certificate"], self["certificate"]
            )
            try:
                files.options()
            except Exception as e:
                raise usage.UsageError(f"--certificate {self['certificate']!r}: {e}") from None
            self["tlsOptions"] = files
        elif self["private-key"] is not None:
            raise usage.UsageError("--private-key goes with --certificate")
        if self["require-tls"] and self["tlsOptions"] is None:
            raise usage.UsageError("--require-tls needs --certificate")
        self["passiveRange"] = range(0, 1)
        if self["passive-ports"] is not None:
            low, _, high = self["passive-ports"].partition("-")
            if not (low.isdigit() and high.isdigit() and 1024 <= int(low) <= int(high) < 65536):
                raise usage.UsageError(
                    f"--passive-ports {self['passive-ports']!r}: give LOW-HIGH, "
                    "two ports from 1024 to 65535"
                )
            self["passiveRange"] = range(int(low), int(high) + 1)
        if self["passive-address"] is not None:
            try:
                ipaddress.IPv4Address(self["passive-address"])
            except ValueError:
                raise usage.UsageError(
                    f"--passive-address {self['passive-address']!r} is not an IPv4 address"
                ) from None


def makeService(options: Any) -> IService:
    """A MultiService listening on each --listen with one FTPFactory."""
    checkerList = list(options.get("credCheckers") or [])
    if not options["no-anonymous"]:
        checkerList.append(checkers.AllowAnonymousAccess())
    realm = ftp.FTPRealm(options["root"], userHome=options["home"], readOnly=options["read-only"])
    factory = ftp.FTPFactory(portal.Portal(realm, checkerList), options["userAnonymous"])
    factory.allowAnonymous = not options["no-anonymous"]
    factory.tlsOptions = options.get("tlsOptions")
    factory.requireTLS = bool(options["require-tls"])
    factory.passivePortRange = options.get("passiveRange", range(0, 1))
    factory.passiveAddress = options.get("passive-address")
    made = service.MultiService()
    for description in options["listen"]:
        strports.service(description, factory).setServiceParent(made)
    return made
