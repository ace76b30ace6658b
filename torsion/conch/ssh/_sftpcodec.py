"""The SFTP version 3 wire format (draft-ietf-secsh-filexfer-02) without I/O: packet
framing with a size limit, file attributes, and the packet, status and flag numbers.

FileTransferServer (torsion.conch.ssh.filetransfer) feeds bytes to a PacketReader
and builds replies with ``packet``. Tests: tests/conch/test_sftpcodec.py.
"""

from __future__ import annotations

import struct
from typing import Any

FXP_INIT = 1
FXP_VERSION = 2
FXP_OPEN = 3
FXP_CLOSE = 4
FXP_READ = 5
FXP_WRITE = 6
FXP_LSTAT = 7
FXP_FSTAT = 8
FXP_SETSTAT = 9
FXP_FSETSTAT = 10
FXP_OPENDIR = 11
FXP_READDIR = 12
FXP_REMOVE = 13
FXP_MKDIR = 14
FXP_RMDIR = 15
FXP_REALPATH = 16
FXP_STAT = 17
FXP_RENAME = 18
FXP_READLINK = 19
FXP_SYMLINK = 20
FXP_STATUS = 101
FXP_HANDLE = 102
FXP_DATA = 103
FXP_NAME = 104
FXP_ATTRS = 105
FXP_EXTENDED = 200
FXP_EXTENDED_REPLY = 201

FX_OK = 0
FX_EOF = 1
FX_NO_SUCH_FILE = 2
FX_PERMISSION_DENIED = 3
FX_FAILURE = 4
FX_BAD_MESSAGE = 5
FX_NO_CONNECTION = 6
FX_CONNECTION_LOST = 7
FX_OP_UNSUPPORTED = 8

FILEXFER_ATTR_SIZE = 0x00000001
FILEXFER_ATTR_UIDGID = 0x00000002
FILEXFER_ATTR_PERMISSIONS = 0x00000004
FILEXFER_ATTR_ACMODTIME = 0x00000008
FILEXFER_ATTR_EXTENDED = 0x80000000

FXF_READ = 0x00000001
FXF_WRITE = 0x00000002
FXF_APPEND = 0x00000004
FXF_CREAT = 0x00000008
FXF_TRUNC = 0x00000010
FXF_EXCL = 0x00000020

VERSION = 3

#: The largest packet accepted, as OpenSSH's sftp-server (256 KiB): a client may
#: write 32 KiB chunks, so this leaves room while bounding what one packet buffers.
MAX_PACKET = 256 * 1024


class SFTPCodecError(Exception):
    """The peer sent something that is not SFTP v3: the connection should end."""


class Reader:
    """Reads the fields of one packet body; running short raises SFTPCodecError."""

    __slots__ = ("data", "offset")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def uint32(self) -> int:
        end = self.offset + 4
        if end > len(self.data):
            raise SFTPCodecError("a packet ended inside a uint32")
        (value,) = struct.unpack_from("!L", self.data, self.offset)
        self.offset = end
        return int(value)

    def uint64(self) -> int:
        end = self.offset + 8
        if end > len(self.data):
            raise SFTPCodecError("a packet ended inside a uint64")
        (value,) = struct.unpack_from("!Q", self.data, self.offset)
        self.offset = end
        return int(value)

    def string(self) -> bytes:
        length = self.uint32()
        end = self.offset + length
        if end > len(self.data):
            raise SFTPCodecError(f"a string of {length} bytes runs past its packet")
        value = self.data[self.offset : end]
        self.offset = end
        return value

    def attrs(self) -> dict[str, Any]:
        return parseAttrs(self)

    def rest(self) -> bytes:
        value = self.data[self.offset :]
        self.offset = len(self.data)
        return value


def string(value: bytes) -> bytes:
    return struct.pack("!L", len(value)) + value


def packetParts(kind: int, *fields: bytes) -> tuple[bytes, ...]:
    """One framed packet as pieces: its length and type, then the already encoded
    fields, for a writer that joins many packets at once (so a READ answer's data
    is copied once on its way out, not once per layer)."""
    length = 1 + sum(len(field) for field in fields)
    return (struct.pack("!LB", length, kind), *fields)


