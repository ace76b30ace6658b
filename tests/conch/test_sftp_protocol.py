"""FileTransferServer and FileTransferClient without sockets (StringTransport): the
server's flow control (paused, it answers nothing and asks its transport to stop
reading), malformed requests answered with FX_BAD_MESSAGE while the session goes
on, a client's errors (answers to unknown requests, unknown reply types, a lost
connection), and AsUser's switch of identity and its restoration.
Code: torsion/conch/ssh/filetransfer.py, _sftpclient.py, torsion/conch/_sftpunix.py."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conch import sftphelpers
from tests.conch.sftphelpers import Account
from torsion.conch import _sftpunix
from torsion.conch._sftpunix import AsUser, UserSFTPServer
from torsion.conch.ssh import _sftpcodec as codec
from torsion.conch.ssh.filetransfer import (
    REPLY_BATCH,
    FilesystemSFTPServer,
    FileTransferClient,
    FileTransferServer,
    SFTPError,
)
from torsion.internet import error
from torsion.internet.testing import StringTransport

account = sftphelpers.account


def served(root: Path) -> tuple[FileTransferServer, StringTransport]:
    server = FileTransferServer(avatar=FilesystemSFTPServer(root))
    wire = StringTransport()
    server.makeConnection(wire)
    server.dataReceived(codec.packet(codec.FXP_INIT, struct.pack("!L", 3)))
    assert wire.value()[4] == codec.FXP_VERSION
    wire.clear()
    return server, wire


def replies(wire: StringTransport) -> list[tuple[int, bytes]]:
    found = codec.PacketReader().feed(wire.value())
    wire.clear()
    return found


def request(kind: int, requestId: int, *fields: bytes) -> bytes:
    return codec.packet(kind, struct.pack("!L", requestId), *fields)


def test_aPausedServerAnswersNothingUntilResumed(tmp_path: Path) -> None:
    server, wire = served(tmp_path)
    server.pauseProducing()
    assert wire.producerState == "paused"  # no more window for the client meanwhile
    server.dataReceived(
        b"".join(request(codec.FXP_REALPATH, n, codec.string(b".")) for n in range(5))
    )
    assert wire.value() == b"" and len(server.pending) == 5
    server.resumeProducing()
    assert wire.producerState == "producing"
    answered = replies(wire)
    assert [kind for kind, _ in answered] == [codec.FXP_NAME] * 5
    assert [struct.unpack_from("!L", body)[0] for _, body in answered] == list(range(5))


def test_pausingInTheMiddleOfABatchStopsThere(tmp_path: Path) -> None:
    """The window fills while answering: the rest of what came waits."""
    server, wire = served(tmp_path)
    calls = []

    def realPath(path: bytes) -> bytes:
        calls.append(path)
        if len(calls) == 2:
            server.pauseProducing()
        return b"/"

    server.client.realPath = realPath
    server.dataReceived(
        b"".join(request(codec.FXP_REALPATH, n, codec.string(b"x")) for n in range(4))
    )
    assert len(calls) == 2 and len(replies(wire)) == 2 and len(server.pending) == 2
    server.resumeProducing()
    assert len(calls) == 4 and len(replies(wire)) == 2


def test_malformedRequestsGetBadMessageAndTheSessionGoesOn(tmp_path: Path) -> None:
    server, wire = served(tmp_path)
    server.dataReceived(request(codec.FXP_READ, 7, b"\0\0\0\x09ab"))  # a string cut short
    server.dataReceived(request(99, 8))  # no such request type
    server.dataReceived(request(codec.FXP_REALPATH, 9, codec.string(b"a/..")))
    (bad, unsupported, name) = replies(wire)
    assert bad[0] == codec.FXP_STATUS and struct.unpack_from("!LL", bad[1]) == (
        7,
        codec.FX_BAD_MESSAGE,
    )
    assert struct.unpack_from("!LL", unsupported[1]) == (8, codec.FX_OP_UNSUPPORTED)
    assert name[0] == codec.FXP_NAME and not wire.disconnecting


def test_anOversizePacketEndsTheSession(tmp_path: Path) -> None:
    server, wire = served(tmp_path)
    server.dataReceived(struct.pack("!L", codec.MAX_PACKET + 1) + b"\x05")
    assert wire.disconnecting


def client() -> tuple[FileTransferClient, StringTransport]:
    made = FileTransferClient({b"hello@example.com": b"1"})
    wire = StringTransport()
    made.makeConnection(wire)
    (init,) = replies(wire)
    assert init == (
        codec.FXP_INIT,
        struct.pack("!L", 3) + codec.string(b"hello@example.com") + codec.string(b"1"),
    )
    return made, wire


def answer(made: FileTransferClient, kind: int, *fields: bytes) -> None:
    made.dataReceived(codec.packet(kind, *fields))


def test_theClientAgainstOurServerInMemory(tmp_path: Path) -> None:
    server, serverWire = served(tmp_path)
    made, clientWire = client()
    answer(made, codec.FXP_VERSION, struct.pack("!L", 3), codec.string(b"x@y") + codec.string(b"2"))
    assert made.serverExtensions == {b"x@y": b"2"}
    results: list[Any] = []
    made.makeDirectory(b"/d", {}).addCallback(results.append)
    made.realPath(b"/d/../d").addCallback(results.append)
    made.removeDirectory(b"/nothere").addErrback(lambda f: results.append(f.value))
    server.dataReceived(clientWire.value())
    clientWire.clear()
    made.dataReceived(serverWire.value())
    assert results[:2] == [None, b"/d"] and (tmp_path / "d").is_dir()
    assert isinstance(results[2], SFTPError) and results[2].code == codec.FX_NO_SUCH_FILE


def test_theClientRefusesAnswersItDidNotAskFor() -> None:
    made, wire = client()
    pending: list[Any] = []
    made.realPath(b".").addErrback(pending.append)
    answer(
        made,
        codec.FXP_STATUS,
        struct.pack("!LL", 999, codec.FX_OK),
        codec.string(b""),
        codec.string(b""),
    )
    assert wire.disconnecting
    assert isinstance(pending[0].value, codec.SFTPCodecError)
    failed: list[Any] = []
    made.removeFile(b"x").addErrback(failed.append)  # after the end: fails at once
    assert failed


def test_theClientFailsAnUnknownReplyAndGoesOn() -> None:
    made, wire = client()
    outcomes: list[Any] = []
    made.getAttrs(b"a").addErrback(lambda f: outcomes.append(f.value))
    made.realPath(b"b").addCallback(outcomes.append)
    answer(made, 150, struct.pack("!L", 1))
    answer(
        made,
        codec.FXP_NAME,
        struct.pack("!LL", 2, 1),
        codec.string(b"/b"),
        codec.string(b"/b"),
        codec.packAttrs({}),
    )
    assert isinstance(outcomes[0], SFTPError) and outcomes[0].code == codec.FX_BAD_MESSAGE
    assert outcomes[1] == b"/b" and not wire.disconnecting


def test_aLostConnectionFailsWhatWaits() -> None:
    made, _ = client()
    waiting: list[Any] = []
    made.whenReady().addErrback(waiting.append)
    made.openFile(b"f", codec.FXF_READ, {}).addErrback(waiting.append)
    made.connectionLost(error.ConnectionDone())
    assert len(waiting) == 2 and all(f.check(error.ConnectionLost) for f in waiting)


def test_asUserSwitchesAndRestores(account: Account, tmp_path: Path) -> None:
    """The user's rights inside the call (a root-only directory is closed to it);
    root's before and after, also when the call fails."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    asUser = AsUser(account.uid, account.uid, [account.uid])

    def tryRootOnly() -> str:
        try:
            (private / "x").write_text("x")
        except PermissionError:
            return "refused"
        return "written"

    assert asUser(tryRootOnly) == "refused"
    assert tryRootOnly() == "written"
    with pytest.raises(PermissionError):
        asUser(lambda: (private / "x").read_text())
    assert (private / "x").read_text() == "x"
    assert os.geteuid() == 0 and os.getegid() == 0 and account.uid not in os.getgroups()


