"""Password hashing: argon2id, scrypt and bcrypt hashes in their usual text forms.

A server should store a slow, salted hash of each password, never the password. The
hashes here are the strings other software writes too, so a password file can be
shared with other tools:

- ``$argon2id$v=19$m=65536,t=3,p=4$SALT$HASH``: argon2id (RFC 9106), through the
  ``cryptography`` package (torsion's dependency already). The default, with RFC 9106's
  second recommended parameters (64 MiB, 3 passes, 4 lanes).
- ``$scrypt$ln=15,r=8,p=1$SALT$HASH``: scrypt (RFC 7914), through ``hashlib``; ``ln`` is
  log2 of N. The salt and hash are base64 without padding, as in passlib's form.
- ``$2b$12$...``: bcrypt (also ``$2a$``, ``$2y$``), through the ``bcrypt`` package, an
  optional extra: ``pip install 'torsion[bcrypt]'``. bcrypt reads only the first 72
  bytes of a password: ``hash`` refuses a longer one, ``verify`` truncates it, as
  bcrypt hashes were always made.

``hashPassword(password)`` makes a hash, ``verifyPassword(password, hashed)`` checks one
(its comparison takes constant time), ``identify(hashed)`` names the scheme of a string.
A hash's parameters come from the string, so they are bounded (``MAX_MEMORY`` bytes,
bcrypt cost at most ``MAX_BCRYPT_ROUNDS``...): a hostile or mistyped entry cannot make
one login take the machine's memory or minutes of CPU. Hashing is slow on purpose
(about a quarter of a second with the defaults): call it from a thread, not the
reactor's, as the checkers of torsion.cred.checkers do.
Tests: tests/cred/test_hashing.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from typing import Any, ClassVar

__all__ = [
    "DEFAULT_SCHEME",
    "HASHERS",
    "MAX_BCRYPT_ROUNDS",
    "MAX_MEMORY",
    "Argon2idHasher",
    "BcryptHasher",
    "HashError",
    "PasswordHasher",
    "ScryptHasher",
    "hashPassword",
    "hasherFor",
    "identify",
    "isHashed",
    "verifyPassword",
]

DEFAULT_SCHEME = "argon2id"
MAX_MEMORY = 1 << 30
MAX_BCRYPT_ROUNDS = 18
_MAX_ITERATIONS = 64
_MAX_LANES = 64
_MAX_SALT = 64
_MAX_HASH = 128


class HashError(ValueError):
    """A stored hash cannot be used: not a known scheme, malformed, out of bounds, or
    needing a package that is not installed. The message says which and what to do."""


def _bytes(value: bytes | str, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


def _text(hashed: bytes | str) -> str:
    if isinstance(hashed, bytes | bytearray | memoryview):
        try:
            return bytes(hashed).decode("ascii")
        except UnicodeDecodeError:
            raise HashError("a password hash is ASCII text; this one is not") from None
    if isinstance(hashed, str):
        return hashed
    raise TypeError(f"a password hash must be str or bytes, not {type(hashed).__name__}")


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str, what: str, scheme: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9+/]*", text):
        raise HashError(f"the {what} of this {scheme} hash is not base64")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise HashError(f"the {what} of this {scheme} hash is not base64") from None


def _parameters(text: str, names: tuple[str, ...], scheme: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for item in text.split(","):
        name, equals, value = item.partition("=")
        if not equals or name not in names or name in values or not value.isdigit():
            raise HashError(
                f"this {scheme} hash has the parameters {text!r}; expected "
                + ",".join(f"{n}=NUMBER" for n in names)
            )
        values[name] = int(value)
    missing = [n for n in names if n not in values]
    if missing:
        raise HashError(f"this {scheme} hash lacks the parameter(s) {', '.join(missing)}")
    return values


def _bounded(value: int, low: int, high: int, what: str, scheme: str) -> int:
    if not low <= value <= high:
        raise HashError(
            f"this {scheme} hash's {what} is {value}, outside {low} to {high} (torsion's "
            "bounds); make a new hash with 'torsion passwd'"
        )
    return value


class PasswordHasher:
    """The base of the hashers: one scheme, with the parameters new hashes get.

    Subclasses set ``scheme`` and ``prefixes`` and implement ``hash`` and ``verify``.
    """

    scheme: ClassVar[str] = ""
    prefixes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def identifies(cls, hashed: bytes | str) -> bool:
        """Return whether ``hashed`` is a hash of this scheme (by its prefix)."""
        try:
            return _text(hashed).startswith(cls.prefixes)
        except HashError:
            return False

    def hash(self, password: bytes | str) -> str:
        """Return a new hash of ``password`` (a fresh random salt each time)."""
        raise NotImplementedError

    def verify(self, password: bytes | str, hashed: bytes | str) -> bool:
        """Return whether ``password`` matches ``hashed`` (in constant time).

        Raises:
            HashError: ``hashed`` is not a usable hash of this scheme.
        """
        raise NotImplementedError


class Argon2idHasher(PasswordHasher):
    """argon2id through ``cryptography``.

    Args:
        memoryCost: memory in KiB (default 65536: 64 MiB).
        iterations: passes over the memory (default 3).
        lanes: parallelism (default 4).
    """

    scheme = "argon2id"
    prefixes = ("$argon2id$",)

    def __init__(self, memoryCost: int = 65536, iterations: int = 3, lanes: int = 4) -> None:
        _bounded(lanes, 1, _MAX_LANES, "lane count", self.scheme)
        _bounded(memoryCost, 8 * lanes, MAX_MEMORY // 1024, "memory cost (KiB)", self.scheme)
        _bounded(iterations, 1, _MAX_ITERATIONS, "iteration count", self.scheme)
        self.memoryCost = memoryCost
        self.iterations = iterations
        self.lanes = lanes

    @staticmethod
    def _derive(
        password: bytes, salt: bytes, length: int, memoryCost: int, iterations: int, lanes: int
    ) -> bytes:
        try:
            from cryptography.exceptions import UnsupportedAlgorithm
            from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
        except ImportError:
            raise HashError(
                "argon2id hashes need cryptography 44 or later: pip install -U cryptography"
            ) from None
        try:
            kdf = Argon2id(
                salt=salt,
                length=length,
                iterations=iterations,
                lanes=lanes,
                memory_cost=memoryCost,
            )
        except UnsupportedAlgorithm:
            raise HashError(
                "this cryptography build has no argon2id (it needs OpenSSL 3.2 or later)"
            ) from None
        return kdf.derive(password)

    def hash(self, password: bytes | str) -> str:
        salt = os.urandom(16)
        digest = self._derive(
            _bytes(password, "password"), salt, 32, self.memoryCost, self.iterations, self.lanes
        )
        return (
            f"$argon2id$v=19$m={self.memoryCost},t={self.iterations},p={self.lanes}"
            f"${_b64encode(salt)}${_b64encode(digest)}"
        )

    def verify(self, password: bytes | str, hashed: bytes | str) -> bool:
        text = _text(hashed)
        parts = text.split("$")
        if len(parts) != 6 or parts[0] or parts[1] != "argon2id":
            raise HashError("an argon2id hash looks like $argon2id$v=19$m=65536,t=3,p=4$SALT$HASH")
        if parts[2] != "v=19":
            raise HashError(
                f"this argon2id hash is of version {parts[2]!r}; only v=19 (1.3) is supported"
            )
        params = _parameters(parts[3], ("m", "t", "p"), self.scheme)
        lanes = _bounded(params["p"], 1, _MAX_LANES, "lane count", self.scheme)
        memory = _bounded(params["m"], 8 * lanes, MAX_MEMORY // 1024, "memory cost", self.scheme)
        iterations = _bounded(params["t"], 1, _MAX_ITERATIONS, "iteration count", self.scheme)
        salt = _b64decode(parts[4], "salt", self.scheme)
        expected = _b64decode(parts[5], "hash", self.scheme)
        _bounded(len(salt), 8, _MAX_SALT, "salt length", self.scheme)
        _bounded(len(expected), 4, _MAX_HASH, "hash length", self.scheme)
        digest = self._derive(
            _bytes(password, "password"), salt, len(expected), memory, iterations, lanes
        )
        return hmac.compare_digest(digest, expected)


class ScryptHasher(PasswordHasher):
    """scrypt through ``hashlib``.

    Args:
        logN: log2 of the CPU/memory cost N (default 15: N = 32768).
        r: the block size (default 8); memory is 128 * r * N bytes (32 MiB by default).
        p: parallelism (default 1).
    """

    scheme = "scrypt"
    prefixes = ("$scrypt$",)

    def __init__(self, logN: int = 15, r: int = 8, p: int = 1) -> None:
        self._check(logN, r, p)
        self.logN = logN
        self.r = r
        self.p = p

    def _check(self, logN: int, r: int, p: int) -> None:
        _bounded(logN, 1, 24, "ln (log2 of N)", self.scheme)
        _bounded(r, 1, 64, "block size r", self.scheme)
        _bounded(p, 1, 64, "parallelism p", self.scheme)
        if 128 * r * (1 << logN) > MAX_MEMORY:
            raise HashError(
                f"this scrypt hash would need {128 * r * (1 << logN)} bytes of memory, over "
                f"torsion's bound of {MAX_MEMORY}; make a new hash with 'torsion passwd'"
            )

    @staticmethod
    def _derive(password: bytes, salt: bytes, length: int, logN: int, r: int, p: int) -> bytes:
        n = 1 << logN
        return hashlib.scrypt(
            password,
            salt=salt,
            n=n,
            r=r,
            p=p,
            maxmem=128 * r * (n + p + 2) + (1 << 20),
            dklen=length,
        )

    def hash(self, password: bytes | str) -> str:
        salt = os.urandom(16)
        digest = self._derive(_bytes(password, "password"), salt, 32, self.logN, self.r, self.p)
        return (
            f"$scrypt$ln={self.logN},r={self.r},p={self.p}${_b64encode(salt)}${_b64encode(digest)}"
        )

    def verify(self, password: bytes | str, hashed: bytes | str) -> bool:
        parts = _text(hashed).split("$")
        if len(parts) != 5 or parts[0] or parts[1] != "scrypt":
            raise HashError("a scrypt hash looks like $scrypt$ln=15,r=8,p=1$SALT$HASH")
        params = _parameters(parts[2], ("ln", "r", "p"), self.scheme)
        self._check(params["ln"], params["r"], params["p"])
        salt = _b64decode(parts[3], "salt", self.scheme)
        expected = _b64decode(parts[4], "hash", self.scheme)
        _bounded(len(salt), 8, _MAX_SALT, "salt length", self.scheme)
        _bounded(len(expected), 16, _MAX_HASH, "hash length", self.scheme)
        digest = self._derive(
            _bytes(password, "password"),
            salt,
            len(expected),
            params["ln"],
            params["r"],
            params["p"],
        )
        return hmac.compare_digest(digest, expected)


_BCRYPT = re.compile(r"\$(2[aby])\$(\d\d)\$[./A-Za-z0-9]{53}")


class BcryptHasher(PasswordHasher):
    """bcrypt through the ``bcrypt`` package (``pip install 'torsion[bcrypt]'``).

    Args:
        rounds: log2 of the work factor (default 12).
    """

    scheme = "bcrypt"
    prefixes = ("$2b$", "$2a$", "$2y$")

    def __init__(self, rounds: int = 12) -> None:
        _bounded(rounds, 4, MAX_BCRYPT_ROUNDS, "cost", self.scheme)
        self.rounds = rounds

    @staticmethod
    def _module() -> Any:
        try:
            import bcrypt
        except ImportError:
            raise HashError(
                "bcrypt hashes need the bcrypt package: pip install 'torsion[bcrypt]'"
            ) from None
        return bcrypt

    def hash(self, password: bytes | str) -> str:
        secret = _bytes(password, "password")
        if len(secret) > 72:
            raise HashError(
                f"bcrypt reads only the first 72 bytes of a password and this one has "
                f"{len(secret)}; use a shorter password or the argon2id scheme"
            )
        bcrypt = self._module()
        hashed: bytes = bcrypt.hashpw(secret, bcrypt.gensalt(self.rounds))
        return hashed.decode("ascii")

    def verify(self, password: bytes | str, hashed: bytes | str) -> bool:
        text = _text(hashed)
        match = _BCRYPT.fullmatch(text)
        if match is None:
            raise HashError("a bcrypt hash looks like $2b$12$ and 53 characters of ./A-Za-z0-9")
        _bounded(int(match.group(2)), 4, MAX_BCRYPT_ROUNDS, "cost", self.scheme)
        bcrypt = self._module()
        try:
            return bool(bcrypt.checkpw(_bytes(password, "password")[:72], text.encode("ascii")))
        except ValueError as e:
            raise HashError(f"this bcrypt hash is malformed: {e}") from None


HASHERS: dict[str, type[PasswordHasher]] = {
    "argon2id": Argon2idHasher,
    "scrypt": ScryptHasher,
    "bcrypt": BcryptHasher,
}


def identify(hashed: bytes | str) -> str | None:
    """Return the scheme of ``hashed`` ("argon2id", "scrypt", "bcrypt"), or None."""
    for scheme, hasher in HASHERS.items():
        if hasher.identifies(hashed):
            return scheme
    return None


def isHashed(stored: bytes | str) -> bool:
    """Return whether ``stored`` is a hash of a known scheme (not a password in clear)."""
    return identify(stored) is not None


def hasherFor(scheme: str = DEFAULT_SCHEME) -> PasswordHasher:
    """Return a hasher of ``scheme`` with the default parameters.

    Raises:
        HashError: ``scheme`` is not one of ``HASHERS``.
    """
    try:
        return HASHERS[scheme]()
    except KeyError:
        known = ", ".join(HASHERS)
        raise HashError(
            f"unknown password hash scheme {scheme!r}; the schemes are {known}"
        ) from None


def hashPassword(password: bytes | str, scheme: str | PasswordHasher = DEFAULT_SCHEME) -> str:
    """Return a new hash of ``password`` by ``scheme`` (a name or a configured hasher).

    Raises:
        HashError: an unknown scheme, or one that cannot take this password.
    """
    hasher = hasherFor(scheme) if isinstance(scheme, str) else scheme
    return hasher.hash(password)


def verifyPassword(password: bytes | str, hashed: bytes | str) -> bool:
    """Return whether ``password`` matches ``hashed``, whichever scheme made it.

    Raises:
        HashError: ``hashed`` is not a hash of a known scheme, or a malformed one.
    """
    scheme = identify(hashed)
    if scheme is None:
        raise HashError(
            "not a known password hash: it should start with $argon2id$, $scrypt$ or $2b$"
        )
    return HASHERS[scheme]().verify(password, hashed)
