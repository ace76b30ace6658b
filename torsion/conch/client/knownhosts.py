"""OpenSSH's known_hosts file: which host keys a client trusts
(torsion.conch.client.knownhosts).

`KnownHostsFile` reads the lines OpenSSH writes (``man sshd 8``, "SSH_KNOWN_HOSTS
FILE FORMAT"): plain entries (``host1,host2,[host]:2222 ssh-ed25519 AAAA...``, with
``*``/``?`` patterns and ``!`` negations), hashed entries (``|1|salt|hash``: an
HMAC-SHA1 of the host name, so the file does not list where its owner goes),
``@revoked`` keys (refused for the hosts they name, whatever else the file says) and
``@cert-authority`` lines. torsion does not check host certificates; a host that the
file trusts only through a certificate authority is refused with an error saying so,
rather than silently treated as unknown.

``verifyHostKey(ui, hostname, ip, key)`` is what a client calls: a known key is
accepted; a different key of the same type for a known host is refused with
HostKeyChanged (someone may be in the middle; the message says how to remove the old
line if the key really changed); an unknown host is refused unless ``ui`` accepts it
(``ui.prompt`` returns true): then the key is added (hashed) and appended to the file.
Without a ui, unknown hosts are refused. ConsoleUI asks on the terminal;
AcceptNewHostKeys is OpenSSH's ``StrictHostKeyChecking=accept-new`` as a policy.
Hosts on another port than 22 are named ``[host]:port``, as OpenSSH does (see
``hostKeyName``). Tests: tests/conch/test_knownhosts.py.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hmac
import os
import secrets
from collections.abc import Callable, Iterator
from hashlib import sha1
from pathlib import Path
from typing import IO, Any, Protocol

from torsion.conch.error import HostKeyChanged, InvalidEntry, UserRejectedKey
from torsion.conch.ssh.keys import BadKeyError, FingerprintFormats, Key
from torsion.internet import defer
from torsion.logger import Logger

__all__ = [
    "AcceptNewHostKeys",
    "CertificateAuthorityEntry",
    "ConsoleUI",
    "HashedEntry",
    "HostCertificateUnsupported",
    "HostKeyRevoked",
    "KnownHostsFile",
    "PlainEntry",
    "UnparsedEntry",
    "hostKeyName",
]

_log = Logger()
_HASH_MAGIC = b"|1|"
_MAX_LINE = 64 * 1024  # a line longer than this is kept but not parsed


class HostKeyRevoked(UserRejectedKey):
    """The host's key is marked @revoked in known_hosts."""


class HostCertificateUnsupported(UserRejectedKey):
    """known_hosts trusts this host only through a @cert-authority line, and torsion
    does not check host certificates."""


class UI(Protocol):
    """What verifyHostKey asks about an unknown host (ConsoleUI, AcceptNewHostKeys)."""

    def prompt(self, text: str) -> Any: ...  # a bool or a Deferred of one

    def warn(self, text: str) -> None: ...


def hostKeyName(host: str | bytes, port: int = 22) -> bytes:
    """The name known_hosts uses for ``host`` on ``port``: ``[host]:port`` unless 22."""
    name = host.encode("idna") if isinstance(host, str) else host
    name = name.lower()
    return name if port == 22 else b"[" + name + b"]:" + str(port).encode()


def _asBytes(hostname: str | bytes) -> bytes:
    return (hostname.encode("idna") if isinstance(hostname, str) else hostname).lower()


def _parseKey(keyType: bytes, encoded: bytes) -> Key:
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as e:
        raise InvalidEntry(f"the key is not base64: {e}") from None
    try:
        key = Key.fromString(blob, type="blob")
    except BadKeyError as e:
        raise InvalidEntry(f"the key cannot be read: {e}") from None
    if key.sshType() != keyType:
        raise InvalidEntry(f"the key is a {key.sshType()!r}, the line says {keyType!r}")
    return key


