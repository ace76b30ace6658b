"""SSH_MSG_KEXINIT (RFC 4253 section 7.1): the message, and choosing algorithms.

`KexInit` is the parsed message; `negotiate(client, server)` picks, for each list,
the first of the client's names that the server also has, and says which
extensions (strict key exchange, ext-info) both sides asked for. Parsing untrusted
input raises `KexInitError` with what is wrong. Tests: tests/conch/test_sshkex.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from torsion.conch.ssh.common import NS, SSHDecodeError, getNS

__all__ = ["KexInit", "KexInitError", "Negotiated", "negotiate"]

MSG_KEXINIT = 20
STRICT_CLIENT = b"kex-strict-c-v00@openssh.com"
STRICT_SERVER = b"kex-strict-s-v00@openssh.com"
EXT_INFO_CLIENT = b"ext-info-c"
EXT_INFO_SERVER = b"ext-info-s"
# Names in the kex list that are signals, not key exchange algorithms.
_PSEUDO = {STRICT_CLIENT, STRICT_SERVER, EXT_INFO_CLIENT, EXT_INFO_SERVER}
_MAX_NAMES = 64  # names in one list: far more than any peer sends


class KexInitError(ValueError):
    """A KEXINIT is malformed, or the two sides have no algorithm in common."""


@dataclass
class KexInit:
    """The ten name-lists of a KEXINIT (client-to-server first in each pair)."""

    kex: list[bytes]
    hostKeys: list[bytes]
    ciphersCS: list[bytes]
    ciphersSC: list[bytes]
    macsCS: list[bytes]
    macsSC: list[bytes]
    compressionsCS: list[bytes] = field(default_factory=lambda: [b"none"])
    compressionsSC: list[bytes] = field(default_factory=lambda: [b"none"])
    languagesCS: list[bytes] = field(default_factory=list)
    languagesSC: list[bytes] = field(default_factory=list)
    firstKexFollows: bool = False
    cookie: bytes = field(default_factory=lambda: os.urandom(16))

    def lists(self) -> list[list[bytes]]:
        return [
            self.kex,
            self.hostKeys,
            self.ciphersCS,
            self.ciphersSC,
            self.macsCS,
            self.macsSC,
            self.compressionsCS,
            self.compressionsSC,
            self.languagesCS,
            self.languagesSC,
        ]

    def toPayload(self) -> bytes:
        """The whole message, message number included (as the exchange hash needs it)."""
        body = bytes((MSG_KEXINIT,)) + self.cookie
        body += b"".join(NS(b",".join(names)) for names in self.lists())
        return body + bytes((self.firstKexFollows,)) + b"\0\0\0\0"

    @classmethod
    def fromPayload(cls, payload: bytes) -> KexInit:
        """Parse a KEXINIT's payload (after its message number byte)."""
        if len(payload) < 16:
            raise KexInitError("the KEXINIT is shorter than its cookie")
        cookie, rest = payload[:16], payload[16:]
        try:
            *raw, rest = getNS(rest, 10)
        except SSHDecodeError as e:
            raise KexInitError(f"the KEXINIT's name-lists are malformed: {e}") from None
        if len(rest) < 5:
            raise KexInitError("the KEXINIT ends before its first_kex_packet_follows field")
        lists = []
        for text in raw:
            names = text.split(b",") if text else []
            if len(names) > _MAX_NAMES or any(not n or len(n) > 64 for n in names):
                raise KexInitError("a KEXINIT name-list has empty, overlong or too many names")
            lists.append(names)
        kex, hostKeys, ciphersCS, ciphersSC, macsCS, macsSC = lists[:6]
        kexInit = cls(kex, hostKeys, ciphersCS, ciphersSC, macsCS, macsSC)
        (
            kexInit.compressionsCS,
            kexInit.compressionsSC,
            kexInit.languagesCS,
            kexInit.languagesSC,
        ) = lists[6:]
        kexInit.firstKexFollows = bool(rest[0])
        kexInit.cookie = cookie
        return kexInit


@dataclass(frozen=True)
class Negotiated:
    """What a key exchange agreed on."""

    kex: bytes
    hostKey: bytes
    cipherCS: bytes
    cipherSC: bytes
    macCS: bytes | None  # None when the cipher is an AEAD (it has its own tag)
    macSC: bytes | None
    compressionCS: bytes
    compressionSC: bytes
    strict: bool  # both sides asked for strict key exchange (the Terrapin fix)
    clientExtInfo: bool  # the client wants SSH_MSG_EXT_INFO
    guessedWrong: bool  # a first_kex_packet_follows guess missed: ignore that packet


def _first(client: list[bytes], server: list[bytes], what: str) -> bytes:
    for name in client:
        if name in server:
            return name
    raise KexInitError(
        f"no {what} in common (client: {b','.join(client).decode(errors='replace')}; "
        f"server: {b','.join(server).decode(errors='replace')})"
    )


def negotiate(client: KexInit, server: KexInit, aeadCiphers: set[bytes]) -> Negotiated:
    """The algorithms both sides will use, chosen as RFC 4253 section 7.1 says."""
    clientKex = [n for n in client.kex if n not in _PSEUDO]
    serverKex = [n for n in server.kex if n not in _PSEUDO]
    kex = _first(clientKex, serverKex, "key exchange algorithm")
    hostKey = _first(client.hostKeys, server.hostKeys, "host key algorithm")
    cipherCS = _first(client.ciphersCS, server.ciphersCS, "client-to-server cipher")
    cipherSC = _first(client.ciphersSC, server.ciphersSC, "server-to-client cipher")
    macCS = None if cipherCS in aeadCiphers else _first(client.macsCS, server.macsCS, "MAC")
    macSC = None if cipherSC in aeadCiphers else _first(client.macsSC, server.macsSC, "MAC")
    compressionCS = _first(client.compressionsCS, server.compressionsCS, "compression")
    compressionSC = _first(client.compressionsSC, server.compressionsSC, "compression")
    sender = client if client.firstKexFollows else server if server.firstKexFollows else None
    guessedWrong = sender is not None and (
        [n for n in sender.kex if n not in _PSEUDO][:1] != [kex] or sender.hostKeys[:1] != [hostKey]
    )
    return Negotiated(
        kex,
        hostKey,
        cipherCS,
        cipherSC,
        macCS,
        macSC,
        compressionCS,
        compressionSC,
        STRICT_CLIENT in client.kex and STRICT_SERVER in server.kex,
        EXT_INFO_CLIENT in client.kex,
        guessedWrong,
    )
