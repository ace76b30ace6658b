"""Logging in as a person at a terminal does (torsion.conch.client.default).

`SSHUserAuthClient(user, options, *args)` (Twisted's name) offers the keys of
``options.identitys`` (else ~/.ssh/id_ed25519, id_ecdsa, id_rsa, those that exist),
each as its public half first (``path.pub`` when there is one), so that a
passphrase is asked only for a key the server would accept; then a password. The
passphrase and the password are asked on the terminal (without echo), or taken from
$TORSION_SSH_PASSPHRASE and $TORSION_SSH_PASSWORD for scripts; each is asked once.
`hostKeyUI(options)` is the ui for KnownHostsFile.verifyHostKey that
``--strict-host-key-checking`` asks for. Tests: tests/conch/test_client_cli.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from torsion.conch.client.knownhosts import AcceptNewHostKeys, ConsoleUI
from torsion.conch.ssh import keys, userauth
from torsion.logger import Logger
from torsion.scripts._passphrase import PassphraseError, askPassphrase, haveTerminal

__all__ = ["DEFAULT_IDENTITIES", "SSHUserAuthClient", "hostKeyUI"]

_log = Logger()
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
PASSWORD_VARIABLE = "TORSION_SSH_PASSWORD"
PASSPHRASE_VARIABLE = "TORSION_SSH_PASSPHRASE"


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def hostKeyUI(options: Any) -> Any:
    """The ui for unknown hosts: None (refuse), AcceptNewHostKeys, or a ConsoleUI on
    the terminal (None when there is no terminal)."""
    checking = options["strict-host-key-checking"]
    if checking == "accept-new":
        return AcceptNewHostKeys()
    if checking == "ask" and haveTerminal():
        return ConsoleUI(lambda: open("/dev/tty", "r+"))  # ConsoleUI closes it
    return None


class SSHUserAuthClient(userauth.SSHUserAuthClient):
    """Keys from files and a password, asked for when needed (see the module)."""

    def __init__(self, user: bytes, options: Any, *args: Any) -> None:
        super().__init__(user, *args)
        self.options = options
        given = list(getattr(options, "identitys", []) or [])
        paths = given or [os.path.expanduser(p) for p in DEFAULT_IDENTITIES]
        self._identities = [Path(p) for p in paths if given or Path(p).exists()]
        self._current: Path | None = None
        self._passwordAsked = False

    def getPublicKey(self) -> Any:
        while self._identities:
            path = self._identities.pop(0)
            try:
                public = Path(str(path) + ".pub")
                # The public half needs no passphrase: offer it, decrypt only if wanted.
                key = keys.Key.fromFile(public) if public.exists() else self._private(path)
                key = key.public()
            except (OSError, keys.BadKeyError, keys.EncryptedKeyError, PassphraseError) as e:
                _say(f"skipping the key {path}: {e}")
                continue
            self._current = path
            return key
        return None

    def _private(self, path: Path) -> keys.Key:
        try:
            return keys.Key.fromFile(path)
        except keys.EncryptedKeyError:
            prompt = f"Enter passphrase for key '{path}': "
            passphrase = askPassphrase([PASSPHRASE_VARIABLE], prompt, confirm=False)
            return keys.Key.fromFile(path, passphrase=passphrase.encode("utf-8"))

    def getPrivateKey(self) -> Any:
        assert self._current is not None
        return self._private(self._current)

    def getPassword(self, prompt: bytes | None = None) -> Any:
        if self._passwordAsked:
            return None
        self._passwordAsked = True
        host = self.options.get("host", "")
        text = f"{self.user.decode(errors='replace')}@{host}'s password: "
        try:
            return askPassphrase([PASSWORD_VARIABLE], text, confirm=False).encode("utf-8")
        except PassphraseError as e:
            _log.info("no password: {why}", why=e)
            return None
