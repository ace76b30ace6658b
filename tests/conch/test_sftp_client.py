"""FileTransferClient against three servers: OpenSSH's sftp-server (a child process
on stdio), torsion's own over stdio (sftpstdio), and torsion's over SSH (the
`torsiond conch` factory, reached with torsion's SSH client), and OpenSSH's
sftp-server through OpenSSH's sshd. The same session of
requests runs against each, with the errors a server gives. Also: a client that
stops reading its socket while downloading makes the server hold back (its
buffered bytes stay under the window), then gets the whole file.
Code: torsion/conch/ssh/_sftpclient.py, filetransfer.py."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conch import sftphelpers, test_sshtransport_openssh
from tests.conch.sftphelpers import (
    SFTP_SERVER,
    Account,
    ConchServer,
    PinnedClient,
    logIn,
    spawnSFTP,
)
from tests.conch.sshhelpers import needsSSHD
from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil, runUntilFired
from torsion.conch.ssh import _sftpcodec as codec
from torsion.conch.ssh import filetransfer
from torsion.conch.ssh.filetransfer import FileTransferClient, SFTPError
from torsion.internet import defer

oneReactor = reactormixins.oneReactor
account = sftphelpers.account
sshd = test_sshtransport_openssh.sshd
needsSFTPServer = pytest.mark.skipif(
    SFTP_SERVER is None, reason="OpenSSH's sftp-server (openssh-sftp-server) is missing"
)
WRITE = codec.FXF_WRITE | codec.FXF_CREAT | codec.FXF_TRUNC


async def _expectError(d: Any, kind: type[BaseException]) -> BaseException:
    try:
        await d
    except kind as e:
        return e
    raise AssertionError(f"expected {kind.__name__}")


async def session(client: FileTransferClient, base: str, disk: Path, linksAllowed: bool) -> None:
    """Every request of the client API against a server whose ``base`` (its name for
    the directory ``disk``) is empty."""
    assert await client.whenReady() == 3

    def at(name: str) -> bytes:
        return f"{base.rstrip('/')}/{name}".encode()

    payload = os.urandom(300_000)
    opened = await client.openFile(at("a.bin"), WRITE, {"permissions": 0o600})
    step = 32768
    # Pipelined writes, then one wait: what a transfer does.
    await defer.gatherResults(
        [opened.writeChunk(o, payload[o : o + step]) for o in range(0, len(payload), step)]
    )
    assert (await opened.getAttrs())["size"] == len(payload)
    await opened.setAttrs({"permissions": 0o640})
    await opened.close()
    assert (disk / "a.bin").read_bytes() == payload
    assert (disk / "a.bin").stat().st_mode & 0o777 == 0o640

    reading = await client.openFile(at("a.bin"), codec.FXF_READ, {})
    got = bytearray()
    while True:
        try:
            got += await reading.readChunk(len(got), 65536)
        except EOFError:
            break
    assert bytes(got) == payload
    await _expectError(reading.readChunk(len(payload) + 10, 10), EOFError)
    await reading.close()

    await client.makeDirectory(at("d"), {"permissions": 0o755})
    await client.renameFile(at("a.bin"), at("d/b.bin"))
    refused = await _expectError(client.renameFile(at("nothere"), at("x")), SFTPError)
    assert refused.code == codec.FX_NO_SUCH_FILE  # type: ignore[attr-defined]
    attrs = await client.getAttrs(at("d/b.bin"))
    assert attrs["size"] == len(payload)
    await client.setAttrs(at("d/b.bin"), {"permissions": 0o600})
    assert (disk / "d" / "b.bin").stat().st_mode & 0o777 == 0o600

    directory = await client.openDirectory(at("d"))
    names = [entry[0] async for entry in directory]
    await directory.close()
    assert b"b.bin" in names

    assert await client.realPath(at("d/../d/./b.bin")) == at("d/b.bin")
    missing = await _expectError(client.openFile(at("none"), codec.FXF_READ, {}), SFTPError)
    assert missing.code == codec.FX_NO_SUCH_FILE  # type: ignore[attr-defined]
    notEmpty = await _expectError(client.removeDirectory(at("d")), SFTPError)
    assert notEmpty.code != codec.FX_OK  # type: ignore[attr-defined]

    if linksAllowed:
        await client.makeLink(at("link"), b"d/b.bin")
        assert os.readlink(disk / "link") == "d/b.bin"
        assert await client.readLink(at("link")) == b"d/b.bin"
        await client.removeFile(at("link"))
    else:
        os.symlink("d/b.bin", disk / "link")
        assert await client.readLink(at("link")) == b"d/b.bin"
        made = await _expectError(client.makeLink(at("other"), b"/etc"), SFTPError)
        assert made.code == codec.FX_OP_UNSUPPORTED  # type: ignore[attr-defined]
        os.unlink(disk / "link")

    # OpenSSH's extensions: df, and a rename that replaces.
    assert b"statvfs@openssh.com" in client.serverExtensions
    reply = await client.extendedRequest(b"statvfs@openssh.com", codec.string(at("")))
    assert reply is not None and len(reply) == 11 * 8  # eleven uint64 fields
    blockSize, _, blocks = struct.unpack_from("!3Q", reply)
    assert blockSize == os.statvfs(disk).f_bsize and blocks == os.statvfs(disk).f_blocks
    (disk / "d" / "old.txt").write_text("old")
    (disk / "d" / "new.txt").write_text("new")
    replace = codec.string(at("d/new.txt")) + codec.string(at("d/old.txt"))
    assert await client.extendedRequest(b"posix-rename@openssh.com", replace) is None
    assert (disk / "d" / "old.txt").read_text() == "new" and not (disk / "d" / "new.txt").exists()
    (disk / "d" / "old.txt").unlink()
    ext = await _expectError(client.extendedRequest(b"x@example.com", b""), SFTPError)
    assert ext.code == codec.FX_OP_UNSUPPORTED  # type: ignore[attr-defined]

    await client.removeFile(at("d/b.bin"))
    await client.removeDirectory(at("d"))
    assert list(disk.iterdir()) == []


def _run(reactor: Any, coroutine: Any, timeout: float = 20) -> None:
    runUntilFired(reactor, defer.ensureDeferred(coroutine), timeout=timeout)


@needsSFTPServer
def test_againstOpenSSHsSftpServer(oneReactor: Any, tmp_path: Path) -> None:
    assert SFTP_SERVER is not None
    client, carrier = spawnSFTP(oneReactor, [SFTP_SERVER, "-e"])
    _run(oneReactor, session(client, str(tmp_path), tmp_path, linksAllowed=True))
    carrier.transport.closeStdin()
    runUntilFired(oneReactor, carrier.ended)
    # Requests after the end fail at once, they do not hang.
    with pytest.raises(Exception, match="ended"):
        runUntilFired(oneReactor, client.realPath(b"."))


def test_againstTorsionOverStdio(oneReactor: Any, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "torsion.conch.ssh.sftpstdio", str(tmp_path)]
    client, carrier = spawnSFTP(oneReactor, argv)
    _run(oneReactor, session(client, "/", tmp_path, linksAllowed=False))
    carrier.transport.closeStdin()
    runUntilFired(oneReactor, carrier.ended)


@pytest.fixture
def conch(oneReactor: Any, tmp_path: Path) -> Any:
    root = tmp_path / "root"
    root.mkdir()
    server = ConchServer(oneReactor, tmp_path, root)
    yield server, root
    server.stop()
    oneReactor.iterate(0.05)


def test_againstTorsionOverSSH(oneReactor: Any, conch: Any) -> None:
    server, root = conch
    _, conn = server.connect()
    client = runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
    _run(oneReactor, session(client, "/", root, linksAllowed=False))


def test_aServerWithoutSFTPRefusesIt(oneReactor: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = ConchServer(oneReactor, tmp_path, root, ["--no-sftp"])
    try:
        _, conn = server.connect()
        with pytest.raises(Exception, match="refused SFTP"):
            runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
    finally:
        server.stop()


def test_garbageFromTheServerEndsTheClient(oneReactor: Any, tmp_path: Path) -> None:
    """A "server" that answers INIT with a packet over the client's limit."""
    script = tmp_path / "liar.py"
    script.write_text(
        "import os, sys\nsys.stdin.buffer.read(9)\n"
        "os.write(1, (64 * 1024 * 1024).to_bytes(4, 'big') + b'x' * 100)\n"
        "sys.stdin.buffer.read()\n"
    )
    client, carrier = spawnSFTP(oneReactor, [sys.executable, str(script)])
    with pytest.raises(codec.SFTPCodecError, match="limit"):
        runUntilFired(oneReactor, client.whenReady(), timeout=10)
    runUntilFired(oneReactor, carrier.ended, timeout=10)


