"""``torsiond manhole``: a Python shell in the torsiond process, over telnet and SSH.

    torsiond -n manhole --sshPort tcp:2223 --passwd manhole.passwd
    torsiond -n manhole --telnetPort 4040 --sshPort 2223 --auth memory:admin:secret

Whoever logs in gets a Python prompt (torsion.conch.manhole.ColoredManhole) that runs
code as the server's user, inside the server: so the plugin warns at start-up, logs
every login, and listens on this machine only unless told otherwise. The option
names are Twisted's: ``--telnetPort`` and ``--sshPort`` take endpoint descriptions
(a bare number means that TCP port); a ``tcp:`` description without ``interface=``
gets ``interface=127.0.0.1`` (write ``interface=0.0.0.0`` to listen on every
address, and prefer SSH then: telnet sends the password as it is). At least one of
them must be given. ``--passwd FILE`` is a file of ``user:password`` lines (hashes
from ``torsion passwd`` or passwords in the clear, torsion.cred.checkers.FilePasswordDB)
and ``--auth`` any torsion.cred.strcred checker; one of them is required (Twisted
defaults to /etc/passwd, whose passwords are not in it on any current system).
The SSH host key is ``--sshKeyDir``/``--sshKeyName`` (default ./server.key), an
Ed25519 key made there (mode 0600) if missing; an existing OpenSSH or PEM key of any
supported type is used as it is. Tests: tests/conch/test_manhole_tap.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.conch import manhole, manhole_ssh, telnet
from torsion.conch.insults import insults
from torsion.conch.ssh import keys
from torsion.cred import checkers, credentials, portal, strcred
from torsion.internet import protocol
from torsion.logger import Logger
from torsion.python import usage

__all__ = ["Options", "makeSSHFactory", "makeService", "makeTelnetFactory"]

_log = Logger(namespace="torsion.conch.manhole_tap")
WARNING = (
    "torsiond manhole: whoever logs in gets a Python shell running as this process's "
    "user, able to do anything it can. Keep --passwd/--auth strict and the ports local."
)


def _localByDefault(description: str) -> str:
    """A port number, or a tcp description without an interface, on 127.0.0.1 only."""
    if description.isdigit():
        return f"tcp:{description}:interface=127.0.0.1"
    kind = description.split(":", 1)[0]
    if kind in ("tcp", "tcp6") and "interface=" not in description:
        local = "127.0.0.1" if kind == "tcp" else r"\:\:1"
        return f"{description}:interface={local}"
    return description


class Options(usage.Options, strcred.AuthOptionMixin):
    """The options of the manhole plugin."""

    synopsis = "[--telnetPort DESCRIPTION] [--sshPort DESCRIPTION] (--passwd FILE | --auth ...)"
    longdesc = (
        "A Python shell inside the torsiond process, for users named by --passwd or "
        "--auth, over telnet and/or SSH (on 127.0.0.1 unless an interface is named). "
        "It runs any code as this process's user: give it to administrators only."
    )
    supportedInterfaces = (credentials.IUsernamePassword,)
    optParameters = [
        ["telnetPort", "t", None, "Listen for telnet here (an endpoint description)."],
        ["sshPort", "s", None, "Listen for SSH here (an endpoint description)."],
        ["passwd", "p", None, "A file of user:password lines (hashed or in the clear)."],
        ["sshKeyDir", None, ".", "The directory of the SSH host key."],
        ["sshKeyName", None, "server.key", "The file name of the SSH host key."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["namespace"] = None

    def postOptions(self) -> None:
        from torsion.internet import endpoints

        if self["telnetPort"] is None and self["sshPort"] is None:
            raise usage.UsageError(
                "give --telnetPort or --sshPort (or both): without one the manhole is "
                "reachable by nobody"
            )
        for name in ("telnetPort", "sshPort"):
            if self[name] is not None:
                self[name] = _localByDefault(self[name])
                try:
                    endpoints.serverFromString(None, self[name])
                except ValueError as e:
                    raise usage.UsageError(f"--{name} {self[name]!r}: {e}") from None
        if self["passwd"] is not None:
            path = Path(self["passwd"])
            if not path.is_file():
                raise usage.UsageError(f"--passwd {self['passwd']!r}: no such file")
            self.addChecker(checkers.FilePasswordDB(path))
        if not self.get("credCheckers"):
            raise usage.UsageError(
                "nobody could log in: give --passwd FILE (user:password lines) or --auth"
            )


def loadHostKey(directory: str, name: str) -> keys.Key:
    """The host key in ``directory/name``, made (Ed25519, mode 0600) if missing."""
    path = Path(directory) / name
    if not path.exists():
        made = keys.Key(ed25519.Ed25519PrivateKey.generate())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as keyFile:
            keyFile.write(made.toString("openssh"))
        _log.info("made a new SSH host key in {path}", path=str(path.resolve()))
    try:
        key = keys.Key.fromFile(path)
    except (OSError, keys.BadKeyError, keys.EncryptedKeyError) as e:
        raise usage.UsageError(f"cannot use the SSH host key {path}: {e}") from None
    if key.isPublic():
        raise usage.UsageError(f"{path} is a public key; give the private host key")
    return key


class _EchoingBootstrap(telnet.TelnetBootstrapProtocol):
    """TelnetBootstrapProtocol that makes sure we echo in the end.

    AuthenticatingTelnetProtocol turns our echo off after the password (WONT ECHO)
    just before this protocol asks for it again, which then fails as "already
    negotiating" and leaves the client echoing locally in line mode; so ask again
    once that answer is in.
    """

    def connectionMade(self) -> None:
        super().connectionMade()
        echo = self.transport.getOptionState(telnet.ECHO).us
        if echo.negotiating and echo.onResult is not None:
            echo.onResult.addBoth(self._echoOn)

    def _echoOn(self, result: object) -> None:
        if self.transport.getOptionState(telnet.ECHO).us.state != "yes":
            self.transport.will(telnet.ECHO).addErrback(lambda _: None)


class _TelnetRealm:
    """Telnet logins become a terminal (negotiated by TelnetBootstrapProtocol) with a
    manhole on it."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        if telnet.ITelnetProtocol not in interfaces:
            raise NotImplementedError("this realm only gives telnet protocols")
        _log.warn("manhole: {user} logged in over telnet", user=avatarId)
        shell = _EchoingBootstrap(insults.ServerProtocol, manhole.ColoredManhole, self.namespace)
        return telnet.ITelnetProtocol, shell, lambda: None


