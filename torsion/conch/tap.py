"""``torsiond conch``: an SSH server for the users of this system.

    torsiond -n conch --auth file:/etc/torsion/ssh.passwd          # port 2222, this host
    torsiond -n conch --listen tcp:22 --host-key /etc/ssh/ssh_host_ed25519_key \\
        --auth file:/etc/torsion/ssh.passwd
    torsiond -n conch --no-authorized-keys --auth memory:alice:secret
    torsiond -n conch --auth file:ssh.passwd --sftp-root /srv/sftp/%u      # or --no-sftp

Who may log in: the users named by ``--auth`` (torsion.cred.strcred: ``file:`` of
argon2/scrypt/bcrypt hashes written by ``torsion passwd``, ``memory:`` for tests),
with their password; and, unless ``--no-authorized-keys``, any system user with a
public key from their ~/.ssh/authorized_keys. Either way the login must be a user of
this system (torsion.conch.unix: shells and commands run as that user, which needs
the server to run as root; otherwise only the server's own user can log in). Port
forwarding (ssh -L and -R) is on, and so is SFTP (the "sftp" subsystem that sftp and
scp use): each user sees their home directory as "/" (or ``--sftp-root DIR``, where
"%u" becomes the user name), cannot leave it by ".." or symbolic links, and acts with
their own permissions; ``--no-sftp`` turns it off. Host keys: each ``--host-key FILE`` (OpenSSH or
PEM private keys); without one, ``ssh_host_ed25519_key`` in the current directory,
made if missing. The default endpoint is port 2222 of this machine only.
Tests: tests/conch/test_conchplugin.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.conch import checkers as conchcheckers
from torsion.conch import unix
from torsion.conch.ssh import connection, factory, keys, userauth
from torsion.cred import credentials, portal, strcred
from torsion.logger import Logger
from torsion.python import usage

__all__ = ["DEFAULT_HOST_KEY", "DEFAULT_LISTEN", "Options", "makeFactory", "makeService"]

DEFAULT_LISTEN = "tcp:2222:interface=127.0.0.1"
DEFAULT_HOST_KEY = "ssh_host_ed25519_key"
_log = Logger(namespace="torsion.conch.tap")


class Options(usage.Options, strcred.AuthOptionMixin):
    """The options of the conch plugin."""

    synopsis = "[--listen DESCRIPTION ...] [--host-key FILE ...] --auth TYPE:ARGS ..."
    longdesc = (
        "An SSH server for the users of this system: shells, commands and port "
        "forwarding, run as the user who logs in. --auth says whose passwords are "
        "accepted (see --help-auth); public keys from each user's "
        "~/.ssh/authorized_keys are accepted too, unless --no-authorized-keys. "
        f"--listen defaults to {DEFAULT_LISTEN} (this machine only)."
    )
    supportedInterfaces = (credentials.IUsernamePassword,)
    optFlags = [
        ["no-authorized-keys", None, "Do not accept public keys from ~/.ssh/authorized_keys."],
        ["no-sftp", None, "Do not serve SFTP (sftp, and scp of OpenSSH 9)."],
    ]
    optParameters = [
        ["moduli", None, "/etc/ssh/moduli", "Primes for diffie-hellman-group-exchange."],
        [
            "sftp-root",
            None,
            unix.HOME,
            'What each user sees as "/" over SFTP ("%u": the user name; "~": their home).',
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["host-key"] = []

    def opt_listen(self, description: str) -> None:
        """Listen here (an endpoint description); may be given several times."""
        self["listen"].append(description)

    def opt_host_key(self, path: str) -> None:
        """A host private key file (OpenSSH or PEM); may be given several times."""
        self["host-key"].append(path)

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        if not self.get("credCheckers") and self["no-authorized-keys"]:
            raise usage.UsageError(
                "nobody could log in: give --auth (passwords) or allow authorized_keys"
            )
        root = self["sftp-root"]
        if root != unix.HOME and "%u" not in root and not os.path.isdir(root):
            raise usage.UsageError(f"--sftp-root {root} is not a directory")


def loadHostKeys(paths: list[str]) -> dict[bytes, keys.Key]:
    """The host keys by SSH type; without paths, the default key, made if missing."""
    if not paths:
        default = Path(DEFAULT_HOST_KEY)
        if not default.exists():
            key = keys.Key(ed25519.Ed25519PrivateKey.generate())
            descriptor = os.open(default, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as keyFile:
                keyFile.write(key.toString("openssh"))
            _log.info("made a new host key in {path}", path=str(default.resolve()))
        paths = [str(default)]
    found: dict[bytes, keys.Key] = {}
    for path in paths:
        try:
            key = keys.Key.fromFile(path)
        except (OSError, keys.BadKeyError, keys.EncryptedKeyError) as e:
            raise usage.UsageError(f"cannot use the host key {path}: {e}") from None
        if key.isPublic():
            raise usage.UsageError(f"{path} is a public key; give the private host key")
        found[key.sshType()] = key
    return found


def makeFactory(options: Any, reactor: Any = None) -> factory.SSHFactory:
    """The SSHFactory the options describe (also what tests build directly)."""
    checkers: list[Any] = list(options.get("credCheckers", []))
    if not options["no-authorized-keys"]:
        checkers.append(conchcheckers.SSHPublicKeyChecker(conchcheckers.UNIXAuthorizedKeysFiles()))
    made = factory.SSHFactory()
    made.privateKeys = loadHostKeys(list(options["host-key"]))
    sftpRoot = None if options.get("no-sftp") else options.get("sftp-root", unix.HOME)
    made.portal = portal.Portal(unix.UnixSSHRealm(reactor, sftpRoot), checkers)
    made.services = {
        b"ssh-userauth": userauth.SSHUserAuthServer,
        b"ssh-connection": connection.SSHConnection,
    }
    made.primesFile = options["moduli"]
    if reactor is not None:
        made.clock = reactor
    return made


def makeService(options: Any) -> IService:
    """One listening service per --listen, sharing one factory."""
    made = service.MultiService()
    sshFactory = makeFactory(options)
    for description in options["listen"]:
        strports.service(description, sshFactory).setServiceParent(made)
    return made