def _serverSide(server: ConchServer) -> tuple[Any, Any]:
    """The server's session channel carrying SFTP, and its transport."""
    (made,) = [t for t in server.transports if t.transport is not None]
    channels = list(made.service.channels.values())
    (channel,) = [c for c in channels if c.client is not None]
    return channel, made


def test_aClientThatStopsReadingIsHeldBack(oneReactor: Any, conch: Any) -> None:
    server, root = conch
    size = 24 * 1024 * 1024
    data = os.urandom(size)
    (root / "big").write_bytes(data)
    sshClient, conn = server.connect()
    client = runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
    runUntilFired(oneReactor, client.whenReady())
    opened = runUntilFired(oneReactor, client.openFile(b"/big", codec.FXF_READ, {}))

    sshClient.transport.pauseProducing()  # the client reads nothing from its socket
    step = 32768
    chunks = [opened.readChunk(o, step) for o in range(0, size, step)]
    channel, made = _serverSide(server)
    sftp = channel.client.transport.served
    runUntil(oneReactor, lambda: channel.remoteWindowLeft < step, timeout=10)  # window used up
    oneReactor.iterate(0.3)  # let the server try to send more, if it would
    buffered = len(channel.buf) + made.transport.bufferedSize()
    window = conn.channels[min(conn.channels)].localWindowSize
    # At most the answers of one batch wait beyond the window (see FileTransferServer._serve).
    assert buffered <= window + filetransfer.REPLY_BATCH + filetransfer.MAX_READ + 64, buffered
    assert sftp.paused and len(sftp.pending) > 0  # requests wait, unanswered
    answered = sum(1 for d in chunks if d.called)
    assert answered < len(chunks)

    sshClient.transport.resumeProducing()
    results = runUntilFired(oneReactor, defer.gatherResults(chunks), timeout=30)
    assert hashlib.sha256(b"".join(results)).digest() == hashlib.sha256(data).digest()


