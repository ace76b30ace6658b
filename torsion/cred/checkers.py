"""Credential checkers: they decide whether credentials are good and name the avatar id.

- ``AllowAnonymousAccess``: anyone, as ``ANONYMOUS``.
- ``InMemoryUsernamePasswordDatabaseDontUse``: passwords in the clear in a dict, for
  tests and examples (the name is Twisted's warning, kept).
- ``HashedPasswordChecker``: user names and argon2id/scrypt/bcrypt hashes
  (torsion.cred.hashing), in memory.
- ``FilePasswordDB``: a passwd-style file of ``user:password`` lines, where a password
  field that is a hash (``$argon2id$...``, ``$scrypt$...``, ``$2b$...``) is checked as
  one, so a file that ``torsion passwd`` writes just works.

Checking a hash costs a quarter of a second of CPU by design, so it runs in the
reactor's thread pool (``deferToThreadPool``), never in the reactor thread: one login
does not stall every other connection. At most ``HASH_CHECKS_AT_ONCE`` (the number of
CPUs, up to 4) run at once; more logins wait their turn, so a flood of them neither
takes every thread of the pool nor the memory of many argon2id checks. A user name
that is not there is checked against a dummy hash of the same cost, so the time taken
does not tell a client which names exist; nor does the error: ``UnauthorizedLogin``'s
message is the same for both. The real reason of each refusal is logged (namespace
``torsion.cred.checkers``) with the user name, never the password.
Tests: tests/cred/test_checkers.py, test_filepasswd.py.
"""

from __future__ import annotations

import hmac
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.cred import hashing
from torsion.cred.credentials import (
    IAnonymous,
    IUsernameDigestHash,
    IUsernameHashedPassword,
    IUsernamePassword,
)
from torsion.cred.error import UnauthorizedLogin
from torsion.internet.defer import Deferred, DeferredSemaphore, fail, maybeDeferred, succeed
from torsion.logger import Logger, LogLevel

__all__ = [
    "ANONYMOUS",
    "AllowAnonymousAccess",
    "FilePasswordDB",
    "HashedPasswordChecker",
    "ICredentialsChecker",
    "InMemoryUsernamePasswordDatabaseDontUse",
    "OnDiskUsernamePasswordDatabase",
    "PasswordFileError",
]

ANONYMOUS: tuple[()] = ()

_log = Logger("torsion.cred.checkers")


class ICredentialsChecker(Interface):
    """Checks credentials of the kinds it names and gives the avatar id they prove."""

    credentialInterfaces = Attribute(
        "The credentials interfaces (e.g. IUsernamePassword) this checker can check."
    )

    def requestAvatarId(credentials: Any) -> Any:
        """Return the avatar id (bytes, or ANONYMOUS) or a Deferred of it.

        A refusal is a failure with UnauthorizedLogin (a Deferred failing with it, or
        the exception raised).
        """


class PasswordFileError(ValueError):
    """A password file cannot be read or has a malformed line; the message says where."""


def _shown(username: object) -> str:
    if isinstance(username, bytes):
        return username.decode("utf-8", "backslashreplace")
    return str(username)


def _refuse(username: object, reason: str, level: LogLevel = LogLevel.warn) -> Deferred[Any]:
    """Log why a login failed (never the password) and return the generic refusal."""
    _log.emit(
        level,
        "Login failed for user {username!r}: {reason}",
        username=_shown(username),
        reason=reason,
    )
    return fail(UnauthorizedLogin())


def _reactorOf(reactor: Any) -> Any:
    if reactor is not None:
        return reactor
    from torsion.internet._cooperator import globalReactor

    return globalReactor()


_dummyHash: str | None = None

HASH_CHECKS_AT_ONCE = max(1, min(4, os.cpu_count() or 1))
_slots: weakref.WeakKeyDictionary[Any, DeferredSemaphore] = weakref.WeakKeyDictionary()


def _slotsOf(reactor: Any) -> DeferredSemaphore:
    """The semaphore bounding how many hashes are checked at once with ``reactor``.

    A flood of logins must neither take every thread of the pool (which other work,
    such as name resolution, shares) nor hold the memory of many argon2id checks at
    once; the logins beyond ``HASH_CHECKS_AT_ONCE`` wait their turn.
    """
    slots = _slots.get(reactor)
    if slots is None:
        slots = _slots[reactor] = DeferredSemaphore(HASH_CHECKS_AT_ONCE)
    return slots