class _KeyEntry:
    """What plain and hashed entries share: a key, a marker (b"", b"@revoked" or
    b"@cert-authority") and a comment."""

    def __init__(
        self, keyType: bytes, publicKey: Key, comment: bytes | None, marker: bytes
    ) -> None:
        self.keyType = keyType
        self.publicKey = publicKey
        self.comment = comment
        self.marker = marker

    def matchesHost(self, hostname: str | bytes) -> bool:
        raise NotImplementedError

    def matchesKey(self, key: Key) -> bool:
        return self.publicKey.blob() == key.public().blob()

    def _hostField(self) -> bytes:
        raise NotImplementedError

    def toString(self) -> bytes:
        encoded = base64.b64encode(self.publicKey.blob())
        fields = [self.marker] if self.marker else []
        fields += [self._hostField(), self.keyType, encoded]
        if self.comment:
            fields.append(self.comment)
        return b" ".join(fields)


class PlainEntry(_KeyEntry):
    """A line naming its hosts in clear: patterns separated by commas."""

    def __init__(
        self,
        hostnames: list[bytes],
        keyType: bytes,
        publicKey: Key,
        comment: bytes | None = None,
        marker: bytes = b"",
    ) -> None:
        super().__init__(keyType, publicKey, comment, marker)
        self.hostnames = hostnames

    def matchesHost(self, hostname: str | bytes) -> bool:
        """True when a pattern matches and no negated (``!``) pattern does."""
        name = _asBytes(hostname).decode("latin-1")
        matched = False
        for pattern in self.hostnames:
            text = pattern.lower().decode("latin-1")
            negated = text.startswith("!")
            if fnmatch.fnmatchcase(name, text[1:] if negated else text):
                if negated:
                    return False
                matched = True
        return matched

    def _hostField(self) -> bytes:
        return b",".join(self.hostnames)


class HashedEntry(_KeyEntry):
    """A line whose host is an HMAC-SHA1 of the name under a salt (``|1|salt|hash``)."""

    def __init__(
        self,
        hostSalt: bytes,
        hostHash: bytes,
        keyType: bytes,
        publicKey: Key,
        comment: bytes | None = None,
        marker: bytes = b"",
    ) -> None:
        super().__init__(keyType, publicKey, comment, marker)
        self._hostSalt = hostSalt
        self._hostHash = hostHash

    @classmethod
    def forHost(cls, hostname: str | bytes, key: Key, comment: bytes | None = None) -> HashedEntry:
        """A new entry for ``hostname`` with a fresh salt."""
        salt = secrets.token_bytes(20)
        digest = hmac.new(salt, _asBytes(hostname), sha1).digest()
        return cls(salt, digest, key.sshType(), key.public(), comment)

    def matchesHost(self, hostname: str | bytes) -> bool:
        digest = hmac.new(self._hostSalt, _asBytes(hostname), sha1).digest()
        return hmac.compare_digest(digest, self._hostHash)

    def _hostField(self) -> bytes:
        return (
            _HASH_MAGIC + base64.b64encode(self._hostSalt) + b"|" + base64.b64encode(self._hostHash)
        )


class CertificateAuthorityEntry:
    """A ``@cert-authority`` line: kept and written back, but it never vouches for a
    key here (torsion does not check host certificates)."""

    def __init__(self, line: bytes, hosts: _KeyEntry) -> None:
        self._line = line
        self._hosts = hosts

    def matchesHost(self, hostname: str | bytes) -> bool:
        return self._hosts.matchesHost(hostname)

    def matchesKey(self, key: Key) -> bool:
        return False

    def toString(self) -> bytes:
        return self._line


class UnparsedEntry:
    """A comment, a blank line or a line we cannot read: written back as it was."""

    def __init__(self, string: bytes) -> None:
        self._string = string

    def matchesHost(self, hostname: str | bytes) -> bool:
        return False

    def matchesKey(self, key: Key) -> bool:
        return False

    def toString(self) -> bytes:
        return self._string


Entry = _KeyEntry | CertificateAuthorityEntry | UnparsedEntry


