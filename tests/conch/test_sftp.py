"""The SFTP v3 codec and FileTransferServer over a filesystem root, with OpenSSH's
real sftp client over stdio (``sftp -D``): transfers, listing, renames, and the
escapes (``..``, symbolic links pointing out) refused. Code: torsion/conch/ssh/
filetransfer.py, _sftpcodec.py, _sftproot.py, sftpstdio.py."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from torsion.conch.ssh import _sftpcodec as codec
from torsion.conch.ssh.filetransfer import FilesystemSFTPServer, SFTPError

SFTP = shutil.which("sftp")
needsSFTP = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp (openssh-client) is missing")


def test_attrsRoundTrip() -> None:
    attrs = {"size": 5, "uid": 1, "gid": 2, "permissions": 0o100644, "atime": 3, "mtime": 4}
    assert codec.parseAttrs(codec.Reader(codec.packAttrs(attrs))) == attrs
    assert codec.parseAttrs(codec.Reader(codec.packAttrs({}))) == {}


def test_packetFramingAndLimit() -> None:
    reader = codec.PacketReader(maxPacket=100)
    wire = codec.packet(codec.FXP_INIT, b"\0\0\0\3")
    assert reader.feed(wire[:3]) == []
    assert reader.feed(wire[3:]) == [(codec.FXP_INIT, b"\0\0\0\3")]
    with pytest.raises(codec.SFTPCodecError, match="limit is 100"):
        reader.feed(b"\0\0\1\0")


def test_truncatedFieldsRaise() -> None:
    with pytest.raises(codec.SFTPCodecError):
        codec.Reader(b"\0\0\0\x09abc").string()
    status = codec.status(7, codec.FX_EOF, "end")
    reader = codec.Reader(status[5:])
    assert (reader.uint32(), reader.uint32(), reader.string()) == (7, codec.FX_EOF, b"end")


def test_escapesRefused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("outside")
    (root / "out").symlink_to(tmp_path)
    (root / "outfile").symlink_to(tmp_path / "secret")
    server = FilesystemSFTPServer(root)
    with pytest.raises(SFTPError):
        server.openFile(b"../secret", codec.FXF_READ, {})
    with pytest.raises(SFTPError):
        server.realPath(b"/..")
    with pytest.raises(OSError):
        server.openFile(b"out/secret", codec.FXF_READ, {})
    with pytest.raises(OSError):
        server.openFile(b"/outfile", codec.FXF_READ, {})
    with pytest.raises(OSError):
        server.openFile(b"outfile", codec.FXF_WRITE | codec.FXF_TRUNC, {})
    with pytest.raises(SFTPError):
        server.makeLink(b"x", b"/etc")
    assert (tmp_path / "secret").read_text() == "outside"
    assert server.realPath(b"a/../b/./c") == b"/b/c"


def _sftp(root: Path, cwd: Path, commands: str) -> subprocess.CompletedProcess[str]:
    assert SFTP is not None
    (cwd / "batch").write_text(commands)
    server = f"{sys.executable} -m torsion.conch.ssh.sftpstdio {root}"
    return subprocess.run(
        [SFTP, "-b", "batch", "-D", server],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@needsSFTP
def test_opensshSftpOverStdio(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    big = os.urandom(20 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(big)
    done = _sftp(
        root,
        tmp_path,
        "put big.bin\nls -l\nmkdir sub\nrename big.bin sub/moved.bin\n"
        "get sub/moved.bin back.bin\nls sub\nrm sub/moved.bin\nrmdir sub\nls\n",
    )
    assert done.returncode == 0, done.stderr
    assert "big.bin" in done.stdout and "moved.bin" in done.stdout
    back = (tmp_path / "back.bin").read_bytes()
    assert hashlib.sha256(back).digest() == hashlib.sha256(big).digest()
    assert list(root.iterdir()) == []


@needsSFTP
def test_opensshSftpEscapesRefused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("outside")
    (root / "link").symlink_to(tmp_path / "secret")
    for command in ("get ../secret got", "get /../secret got", "get link got"):
        done = _sftp(root, tmp_path, command + "\n")
        assert done.returncode != 0, command
        assert not (tmp_path / "got").exists(), command
    (tmp_path / "evil").write_text("x")
    done = _sftp(root, tmp_path, "put evil ../evil2\n")
    assert done.returncode != 0
    assert not (tmp_path / "evil2").exists()


def test_severalPacketsInOneFeedAndARemainder() -> None:
    reader = codec.PacketReader()
    wire = b"".join(codec.packet(codec.FXP_READ, bytes([n]) * n) for n in range(1, 4))
    extra = codec.packet(codec.FXP_WRITE, b"later")
    assert reader.feed(wire + extra[:6]) == [(codec.FXP_READ, bytes([n]) * n) for n in range(1, 4)]
    assert reader.feed(extra[6:]) == [(codec.FXP_WRITE, b"later")]
    assert reader.buffer == bytearray()