def _verifyOrDummy(password: bytes, hashed: str | None) -> bool:
    """Check ``password`` against ``hashed``, or against a dummy hash (False) if None.

    Runs in a pool thread. The dummy hash has the default argon2id cost, so a login
    for a name that is not there takes as long as one for a name that is.
    """
    global _dummyHash
    if hashed is None:
        if _dummyHash is None:
            _dummyHash = hashing.hashPassword(os.urandom(16))
        hashing.verifyPassword(password, _dummyHash)
        return False
    return hashing.verifyPassword(password, hashed)


def _checkHashed(
    reactor: Any, credentials: Any, avatarId: bytes, hashed: str | None, where: str
) -> Deferred[Any]:
    """Verify plaintext credentials against a stored hash in the reactor's thread pool.

    ``hashed`` None means the user is unknown: a dummy hash is checked (same cost) and
    the login refused. ``where`` names the store in the log (a file and line).
    """
    if IUsernameDigestHash.providedBy(credentials):
        return _refuse(
            avatarId,
            f"HTTP Digest cannot be checked against the hash stored for it{where}: Digest "
            "needs the password in the clear (or its Digest hash) on the server, and a "
            "salted hash (argon2id, scrypt, bcrypt) is neither; offer this user Basic "
            "authentication over TLS instead (BasicCredentialFactory)",
            LogLevel.error,
        )
    if not IUsernamePassword.providedBy(credentials):
        return _refuse(
            avatarId,
            f"the password stored for it{where} is a hash, which only credentials "
            f"carrying the password in the clear ({IUsernamePassword.__name__}) can be "
            f"checked against, not {type(credentials).__name__}",
        )
    from torsion.internet.threads import deferToThreadPool

    actual = _reactorOf(reactor)
    d = _slotsOf(actual).run(
        deferToThreadPool,
        actual,
        actual.getThreadPool(),
        _verifyOrDummy,
        credentials.password,
        hashed,
    )

    def checked(matched: bool) -> Any:
        if hashed is None:
            return _refuse(avatarId, f"no such user{where}")
        if matched:
            return avatarId
        return _refuse(avatarId, f"wrong password{where}")

    def unusable(reason: Any) -> Any:
        reason.trap(hashing.HashError)
        return _refuse(
            avatarId,
            f"the hash stored for it{where} cannot be used: {reason.value}",
            LogLevel.error,
        )

    return d.addCallbacks(checked, unusable)


def _matched(matched: object, avatarId: bytes, what: str) -> Any:
    if matched:
        return avatarId
    return _refuse(avatarId, f"wrong password{what}")