def parseEntry(line: bytes) -> Entry:
    """The entry a known_hosts line holds; InvalidEntry for a malformed one."""
    fields = line.split()
    marker = b""
    if fields and fields[0].startswith(b"@"):
        marker, fields = fields[0], fields[1:]
        if marker not in (b"@revoked", b"@cert-authority"):
            raise InvalidEntry(f"unknown marker {marker!r}")
    if len(fields) < 3:
        raise InvalidEntry("a line needs hosts, a key type and a key")
    hosts, keyType, encoded = fields[:3]
    comment = b" ".join(fields[3:]) or None
    key = _parseKey(keyType, encoded)
    entry: _KeyEntry
    if hosts.startswith(_HASH_MAGIC):
        parts = hosts[len(_HASH_MAGIC) :].split(b"|")
        if len(parts) != 2:
            raise InvalidEntry("a hashed host is |1|salt|hash")
        try:
            salt, digest = (base64.b64decode(part, validate=True) for part in parts)
        except binascii.Error:
            raise InvalidEntry("the hashed host is not base64") from None
        entry = HashedEntry(salt, digest, keyType, key, comment, marker)
    else:
        entry = PlainEntry(hosts.split(b","), keyType, key, comment, marker)
    if marker == b"@cert-authority":
        return CertificateAuthorityEntry(line, entry)
    return entry


class KnownHostsFile:
    """The entries of one known_hosts file, and the keys added since it was read."""

    def __init__(self, savePath: str | os.PathLike[str] | None) -> None:
        self.savePath = Path(savePath) if savePath is not None else None
        self._entries: list[tuple[Entry, int | None]] = []  # (entry, line number)
        self._added: list[_KeyEntry] = []

    @classmethod
    def fromPath(cls, path: str | os.PathLike[str]) -> KnownHostsFile:
        """The file at ``path``; a missing file is an empty one (save creates it).
        Lines that cannot be read are kept (and logged), not fatal."""
        known = cls(path)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return known
        for number, raw in enumerate(data.splitlines(), 1):
            line = raw.strip()
            entry: Entry
            if not line or line.startswith(b"#") or len(line) > _MAX_LINE:
                entry = UnparsedEntry(raw)
            else:
                try:
                    entry = parseEntry(line)
                except InvalidEntry as e:
                    _log.warn("{path} line {n} is ignored: {why}", path=str(path), n=number, why=e)
                    entry = UnparsedEntry(raw)
            known._entries.append((entry, number))
        return known

    def iterentries(self) -> Iterator[Entry]:
        for entry, _ in self._entries:
            yield entry
        yield from self._added

    def _numbered(self) -> Iterator[tuple[Entry, int | None]]:
        yield from self._entries
        for entry in self._added:
            yield entry, None

    def knownKeyTypes(self, hostname: str | bytes) -> list[bytes]:
        """The key types (b"ssh-ed25519", ...) the file has for ``hostname``, so a client
        can prefer them in its key exchange, as OpenSSH does."""
        found: list[bytes] = []
        for entry in self.iterentries():
            if not isinstance(entry, _KeyEntry) or entry.marker:
                continue
            if entry.matchesHost(hostname) and entry.keyType not in found:
                found.append(entry.keyType)
        return found

    def _revoked(self, hostname: bytes, key: Key) -> bool:
        return any(
            isinstance(entry, _KeyEntry)
            and entry.marker == b"@revoked"
            and entry.matchesKey(key)
            and entry.matchesHost(hostname)
            for entry in self.iterentries()
        )

    def hasHostKey(self, hostname: str | bytes, key: Key) -> bool:
        """True if ``key`` is known for ``hostname``, False if the host has no key of
        that type here. Raises HostKeyChanged when it has a different one, and
        HostKeyRevoked for a revoked key."""
        name = _asBytes(hostname)
        if self._revoked(name, key):
            raise HostKeyRevoked(f"the host key of {name.decode(errors='replace')} is revoked")
        for entry, lineno in self._numbered():
            if not isinstance(entry, _KeyEntry) or entry.marker or not entry.matchesHost(name):
                continue
            if entry.matchesKey(key):
                return True
            if entry.keyType == key.sshType():
                changed = HostKeyChanged(entry, self.savePath, lineno or 0)
                changed.hostname = name
                raise changed
        return False

    def _onlyCertified(self, names: list[bytes]) -> bool:
        return any(
            isinstance(entry, CertificateAuthorityEntry) and entry.matchesHost(name)
            for entry in self.iterentries()
            for name in names
        )

    def verifyHostKey(
        self, ui: UI | None, hostname: str | bytes, ip: str | bytes | None, key: Key
    ) -> defer.Deferred[bool]:
        """A Deferred firing True if ``key`` may be trusted for ``hostname`` (and the
        address ``ip``, checked too when given), failing otherwise (see the module
        docstring)."""
        names = [_asBytes(hostname)]
        if ip is not None and _asBytes(ip) != names[0]:
            names.append(_asBytes(ip))
        try:
            for name in names:
                if self.hasHostKey(name, key):
                    return defer.succeed(True)
        except (UserRejectedKey, HostKeyChanged):
            return defer.fail()
        shown = names[0].decode(errors="replace")
        if self._onlyCertified(names):
            return defer.fail(
                HostCertificateUnsupported(
                    f"{self.savePath} trusts {shown} through a @cert-authority line, and "
                    "torsion does not check host certificates: add the host's own key "
                    f"(ssh-keyscan) to the file to connect"
                )
            )
        fingerprint = key.fingerprint(FingerprintFormats.SHA256_BASE64)
        if ui is None:
            return defer.fail(
                UserRejectedKey(
                    f"{shown} is not in {self.savePath} (its {key.sshType().decode()} key is "
                    f"SHA256:{fingerprint}); add it there, or connect with a ui that accepts "
                    "new hosts (AcceptNewHostKeys, ConsoleUI)"
                )
            )
        question = (
            f"The authenticity of host '{shown}' can't be established.\n"
            f"{key.sshType().decode()} key fingerprint is SHA256:{fingerprint}.\n"
            "Are you sure you want to continue connecting (yes/no)? "
        )
        answer = defer.maybeDeferred(ui.prompt, question)

        def decided(accepted: object) -> bool:
            if not accepted:
                raise UserRejectedKey(f"the host key of {shown} was not accepted")
            self.addHostKey(names[0], key)
            self.save()
            ui.warn(f"Warning: Permanently added '{shown}' to the list of known hosts.")
            return True

        return answer.addCallback(decided)

    def addHostKey(self, hostname: str | bytes, key: Key) -> HashedEntry:
        """Trust ``key`` for ``hostname`` from now on (``save`` writes it)."""
        entry = HashedEntry.forHost(hostname, key)
        self._added.append(entry)
        return entry

    def save(self) -> None:
        """Append the keys added since the file was read (the rest of the file, which
        another program may have changed meanwhile, is left alone)."""
        if self.savePath is None:
            raise OSError("this KnownHostsFile has no path to save to")
        if not self._added:
            return
        self.savePath.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            existing = self.savePath.read_bytes()
        except FileNotFoundError:
            existing = b""
        lead = b"\n" if existing and not existing.endswith(b"\n") else b""
        lines = b"".join(entry.toString() + b"\n" for entry in self._added)
        with open(self.savePath, "ab") as out:
            out.write(lead + lines)
        start = len(existing.splitlines()) + 1
        for offset, entry in enumerate(self._added):
            self._entries.append((entry, start + offset))
        self._added = []