@pytest.mark.skipif(_sftpunix._FSID is None, reason="per-thread file system ids are Linux's")
def test_asUserLeavesOtherThreadsRoot(account: Account, tmp_path: Path) -> None:
    """While one thread acts as the user, another (started before) keeps root's."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    outcome: list[str] = []
    go = threading.Event()

    def meanwhile() -> None:
        go.wait(10)
        (private / "other").write_text("root's thread")
        outcome.append("written")

    thread = threading.Thread(target=meanwhile)
    thread.start()

    def asTheUser() -> int:
        go.set()
        thread.join(10)
        made = account.home / "by-user"
        made.write_text("mine")
        return made.stat().st_uid

    assert AsUser(account.uid, account.uid, [account.uid])(asTheUser) == account.uid
    assert outcome == ["written"] and (private / "other").stat().st_uid == 0
    (account.home / "by-user").unlink()


def test_aUserServerActsWithTheUsersRights(account: Account) -> None:
    files = UserSFTPServer(str(account.home), AsUser(account.uid, account.uid, [account.uid]))
    made = files.openFile(b"mine", codec.FXF_WRITE | codec.FXF_CREAT, {})
    made.writeChunk(0, b"data")
    assert made.getAttrs()["uid"] == account.uid
    made.close()
    (account.home / "theirs").write_text("root's")
    (account.home / "theirs").chmod(0o600)
    try:
        with pytest.raises(PermissionError):
            files.openFile(b"theirs", codec.FXF_READ, {})
        with pytest.raises(PermissionError):
            files.setAttrs(b"theirs", {"permissions": 0o666})
        names = sorted(entry[0] for entry in files.openDirectory(b"/"))
        assert b"mine" in names and b"theirs" in names
    finally:
        (account.home / "theirs").unlink()
        (account.home / "mine").unlink()


def test_answersAreWrittenInBatches(tmp_path: Path) -> None:
    """Eight 32 KiB READ answers in two writes of four: cut into 32 KiB SSH packets,
    that is 9 packets, not 16 (a full one and a 13-byte one per answer)."""
    (tmp_path / "f").write_bytes(os.urandom(8 * 32768))
    server, wire = served(tmp_path)
    server.dataReceived(
        request(
            codec.FXP_OPEN,
            1,
            codec.string(b"f"),
            struct.pack("!L", codec.FXF_READ),
            codec.packAttrs({}),
        )
    )
    ((_, body),) = replies(wire)
    handle = codec.Reader(body[4:]).string()
    writes: list[int] = []
    realWrite = wire.write

    def counted(data: bytes) -> None:
        writes.append(len(data))
        realWrite(data)

    wire.write = counted  # type: ignore[method-assign]
    reads = [
        request(codec.FXP_READ, 10 + n, codec.string(handle), struct.pack("!QL", n * 32768, 32768))
        for n in range(8)
    ]
    server.dataReceived(b"".join(reads))
    assert len(writes) == 2 and all(size >= REPLY_BATCH for size in writes)
    answers = replies(wire)
    assert [kind for kind, _ in answers] == [codec.FXP_DATA] * 8
    data = b"".join(codec.Reader(body[4:]).string() for _, body in answers)
    assert data == (tmp_path / "f").read_bytes()


class LaterFile:
    """An ISFTPFile whose reads and writes answer later, through Deferreds."""

    def __init__(self) -> None:
        self.waiting: list[Any] = []
        self.written: list[tuple[int, bytes]] = []

    def readChunk(self, offset: int, length: int) -> Any:
        from torsion.internet.defer import Deferred

        d: Deferred[bytes] = Deferred()
        self.waiting.append(d)
        return d

    def writeChunk(self, offset: int, data: bytes) -> Any:
        from torsion.internet.defer import Deferred

        d: Deferred[None] = Deferred()
        self.waiting.append(d)
        self.written.append((offset, data))
        return d

    def close(self) -> None:
        pass


def test_filesMayAnswerLaterThroughDeferreds(tmp_path: Path) -> None:
    # Plain values are answered at once; a Deferred is answered when it fires, and
    # its failure is the request's error status.
    server, wire = served(tmp_path)
    opened = LaterFile()
    server.openFiles[b"h"] = opened
    server.dataReceived(
        request(codec.FXP_READ, 1, codec.string(b"h"), struct.pack("!QL", 0, 10))
        + request(codec.FXP_WRITE, 2, codec.string(b"h"), struct.pack("!Q", 5), codec.string(b"xy"))
        + request(codec.FXP_READ, 3, codec.string(b"h"), struct.pack("!QL", 0, 10))
    )
    assert replies(wire) == [] and opened.written == [(5, b"xy")]
    first, written, third = opened.waiting
    written.callback(None)
    third.errback(SFTPError(codec.FX_PERMISSION_DENIED, "no"))
    first.callback(b"0123456789")
    (okKind, okBody), (errKind, errBody), (dataKind, dataBody) = replies(wire)
    assert (okKind, struct.unpack("!LL", okBody[:8])) == (codec.FXP_STATUS, (2, codec.FX_OK))
    assert (errKind, struct.unpack("!LL", errBody[:8])) == (
        codec.FXP_STATUS,
        (3, codec.FX_PERMISSION_DENIED),
    )
    assert dataKind == codec.FXP_DATA and dataBody == struct.pack("!L", 1) + codec.string(
        b"0123456789"
    )


def test_aFileThatRaisesGetsAnErrorStatusAndTheSessionGoesOn(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"fine")
    server, wire = served(tmp_path)

    class Broken(LaterFile):
        def readChunk(self, offset: int, length: int) -> Any:
            raise PermissionError(13, "denied")

    server.openFiles[b"h"] = Broken()
    server.dataReceived(request(codec.FXP_READ, 7, codec.string(b"h"), struct.pack("!QL", 0, 4)))
    ((kind, body),) = replies(wire)
    assert (kind, struct.unpack("!LL", body[:8])) == (
        codec.FXP_STATUS,
        (7, codec.FX_PERMISSION_DENIED),
    )
    server.dataReceived(request(codec.FXP_STAT, 8, codec.string(b"f")))
    ((kind, _),) = replies(wire)
    assert kind == codec.FXP_ATTRS


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        (SFTPError(codec.FX_BAD_MESSAGE, "odd"), codec.FX_BAD_MESSAGE),
        (FileNotFoundError(2, "No such file"), codec.FX_NO_SUCH_FILE),
        (PermissionError(13, "Permission denied"), codec.FX_PERMISSION_DENIED),
        (OSError(40, "Too many levels of symbolic links"), codec.FX_PERMISSION_DENIED),
        (EOFError(), codec.FX_EOF),
        (NotImplementedError(), codec.FX_OP_UNSUPPORTED),
        (OSError(28, "No space left on device"), codec.FX_FAILURE),
        (ValueError("a bug"), codec.FX_FAILURE),
    ],
)
def test_errorCodeMapsExceptionsToStatuses(problem: BaseException, code: int) -> None:
    from torsion.conch.ssh.filetransfer import errorCode

    assert errorCode(problem)[0] == code
