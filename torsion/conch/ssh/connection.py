"""The ssh-connection service (RFC 4254): channels and global requests over one SSH
transport (torsion.conch.ssh.connection).

`SSHConnection` multiplexes channels (`SSHChannel`), each with its own flow control
(see torsion.conch.ssh.channel), and carries global requests (tcpip-forward, ...).
On a server, the channels the client opens come from the logged-in avatar
(``transport.avatar.lookupChannel``) and its global requests go to
``avatar.gotGlobalRequest``; on a client, override ``getChannel`` and
``gotGlobalRequest`` to accept what the server opens. Everything the peer sends is
checked: channel numbers must be ours and open, data must fit the window we
granted, at most ``maxChannels`` channels may be open. A breach disconnects; a
channel's own exception closes only that channel.
Tests: tests/conch/test_connection.py.
"""

from __future__ import annotations

import struct
from typing import Any

from torsion.conch import error
from torsion.conch.ssh import service, transport
from torsion.conch.ssh._packets import Piece
from torsion.conch.ssh.common import NS, SSHDecodeError, getNS
from torsion.internet import defer
from torsion.internet.error import ConnectionLost
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "EXTENDED_DATA_STDERR",
    "OPEN_ADMINISTRATIVELY_PROHIBITED",
    "OPEN_CONNECT_FAILED",
    "OPEN_RESOURCE_SHORTAGE",
    "OPEN_UNKNOWN_CHANNEL_TYPE",
    "SSHConnection",
]

_log = Logger()
_U32 = struct.Struct("!L")
_2U32 = struct.Struct("!LL")

MSG_GLOBAL_REQUEST = 80
MSG_REQUEST_SUCCESS = 81
MSG_REQUEST_FAILURE = 82
MSG_CHANNEL_OPEN = 90
MSG_CHANNEL_OPEN_CONFIRMATION = 91
MSG_CHANNEL_OPEN_FAILURE = 92
MSG_CHANNEL_WINDOW_ADJUST = 93
MSG_CHANNEL_DATA = 94
MSG_CHANNEL_EXTENDED_DATA = 95
MSG_CHANNEL_EOF = 96
MSG_CHANNEL_CLOSE = 97
MSG_CHANNEL_REQUEST = 98
MSG_CHANNEL_SUCCESS = 99
MSG_CHANNEL_FAILURE = 100

OPEN_ADMINISTRATIVELY_PROHIBITED = 1
OPEN_CONNECT_FAILED = 2
OPEN_UNKNOWN_CHANNEL_TYPE = 3
OPEN_RESOURCE_SHORTAGE = 4
EXTENDED_DATA_STDERR = 1


class _Breach(Exception):
    """The peer broke the connection protocol."""


def _channelData(packet: bytes, offset: int) -> bytes:
    """The string at ``offset`` of a CHANNEL_DATA or EXTENDED_DATA packet, cut out with
    one copy (the data path's hottest parse)."""
    if len(packet) < offset + 4:
        raise _Breach("a truncated channel data message")
    (size,) = _U32.unpack_from(packet, offset)
    if size > len(packet) - offset - 4:
        raise _Breach(f"channel data of {size} bytes in a shorter packet")
    return packet[offset + 4 : offset + 4 + size]