def _asBytes(value: bytes | str, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


@implementer(ICredentialsChecker)
class AllowAnonymousAccess:
    """Accepts ``Anonymous()`` credentials, with the avatar id ``ANONYMOUS``."""

    credentialInterfaces = (IAnonymous,)

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        """Return a Deferred that has fired with ANONYMOUS."""
        return succeed(ANONYMOUS)


@implementer(ICredentialsChecker)
class InMemoryUsernamePasswordDatabaseDontUse:
    """User names and passwords in the clear, in memory: for tests and examples.

    Keyword arguments are users: ``InMemoryUsernamePasswordDatabaseDontUse(alice="s3")``.
    Names and passwords may be str (stored as UTF-8) or bytes. It checks
    ``IUsernamePassword`` (constant-time comparison) and ``IUsernameHashedPassword``
    (the credentials compare, e.g. a CRAM-MD5 response). For real servers, store
    hashes: ``HashedPasswordChecker`` or ``FilePasswordDB`` with ``torsion passwd``.
    """

    credentialInterfaces = (IUsernamePassword, IUsernameHashedPassword)

    def __init__(self, **users: bytes | str) -> None:
        self.users: dict[bytes, bytes] = {}
        for username, password in users.items():
            self.addUser(username, password)

    def addUser(self, username: bytes | str, password: bytes | str) -> None:
        """Add a user, or change the password of one."""
        self.users[_asBytes(username, "username")] = _asBytes(password, "password")

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        """Return a Deferred firing with the user name, or failing with UnauthorizedLogin."""
        username = credentials.username
        stored = self.users.get(username)
        if stored is None:
            return _refuse(username, "no such user (in memory)")
        return maybeDeferred(credentials.checkPassword, stored).addCallback(_matched, username, "")

    def __repr__(self) -> str:
        return f"<InMemoryUsernamePasswordDatabaseDontUse with {len(self.users)} user(s)>"


@implementer(ICredentialsChecker)
class HashedPasswordChecker:
    """User names and password hashes (argon2id, scrypt or bcrypt), in memory.

    The hashes are checked in the reactor's thread pool (see the module docstring), so
    ``requestAvatarId``'s Deferred fires only while the reactor runs.

    Args:
        users: user name -> hash (str or bytes), e.g. loaded from a database.
        hasher: the scheme ``addUser`` hashes new passwords with (default argon2id).
        reactor: whose thread pool verifies (default: the global reactor).
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(
        self,
        users: Mapping[bytes | str, bytes | str] | None = None,
        hasher: hashing.PasswordHasher | None = None,
        reactor: Any = None,
    ) -> None:
        self.hasher = hasher if hasher is not None else hashing.hasherFor()
        self.reactor = reactor
        self.users: dict[bytes, str] = {}
        for username, hashed in (users or {}).items():
            self.addHashedUser(username, hashed)

    def addUser(self, username: bytes | str, password: bytes | str) -> None:
        """Hash ``password`` with ``hasher`` (slow: in this thread) and store the hash."""
        self.users[_asBytes(username, "username")] = self.hasher.hash(password)

    def addHashedUser(self, username: bytes | str, hashed: bytes | str) -> None:
        """Store ``hashed``, a hash that ``hashing.verifyPassword`` understands.

        Raises:
            HashError: ``hashed`` is not of a known scheme.
        """
        text = hashed.decode("ascii", "replace") if isinstance(hashed, bytes) else hashed
        if not hashing.isHashed(text):
            raise hashing.HashError(
                f"the hash for {_shown(username)!r} is not of a known scheme (it should "
                "start with $argon2id$, $scrypt$ or $2b$); make one with hashing.hashPassword"
            )
        self.users[_asBytes(username, "username")] = text

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        """Return a Deferred firing with the user name, or failing with UnauthorizedLogin."""
        username = credentials.username
        return _checkHashed(self.reactor, credentials, username, self.users.get(username), "")

    def __repr__(self) -> str:
        return f"<HashedPasswordChecker with {len(self.users)} user(s)>"


_Hash = Callable[[bytes, bytes, bytes], bytes]


@implementer(ICredentialsChecker)
class FilePasswordDB:
    """A passwd-style file: one user a line, fields split by ``delim``.

    Blank lines and lines starting with ``#`` are skipped. A password field that is a
    hash of a known scheme (``$argon2id$``, ``$scrypt$``, ``$2b$``/``$2a$``/``$2y$``) is
    checked as a hash, in the reactor's thread pool; other fields are passwords in the
    clear, compared in constant time. (So a password in the clear cannot start with
    one of those prefixes.) The file is read at each login, so edits take effect at
    once, unless ``cache`` is true (read once). A line with too few fields is skipped
    with a warning naming the file and line; ``checkFile()`` reports such lines as
    errors instead, for start-up checks.

    Args:
        filename: the file's path.
        delim: the field separator (bytes or str).
        usernameField, passwordField: the fields' indices.
        caseSensitive: if false, user names match whatever their case.
        hash: Twisted's hook, ``hash(username, password, stored) -> bytes``: the login's
            password is hashed with it and compared with the stored field. With it, only
            ``IUsernamePassword`` is checked (and hashed entries are not recognised).
        cache: read the file once, on the first login.
        reactor: whose thread pool checks hashes (default: the global reactor).
    """

    def __init__(
        self,
        filename: str | os.PathLike[str],
        delim: bytes | str = b":",
        usernameField: int = 0,
        passwordField: int = 1,
        caseSensitive: bool = True,
        hash: _Hash | None = None,
        cache: bool = False,
        *,
        reactor: Any = None,
    ) -> None:
        self.filename = os.fspath(filename)
        self.delim = _asBytes(delim, "delim")
        if not self.delim:
            raise ValueError("the field separator (delim) must not be empty")
        self.ufield = usernameField
        self.pfield = passwordField
        self.caseSensitive = caseSensitive
        self.hash = hash
        self.cache = cache
        self.reactor = reactor
        self._credCache: dict[bytes, tuple[bytes, bytes, int]] | None = None
        self._cacheHashed = False
        if hash is None:
            self.credentialInterfaces: tuple[Any, ...] = (
                IUsernamePassword,
                IUsernameHashedPassword,
            )
        else:
            self.credentialInterfaces = (IUsernamePassword,)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_credCache"] = None
        return state

    def _entries(self, strict: bool) -> Iterator[tuple[bytes, bytes, int]]:
        """Yield (username, password, line number); bad lines raise if ``strict``."""
        try:
            with open(self.filename, "rb") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise PasswordFileError(
                f"cannot read the password file {self.filename}: {e.strerror or e}; "
                f"create it with 'torsion passwd {self.filename} USERNAME'"
            ) from None
        needed = max(self.ufield, self.pfield) + 1
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.startswith(b"#"):
                continue
            parts = line.split(self.delim)
            if len(parts) < needed:
                message = (
                    f"{self.filename}:{number}: expected at least {needed} fields separated "
                    f"by {self.delim.decode('utf-8', 'replace')!r}, found {len(parts)}"
                )
                if strict:
                    raise PasswordFileError(message + "; fix or remove the line")
                _log.warn("{message}; the line is ignored", message=message)
                continue
            username, password = parts[self.ufield], parts[self.pfield]
            if strict and not username:
                raise PasswordFileError(f"{self.filename}:{number}: the user name is empty")
            if strict and self.hash is None and password.startswith(b"$"):
                scheme = hashing.identify(password)
                if scheme is None and password.count(b"$") >= 3:
                    raise PasswordFileError(
                        f"{self.filename}:{number}: the password looks like a hash of an "
                        "unknown scheme (known: $argon2id$, $scrypt$, $2b$); make one with "
                        "'torsion passwd'"
                    )
            yield username, password, number

    def checkFile(self) -> int:
        """Read the whole file strictly; return how many users it has.

        Raises:
            PasswordFileError: the file cannot be read, or a line is malformed (the
                message names the file and line and says what to do).
        """
        return sum(1 for _ in self._entries(strict=True))

    def _loadCredentials(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield each (username, password) of the file (Twisted's name)."""
        for username, password, _number in self._entries(strict=False):
            yield username, password

    def _key(self, username: bytes) -> bytes:
        return username if self.caseSensitive else username.lower()

    def _find(self, username: bytes) -> tuple[tuple[bytes, bytes, int] | None, bool]:
        """Return (the user's entry or None, whether the file holds hashed entries)."""
        key = self._key(username)
        if self.cache:
            if self._credCache is None:
                self._credCache = {}
                for entry in self._entries(strict=False):
                    self._credCache.setdefault(self._key(entry[0]), entry)
                self._cacheHashed = any(hashing.isHashed(e[1]) for e in self._credCache.values())
            return self._credCache.get(key), self._cacheHashed
        anyHashed = False
        for entry in self._entries(strict=False):
            if self._key(entry[0]) == key:
                return entry, anyHashed
            anyHashed = anyHashed or hashing.isHashed(entry[1])
        return None, anyHashed

    def getUser(self, username: bytes | str) -> tuple[bytes, bytes]:
        """Return the (username, password) of the file's line for ``username``.

        Raises:
            KeyError: no such user.
            PasswordFileError: the file cannot be read.
        """
        entry, _ = self._find(_asBytes(username, "username"))
        if entry is None:
            raise KeyError(username)
        return entry[0], entry[1]

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        """Return a Deferred firing with the user name, or failing with UnauthorizedLogin."""
        username = credentials.username
        try:
            entry, anyHashed = self._find(username)
        except PasswordFileError as e:
            return _refuse(username, str(e), LogLevel.error)
        if entry is None:
            if anyHashed and self.hash is None and IUsernamePassword.providedBy(credentials):
                return _checkHashed(
                    self.reactor, credentials, username, None, f" in {self.filename}"
                )
            return _refuse(username, f"no such user in {self.filename}")
        name, stored, number = entry
        where = f" in {self.filename}:{number}"
        if self.hash is not None:
            if not IUsernamePassword.providedBy(credentials):
                return _refuse(name, "only passwords in the clear can be hashed to compare")
            hashed = self.hash(name, credentials.password, stored)
            return succeed(hmac.compare_digest(hashed, stored)).addCallback(_matched, name, where)
        if hashing.isHashed(stored):
            return _checkHashed(self.reactor, credentials, name, stored.decode("ascii"), where)
        return maybeDeferred(credentials.checkPassword, stored).addCallback(_matched, name, where)

    def __repr__(self) -> str:
        return f"<FilePasswordDB {self.filename!r}>"


# Twisted's other name for it.
OnDiskUsernamePasswordDatabase = FilePasswordDB