@needsSFTPServer
@needsSSHD
def test_againstOpenSSHsSshd(oneReactor: Any, sshd: Any, account: Account) -> None:
    """Through OpenSSH's sshd (the transport tests' instance), with a key login as
    the test's system user; the SFTP server is sshd's sftp-server, run as a command
    (as ``sftp -s`` does) since that sshd has no Subsystem line."""
    assert SFTP_SERVER is not None
    port, hostKey = sshd
    client = PinnedClient(hostKey.blob(), account.name.encode(), key=account.key)
    conn = logIn(oneReactor, client, port)
    sftp = runUntilFired(
        oneReactor, filetransfer.openSFTP(conn, command=SFTP_SERVER.encode()), timeout=10
    )
    work = account.home / "work"
    work.mkdir()
    os.chown(work, account.uid, -1)
    try:
        _run(oneReactor, session(sftp, str(work), work, linksAllowed=True))
        assert runUntilFired(oneReactor, sftp.realPath(b".")) == str(account.home).encode()
    finally:
        client.transport.loseConnection()
        shutil.rmtree(work)


def test_aMissingRootRefusesTheSubsystemOnly(oneReactor: Any, tmp_path: Path) -> None:
    """--sftp-root with %u naming a directory nobody made: SFTP is refused (and
    logged), the connection stays up for other channels."""
    server = ConchServer(oneReactor, tmp_path, tmp_path, ["--sftp-root", f"{tmp_path}/%u"])
    try:
        _, conn = server.connect()
        with pytest.raises(Exception, match="refused SFTP"):
            runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
        (tmp_path / sftphelpers.ME).mkdir()
        client = runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
        assert runUntilFired(oneReactor, client.realPath(b".")) == b"/"
    finally:
        server.stop()


def test_garbageFromAClientEndsOnlyItsSession(oneReactor: Any, conch: Any) -> None:
    """Over a real socket: a malformed request is answered with FX_BAD_MESSAGE and
    the session goes on; an oversize packet ends that session (its channel), while
    another session on the same connection keeps working."""
    server, _ = conch
    _, conn = server.connect()
    first = runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
    second = runUntilFired(oneReactor, filetransfer.openSFTP(conn), timeout=10)
    runUntilFired(oneReactor, first.whenReady())
    truncated = first._request(codec.FXP_OPEN, b"\0\0\0\x40short")  # a string cut short
    bad = runUntilFired(oneReactor, truncated.addErrback(lambda f: f.value))
    assert isinstance(bad, SFTPError) and bad.code == codec.FX_BAD_MESSAGE
    assert runUntilFired(oneReactor, first.realPath(b".")) == b"/"
    first.transport.write(struct.pack("!L", 64 * 1024 * 1024) + b"\x05")
    runUntil(oneReactor, lambda: first.transport.remoteClosed, timeout=10)  # the server closed it
    lost = runUntilFired(oneReactor, first.realPath(b"/").addErrback(lambda f: f.value))
    assert isinstance(lost, Exception) and "ended" in str(lost)
    assert runUntilFired(oneReactor, second.realPath(b"a/..")) == b"/"