class SSHConnection(service.SSHService):
    """Twisted's SSHConnection."""

    name = b"ssh-connection"
    protocolMessages = {
        MSG_GLOBAL_REQUEST: "GLOBAL_REQUEST",
        MSG_REQUEST_SUCCESS: "REQUEST_SUCCESS",
        MSG_REQUEST_FAILURE: "REQUEST_FAILURE",
        MSG_CHANNEL_OPEN: "CHANNEL_OPEN",
        MSG_CHANNEL_OPEN_CONFIRMATION: "CHANNEL_OPEN_CONFIRMATION",
        MSG_CHANNEL_OPEN_FAILURE: "CHANNEL_OPEN_FAILURE",
        MSG_CHANNEL_WINDOW_ADJUST: "CHANNEL_WINDOW_ADJUST",
        MSG_CHANNEL_DATA: "CHANNEL_DATA",
        MSG_CHANNEL_EXTENDED_DATA: "CHANNEL_EXTENDED_DATA",
        MSG_CHANNEL_EOF: "CHANNEL_EOF",
        MSG_CHANNEL_CLOSE: "CHANNEL_CLOSE",
        MSG_CHANNEL_REQUEST: "CHANNEL_REQUEST",
        MSG_CHANNEL_SUCCESS: "CHANNEL_SUCCESS",
        MSG_CHANNEL_FAILURE: "CHANNEL_FAILURE",
    }
    maxChannels = 64

    def __init__(self) -> None:
        self.localChannelID = 0
        self.localToRemoteChannel: dict[int, int] = {}
        self.channels: dict[int, Any] = {}
        self.channelsToRemoteChannel: dict[Any, int] = {}
        self.deferreds: dict[Any, list[defer.Deferred[Any]]] = {"global": []}
        self._corked: dict[Any, list[Piece]] = {}
        self._endedByPeer: set[Any] = set()  # channels the peer sent EOF on

    def serviceStarted(self) -> None:
        avatar = getattr(self.transport, "avatar", None)
        if avatar is not None:
            avatar.conn = self

    def serviceStopped(self) -> None:
        for channel in list(self.channels.values()):
            self.channelClosed(channel)
        for pending in self.deferreds.values():
            for d in pending:
                d.errback(ConnectionLost("the SSH connection was lost"))
        self.deferreds = {"global": []}

    def packetReceived(self, messageNum: int, packet: bytes) -> None:
        try:
            super().packetReceived(messageNum, packet)
        except (_Breach, SSHDecodeError, struct.error) as e:
            self.transport.sendDisconnect(
                transport.DISCONNECT_PROTOCOL_ERROR, str(e) or "bad packet"
            )

    def _channel(self, packet: bytes) -> Any:
        if len(packet) < 4:
            raise _Breach("a truncated channel message")
        (local,) = _U32.unpack_from(packet)
        channel = self.channels.get(local)
        if channel is None:
            raise _Breach(f"a message for channel {local}, which is not open")
        return channel

    # -- global requests -------------------------------------------------------------------

    def ssh_GLOBAL_REQUEST(self, packet: bytes) -> None:
        requestType, rest = getNS(packet)
        wantReply, data = bool(rest[:1] and rest[0]), rest[1:]
        d = defer.maybeDeferred(self.gotGlobalRequest, requestType, data)
        if wantReply:
            d.addCallbacks(self._globalAnswer, self._globalRefused)
        else:
            d.addErrback(self._globalRefused, reply=False)

    def _globalAnswer(self, result: Any) -> None:
        if isinstance(result, tuple):
            accepted, data = result
        else:
            accepted, data = result, b""
        if accepted:
            self.transport.sendPacket(MSG_REQUEST_SUCCESS, data or b"")
        else:
            self.transport.sendPacket(MSG_REQUEST_FAILURE, b"")

    def _globalRefused(self, reason: Failure, reply: bool = True) -> None:
        _log.failure("global request failed", reason)
        if reply:
            self.transport.sendPacket(MSG_REQUEST_FAILURE, b"")

    def gotGlobalRequest(self, requestType: bytes, data: bytes) -> Any:
        """The avatar's answer (servers); false, a refusal, with no avatar (clients)."""
        avatar = getattr(self.transport, "avatar", None)
        if avatar is None:
            return False
        return avatar.gotGlobalRequest(requestType, data)

    def sendGlobalRequest(self, request: bytes, data: bytes, wantReply: bool = False) -> Any:
        """Send a global request; with ``wantReply`` a Deferred of the answer's data,
        failing with ConchError if refused."""
        self.transport.sendPacket(MSG_GLOBAL_REQUEST, NS(request) + bytes((wantReply,)) + data)
        if not wantReply:
            return None
        d: defer.Deferred[bytes] = defer.Deferred()
        self.deferreds["global"].append(d)
        return d

    def ssh_REQUEST_SUCCESS(self, packet: bytes) -> None:
        if not self.deferreds["global"]:
            raise _Breach("an answer to no global request")
        self.deferreds["global"].pop(0).callback(packet)

    def ssh_REQUEST_FAILURE(self, packet: bytes) -> None:
        if not self.deferreds["global"]:
            raise _Breach("an answer to no global request")
        self.deferreds["global"].pop(0).errback(error.ConchError("global request failed", packet))

    # -- opening channels --------------------------------------------------------------------

    def ssh_CHANNEL_OPEN(self, packet: bytes) -> None:
        channelType, rest = getNS(packet)
        if len(rest) < 12:
            raise _Breach("a truncated CHANNEL_OPEN")
        senderChannel, windowSize, maxPacket = struct.unpack_from("!3L", rest)
        data = rest[12:]
        if len(self.channels) >= self.maxChannels:
            self._refuseOpen(senderChannel, OPEN_RESOURCE_SHORTAGE, "too many channels")
            return
        d = defer.maybeDeferred(self.getChannel, channelType, windowSize, maxPacket, data)
        d.addCallbacks(
            self._opened,
            self._openRefused,
            callbackArgs=(senderChannel, windowSize, maxPacket),
            errbackArgs=(senderChannel,),
        )

    def _opened(self, channel: Any, senderChannel: int, windowSize: int, maxPacket: int) -> None:
        if channel is None:
            self._refuseOpen(senderChannel, OPEN_UNKNOWN_CHANNEL_TYPE, "unknown channel")
            return
        localChannel = self.localChannelID
        self.localChannelID += 1
        channel.id = localChannel
        channel.conn = self
        channel.remoteWindowLeft = windowSize
        channel.remoteMaxPacket = maxPacket
        self.channels[localChannel] = channel
        self.channelsToRemoteChannel[channel] = senderChannel
        self.localToRemoteChannel[localChannel] = senderChannel
        self.transport.sendPacket(
            MSG_CHANNEL_OPEN_CONFIRMATION,
            struct.pack(
                "!4L", senderChannel, localChannel, channel.localWindowSize, channel.localMaxPacket
            )
            + channel.specificData,
        )
        self._call(channel, "channelOpen", b"")

    def _openRefused(self, reason: Failure, senderChannel: int) -> None:
        refusal = reason.value
        if isinstance(refusal, error.ConchError):
            code, text = refusal.value, refusal.data
            if not isinstance(code, int):
                code, text = OPEN_CONNECT_FAILED, str(code)
        else:
            _log.failure("could not open a channel", reason)
            code, text = OPEN_CONNECT_FAILED, "unknown failure"
        self._refuseOpen(senderChannel, code, str(text or ""))

    def _refuseOpen(self, senderChannel: int, code: int, text: str) -> None:
        self.transport.sendPacket(
            MSG_CHANNEL_OPEN_FAILURE, _2U32.pack(senderChannel, code) + NS(text) + NS(b"")
        )

    def getChannel(self, channelType: bytes, windowSize: int, maxPacket: int, data: bytes) -> Any:
        """The channel for a CHANNEL_OPEN from the peer: the avatar's (servers)."""
        avatar = getattr(self.transport, "avatar", None)
        if avatar is None:
            raise error.ConchError(OPEN_UNKNOWN_CHANNEL_TYPE, "unknown channel")
        return avatar.lookupChannel(channelType, windowSize, maxPacket, data)

    def openChannel(self, channel: Any, extra: bytes = b"") -> None:
        """Ask the peer to open ``channel``; ``channelOpen`` or ``openFailed`` follows."""
        localChannel = self.localChannelID
        self.localChannelID += 1
        channel.id = localChannel
        channel.conn = self
        self.channels[localChannel] = channel
        self.transport.sendPacket(
            MSG_CHANNEL_OPEN,
            NS(channel.name)
            + struct.pack("!3L", localChannel, channel.localWindowSize, channel.localMaxPacket)
            + extra,
        )

    def ssh_CHANNEL_OPEN_CONFIRMATION(self, packet: bytes) -> None:
        channel = self._channel(packet)
        if channel in self.channelsToRemoteChannel:
            raise _Breach("a channel confirmed twice")
        if len(packet) < 16:
            raise _Breach("a truncated CHANNEL_OPEN_CONFIRMATION")
        _, remoteChannel, windowSize, maxPacket = struct.unpack_from("!4L", packet)
        channel.remoteWindowLeft = windowSize
        channel.remoteMaxPacket = maxPacket
        self.channelsToRemoteChannel[channel] = remoteChannel
        self.localToRemoteChannel[channel.id] = remoteChannel
        self._call(channel, "channelOpen", packet[16:])

    def ssh_CHANNEL_OPEN_FAILURE(self, packet: bytes) -> None:
        channel = self._channel(packet)
        if channel in self.channelsToRemoteChannel:
            raise _Breach("an open channel refused")
        (code,) = _U32.unpack_from(packet, 4)
        text, _ = getNS(packet[8:])
        del self.channels[channel.id]
        self._call(channel, "openFailed", error.ConchError(text.decode("utf-8", "replace"), code))

    # -- data and flow control ---------------------------------------------------------------

    def ssh_CHANNEL_WINDOW_ADJUST(self, packet: bytes) -> None:
        channel = self._channel(packet)
        (size,) = _U32.unpack_from(packet, 4)
        if channel.remoteWindowLeft + size > 2**32 - 1:
            raise _Breach("a window adjusted past 2**32 - 1")
        self._call(channel, "addWindowBytes", size)

    def _received(self, channel: Any, size: int) -> None:
        if channel in self._endedByPeer:
            # RFC 4254 5.3: no more data after EOF (OpenSSH disconnects too).
            raise _Breach(f"data after EOF on channel {channel.id}")
        if size > channel.localWindowLeft:
            raise _Breach(
                f"{size} bytes sent on a channel whose window had {channel.localWindowLeft}"
            )
        channel.localWindowLeft -= size

    def ssh_CHANNEL_DATA(self, packet: bytes) -> None:
        channel = self._channel(packet)
        data = _channelData(packet, 4)
        self._received(channel, len(data))
        if self._call(channel, "dataReceived", data):
            channel._consumed(len(data))

    def ssh_CHANNEL_EXTENDED_DATA(self, packet: bytes) -> None:
        channel = self._channel(packet)
        (dataType,) = _U32.unpack_from(packet, 4)
        data = _channelData(packet, 8)
        self._received(channel, len(data))
        if self._call(channel, "extReceived", dataType, data):
            channel._consumed(len(data))

    def adjustWindow(self, channel: Any, bytesToAdd: int) -> None:
        """Grant the peer ``bytesToAdd`` more bytes on ``channel`` (the channel calls this)."""
        if channel in self.channelsToRemoteChannel and not channel.localClosed:
            self.transport.sendPacket(
                MSG_CHANNEL_WINDOW_ADJUST,
                _2U32.pack(self.channelsToRemoteChannel[channel], bytesToAdd),
            )

    def sendData(self, channel: Any, data: bytes) -> None:
        """Send ``data`` (already within the peer's window and maximum packet).

        While the transport dispatches a batch of received packets (it is "corked"),
        data is gathered per channel and sent when the batch is done, in packets as
        full as the peer allows: an SFTP server answering a run of requests then
        sends a few full packets instead of a full one and a runt per answer. Any
        other message for the channel sends what was gathered first, so the order
        on the channel is kept.
        """
        if channel.localClosed:
            return
        if not isinstance(data, bytes) and not (isinstance(data, memoryview) and data.readonly):
            data = bytes(data)  # a buffer the caller may change before it is sent
        if getattr(self.transport, "corked", False):
            pending = self._corked.get(channel)
            if pending is None:
                self._corked[channel] = [data]
            else:
                pending.append(data)
            return
        self._sendData(channel, (data,), len(data))

    def _sendData(self, channel: Any, parts: tuple[Piece, ...], size: int) -> None:
        header = _2U32.pack(self.channelsToRemoteChannel[channel], size)
        sendParts = getattr(self.transport, "sendPacketParts", None)
        if sendParts is None:  # a transport of Twisted's interface only
            self.transport.sendPacket(MSG_CHANNEL_DATA, b"".join((header, *parts)))
        else:
            sendParts(MSG_CHANNEL_DATA, (header, *parts))

    def _flush(self, channel: Any) -> None:
        """Send what ``channel`` gathered while corked, in packets of the peer's
        maximum, cut from the gathered pieces without copying them."""
        pending = self._corked.pop(channel, None)
        if pending is None or channel.localClosed:
            return
        step = max(channel.remoteMaxPacket, 1)
        packet: list[Piece] = []
        room = step
        for piece in pending:
            while piece:
                if len(piece) < room:
                    packet.append(piece)
                    room -= len(piece)
                    break
                view = memoryview(piece)
                packet.append(view[:room])
                self._sendData(channel, tuple(packet), step)
                piece, packet, room = view[room:], [], step
        if packet:
            self._sendData(channel, tuple(packet), step - room)

    def uncork(self) -> None:
        """The transport's batch is done: send every channel's gathered data."""
        while self._corked:
            self._flush(next(iter(self._corked)))

    def sendExtendedData(self, channel: Any, dataType: int, data: bytes) -> None:
        self._flush(channel)
        if channel.localClosed:
            return
        self.transport.sendPacket(
            MSG_CHANNEL_EXTENDED_DATA,
            _2U32.pack(self.channelsToRemoteChannel[channel], dataType) + NS(data),
        )

    # -- requests, EOF, close ----------------------------------------------------------------

    def ssh_CHANNEL_REQUEST(self, packet: bytes) -> None:
        channel = self._channel(packet)
        requestType, rest = getNS(packet[4:])
        wantReply, data = bool(rest[:1] and rest[0]), rest[1:]
        d = defer.maybeDeferred(channel.requestReceived, requestType, data)
        if wantReply:
            d.addCallbacks(
                self._requestAnswered,
                self._requestFailed,
                callbackArgs=(channel,),
                errbackArgs=(channel,),
            )
        else:
            d.addErrback(self._requestFailed, channel, reply=False)

    def _requestAnswered(self, accepted: Any, channel: Any) -> None:
        if channel.localClosed or channel not in self.channelsToRemoteChannel:
            return
        number = MSG_CHANNEL_SUCCESS if accepted else MSG_CHANNEL_FAILURE
        self.transport.sendPacket(number, _U32.pack(self.channelsToRemoteChannel[channel]))

    def _requestFailed(self, reason: Failure, channel: Any, reply: bool = True) -> None:
        _log.failure("{channel}: a channel request failed", reason, channel=channel)
        if reply:
            self._requestAnswered(False, channel)

    def sendRequest(
        self, channel: Any, requestType: bytes, data: bytes, wantReply: bool = False
    ) -> Any:
        """Send a channel request; with ``wantReply`` a Deferred that fires when the
        peer accepts it and fails with ConchError when it refuses."""
        if channel.localClosed:
            return None
        self._flush(channel)
        self.transport.sendPacket(
            MSG_CHANNEL_REQUEST,
            _U32.pack(self.channelsToRemoteChannel[channel])
            + NS(requestType)
            + bytes((wantReply,))
            + data,
        )
        if not wantReply:
            return None
        d: defer.Deferred[Any] = defer.Deferred()
        self.deferreds.setdefault(channel.id, []).append(d)
        return d

    def _answer(self, packet: bytes, accepted: bool) -> None:
        channel = self._channel(packet)
        waiting = self.deferreds.get(channel.id)
        if not waiting:
            raise _Breach("an answer to no channel request")
        d = waiting.pop(0)
        if accepted:
            d.callback(True)
        else:
            d.errback(error.ConchError("channel request failed"))

    def ssh_CHANNEL_SUCCESS(self, packet: bytes) -> None:
        self._answer(packet, True)

    def ssh_CHANNEL_FAILURE(self, packet: bytes) -> None:
        self._answer(packet, False)

    def sendEOF(self, channel: Any) -> None:
        self._flush(channel)
        if channel.localClosed:
            return
        self.transport.sendPacket(MSG_CHANNEL_EOF, _U32.pack(self.channelsToRemoteChannel[channel]))

    def ssh_CHANNEL_EOF(self, packet: bytes) -> None:
        channel = self._channel(packet)
        self._endedByPeer.add(channel)
        self._call(channel, "eofReceived")

    def sendClose(self, channel: Any) -> None:
        self._flush(channel)
        if channel.localClosed or channel not in self.channelsToRemoteChannel:
            return
        self.transport.sendPacket(
            MSG_CHANNEL_CLOSE, _U32.pack(self.channelsToRemoteChannel[channel])
        )
        channel.localClosed = True
        if channel.remoteClosed:
            self.channelClosed(channel)

    def ssh_CHANNEL_CLOSE(self, packet: bytes) -> None:
        channel = self._channel(packet)
        channel.remoteClosed = True
        self._call(channel, "closeReceived")
        if channel.localClosed and channel.id in self.channels:
            self.channelClosed(channel)

    def channelClosed(self, channel: Any) -> None:
        """``channel`` is closed both ways (or the connection is gone): forget it."""
        channel.localClosed = channel.remoteClosed = True
        self._corked.pop(channel, None)
        self._endedByPeer.discard(channel)
        self.channels.pop(channel.id, None)
        self.channelsToRemoteChannel.pop(channel, None)
        self.localToRemoteChannel.pop(channel.id, None)
        for d in self.deferreds.pop(channel.id, []):
            d.errback(error.ConchError("channel closed"))
        self._call(channel, "closed")

    def _call(self, channel: Any, method: str, *args: Any) -> bool:
        """Call a channel's event method; its exception closes only that channel."""
        try:
            getattr(channel, method)(*args)
        except Exception:
            _log.failure(
                "{channel}: {method} failed; closing the channel", channel=channel, method=method
            )
            if channel.id in self.channels and method != "closed":
                if channel in self.channelsToRemoteChannel:
                    self.sendClose(channel)
                    if not channel.remoteClosed:
                        return False
                self.channelClosed(channel)
            return False
        return True
