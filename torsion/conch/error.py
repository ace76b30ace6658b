"""The errors of torsion.conch, under Twisted's names (torsion.conch.error)."""

from __future__ import annotations

__all__ = [
    "ConchError",
    "HostKeyChanged",
    "IgnoreAuthentication",
    "InvalidEntry",
    "MissingKeyStoreError",
    "NotEnoughAuthentication",
    "UserRejectedKey",
    "ValidPublicKey",
]


class ConchError(Exception):
    """An SSH-level failure; ``value`` is often an SSH reason code, ``data`` the text."""

    def __init__(self, value: object, data: object = None) -> None:
        super().__init__(value, data)
        self.value = value
        self.data = data


class NotEnoughAuthentication(Exception):
    """This login succeeded, but the server wants another method as well."""


class ValidPublicKey(Exception):
    """The public key offered (without a signature) would be accepted: sign with it."""


class IgnoreAuthentication(Exception):
    """Not a failure to report: the authentication method answered in its own way."""


class MissingKeyStoreError(Exception):
    """Public key login was asked for but there is no key store (no agent, no keys)."""


class UserRejectedKey(Exception):
    """The user (or the program for them) refused the server's host key."""


class InvalidEntry(Exception):
    """A known_hosts line cannot be parsed."""


class HostKeyChanged(Exception):
    """The server's host key differs from the one known for it: possibly an attack.

    ``offendingEntry`` is the known_hosts entry that disagrees, ``path`` its file and
    ``lineno`` its line.
    """

    def __init__(self, offendingEntry: object, path: object, lineno: int) -> None:
        super().__init__(offendingEntry, path, lineno)
        self.offendingEntry = offendingEntry
        self.path = path
        self.lineno = lineno
        self.hostname: bytes = b""

    def __str__(self) -> str:
        host = self.hostname.decode(errors="replace") or "the host"
        return (
            f"the host key of {host} has changed: it differs from the one in {self.path} "
            f"line {self.lineno}. Someone may be intercepting the connection, or the key "
            "was replaced. If you know it was replaced, remove the old key "
            f"(ssh-keygen -R '{host}' -f {self.path}) and connect again."
        )