class _LoggingTerminalRealm(manhole_ssh.TerminalRealm):
    def requestAvatar(self, avatarId: bytes, mind: object, *interfaces: Any) -> Any:
        result = super().requestAvatar(avatarId, mind, *interfaces)
        _log.warn("manhole: {user} logged in over SSH", user=avatarId)
        return result


def makeTelnetFactory(checkerList: list[Any], namespace: dict[str, Any]) -> protocol.Factory:
    """Telnet with a login prompt, then the manhole."""
    telnetPortal = portal.Portal(_TelnetRealm(namespace), checkerList)
    return protocol.ServerFactory.forProtocol(
        lambda: telnet.TelnetTransport(telnet.AuthenticatingTelnetProtocol, telnetPortal)
    )


def makeSSHFactory(
    checkerList: list[Any], namespace: dict[str, Any], hostKey: keys.Key
) -> manhole_ssh.ConchFactory:
    """SSH with password logins, then the manhole as the shell."""
    made = manhole_ssh.ConchFactory(
        portal.Portal(_LoggingTerminalRealm(namespace=namespace), checkerList)
    )
    made.privateKeys = {hostKey.sshType(): hostKey}
    return made


class _WarningService(service.Service):
    def startService(self) -> None:
        super().startService()
        _log.warn(WARNING)


def makeService(options: Any) -> IService:
    """The telnet and SSH listeners the options ask for, sharing one namespace."""
    namespace = options["namespace"]
    if namespace is None:
        namespace = {"__name__": "__manhole__"}
    checkerList = list(options["credCheckers"])
    made = service.MultiService()
    _WarningService().setServiceParent(made)
    if options["telnetPort"] is not None:
        if "127.0.0.1" not in options["telnetPort"] and r"\:\:1" not in options["telnetPort"]:
            _log.warn("manhole: telnet on {where} sends passwords in the clear",
                      where=options["telnetPort"])  # fmt: skip
        factory = makeTelnetFactory(checkerList, namespace)
        strports.service(options["telnetPort"], factory).setServiceParent(made)
    if options["sshPort"] is not None:
        key = loadHostKey(options["sshKeyDir"], options["sshKeyName"])
        sshFactory = makeSSHFactory(checkerList, namespace, key)
        strports.service(options["sshPort"], sshFactory).setServiceParent(made)
    return made
