"""The FTP server against curl: passive (EPSV), active (EPRT), explicit TLS, ASCII."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.internet import reactormixins
from tests.protocols._ftphelpers import FTPServer, caFile, ftpServer

oneReactor = reactormixins.oneReactor
ftpServer = ftpServer

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl is not installed (apt-get install curl)"
)


def _curlVersion() -> tuple[int, ...]:
    if shutil.which("curl") is None:
        return (0,)
    words = subprocess.run(["curl", "--version"], capture_output=True, timeout=10).stdout.split()
    return tuple(int(part) for part in words[1].decode().split(".")[:2])


# curl 7.87 and 7.88 never start TLS on an active (server-connected) data connection:
# a regression of those versions (curl issue 10666). ftplib covers TLS in active mode.
_brokenActiveTLS = pytest.mark.skipif(
    (7, 87) <= _curlVersion() <= (7, 88),
    reason="this curl (7.87/7.88) has no TLS on active data connections (curl issue 10666)",
)

MODES = {
    "passive": [],
    "active": ["--ftp-port", "127.0.0.1"],
    "tls-passive": ["--ssl-reqd"],
    "tls-active": ["--ssl-reqd", "--ftp-port", "127.0.0.1"],
}
MODE_PARAMS = [
    pytest.param(mode, marks=_brokenActiveTLS) if mode == "tls-active" else mode for mode in MODES
]


def curl(
    server: FTPServer, tmp_path: Path, path: str, *options: str, user: str = "alice:secret"
) -> subprocess.CompletedProcess[bytes]:
    """Run curl on ftp://localhost:PORT/path (trusting the test CA), bounded."""
    command = [
        "curl",
        "-sS",
        *(["-v"] if os.environ.get("CURLV") else []),
        "--max-time",
        "15",
        "--cacert",
        str(caFile(tmp_path)),
    ]
    command += ["--user", user, *options, f"ftp://localhost:{server.port}/{path}"]
    return server.run(lambda: subprocess.run(command, capture_output=True, timeout=20))


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_uploadAndDownload(ftpServer: FTPServer, tmp_path: Path, mode: str) -> None:
    """curl -T uploads and curl downloads the same bytes, in each mode."""
    payload = os.urandom(2**20 + 3)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    upload = curl(ftpServer, tmp_path, "up.bin", "-T", str(source), *MODES[mode])
    assert upload.returncode == 0, upload.stderr
    assert (ftpServer.home("alice") / "up.bin").read_bytes() == payload
    download = curl(ftpServer, tmp_path, "up.bin", *MODES[mode])
    assert download.returncode == 0, download.stderr
    assert download.stdout == payload


@pytest.mark.parametrize("mode", ["passive", "tls-passive"])
def test_directoryListing(ftpServer: FTPServer, tmp_path: Path, mode: str) -> None:
    """A URL ending in / lists the directory (LIST), --list-only gives names (NLST)."""
    home = ftpServer.home("alice")
    (home / "one.txt").write_bytes(b"1")
    (home / "two").mkdir()
    listing = curl(ftpServer, tmp_path, "", *MODES[mode])
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.decode().splitlines()
    assert [line.split()[-1] for line in lines] == ["one.txt", "two"]
    assert lines[1].startswith("d")
    names = curl(ftpServer, tmp_path, "", "--list-only", *MODES[mode])
    assert names.stdout.decode().split() == ["one.txt", "two"]


def test_asciiBothWays(ftpServer: FTPServer, tmp_path: Path) -> None:
    """curl --use-ascii (TYPE A) both ways: curl turns its local LF line ends into
    CRLF on the wire and back, the server its own; the files keep LF at both ends."""
    home = ftpServer.home("alice")
    (home / "unix.txt").write_bytes(b"a\nb\nc\n")
    down = curl(ftpServer, tmp_path, "unix.txt", "--use-ascii")
    assert down.returncode == 0, down.stderr
    # curl converts CRLF back to LF on this side, as a text download should.
    assert down.stdout == b"a\nb\nc\n"
    source = tmp_path / "local.txt"
    source.write_bytes(b"x\ny\n")
    up = curl(ftpServer, tmp_path, "local.txt", "-T", str(source), "--use-ascii")
    assert up.returncode == 0, up.stderr
    assert (home / "local.txt").read_bytes() == b"x\ny\n"


def test_wrongPasswordAndMissingFile(ftpServer: FTPServer, tmp_path: Path) -> None:
    """A wrong password is refused (curl's exit 67, "login denied"); a missing file is
    curl's exit 78; the server goes on serving."""
    refused = curl(ftpServer, tmp_path, "x", user="alice:wrong")
    assert refused.returncode == 67, refused.stderr
    missing = curl(ftpServer, tmp_path, "nothing-here.txt")
    assert missing.returncode == 78, missing.stderr
    (ftpServer.home("alice") / "ok.txt").write_bytes(b"fine")
    assert curl(ftpServer, tmp_path, "ok.txt").stdout == b"fine"


def test_anonymousAndCreateDirs(ftpServer: FTPServer, tmp_path: Path) -> None:
    """Anonymous downloads work and uploads are refused; an account's upload with
    --ftp-create-dirs makes the directories."""
    (ftpServer.anonymousRoot / "pub.txt").write_bytes(b"for all")
    anonymous = curl(ftpServer, tmp_path, "pub.txt", user="anonymous:guest@")
    assert anonymous.stdout == b"for all"
    source = tmp_path / "s.txt"
    source.write_bytes(b"data")
    denied = curl(ftpServer, tmp_path, "new.txt", "-T", str(source), user="anonymous:guest@")
    assert denied.returncode != 0
    assert not (ftpServer.anonymousRoot / "new.txt").exists()
    made = curl(ftpServer, tmp_path, "a/b/s.txt", "-T", str(source), "--ftp-create-dirs")
    assert made.returncode == 0, made.stderr
    assert (ftpServer.home("alice") / "a" / "b" / "s.txt").read_bytes() == b"data"


def test_resumedDownload(ftpServer: FTPServer, tmp_path: Path) -> None:
    """curl -C OFFSET resumes a download with REST."""
    (ftpServer.home("alice") / "r.bin").write_bytes(b"0123456789")
    resumed = curl(ftpServer, tmp_path, "r.bin", "-C", "6")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == b"6789"
