"""Public key logins for SSH: authorized_keys files and the Cred checker that uses
them (torsion.conch.checkers).

`SSHPublicKeyChecker(keydb)` checks ``ISSHPrivateKey`` credentials: the key must be
one of the user's authorized keys (from an `IAuthorizedKeysDB`) and, when the
credentials carry a signature, the signature must verify over the data the SSH
userauth protocol signs. A key offered without a signature (the client asking "would
you take this key?") gets `ValidPublicKey`, so the server can say yes before the
client signs. `UNIXAuthorizedKeysFiles` reads each user's ~/.ssh/authorized_keys and
authorized_keys2 (lines with options such as ``from="..."`` included: the options are
skipped, not enforced; say so in your docs if you rely on them);
`InMemorySSHKeyDB` holds keys in a dict. Tests: tests/conch/test_userauth.py.
"""

from __future__ import annotations

import pwd
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from zope.interface import Interface, implementer

from torsion.conch.error import ValidPublicKey
from torsion.conch.ssh.common import SSHDecodeError, getNS
from torsion.conch.ssh.keys import BadKeyError, Key
from torsion.cred.checkers import ICredentialsChecker
from torsion.cred.credentials import ISSHPrivateKey
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer
from torsion.logger import Logger

__all__ = [
    "IAuthorizedKeysDB",
    "InMemorySSHKeyDB",
    "SSHPublicKeyChecker",
    "UNIXAuthorizedKeysFiles",
    "readAuthorizedKeyFile",
]

_log = Logger()
_KEY_TYPES = (b"ssh-ed25519", b"ssh-rsa", b"ecdsa-sha2-")


class IAuthorizedKeysDB(Interface):
    """Where the keys that may log in as a user come from."""

    def getAuthorizedKeys(avatarId: bytes) -> Iterable[Key]:
        """The keys that may log in as ``avatarId`` (an empty iterable if none)."""


def readAuthorizedKeyFile(
    fileobj: IO[bytes], parseKey: Callable[[bytes], Key] = Key.fromString
) -> Iterator[Key]:
    """The keys of an authorized_keys file; comments, blank and bad lines are skipped.

    A line may start with options (``no-pty,from="10.0.0.0/8" ssh-ed25519 AAAA...``):
    they are skipped, and the key after them is taken.
    """
    for number, line in enumerate(fileobj, 1):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        start = _keyStart(line)
        if start < 0:
            _log.info("authorized_keys line {n}: no key found", n=number)
            continue
        try:
            yield parseKey(line[start:])
        except BadKeyError as e:
            _log.info("authorized_keys line {n}: {why}", n=number, why=e)


def _keyStart(line: bytes) -> int:
    """Where the key type starts in an authorized_keys line (after any options)."""
    inQuotes = False
    fieldStart = 0
    for index, byte in enumerate(line):
        if byte == ord('"'):
            inQuotes = not inQuotes
        elif byte in b" \t" and not inQuotes:
            fieldStart = index + 1
            continue
        if index == fieldStart and line.startswith(_KEY_TYPES, index):
            return index
    return -1


@implementer(IAuthorizedKeysDB)
class InMemorySSHKeyDB:
    """Authorized keys from a mapping: {username: [Key, ...]}."""

    def __init__(self, mapping: Mapping[bytes, Iterable[Key]]) -> None:
        self._mapping = {user: list(keys) for user, keys in mapping.items()}

    def getAuthorizedKeys(self, avatarId: bytes) -> Iterable[Key]:
        return self._mapping.get(avatarId, [])


@implementer(IAuthorizedKeysDB)
class UNIXAuthorizedKeysFiles:
    """Each UNIX user's ~/.ssh/authorized_keys and authorized_keys2."""

    def __init__(
        self, userdb: Any = pwd, parseKey: Callable[[bytes], Key] = Key.fromString
    ) -> None:
        self._userdb = userdb
        self._parseKey = parseKey

    def getAuthorizedKeys(self, avatarId: bytes) -> Iterable[Key]:
        try:
            home = Path(self._userdb.getpwnam(avatarId.decode("utf-8", "replace")).pw_dir)
        except KeyError:
            return []
        keys: list[Key] = []
        for name in ("authorized_keys", "authorized_keys2"):
            try:
                with open(home / ".ssh" / name, "rb") as keyFile:
                    keys.extend(readAuthorizedKeyFile(keyFile, self._parseKey))
            except OSError:
                continue
        return keys


@implementer(ICredentialsChecker)
class SSHPublicKeyChecker:
    """Checks SSH public key logins against an IAuthorizedKeysDB."""

    credentialInterfaces = (ISSHPrivateKey,)

    def __init__(self, keydb: Any) -> None:
        self._keydb = keydb

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[bytes]:
        username = credentials.username
        try:
            offered = Key.fromString(credentials.blob, type="blob")
        except BadKeyError as e:
            return defer.fail(UnauthorizedLogin(f"the key offered is unusable: {e}"))
        if not any(key.public() == offered for key in self._keydb.getAuthorizedKeys(username)):
            _log.info(
                "public key {fingerprint} is not authorized for {user}",
                fingerprint=offered.fingerprint(),
                user=username.decode("utf-8", "replace"),
            )
            return defer.fail(UnauthorizedLogin("the key is not authorized for this user"))
        if credentials.signature is None:
            return defer.fail(ValidPublicKey())
        try:
            signedWith = getNS(credentials.signature)[0]
        except SSHDecodeError:
            signedWith = b""
        if signedWith != credentials.algName or not offered.verify(
            credentials.signature, credentials.sigData or b""
        ):
            return defer.fail(UnauthorizedLogin("the signature is wrong"))
        return defer.succeed(username)