def packet(kind: int, *fields: bytes) -> bytes:
    """One framed packet: length, type, then the already encoded fields."""
    return b"".join(packetParts(kind, *fields))


def status(requestId: int, code: int, message: str) -> bytes:
    return packet(
        FXP_STATUS,
        struct.pack("!LL", requestId, code),
        string(message.encode("utf-8")),
        string(b"en"),
    )


def packAttrs(attrs: dict[str, Any]) -> bytes:
    """Encode attributes named as Twisted's (size, uid, gid, permissions, atime,
    mtime, ext_NAME); a missing name leaves its flag unset."""
    flags = 0
    out = []
    if "size" in attrs:
        flags |= FILEXFER_ATTR_SIZE
        out.append(struct.pack("!Q", attrs["size"]))
    if "uid" in attrs and "gid" in attrs:
        flags |= FILEXFER_ATTR_UIDGID
        out.append(struct.pack("!LL", attrs["uid"], attrs["gid"]))
    if "permissions" in attrs:
        flags |= FILEXFER_ATTR_PERMISSIONS
        out.append(struct.pack("!L", attrs["permissions"]))
    if "atime" in attrs and "mtime" in attrs:
        flags |= FILEXFER_ATTR_ACMODTIME
        out.append(struct.pack("!LL", int(attrs["atime"]), int(attrs["mtime"])))
    extended = [(k[4:], v) for k, v in attrs.items() if k.startswith("ext_")]
    if extended:
        flags |= FILEXFER_ATTR_EXTENDED
        out.append(struct.pack("!L", len(extended)))
        for name, value in extended:
            out.append(string(name.encode("utf-8")) + string(value))
    return struct.pack("!L", flags) + b"".join(out)


def parseAttrs(reader: Reader) -> dict[str, Any]:
    flags = reader.uint32()
    attrs: dict[str, Any] = {}
    if flags & FILEXFER_ATTR_SIZE:
        attrs["size"] = reader.uint64()
    if flags & FILEXFER_ATTR_UIDGID:
        attrs["uid"] = reader.uint32()
        attrs["gid"] = reader.uint32()
    if flags & FILEXFER_ATTR_PERMISSIONS:
        attrs["permissions"] = reader.uint32()
    if flags & FILEXFER_ATTR_ACMODTIME:
        attrs["atime"] = reader.uint32()
        attrs["mtime"] = reader.uint32()
    if flags & FILEXFER_ATTR_EXTENDED:
        count = reader.uint32()
        if count > 64:
            raise SFTPCodecError(f"{count} extended attributes; at most 64 accepted")
        for _ in range(count):
            name = reader.string().decode("utf-8", "replace")
            attrs["ext_" + name] = reader.string()
    return attrs


class PacketReader:
    """Splits a byte stream into (type, body) packets; a packet declared larger than
    ``maxPacket`` raises SFTPCodecError before any of it is buffered past the limit."""

    __slots__ = ("buffer", "maxPacket")

    def __init__(self, maxPacket: int = MAX_PACKET) -> None:
        self.buffer = bytearray()
        self.maxPacket = maxPacket

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buffer = self.buffer
        buffer += data
        packets = []
        offset, size = 0, len(buffer)
        try:
            with memoryview(buffer) as view:  # bodies copied once, out of the buffer
                while size - offset >= 4:
                    (length,) = struct.unpack_from("!L", buffer, offset)
                    if length == 0:
                        raise SFTPCodecError("an empty SFTP packet (length 0)")
                    if length > self.maxPacket:
                        raise SFTPCodecError(
                            f"an SFTP packet of {length} bytes; the limit is {self.maxPacket}"
                        )
                    end = offset + 4 + length
                    if end > size:
                        break
                    packets.append((buffer[offset + 4], bytes(view[offset + 5 : end])))
                    offset = end
        finally:
            del buffer[:offset]  # once per feed, not once per packet
        return packets
