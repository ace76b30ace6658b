"""The command line of torsion's ssh client (torsion.conch.client.options).

`ConchOptions` has Twisted's names where Twisted has the option (``-l/--user``,
``-p/--port``, ``-i/--identity``, ``-c/--ciphers``, ``-m/--macs``,
``--known-hosts``) and OpenSSH's ``StrictHostKeyChecking`` values for what to do
about an unknown host: ``yes`` refuses it, ``accept-new`` trusts it the first time,
``ask`` (the default) asks on the terminal, refusing when there is none. The
arguments are ``[user@]host command...``. Tests: tests/conch/test_client_cli.py.
"""

from __future__ import annotations

import getpass
from typing import Any

from torsion.conch.ssh._packets import CIPHERS, MACS
from torsion.python import usage

__all__ = ["ConchOptions"]

_CHECKING = ("yes", "accept-new", "ask")


def _names(text: str, known: Any, what: str) -> list[bytes]:
    names = [name.strip().encode("ascii") for name in text.split(",") if name.strip()]
    unknown = [name.decode() for name in names if name not in known]
    if not names or unknown:
        choices = ", ".join(name.decode() for name in known)
        raise usage.UsageError(f"unknown {what} {', '.join(unknown) or text!r}; use {choices}")
    return names


class ConchOptions(usage.Options):
    """``python -m torsion.conch.client [options] [user@]host command...``"""

    synopsis = "[options] [user@]host command..."
    longdesc = (
        "Run a command on an SSH server, with this program's stdin and stdout as its "
        "own, and exit with its exit status (255 if it could not run or a signal "
        "killed it). The host key is checked against --known-hosts "
        "(~/.ssh/known_hosts). Logs in with the --identity keys (else ~/.ssh/id_ed25519, "
        "id_ecdsa, id_rsa) and then a password, asked on the terminal or taken from "
        "$TORSION_SSH_PASSWORD; a key's passphrase likewise, or $TORSION_SSH_PASSPHRASE."
    )
    optParameters = [
        ["user", "l", None, "Log in as this user (default: yours)."],
        ["port", "p", 22, "The server's port.", int],
        ["known-hosts", None, None, "The known_hosts file (default: ~/.ssh/known_hosts)."],
        [
            "strict-host-key-checking",
            None,
            "ask",
            "What to do about an unknown host: yes (refuse), accept-new or ask.",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.identitys: list[str] = []
        self["ciphers"] = None
        self["macs"] = None

    def opt_identity(self, path: str) -> None:
        """A private key file to log in with (may be given several times)."""
        self.identitys.append(path)

    opt_i = opt_identity

    def opt_ciphers(self, names: str) -> None:
        """The ciphers to offer, best first, separated by commas."""
        self["ciphers"] = _names(names, CIPHERS, "cipher")

    opt_c = opt_ciphers

    def opt_macs(self, names: str) -> None:
        """The MACs to offer (for the ctr ciphers), separated by commas."""
        self["macs"] = _names(names, MACS, "MAC")

    opt_m = opt_macs

    def parseArgs(self, host: str, *command: str) -> None:  # type: ignore[override]
        user, at, name = host.rpartition("@")
        if not name:
            raise usage.UsageError("give the host to connect to")
        if not command:
            raise usage.UsageError("give the command to run (shells are not supported here)")
        self["host"] = name
        if at and self["user"] is None:
            self["user"] = user
        self["command"] = " ".join(command)

    def postOptions(self) -> None:
        if self["user"] is None:
            self["user"] = getpass.getuser()
        if self["strict-host-key-checking"] not in _CHECKING:
            raise usage.UsageError("--strict-host-key-checking is one of " + ", ".join(_CHECKING))
        if not 0 < self["port"] < 65536:
            raise usage.UsageError(f"--port {self['port']} is not a TCP port")
