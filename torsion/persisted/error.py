"""The errors of saving and loading persisted objects.

Every error has a message a user can act on; the loaders and ``torsion tapconvert``
show it as one line. ``PersistenceError`` is the base of them all.

Tests: tests/persisted/ (each error is raised and checked by the tests of the module
that raises it).
"""

from __future__ import annotations

__all__ = [
    "DecryptionError",
    "FormatError",
    "NotPersistableError",
    "PassphraseRequired",
    "PersistenceError",
]


class PersistenceError(Exception):
    """Saving or loading a persisted object failed."""


class NotPersistableError(PersistenceError, TypeError):
    """An object in the graph cannot be saved in the chosen form.

    ``path`` says where the object sits below the saved root (``.services[0].factory``),
    so that the user can find it in a large application.
    """

    def __init__(self, message: str, path: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = path if path is not None else []

    def __str__(self) -> str:
        where = "".join(self.path)
        return f"{self.message} (at root{where})" if where else self.message


class FormatError(PersistenceError, ValueError):
    """A persisted file or text is not a well-formed instance of its format."""


class DecryptionError(PersistenceError):
    """An encrypted file could not be decrypted: wrong passphrase, or modified."""


class PassphraseRequired(PersistenceError):
    """An encrypted file was loaded without a passphrase."""
