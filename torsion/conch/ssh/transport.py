"""The SSH transport layer (RFC 4253): version exchange, key exchange, encryption,
rekeying, and the services on top (torsion.conch.ssh.transport).

`SSHServerTransport` and `SSHClientTransport` share `SSHTransportBase`, Twisted's
classes. The packet framing and ciphers are in ``_packets``, the key exchange
arithmetic in ``_kex``, the KEXINIT message and negotiation in ``_kexinit``; this
module is the state machine between them and the TCP connection.

What it does beyond the RFC's minimum: strict key exchange (OpenSSH's fix for the
Terrapin attack: no stray messages during the first key exchange, sequence numbers
reset at every NEWKEYS) when both sides offer it; ext-info (RFC 8308) with
server-sig-algs; rekeying after ``rekeyBytes`` bytes or ``rekeyInterval`` seconds
from either side, with the services' packets held back meanwhile. A peer that breaks
the protocol (a bad MAC, a malformed or oversize packet, a message out of turn) gets
SSH_MSG_DISCONNECT with the reason and is dropped; a service's exception drops only
its own connection. Tests: tests/conch/test_sshtransport.py (in memory and against
OpenSSH's ssh and sshd).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from torsion.conch.ssh import _kex, _kexinit
from torsion.conch.ssh._packets import (
    CIPHERS,
    MACS,
    PacketReader,
    PacketWriter,
    Piece,
    SSHPacketError,
    SuiteKeys,
)
from torsion.conch.ssh.common import MP, NS, SSHDecodeError, getMP, getNS
from torsion.conch.ssh.keys import BadKeyError, Key
from torsion.internet import defer
from torsion.internet.abstract import sendAtOnce
from torsion.internet.protocol import Protocol, connectionDone
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "DISCONNECT_BY_APPLICATION",
    "DISCONNECT_CONNECTION_LOST",
    "DISCONNECT_HOST_KEY_NOT_VERIFIABLE",
    "DISCONNECT_KEY_EXCHANGE_FAILED",
    "DISCONNECT_MAC_ERROR",
    "DISCONNECT_PROTOCOL_ERROR",
    "DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED",
    "DISCONNECT_SERVICE_NOT_AVAILABLE",
    "SSHClientTransport",
    "SSHServerTransport",
    "SSHTransportBase",
]

_log = Logger()

(
    DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT,
    DISCONNECT_PROTOCOL_ERROR,
    DISCONNECT_KEY_EXCHANGE_FAILED,
    DISCONNECT_RESERVED,
    DISCONNECT_MAC_ERROR,
    DISCONNECT_COMPRESSION_ERROR,
    DISCONNECT_SERVICE_NOT_AVAILABLE,
    DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED,
    DISCONNECT_HOST_KEY_NOT_VERIFIABLE,
    DISCONNECT_CONNECTION_LOST,
    DISCONNECT_BY_APPLICATION,
    DISCONNECT_TOO_MANY_CONNECTIONS,
    DISCONNECT_AUTH_CANCELLED_BY_USER,
    DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
    DISCONNECT_ILLEGAL_USER_NAME,
) = range(1, 16)

MSG_DISCONNECT, MSG_IGNORE, MSG_UNIMPLEMENTED, MSG_DEBUG = 1, 2, 3, 4
MSG_SERVICE_REQUEST, MSG_SERVICE_ACCEPT, MSG_EXT_INFO = 5, 6, 7
MSG_KEXINIT, MSG_NEWKEYS = 20, 21
MSG_KEXDH_INIT, MSG_KEXDH_REPLY = 30, 31  # also ECDH's INIT and REPLY
MSG_KEX_DH_GEX_GROUP, MSG_KEX_DH_GEX_INIT, MSG_KEX_DH_GEX_REPLY = 31, 32, 33
MSG_KEX_DH_GEX_REQUEST = 34
messages = {
    MSG_DISCONNECT: "DISCONNECT",
    MSG_IGNORE: "IGNORE",
    MSG_UNIMPLEMENTED: "UNIMPLEMENTED",
    MSG_DEBUG: "DEBUG",
    MSG_SERVICE_REQUEST: "SERVICE_REQUEST",
    MSG_SERVICE_ACCEPT: "SERVICE_ACCEPT",
    MSG_EXT_INFO: "EXT_INFO",
    MSG_KEXINIT: "KEXINIT",
    MSG_NEWKEYS: "NEWKEYS",
}
_U32 = struct.Struct("!L")
_MESSAGE_TYPES = [bytes((number,)) for number in range(256)]  # no bytes object per packet
# The host key algorithms a key of each SSH type can sign with, best first.
_SIGNATURE_ALGORITHMS = {
    b"ssh-ed25519": [b"ssh-ed25519"],
    b"ecdsa-sha2-nistp256": [b"ecdsa-sha2-nistp256"],
    b"ecdsa-sha2-nistp384": [b"ecdsa-sha2-nistp384"],
    b"ecdsa-sha2-nistp521": [b"ecdsa-sha2-nistp521"],
    b"ssh-rsa": [b"rsa-sha2-512", b"rsa-sha2-256"],
}
# The key type behind each host key (signature) algorithm.
_KEY_TYPE = {alg: keyType for keyType, algs in _SIGNATURE_ALGORITHMS.items() for alg in algs}


class _ProtocolError(Exception):
    """The peer broke the protocol: disconnect with ``reason``."""

    def __init__(self, reason: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _version() -> bytes:
    from torsion import __version__

    return f"torsion_{__version__}".encode("ascii")


class SSHTransportBase(Protocol):
    """What both ends of an SSH connection do."""

    isClient = False
    protocolVersion = b"2.0"
    comment = b""
    supportedCiphers = list(CIPHERS)
    supportedMACs = list(MACS)
    supportedKeyExchanges = list(_kex.KEX_ALGORITHMS)
    supportedPublicKeys = [alg for algs in _SIGNATURE_ALGORITHMS.values() for alg in algs]
    supportedCompressions = [b"none"]
    supportedLanguages: list[bytes] = []
    maxPacket = 256 * 1024
    maxVersionLine = 255  # RFC 4253 section 4.2
    maxPreambleLines = 64  # lines a server may send before its version (section 4.2)
    rekeyBytes = 1 << 30
    rekeyInterval = 3600.0
    clock: Any = None  # the reactor (IReactorTime) for the rekey timer; global if None

    def __init__(self) -> None:
        self.ourVersionString = b"SSH-" + self.protocolVersion + b"-" + _version()
        if self.comment:
            self.ourVersionString += b" " + self.comment
        self.otherVersionString = b""
        self.sessionID: bytes | None = None
        self.service: Any = None
        self.peerExtensions: dict[bytes, bytes] = {}
        self._reader = PacketReader(self.maxPacket)
        self._writer = PacketWriter()
        self._preamble = bytearray()
        self._preambleLines = 0
        self._gotVersion = False
        self._ourKexInit: _kexinit.KexInit | None = None
        self._ourKexInitPayload = b""
        self._theirKexInitPayload = b""
        self._negotiated: _kexinit.Negotiated | None = None
        self._kexAlgorithm: Any = None
        self._ephemeral: Any = None
        self._pendingKeys: tuple[SuiteKeys, SuiteKeys] | None = None
        # Services' packets held during a key exchange.
        self._held: list[tuple[int, tuple[Piece, ...]]] = []
        self._firstKex = True
        self._strict = False
        self._ignoreNextKexPacket = False
        self._newKeysSent = False
        self._newKeysReceived = False
        self._gotKexInit = False
        self._lastIncoming = 0
        self._bytesSinceKex = 0
        self._rekeyCall: Any = None
        self._disconnected = False
        self.corked = False  # True while a batch of received packets is dispatched

    # -- connection ----------------------------------------------------------------------

    def logPrefix(self) -> str:
        return "SSHClientTransport" if self.isClient else "SSHServerTransport"

    def connectionMade(self) -> None:
        # Flow control waits on small packets (window adjusts, SFTP status answers):
        # with Nagle on, each could wait for the peer's delayed ACK, stalling a copy.
        sendAtOnce(self.transport)
        self.transport.write(self.ourVersionString + b"\r\n")
        self.sendKexInit()

    def connectionLost(self, reason: object = connectionDone) -> None:
        if self._rekeyCall is not None and self._rekeyCall.active():
            self._rekeyCall.cancel()
        self._rekeyCall = None
        if self.service is not None:
            service, self.service = self.service, None
            service.serviceStopped()
        # The login ends with the connection (set by ssh-userauth on success).
        logout = getattr(self, "logoutFunction", None)
        if logout is not None:
            self.logoutFunction = None
            logout()

    def dataReceived(self, data: bytes) -> None:
        if self._disconnected:
            return
        try:
            if not self._gotVersion:
                data = self._readVersion(data)
                if not self._gotVersion:
                    return
            self._bytesSinceKex += len(data)
            payloads = self._reader.feed(data)
            # While the batch is dispatched, the service may hold its channels' data
            # back and send it coalesced at the end (see SSHConnection.uncork).
            self.corked = True
            while payloads:
                # The batch's packets are numbered consecutively up to the reader's count
                # (a NEWKEYS, after which numbers may be reset, is always last).
                first = self._reader.seq - len(payloads)
                for index, payload in enumerate(payloads):
                    self._lastIncoming = (first + index) % 2**32
                    self._dispatch(payload)
                    if self._disconnected:
                        return
                payloads = self._reader.feed(b"")
        except SSHPacketError as e:
            self.sendDisconnect(e.reason, str(e))
        except _ProtocolError as e:
            self.sendDisconnect(e.reason, str(e))
        except (SSHDecodeError, _kexinit.KexInitError, _kex.KexError) as e:
            self.sendDisconnect(DISCONNECT_PROTOCOL_ERROR, str(e))
        finally:
            self._uncork()
        self._maybeRekey()

    def _uncork(self) -> None:
        if self.corked:
            self.corked = False
            uncork = getattr(self.service, "uncork", None)
            if uncork is not None:
                uncork()

    def _readVersion(self, data: bytes) -> bytes:
        """Collect the peer's version line; return what follows it."""
        self._preamble += data
        while True:
            end = self._preamble.find(b"\n")
            if end < 0:
                if len(self._preamble) > self.maxVersionLine:
                    raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "the version line is too long")
                return b""
            line = bytes(self._preamble[:end]).rstrip(b"\r")
            del self._preamble[: end + 1]
            if line.startswith(b"SSH-"):
                break
            # Only a server may say something before its version (RFC 4253 4.2).
            self._preambleLines += 1
            if not self.isClient or self._preambleLines > self.maxPreambleLines:
                raise _ProtocolError(
                    DISCONNECT_PROTOCOL_ERROR, "the peer did not start with an SSH version"
                )
        if len(line) > self.maxVersionLine:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "the version line is too long")
        version = line.split(b"-", 2)[1] if line.count(b"-") >= 2 else b""
        if version not in (b"2.0", b"1.99"):
            self.sendDisconnect(
                DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED,
                f"bad version {version.decode(errors='replace')}",
            )
            return b""
        self.otherVersionString = line
        self._gotVersion = True
        rest = bytes(self._preamble)
        self._preamble.clear()
        return rest

    # -- sending -------------------------------------------------------------------------

    def sendPacket(self, messageType: int, payload: bytes) -> None:
        """Send one packet; services' packets wait while keys are being exchanged."""
        self.sendPacketParts(messageType, (payload,))

    def sendPacketParts(self, messageType: int, parts: tuple[Piece, ...]) -> None:
        """`sendPacket` of the payload ``b"".join(parts)``, never joined: each part is
        encrypted where it lies (a channel's data goes out without being copied into
        a payload first). The parts must not change afterwards (bytes, or views of
        bytes), since a packet held during a key exchange keeps them."""
        if self._disconnected:
            return
        if self._ourKexInit is not None and not _isKexMessage(messageType):
            self._held.append((messageType, parts))
            return
        self._writeParts(messageType, parts)

    def _write(self, messageType: int, payload: bytes) -> None:
        self._writeParts(messageType, (payload,))

    def _writeParts(self, messageType: int, parts: tuple[Piece, ...]) -> None:
        pieces = self._writer.sealPieces((_MESSAGE_TYPES[messageType], *parts))
        self._bytesSinceKex += sum(map(len, pieces))
        self.transport.writeSequence(pieces)

    def sendDisconnect(self, reason: int, description: str) -> None:
        """Tell the peer why, and close the connection."""
        if self._disconnected:
            return
        _log.info(
            "{side} disconnecting: {description} (reason {reason})",
            side=self.logPrefix(),
            description=description,
            reason=reason,
        )
        self._write(MSG_DISCONNECT, _U32.pack(reason) + NS(description) + NS(b""))
        self._disconnected = True
        self.transport.loseConnection()

    def sendIgnore(self, message: bytes) -> None:
        self.sendPacket(MSG_IGNORE, NS(message))

    def sendUnimplemented(self) -> None:
        self.sendPacket(MSG_UNIMPLEMENTED, _U32.pack(self._lastIncoming))

    def sendDebug(self, message: bytes, alwaysDisplay: bool = False, language: bytes = b"") -> None:
        self.sendPacket(MSG_DEBUG, bytes((alwaysDisplay,)) + NS(message) + NS(language))

    def loseConnection(self) -> None:
        """End the connection politely (SSH_MSG_DISCONNECT, by application)."""
        self.sendDisconnect(DISCONNECT_BY_APPLICATION, "user closed connection")

    def isEncrypted(self, direction: str = "out") -> bool:
        return self.sessionID is not None

    # -- receiving -----------------------------------------------------------------------

    def _dispatch(self, payload: bytes) -> None:
        if not payload:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "an empty packet")
        number, body = payload[0], payload[1:]
        if self._firstKex and self._strict and not _isKexMessage(number):
            raise _ProtocolError(
                DISCONNECT_PROTOCOL_ERROR,
                f"message {number} during the first key exchange (strict key exchange)",
            )
        if (
            not self._gotKexInit
            and number not in (MSG_KEXINIT, MSG_DISCONNECT)
            and (_isKexMessage(number) or number >= 50)
        ):
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, f"message {number} before KEXINIT")
        if 30 <= number <= 49:
            if self._negotiated is None:
                raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, f"message {number} out of turn")
            if self._ignoreNextKexPacket:
                self._ignoreNextKexPacket = False
                return
            self._kexMessage(number, body)
            return
        name = messages.get(number)
        if name is not None:
            getattr(self, f"ssh_{name}")(body)
            return
        if number < 50 or self.service is None or self._firstKex:
            self.sendUnimplemented()
            return
        try:
            self.service.packetReceived(number, body)
        except Exception:
            _log.failure(
                "{side}: the service failed; dropping the connection", side=self.logPrefix()
            )
            self.sendDisconnect(DISCONNECT_BY_APPLICATION, "internal error")

    def ssh_DISCONNECT(self, packet: bytes) -> None:
        (reason,) = _U32.unpack_from(packet) if len(packet) >= 4 else (0,)
        description = getNS(packet[4:])[0] if len(packet) >= 8 else b""
        self.receiveError(reason, description)
        self._disconnected = True
        self.transport.loseConnection()

    def receiveError(self, reasonCode: int, description: bytes) -> None:
        """The peer disconnected with ``reasonCode``; logged by default."""
        _log.info(
            "{side}: the peer disconnected: {description} (reason {reason})",
            side=self.logPrefix(),
            description=description.decode(errors="replace"),
            reason=reasonCode,
        )

    def ssh_IGNORE(self, packet: bytes) -> None:
        pass

    def ssh_UNIMPLEMENTED(self, packet: bytes) -> None:
        (sequence,) = _U32.unpack_from(packet) if len(packet) >= 4 else (0,)
        self.receiveUnimplemented(sequence)

    def receiveUnimplemented(self, seqnum: int) -> None:
        _log.info("{side}: the peer did not know packet {n}", side=self.logPrefix(), n=seqnum)

    def ssh_DEBUG(self, packet: bytes) -> None:
        if len(packet) < 1:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "a truncated DEBUG message")
        message, language, _ = getNS(packet[1:], 2)
        self.receiveDebug(bool(packet[0]), message, language)

    def receiveDebug(self, alwaysDisplay: bool, message: bytes, lang: bytes) -> None:
        _log.debug("{side}: peer debug: {m}", side=self.logPrefix(), m=message)

    def ssh_EXT_INFO(self, packet: bytes) -> None:
        if len(packet) < 4:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "a truncated EXT_INFO")
        (count,) = _U32.unpack_from(packet)
        rest = packet[4:]
        if count > 64:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "too many extensions in EXT_INFO")
        for _ in range(count):
            name, value, rest = getNS(rest, 2)
            self.peerExtensions[name] = value

    def ssh_SERVICE_REQUEST(self, packet: bytes) -> None:
        raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "only a client may request a service")

    def ssh_SERVICE_ACCEPT(self, packet: bytes) -> None:
        raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "only a server may accept a service")

    def setService(self, service: Any) -> None:
        """Hand the packets above 49 to ``service`` from now on."""
        if self.service is not None:
            self.service.serviceStopped()
        self.service = service
        service.transport = self
        service.serviceStarted()

    # -- key exchange --------------------------------------------------------------------

    def _kexInitLists(self) -> _kexinit.KexInit:
        raise NotImplementedError

    def sendKexInit(self) -> None:
        """Start a key exchange (the first, or a rekey)."""
        if self._ourKexInit is not None:
            return
        kexInit = self._kexInitLists()
        self._ourKexInit = kexInit
        self._ourKexInitPayload = kexInit.toPayload()
        self._newKeysSent = self._newKeysReceived = False
        self.transport.write(self._writer.seal(self._ourKexInitPayload))
        self._bytesSinceKex = 0

    def ssh_KEXINIT(self, packet: bytes) -> None:
        if self._negotiated is not None:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "KEXINIT during a key exchange")
        theirs = _kexinit.KexInit.fromPayload(packet)
        self._gotKexInit = True
        self._theirKexInitPayload = bytes((MSG_KEXINIT,)) + packet
        self.sendKexInit()
        assert self._ourKexInit is not None
        client, server = (self._ourKexInit, theirs) if self.isClient else (theirs, self._ourKexInit)
        aead = {name for name, spec in CIPHERS.items() if spec.aead}
        try:
            negotiated = _kexinit.negotiate(client, server, aead)
        except _kexinit.KexInitError as e:
            raise _ProtocolError(DISCONNECT_KEY_EXCHANGE_FAILED, str(e)) from None
        if self._firstKex:
            self._strict = negotiated.strict
            if self._strict and self._lastIncoming != 0:
                raise _ProtocolError(
                    DISCONNECT_PROTOCOL_ERROR, "strict key exchange: KEXINIT was not first"
                )
        self._negotiated = negotiated
        self._kexAlgorithm = _kex.KEX_ALGORITHMS[negotiated.kex]
        self._ignoreNextKexPacket = theirs.firstKexFollows and negotiated.guessedWrong
        self._kexStarted()

    def _kexStarted(self) -> None:
        """Both KEXINITs are known: the client sends its first key exchange message."""

    def _kexMessage(self, number: int, packet: bytes) -> None:
        raise NotImplementedError

    def _versions(self) -> tuple[bytes, bytes]:
        if self.isClient:
            return self.ourVersionString, self.otherVersionString
        return self.otherVersionString, self.ourVersionString

    def _kexInits(self) -> tuple[bytes, bytes]:
        if self.isClient:
            return self._ourKexInitPayload, self._theirKexInitPayload
        return self._theirKexInitPayload, self._ourKexInitPayload

    def _exchangeHash(self, hostKeyBlob: bytes, middle: list[bytes], shared: int) -> bytes:
        clientVersion, serverVersion = self._versions()
        clientInit, serverInit = self._kexInits()
        parts = _kex.encodedHashParts(
            clientVersion, serverVersion, clientInit, serverInit, hostKeyBlob, middle, shared
        )
        return _kex.exchangeHash(self._kexAlgorithm.hashName, *parts)

    def _keySetup(self, sharedSecret: int, exchangeHash: bytes) -> None:
        """Derive the new keys and send NEWKEYS."""
        self._deriveKeys(sharedSecret, exchangeHash)
        self._sendNewKeys()

    def _deriveKeys(self, sharedSecret: int, exchangeHash: bytes) -> None:
        """The keys of the exchange: ours take effect when we send NEWKEYS, theirs when
        their NEWKEYS comes."""
        negotiated = self._negotiated
        assert negotiated is not None
        if self.sessionID is None:
            self.sessionID = exchangeHash
        hashName = self._kexAlgorithm.hashName

        def derive(letter: bytes, size: int) -> bytes:
            assert self.sessionID is not None
            return _kex.deriveKey(
                hashName, sharedSecret, exchangeHash, letter, self.sessionID, size
            )

        def suite(
            cipher: bytes, mac: bytes | None, iv: bytes, key: bytes, macKey: bytes
        ) -> SuiteKeys:
            spec = CIPHERS[cipher]
            macSize = MACS[mac].size if mac is not None else 0
            return SuiteKeys(
                cipher,
                mac,
                derive(key, spec.keySize),
                derive(iv, max(spec.ivSize, 1)),
                derive(macKey, macSize) if mac is not None else b"",
            )

        clientToServer = suite(negotiated.cipherCS, negotiated.macCS, b"A", b"C", b"E")
        serverToClient = suite(negotiated.cipherSC, negotiated.macSC, b"B", b"D", b"F")
        outgoing, incoming = (
            (clientToServer, serverToClient) if self.isClient else (serverToClient, clientToServer)
        )
        self._pendingKeys = (outgoing, incoming)

    def _sendNewKeys(self) -> None:
        assert self._pendingKeys is not None
        self._write(MSG_NEWKEYS, b"")
        self._writer.setKeys(self._pendingKeys[0])
        if self._strict:
            self._writer.resetSequence()
        self._newKeysSent = True
        self._ourKexInit = None  # services may send again, with the new keys
        held, self._held = self._held, []
        if self._newKeysReceived:
            self._kexFinished()
        for messageType, parts in held:
            self._writeParts(messageType, parts)

    def ssh_NEWKEYS(self, packet: bytes) -> None:
        if self._pendingKeys is None or self._newKeysReceived:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "NEWKEYS before the key exchange ended")
        self._reader.setKeys(self._pendingKeys[1])
        if self._strict:
            self._reader.resetSequence()
        self._newKeysReceived = True
        if self._newKeysSent:
            self._kexFinished()

    def _kexFinished(self) -> None:
        first = self._firstKex
        self._firstKex = False
        self._negotiated = None
        self._pendingKeys = None
        self._ephemeral = None
        self._bytesSinceKex = 0
        self._scheduleRekey()
        if first:
            self._firstKeysReady()

    def _firstKeysReady(self) -> None:
        """The first key exchange is done both ways."""

    def _scheduleRekey(self) -> None:
        if self._rekeyCall is not None and self._rekeyCall.active():
            self._rekeyCall.cancel()
        clock = self.clock
        if clock is None:
            from torsion.internet import reactor as clock
        self._rekeyCall = clock.callLater(self.rekeyInterval, self._rekeyNow)

    def _rekeyNow(self) -> None:
        self._rekeyCall = None
        if not self._disconnected and self._negotiated is None:
            self.sendKexInit()

    def _maybeRekey(self) -> None:
        if (
            not self._disconnected
            and not self._firstKex
            and self._ourKexInit is None
            and self._bytesSinceKex > self.rekeyBytes
        ):
            self.sendKexInit()

    def _checkKexSignature(self, hostKeyBlob: bytes, signature: bytes, exchange: bytes) -> Key:
        negotiated = self._negotiated
        assert negotiated is not None
        try:
            key = Key.fromString(hostKeyBlob, type="blob")
        except BadKeyError as e:
            raise _ProtocolError(DISCONNECT_KEY_EXCHANGE_FAILED, f"bad host key: {e}") from None
        if key.sshType() != _KEY_TYPE.get(negotiated.hostKey):
            raise _ProtocolError(
                DISCONNECT_KEY_EXCHANGE_FAILED, "the host key is not of the negotiated type"
            )
        if getNS(signature)[0] != negotiated.hostKey or not key.verify(signature, exchange):
            raise _ProtocolError(
                DISCONNECT_KEY_EXCHANGE_FAILED, "the host key's signature is wrong"
            )
        return key