class ConsoleUI:
    """Asks the user on a terminal: ``opener()`` returns it open for reading and
    writing (say ``lambda: open("/dev/tty", "r+")``). The question blocks the
    reactor while it waits, as a terminal question must."""

    maxTries = 5

    def __init__(self, opener: Callable[[], IO[str]]) -> None:
        self.opener = opener

    def prompt(self, text: str) -> defer.Deferred[bool]:
        """A Deferred of True for "yes", False for "no", EOF or repeated nonsense."""
        with self.opener() as terminal:
            terminal.write(text)
            terminal.flush()
            for _ in range(self.maxTries):
                answer = terminal.readline()
                if not answer:
                    return defer.succeed(False)
                word = answer.strip().lower()
                if word in ("yes", "no"):
                    return defer.succeed(word == "yes")
                terminal.write("Please type 'yes' or 'no': ")
                terminal.flush()
        return defer.succeed(False)

    def warn(self, text: str) -> None:
        try:
            with self.opener() as terminal:
                terminal.write(text + "\n")
        except OSError:
            _log.warn("{text}", text=text)


class AcceptNewHostKeys:
    """A policy in place of a ui: trust a host seen for the first time and remember
    its key (OpenSSH's StrictHostKeyChecking=accept-new). Changed keys are still
    refused. ``accepted`` lists the questions it answered, for the record."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    def prompt(self, text: str) -> bool:
        self.accepted.append(text)
        return True

    def warn(self, text: str) -> None:
        _log.info("{text}", text=text)