def _isKexMessage(number: int) -> bool:
    return number in (MSG_KEXINIT, MSG_NEWKEYS, MSG_DISCONNECT) or 30 <= number <= 49


class SSHServerTransport(SSHTransportBase):
    """The server end: its ``factory`` (an SSHFactory) has the host keys and services."""

    isClient = False
    factory: Any = None

    def _hostKeys(self) -> dict[bytes, Key]:
        """Host keys by host key algorithm (an RSA key serves both rsa-sha2 ones)."""
        keys: dict[bytes, Key] = {}
        for key in self.factory.getPrivateKeys().values():
            for algorithm in _SIGNATURE_ALGORITHMS.get(key.sshType(), []):
                keys.setdefault(algorithm, key)
        return keys

    def _kexInitLists(self) -> _kexinit.KexInit:
        hostKeys = self._hostKeys()
        kex = list(self.supportedKeyExchanges)
        if self._firstKex:
            kex.append(_kexinit.STRICT_SERVER)
        return _kexinit.KexInit(
            kex,
            [alg for alg in self.supportedPublicKeys if alg in hostKeys],
            list(self.supportedCiphers),
            list(self.supportedCiphers),
            list(self.supportedMACs),
            list(self.supportedMACs),
            list(self.supportedCompressions),
            list(self.supportedCompressions),
        )

    def _kexMessage(self, number: int, packet: bytes) -> None:
        algorithm = self._kexAlgorithm
        if isinstance(algorithm, _kex.GroupExchange):
            if number == MSG_KEX_DH_GEX_REQUEST and self._ephemeral is None:
                if len(packet) != 12:
                    raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "a malformed GEX request")
                minimum, preferred, maximum = struct.unpack("!3L", packet)
                if not minimum <= preferred <= maximum:
                    raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "a GEX request out of order")
                prime, generator = _kex.chooseGroup(
                    self.factory.getPrimes(), max(minimum, 2048), preferred, min(maximum, 8192)
                )
                self._ephemeral = (packet, prime, generator)
                self._write(MSG_KEX_DH_GEX_GROUP, MP(prime) + MP(generator))
                return
            if number == MSG_KEX_DH_GEX_INIT and self._ephemeral is not None:
                request, prime, generator = self._ephemeral
                theirPublic, _ = getNS(packet)
                secret, ours = _kex.makeDHEphemeral(prime, generator)
                shared = _kex.dhSharedSecret(prime, secret, theirPublic)
                middle = [request, MP(prime), MP(generator), NS(theirPublic), ours]
                self._reply(MSG_KEX_DH_GEX_REPLY, middle, ours, shared)
                return
        elif number == MSG_KEXDH_INIT and self._ephemeral is None:
            theirPublic, _ = getNS(packet)
            secret, ours = algorithm.makeEphemeral()
            self._ephemeral = secret
            shared = algorithm.sharedSecret(secret, theirPublic)
            if isinstance(algorithm, _kex.DHGroup):
                middle, sent = [NS(theirPublic), ours], ours  # ours is an mpint already
            else:
                middle, sent = [NS(theirPublic), NS(ours)], NS(ours)
            self._reply(MSG_KEXDH_REPLY, middle, sent, shared)
            return
        raise _ProtocolError(
            DISCONNECT_PROTOCOL_ERROR, f"key exchange message {number} out of turn"
        )

    def _reply(self, number: int, middle: list[bytes], ours: bytes, shared: int) -> None:
        assert self._negotiated is not None
        key = self._hostKeys()[self._negotiated.hostKey]
        blob = key.public().blob()
        exchange = self._exchangeHash(blob, middle, shared)
        signature = key.sign(exchange, self._negotiated.hostKey)
        extInfo = self._firstKex and self._negotiated.clientExtInfo
        self._write(number, NS(blob) + ours + NS(signature))
        self._keySetup(shared, exchange)
        if extInfo:
            algorithms = b",".join(self.supportedPublicKeys)
            self._write(MSG_EXT_INFO, _U32.pack(1) + NS(b"server-sig-algs") + NS(algorithms))

    def ssh_SERVICE_REQUEST(self, packet: bytes) -> None:
        name, _ = getNS(packet)
        serviceClass = self.factory.getService(self, name)
        if serviceClass is None:
            self.sendDisconnect(
                DISCONNECT_SERVICE_NOT_AVAILABLE, f"no service {name.decode(errors='replace')}"
            )
            return
        self.sendPacket(MSG_SERVICE_ACCEPT, NS(name))
        self.setService(serviceClass())


class SSHClientTransport(SSHTransportBase):
    """The client end. Override ``verifyHostKey`` (known_hosts) and
    ``connectionSecure`` (start a service with ``requestService``)."""

    isClient = True
    gexSizes = (2048, 3072, 8192)  # min, preferred and max group sizes we ask for

    def __init__(self) -> None:
        super().__init__()
        self._requested: Any = None

    def _kexInitLists(self) -> _kexinit.KexInit:
        kex = list(self.supportedKeyExchanges)
        if self._firstKex:
            kex += [_kexinit.EXT_INFO_CLIENT, _kexinit.STRICT_CLIENT]
        return _kexinit.KexInit(
            kex,
            list(self.supportedPublicKeys),
            list(self.supportedCiphers),
            list(self.supportedCiphers),
            list(self.supportedMACs),
            list(self.supportedMACs),
            list(self.supportedCompressions),
            list(self.supportedCompressions),
        )

    def _kexStarted(self) -> None:
        algorithm = self._kexAlgorithm
        if isinstance(algorithm, _kex.GroupExchange):
            self._ephemeral = None
            self._write(MSG_KEX_DH_GEX_REQUEST, struct.pack("!3L", *self.gexSizes))
            return
        secret, ours = algorithm.makeEphemeral()
        self._ephemeral = (secret, ours)
        self._write(MSG_KEXDH_INIT, ours if isinstance(algorithm, _kex.DHGroup) else NS(ours))

    def _kexMessage(self, number: int, packet: bytes) -> None:
        algorithm = self._kexAlgorithm
        if isinstance(algorithm, _kex.GroupExchange):
            if number == MSG_KEX_DH_GEX_GROUP and self._ephemeral is None:
                prime, generator, _ = getMP(packet, 2)
                assert isinstance(prime, int) and isinstance(generator, int)
                minimum, _, maximum = self.gexSizes
                if not minimum <= prime.bit_length() <= maximum or not 1 < generator < prime - 1:
                    raise _ProtocolError(
                        DISCONNECT_KEY_EXCHANGE_FAILED,
                        f"the server's group has {prime.bit_length()} bits, outside what we asked",
                    )
                secret, ours = _kex.makeDHEphemeral(prime, generator)
                self._ephemeral = (prime, generator, secret, ours)
                self._write(MSG_KEX_DH_GEX_INIT, ours)
                return
            if number == MSG_KEX_DH_GEX_REPLY and self._ephemeral is not None:
                prime, generator, secret, ours = self._ephemeral
                blob, theirPublic, signature, _ = getNS(packet, 3)
                shared = _kex.dhSharedSecret(prime, secret, theirPublic)
                request = struct.pack("!3L", *self.gexSizes)
                middle = [request, MP(prime), MP(generator), ours, NS(theirPublic)]
                self._checkReply(blob, middle, shared, signature)
                return
        elif number == MSG_KEXDH_REPLY and self._ephemeral is not None:
            secret, ours = self._ephemeral
            blob, theirPublic, signature, _ = getNS(packet, 3)
            shared = algorithm.sharedSecret(secret, theirPublic)
            if isinstance(algorithm, _kex.DHGroup):
                middle = [ours, NS(theirPublic)]
            else:
                middle = [NS(ours), NS(theirPublic)]
            self._checkReply(blob, middle, shared, signature)
            return
        raise _ProtocolError(
            DISCONNECT_PROTOCOL_ERROR, f"key exchange message {number} out of turn"
        )

    def _checkReply(self, blob: bytes, middle: list[bytes], shared: int, signature: bytes) -> None:
        exchange = self._exchangeHash(blob, middle, shared)
        self._checkKexSignature(blob, signature, exchange)
        # The server's NEWKEYS (and what follows it) may come before the verdict on its
        # host key: its keys are ready for that, while ours wait for the verdict.
        self._deriveKeys(shared, exchange)
        fingerprint = b":".join(b"%02x" % b for b in hashlib.md5(blob).digest())
        verdict = defer.maybeDeferred(self.verifyHostKey, blob, fingerprint)
        verdict.addCallbacks(self._hostKeyAccepted, self._hostKeyRefused)

    def _hostKeyAccepted(self, _: object) -> None:
        if not self._disconnected:
            self._sendNewKeys()

    def _hostKeyRefused(self, reason: Failure) -> None:
        _log.info("{side}: host key refused: {why}", side=self.logPrefix(), why=reason.value)
        self.sendDisconnect(DISCONNECT_HOST_KEY_NOT_VERIFIABLE, "bad host key")

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Any:
        """Whether to trust the server's host key (its blob): a Deferred, or a value.

        The default refuses every key: a client must check it against something
        (known_hosts, a pinned fingerprint).
        """
        return defer.fail(BadKeyError("no host key verification was set up"))

    def _firstKeysReady(self) -> None:
        self.connectionSecure()

    def connectionSecure(self) -> None:
        """The first key exchange is done: request a service here."""

    def requestService(self, instance: Any) -> None:
        """Ask the server for ``instance.name``; ``instance`` starts when it accepts."""
        self._requested = instance
        self.sendPacket(MSG_SERVICE_REQUEST, NS(instance.name))

    def ssh_SERVICE_ACCEPT(self, packet: bytes) -> None:
        if self._requested is None:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "a service accepted unasked")
        name, _ = getNS(packet) if packet else (b"", b"")
        if name != self._requested.name:
            raise _ProtocolError(DISCONNECT_PROTOCOL_ERROR, "the server accepted another service")
        instance, self._requested = self._requested, None
        self.setService(instance)
